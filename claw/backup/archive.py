"""Making and restoring a backup archive (tar.gz): an online SQLite copy, the soul, the data dir, the config."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, SecretStr
from sqlite_utils import Database

from claw import __version__
from claw.backup.manifest import (
    CONFIG_NAME,
    DATA_PREFIX,
    DB_NAME,
    DEVICES_NAME,
    MANIFEST_NAME,
    SOUL_NAME,
    BackupError,
    FileEntry,
    Manifest,
    check_member_name,
    parse_manifest,
    restorable,
    strip_secrets,
)
from claw.config import Settings, config_file
from memory import migrations

log = logging.getLogger(__name__)

SECRET_FILES = frozenset({"web_token", "media_secret"})  # in the data dir: kept only --with-secrets
NEVER = frozenset({"listening"})  # runtime state, not data
# In a fresh data dir these may already exist (claw init, claw token) and are not data a restore would lose.
FRESH_OK = frozenset({"claw.toml", "web_token", "listening"})


def known_migrations() -> list[str]:
    """Every migration this version knows, in order (read from an empty in-memory database)."""
    return [m.name for m in migrations.migrations.pending(Database(memory=True))]


def secret_keys(model: type[BaseModel] = Settings) -> set[str]:
    """The names of the settings that hold secrets (SecretStr), at any depth: api_key, token, password …"""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        text = str(info.annotation)
        if "SecretStr" in text or info.annotation is SecretStr:
            keys.add(name)
        for sub in _models(info.annotation):
            keys |= secret_keys(sub)
    return keys


def _models(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _models(arg)


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    data_dir: Path
    migrated: list[str]  # migrations run forward on the restored database
    placed: list[str]  # where the config and devices file went, in words


# backup ---------------------------------------------------------------------------------------------

def copy_database(src: Path, dest: Path) -> None:
    """A consistent copy of a live database with SQLite's online backup API (the running claw keeps writing)."""
    source = sqlite3.connect(src.absolute().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        target = sqlite3.connect(dest)
        try:
            source.backup(target)  # one step: a single read transaction, so one consistent snapshot
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
            ok = target.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise BackupError(f"the copied database fails its integrity check: {ok}")
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the database {src}: {exc}") from None
    finally:
        source.close()


def create_backup(settings: Settings, dest: Path, *, with_secrets: bool = False) -> Manifest:
    """Write a backup of this data dir (and its config) to `dest` (tar.gz, mode 0600, written atomically)."""
    data_dir = settings.data_dir
    if not settings.db_path.is_file():
        raise BackupError(f"no database at {settings.db_path}: nothing to back up (is CLAW_DATA_DIR right?)")
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="claw-backup-") as tmp:
        staged = Path(tmp)
        members: dict[str, Path] = {}
        copy_database(settings.db_path, staged / DB_NAME)
        members[DB_NAME] = staged / DB_NAME
        db = Database(staged / DB_NAME)
        try:
            applied = [m.name for m in migrations.migrations.applied(db)]
        finally:
            db.close()
        if settings.soul_file.is_file():
            members[SOUL_NAME] = settings.soul_file
        for path in _data_files(data_dir, settings, with_secrets):
            members[DATA_PREFIX + path.relative_to(data_dir).as_posix()] = path
        config = config_file()
        if config.is_file():
            text = config.read_text(encoding="utf-8")
            if not with_secrets:
                text, removed = strip_secrets(text, secret_keys())
                if removed:
                    notes.append(f"secrets left out of claw.toml: {', '.join(sorted(set(removed)))}")
            (staged / CONFIG_NAME).write_text(text, encoding="utf-8")
            members[CONFIG_NAME] = staged / CONFIG_NAME
        if settings.devices_file and settings.devices_file.is_file():
            members[DEVICES_NAME] = settings.devices_file
        entries = tuple(FileEntry(name, p.stat().st_size, _sha256(p)) for name, p in sorted(members.items()))
        manifest = Manifest(homeclaw_version=__version__, created_at=time.time(), migrations=tuple(applied),
                            files=entries, with_secrets=with_secrets, source_data_dir=str(data_dir),
                            notes=tuple(notes))
        _write_archive(dest, manifest, members)
    return manifest


