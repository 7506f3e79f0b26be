"""Where a running claw listens: `<data dir>/listening`, written once it serves, removed when it stops."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from claw.config import Settings

log = logging.getLogger(__name__)

FILE_NAME = "listening"


def listening_file(settings: Settings) -> Path:
    return settings.data_dir / FILE_NAME


def url_host(host: str) -> str:
    """A host as it goes into a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def announce(settings: Settings, host: str, port: int) -> None:
    """Record that this process serves the claw of this data dir on host:port (`claw token`/`claw devices`);
    a data dir that cannot be written only costs those commands the running claw's address."""
    path = listening_file(settings)
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps({"host": host, "port": port, "pid": os.getpid()}) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot record where the claw listens in %s: %s", path, exc)


def withdraw(settings: Settings) -> None:
    """Remove the record, if it is still this process's."""
    path = listening_file(settings)
    info = _read(path)
    if info is not None and info.get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


def running(settings: Settings) -> tuple[str, int] | None:
    """(host, port) of the claw serving this data dir, or None when none is (a record left by a process that
    is gone, e.g. after kill -9, does not count)."""
    info = _read(listening_file(settings))
    if info is None:
        return None
    host, port, pid = info.get("host"), info.get("port"), info.get("pid")
    if not (isinstance(host, str) and isinstance(port, int) and isinstance(pid, int)) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    return host, port


def client_base(host: str, port: int) -> str:
    """The base URL to call a claw listening on host:port from this machine (a wildcard bind means loopback)."""
    local = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://{url_host(local)}:{port}"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
