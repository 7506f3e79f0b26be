"""Secrets that pairing steps obtained (e.g. a Hue bridge's username), by device id; never printed or logged."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class CredentialStore:
    """Device id -> secret. In memory, or also in a JSON file readable by its owner only (mode 0600).
    Its repr and str show how many it holds, never the secrets."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._secrets: dict[str, str] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("device credentials in %s are unreadable (%s); devices may need pairing again",
                            path, exc.__class__.__name__)
                data = {}
            if isinstance(data, dict):
                self._secrets = {str(k): v for k, v in data.items() if isinstance(v, str)}

    def get(self, device_id: str) -> str | None:
        with self._lock:
            return self._secrets.get(device_id)

    def set(self, device_id: str, secret: str) -> None:
        with self._lock:
            self._secrets[device_id] = secret
            self._save()

    def delete(self, device_id: str) -> bool:
        with self._lock:
            found = self._secrets.pop(device_id, None) is not None
            if found:
                self._save()
            return found

    def __contains__(self, device_id: object) -> bool:
        with self._lock:
            return device_id in self._secrets

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self._secrets, f)
        os.replace(tmp, self.path)

    def __repr__(self) -> str:
        return f"CredentialStore({len(self._secrets)} secret(s){', ' + str(self.path) if self.path else ''})"

    __str__ = __repr__