def _data_files(data_dir: Path, settings: Settings, with_secrets: bool) -> Iterator[Path]:
    """The data dir's other files: adapters, snapshots, media … (not the database, runtime state, the demo)."""
    skip = {settings.db_path.name, f"{settings.db_path.name}-wal", f"{settings.db_path.name}-shm",
            f"{settings.db_path.name}-journal", "demo", CONFIG_NAME, *NEVER}
    if not with_secrets:
        skip |= SECRET_FILES
    soul = settings.soul_file.resolve()
    for root, dirs, files in os.walk(data_dir):
        here = Path(root)
        if here == data_dir:
            dirs[:] = [d for d in dirs if d not in skip]
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(files):
            path = here / name
            if (here == data_dir and name in skip) or name.startswith(".") or not path.is_file():
                continue
            if path.resolve() == soul:
                continue
            yield path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_archive(dest: Path, manifest: Manifest, members: dict[str, Path]) -> None:
    dest = dest.absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it may hold personal data
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            data = manifest.to_json().encode()
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size, info.mtime, info.mode = len(data), int(manifest.created_at), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name, path in sorted(members.items()):
                tar.add(path, arcname=name, recursive=False)
            raw.flush()
            os.fsync(raw.fileno())
        tmp.replace(dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# restore --------------------------------------------------------------------------------------------

def read_manifest(archive: Path) -> Manifest:
    with _open(archive) as tar:
        return _manifest(tar)


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:*")
    except FileNotFoundError:
        raise BackupError(f"no such backup: {archive}") from None
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"not a homeclaw backup: {archive} ({exc})") from None


def _manifest(tar: tarfile.TarFile) -> Manifest:
    try:
        member = tar.extractfile(MANIFEST_NAME)
    except KeyError:
        member = None
    if member is None:
        raise BackupError(f"not a homeclaw backup (no {MANIFEST_NAME})")
    return parse_manifest(member.read())


def holds_data(data_dir: Path) -> list[str]:
    """What in this data dir a restore would overwrite (empty: a fresh dir)."""
    if not data_dir.exists():
        return []
    return sorted(p.name for p in data_dir.iterdir() if p.name not in FRESH_OK)


def restore_backup(settings: Settings, archive: Path, *, force: bool = False) -> Restored:
    """Bring a backup back into settings.data_dir (refused when that holds data, unless `force`), check every
    file against the manifest, then run newer migrations forward on the restored database."""
    from claw.running import running

    data_dir = settings.data_dir
    if running(settings):
        raise BackupError(f"a claw is running on {data_dir}; stop it first (systemctl stop homeclaw)")
    with _open(archive) as tar:
        manifest = _manifest(tar)
        forward = restorable(manifest, known_migrations())
        there = holds_data(data_dir)
        if there and not force:
            raise BackupError(f"{data_dir} already holds data ({', '.join(there[:5])}); restore into an empty "
                              "data dir, or add --force to replace it")
        data_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
        try:
            _extract(tar, manifest, staging)
            placed = _place(settings, manifest, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    from memory.store import Store

    store = Store(settings.db_path)  # runs the migrations this version has and the backup lacked
    store.close()
    return Restored(manifest, data_dir, forward, placed)


def _extract(tar: tarfile.TarFile, manifest: Manifest, staging: Path) -> None:
    for entry in manifest.files:
        check_member_name(entry.name)
        try:
            member = tar.getmember(entry.name)
        except KeyError:
            raise BackupError(f"the backup is incomplete: {entry.name} is missing") from None
        source = tar.extractfile(member) if member.isfile() else None
        if source is None:
            raise BackupError(f"the backup is damaged: {entry.name} is not a regular file")
        target = staging / entry.name
        target.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        with source, target.open("wb") as out:
            for block in iter(lambda s=source: s.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != entry.sha256:
            raise BackupError(f"the backup is damaged: {entry.name} does not match its checksum")
        if entry.name in SECRET_FILES or entry.name.startswith(DATA_PREFIX):
            os.chmod(target, 0o600)


def _place(settings: Settings, manifest: Manifest, staging: Path) -> list[str]:
    data_dir = settings.data_dir
    placed: list[str] = []
    for suffix in ("", "-wal", "-shm", "-journal"):  # a forced restore replaces the database whole
        with contextlib.suppress(FileNotFoundError):
            Path(f"{settings.db_path}{suffix}").unlink()
    os.replace(staging / DB_NAME, settings.db_path)
    if manifest.entry(SOUL_NAME):
        settings.soul_file.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / SOUL_NAME, settings.soul_file)
    data = staging / DATA_PREFIX.rstrip("/")
    if data.is_dir():
        for path in sorted(p for p in data.rglob("*") if p.is_file()):
            target = data_dir / path.relative_to(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    if manifest.entry(CONFIG_NAME):
        placed.append(_put_aside(staging / CONFIG_NAME, config_file(), "claw.toml"))
    if manifest.entry(DEVICES_NAME):
        target = settings.devices_file or data_dir / DEVICES_NAME
        placed.append(_put_aside(staging / DEVICES_NAME, target, "the devices file"))
    return placed


def _put_aside(source: Path, target: Path, what: str) -> str:
    """Restore a file to where it belongs unless something is there (then beside it, never overwritten)."""
    if target.exists():
        aside = target.with_name(target.name + ".from-backup")
        try:
            shutil.copyfile(source, aside)
        except OSError as exc:
            return f"{what} from the backup was not restored ({aside}: {exc.strerror})"
        return f"{what} from the backup is at {aside} ({target} was kept)"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError as exc:
        return f"{what} from the backup was not restored ({target}: {exc.strerror})"
    return f"{what} restored to {target}"
