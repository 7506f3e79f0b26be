"""What a backup holds and whether this version can restore it: the manifest, member names, config secrets."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from claw.errors import ClawError

FORMAT = 1  # the archive layout; a newer one is refused
MANIFEST_NAME = "manifest.json"
DB_NAME = "claw.db"
SOUL_NAME = "soul.md"
CONFIG_NAME = "claw.toml"
DEVICES_NAME = "devices.yaml"
DATA_PREFIX = "data/"  # the rest of the data dir (adapters, snapshots, media …) under this prefix


class BackupError(ClawError):
    """A backup that cannot be made or restored; the message says why in one line."""


@dataclass(frozen=True)
class FileEntry:
    name: str  # the member name in the archive (POSIX, relative)
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    homeclaw_version: str
    created_at: float  # unix seconds
    migrations: tuple[str, ...]  # the applied migration names of the backed-up database: its schema version
    files: tuple[FileEntry, ...]
    with_secrets: bool = False
    source_data_dir: str = ""
    format: int = FORMAT
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def entry(self, name: str) -> FileEntry | None:
        return next((f for f in self.files if f.name == name), None)


def parse_manifest(text: str | bytes) -> Manifest:
    """The manifest of an archive, or BackupError when it is not one this code understands."""
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise TypeError("not an object")
        fmt = raw.get("format")
        if not isinstance(fmt, int):
            raise TypeError("no format number")
        if fmt > FORMAT:
            raise BackupError(f"the backup's format {fmt} is newer than this homeclaw understands ({FORMAT}); "
                              "upgrade homeclaw, then restore")
        files = tuple(FileEntry(name=str(f["name"]), size=int(f["size"]), sha256=str(f["sha256"]))
                      for f in raw["files"])
        for f in files:
            check_member_name(f.name)
        return Manifest(homeclaw_version=str(raw["homeclaw_version"]), created_at=float(raw["created_at"]),
                        migrations=tuple(str(m) for m in raw["migrations"]), files=files,
                        with_secrets=bool(raw.get("with_secrets", False)),
                        source_data_dir=str(raw.get("source_data_dir", "")), format=fmt,
                        notes=tuple(str(n) for n in raw.get("notes", ())))
    except BackupError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise BackupError(f"not a homeclaw backup (bad {MANIFEST_NAME}: {exc})") from None


def check_member_name(name: str) -> str:
    """A member name that stays inside the directory it is extracted to, or BackupError."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or name.startswith("."):
        raise BackupError(f"refusing the backup: unsafe member name {name!r}")
    return name


def restorable(manifest: Manifest, known: Sequence[str]) -> list[str]:
    """The migrations that will run forward after restoring (those this version knows and the backup lacks);
    BackupError when the backup's schema is newer than this version knows (a migration it does not have)."""
    unknown = [m for m in manifest.migrations if m not in set(known)]
    if unknown:
        raise BackupError(f"the backup's database schema is newer than this homeclaw {_known_last(known)} "
                          f"(it has {', '.join(unknown)}; made by homeclaw {manifest.homeclaw_version}): "
                          "upgrade homeclaw, then restore")
    have = set(manifest.migrations)
    return [m for m in known if m not in have]


def _known_last(known: Sequence[str]) -> str:
    return f"knows (last: {known[-1]})" if known else "knows"


# config secrets -----------------------------------------------------------------------------------

_KEY = re.compile(r"^(\s*)([A-Za-z0-9_-]+|\"[^\"]*\")\s*=\s*(.*)$")


def strip_secrets(toml_text: str, secret_keys: Iterable[str]) -> tuple[str, list[str]]:
    """claw.toml with every secret key's line commented out (values removed), and the keys removed. A value
    spread over several lines (an array) goes with it. BackupError if the result still holds one (or does not
    parse), so a secret is never written by mistake."""
    secret = set(secret_keys)
    out: list[str] = []
    removed: list[str] = []
    lines = toml_text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _KEY.match(line)
        key = m.group(2).strip('"') if m else None
        if m and key in secret:
            value = m.group(3)
            depth = _bracket_depth(value)
            while depth > 0 and i + 1 < len(lines):  # a multi-line array
                i += 1
                depth += _bracket_depth(lines[i])
            out.append(f"{m.group(1)}# {key} = \"\"   # removed by `claw backup` (use --with-secrets to keep it)")
            removed.append(key)
        else:
            out.append(line)
        i += 1
    text = "\n".join(out) + ("\n" if toml_text.endswith("\n") else "")
    try:
        left = sorted(set(_keys(tomllib.loads(text))) & secret)
    except tomllib.TOMLDecodeError as exc:
        raise BackupError(f"cannot remove the secrets from claw.toml safely ({exc}); fix it, or use "
                          "--with-secrets") from None
    if left:
        raise BackupError(f"cannot remove the secret(s) {', '.join(left)} from claw.toml safely; write each on "
                          "its own line, or use --with-secrets")
    return text, removed


def _bracket_depth(text: str) -> int:
    """Net [ minus ] outside strings and comments (good enough for arrays of strings)."""
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
    return depth


def _keys(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)
