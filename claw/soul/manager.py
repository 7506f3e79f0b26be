"""The soul: the owner-editable soul.md, re-read on change, versioned in memory, with a last-good fallback."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claw.errors import SoulError
from claw.events import Voice

if TYPE_CHECKING:
    from memory.store import Store

log = logging.getLogger(__name__)

MAX_SOUL_BYTES = 64 * 1024
MAX_NAME_CHARS = 40
# A file modified this recently may change again within the filesystem's timestamp granularity
# without its mtime/size changing (git's "racy clean" problem): such a file is re-read and hashed.
RACY_WINDOW_NS = 2_000_000_000

_FALLBACK_DEFAULT = "# Claw\n\n## Voice\n\n- Tone: casual\n- Length: normal\n"
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_HEADING_RE = re.compile(r"^#[ \t]+(?P<name>.+?)[ \t#]*$")
_FIELD_RE = re.compile(r"^\s*(?:[-*+][ \t]+)?[*_]*(?P<key>tone|length)[*_]*[ \t]*:[ \t*_`]*"
                       r"(?P<value>[A-Za-z-]*)", re.IGNORECASE)
_CONCISE_WORDS = {"concise", "brief", "short", "terse", "succinct"}


@dataclass(frozen=True)
class SoulSnapshot:
    """The soul in force for a turn: its text, stored version, parsed voice and any fallback warning."""

    text: str
    version_id: int
    voice: Voice
    warning: str | None = None


# --- pure helpers ---------------------------------------------------------------------------------

def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def strip_comments(text: str) -> str:
    """The text without its <!-- ... --> comments (owner notes are not personality)."""
    return _COMMENT_RE.sub("", text)


def _content_lines(text: str) -> list[str]:
    """Lines outside comments and fenced code blocks, where headings and fields are looked for."""
    out: list[str] = []
    fenced = False
    for line in strip_comments(text).splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return out


def clean_name(raw: str) -> str:
    """A display name from heading text: no Markdown emphasis, single spaces, at most 40 characters."""
    name = re.sub(r"[*_`]+", "", raw)
    name = " ".join(name.split())
    return name[:MAX_NAME_CHARS].strip()


def parse_voice(text: str) -> Voice:
    """Name from the first '# ' heading, formal from 'Tone:', concise from 'Length:'; garbage: defaults."""
    default = Voice()
    name = default.name
    formal, concise = default.formal, default.concise
    seen: set[str] = set()
    found_name = False
    for line in _content_lines(text if isinstance(text, str) else ""):
        if not found_name:
            m = _HEADING_RE.match(line)
            if m:
                found_name = True
                name = clean_name(m.group("name")) or default.name
                continue
        m = _FIELD_RE.match(line)
        if m:
            key, value = m.group("key").lower(), m.group("value").lower()
            if key in seen:
                continue
            seen.add(key)
            if key == "tone":
                formal = value.startswith("formal")
            else:
                concise = value in _CONCISE_WORDS
    return Voice(name=name, formal=formal, concise=concise)


def system_prompt_section(snapshot: SoulSnapshot) -> str:
    """The soul as it goes into the system prompt: the owner's text, comments removed, trimmed."""
    text = strip_comments(snapshot.text)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def soul_problem(text: str) -> str | None:
    """Why this text is not a usable soul (empty, too large, binary), or None when it is fine."""
    if not text.strip():
        return "is empty"
    size = len(text.encode("utf-8"))
    if size > MAX_SOUL_BYTES:
        return f"is too large ({size} bytes; the limit is {MAX_SOUL_BYTES})"
    controls = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f") or ord(ch) == 127)
    if "\x00" in text or controls > max(2, len(text) // 100):
        return "looks like a binary file, not text"
    return None


def decode_soul(data: bytes) -> tuple[str | None, str | None]:
    """(text, None) for usable soul bytes, else (None, problem)."""
    if len(data) > MAX_SOUL_BYTES:
        return None, f"is too large (over {MAX_SOUL_BYTES} bytes)"
    if b"\x00" in data:
        return None, "looks like a binary file, not text"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"is not valid UTF-8 text (bad byte at offset {exc.start})"
    problem = soul_problem(text)
    return (None, problem) if problem else (text, None)


def default_soul_text() -> str:
    """The packaged default soul (claw/default_soul.md)."""
    try:
        return resources.files("claw").joinpath("default_soul.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # pragma: no cover - only when packaging lost the file
        log.warning("packaged default_soul.md is missing; using a minimal built-in soul")
        return _FALLBACK_DEFAULT


def atomic_write_text(path: Path, text: str) -> None:
    """Write text to path through a temp file in the same directory and os.replace (keeps the mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode if mode is not None else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- runtime manager ------------------------------------------------------------------------------

class SoulManager:
    """Owns the runtime soul.md in the data dir: cheap change detection, versions, fallback, writes."""

    def __init__(self, path: Path, store: Store, default_text: str | None = None) -> None:
        self.path = Path(path)
        self.store = store
        self._default_text = default_text
        self._lock = threading.RLock()
        self._started = False
        self._sig: tuple[int, int, int] | None = None  # (inode, mtime_ns, size) of the last read
        self._read_ns = 0  # wall clock of the last read, for the racy window
        self._sha: str | None = None  # sha256 of the last bytes read (good or bad)
        self._good: SoulSnapshot | None = None  # last good snapshot (never carries a warning)
        self._snapshot: SoulSnapshot | None = None  # what current() returns while nothing changes
        self._warned: set[str] = set()
        self.reads = 0  # how many times the file was actually read (for tests and diagnostics)

    # public API

    def current(self) -> SoulSnapshot:
        """The soul for this turn; stats the file and re-reads it only when it changed."""
        with self._lock:
            self._start()
            try:
                st = self.path.stat()
            except FileNotFoundError:
                return self._fallback("missing", f"soul.md is missing ({self.path})")
            except OSError as exc:
                return self._fallback(f"stat:{exc.errno}", f"soul.md cannot be read ({exc.strerror})")
            sig = (st.st_ino, st.st_mtime_ns, st.st_size)
            racy = st.st_mtime_ns >= self._read_ns - RACY_WINDOW_NS
            if sig == self._sig and self._snapshot is not None and not racy:
                return self._snapshot
            if st.st_size > MAX_SOUL_BYTES:
                self._sig, self._read_ns, self._sha = sig, time.time_ns(), f"size:{st.st_size}"
                return self._fallback(self._sha, f"soul.md is too large ({st.st_size} bytes; "
                                                 f"the limit is {MAX_SOUL_BYTES})")
            read_ns = time.time_ns()
            try:
                data = self.path.read_bytes()
            except FileNotFoundError:
                return self._fallback("missing", f"soul.md is missing ({self.path})")
            except OSError as exc:
                return self._fallback(f"read:{exc.errno}", f"soul.md cannot be read ({exc.strerror})")
            self.reads += 1
            sha = hashlib.sha256(data).hexdigest()
            self._sig, self._read_ns = sig, read_ns
            if sha == self._sha and self._snapshot is not None:
                return self._snapshot  # touched or racy re-read, same content
            self._sha = sha
            text, problem = decode_soul(data)
            if text is None:
                return self._fallback(sha, f"soul.md {problem}")
            return self._accept(text, "file")

    def write(self, text: str, source: str) -> SoulSnapshot:
        """Atomically replace soul.md with text and store it as a version from source ("chat", "cli", ...)."""
        problem = soul_problem(text)
        if problem:
            raise SoulError(f"The new soul {problem}; soul.md was not changed.")
        with self._lock:
            self._start()
            atomic_write_text(self.path, text)
            self._remember_file(text)
            return self._accept(text, source)

    def history(self, limit: int = 20) -> list[dict[str, Any]]:
        """Stored versions, newest first (id, sha256, source, created_at, size, text)."""
        return self.store.soul_versions(limit=limit)

    def revert(self, version_id: int) -> SoulSnapshot:
        """Write an older version back to soul.md as a new version with source "revert"."""
        row = self.store.soul_version_get(version_id)
        if row is None:
            raise SoulError(f"There is no soul version {version_id}.")
        return self.write(row["text"], "revert")

    # internals

    def _start(self) -> None:
        """First use: create the runtime soul.md (latest stored version, else the packaged default)."""
        if self._started:
            return
        self._started = True
        if self.path.exists():
            return
        latest = self.store.soul_latest()
        if latest is not None and soul_problem(latest["text"]) is None:
            text, source = latest["text"], "restore"
            log.info("soul.md missing at %s; restoring stored version %s", self.path, latest["id"])
        else:
            text = self._default_text if self._default_text is not None else default_soul_text()
            source = "default"
            log.info("creating %s from the default soul", self.path)
        atomic_write_text(self.path, text)
        self._remember_file(text)
        self._accept(text, source)

    def _remember_file(self, text: str) -> None:
        """Record the signature of a file we just wrote, so the next current() does not re-read it."""
        try:
            st = self.path.stat()
        except OSError:
            self._sig = None
            return
        self._sig = (st.st_ino, st.st_mtime_ns, st.st_size)
        self._read_ns = time.time_ns()
        self._sha = hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _accept(self, text: str, source: str) -> SoulSnapshot:
        version_id, created = self.store.soul_version_add(text, source)
        if created:
            log.info("soul version %s stored (source %s, %d bytes)", version_id, source, len(text))
        snap = SoulSnapshot(text=text, version_id=version_id, voice=parse_voice(text), warning=None)
        if self._good is not None and self._warned:
            log.info("soul.md is usable again (version %s)", version_id)
        self._warned.clear()
        self._good = self._snapshot = snap
        return snap

    def _last_good(self) -> SoulSnapshot:
        if self._good is not None:
            return self._good
        latest = self.store.soul_latest()
        if latest is not None:
            text, version_id = latest["text"], int(latest["id"])
        else:
            text = self._default_text if self._default_text is not None else default_soul_text()
            version_id, _ = self.store.soul_version_add(text, "default")
        self._good = SoulSnapshot(text=text, version_id=version_id, voice=parse_voice(text))
        return self._good

    def _fallback(self, key: str, problem: str) -> SoulSnapshot:
        good = self._last_good()
        warning = (f"{problem}; still using the last good soul (version {good.version_id}). "
                   f"Fix the file, or run `claw soul revert {good.version_id}`.")
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", warning)
        if key in ("missing",) or key.startswith(("stat:", "read:")):
            self._sig = None  # keep checking; a restored file must be picked up
            self._sha = None
        self._snapshot = SoulSnapshot(text=good.text, version_id=good.version_id, voice=good.voice,
                                      warning=warning)
        return self._snapshot


Soul = SoulManager
