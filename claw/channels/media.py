"""Media files the claw keeps (inbound images, outbound snapshots) and the signed, expiring URLs that serve them."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from claw.config import Settings

log = logging.getLogger(__name__)

SECRET_FILE = "media_secret"
_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,5}$")
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
               "application/pdf": "pdf", "video/mp4": "mp4", "audio/mpeg": "mp3", "audio/ogg": "ogg"}
_TYPES = {ext: ctype for ctype, ext in _EXTENSIONS.items()} | {"jpeg": "image/jpeg"}


@dataclass(frozen=True)
class MediaFile:
    """A stored media file."""

    path: Path
    content_type: str
    size: int


def extension_for(content_type: str) -> str:
    return _EXTENSIONS.get(content_type.split(";")[0].strip().lower(), "bin")


class MediaStore:
    """Files under `root` with generated names (32 hex + extension) and HMAC-signed URLs for them."""

    def __init__(self, root: Path, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the media URL secret must be at least 16 bytes")
        self.root = Path(root)
        self._secret = secret
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    # files ------------------------------------------------------------------------------------
    def save(self, data: bytes, content_type: str) -> MediaFile:
        """Store bytes under a fresh name (written atomically); returns the stored file."""
        name = f"{secrets.token_hex(16)}.{extension_for(content_type)}"
        path = self.root / name
        tmp = self.root / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return MediaFile(path, self.content_type(name), len(data))

    def prune(self, max_age: float, now: float | None = None) -> int:
        """Delete stored files (and stray temporaries) older than `max_age` seconds; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        for path in self.root.iterdir():
            try:
                if path.is_file() and now - path.stat().st_mtime > max_age:
                    path.unlink()
                    removed += 1
            except OSError:  # gone meanwhile, or not ours to delete: leave it
                continue
        return removed

    def import_file(self, source: Path) -> MediaFile:
        """Copy a file from elsewhere (e.g. a snapshot) into the store under a fresh name."""
        source = Path(source)
        ext = source.suffix.lstrip(".").lower()
        ctype = _TYPES.get(ext, "application/octet-stream")
        name = f"{secrets.token_hex(16)}.{_EXTENSIONS.get(ctype, 'bin')}"
        tmp = self.root / f".{name}.tmp"
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.root / name)
        return MediaFile(self.root / name, ctype, (self.root / name).stat().st_size)

    def valid_name(self, name: str) -> bool:
        return bool(_NAME.match(name))

    def path(self, name: str) -> Path:
        """The file behind a stored name; ValueError for anything that is not a generated name."""
        if not self.valid_name(name):
            raise ValueError(f"not a media name: {name[:40]!r}")
        return self.root / name

    def name_of(self, path: str | Path) -> str | None:
        """The stored name when `path` is a file directly inside this store, else None."""
        p = Path(path)
        try:
            inside = p.resolve().parent == self.root.resolve()
        except OSError:
            return None
        return p.name if inside and self.valid_name(p.name) else None

    def content_type(self, name: str) -> str:
        return _TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")

    # signed URLs ------------------------------------------------------------------------------
    def _sign(self, name: str, exp: int) -> str:
        return hmac.new(self._secret, f"{name}\n{exp}".encode(), hashlib.sha256).hexdigest()

    def signed_url(self, public_base: str, name: str, ttl: float, now: float | None = None) -> str:
        """`{public_base}/media/{name}?exp=...&sig=...`, valid for `ttl` seconds."""
        self.path(name)  # validates
        exp = int((time.time() if now is None else now) + ttl)
        return f"{public_base.rstrip('/')}/media/{quote(name)}?exp={exp}&sig={self._sign(name, exp)}"

    def verify(self, name: str, exp: str | int | None, sig: str | None, now: float | None = None) -> bool:
        """True only for a well-formed name, an unexpired `exp` and its signature (constant-time compare)."""
        if not self.valid_name(name) or exp is None or sig is None:
            return False
        try:
            exp_i = int(exp)
        except (TypeError, ValueError):
            return False
        if exp_i < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self._sign(name, exp_i).encode(), str(sig).encode())


def media_router(store: MediaStore) -> APIRouter:
    """GET /media/{name}?exp=&sig=: the file with its content type, only while the signature is valid."""
    router = APIRouter()

    @router.api_route("/media/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def media(name: str, exp: str | None = None, sig: str | None = None) -> FileResponse:
        if not store.valid_name(name):
            raise HTTPException(status_code=404, detail="no such media")
        if not store.verify(name, exp, sig):
            log.info("media %s refused: bad or expired signature", name)
            raise HTTPException(status_code=403, detail="invalid or expired media link")
        path = store.path(name)
        if not path.is_file():
            raise HTTPException(status_code=404, detail="no such media")
        return FileResponse(path, media_type=store.content_type(name),
                            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})

    return router


def _load_secret(path: Path) -> bytes:
    """The media URL secret: generated once into the data dir (mode 0600), then read back."""
    try:
        secret = bytes.fromhex(path.read_text().strip())
        if len(secret) >= 16:
            return secret
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        log.warning("media secret %s unreadable; generating a new one (older media links stop working)", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return bytes.fromhex(value)


def media_store_for(settings: Settings) -> MediaStore:
    """The claw's media store: <data dir>/media, with its secret in <data dir>/media_secret."""
    data_dir = settings.ensure_data_dir()
    return MediaStore(data_dir / "media", _load_secret(data_dir / SECRET_FILE))
