"""Store mixin for adapter versions: each learned or hand-written spec's versions, approval and rollback."""

from __future__ import annotations

import time
from typing import Any

from sqlite_utils import Database

from memory.store_base import StoreBase, locked

ADAPTER_SOURCES = ("builtin", "file", "learned")
ADAPTER_STATUSES = ("draft", "approved", "rejected", "rolled_back")


def create_adapter_versions(db: Database) -> None:
    """The adapter_versions table (migration m019): one row per (name, version)."""
    db["adapter_versions"].create({"id": int, "name": str, "version": int, "spec": str, "source": str,
                                   "status": str, "host": str, "created_at": float, "approved_by": str,
                                   "decided_at": float},
                                  pk="id", not_null={"name", "version", "spec", "source", "status", "created_at"},
                                  if_not_exists=True)
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_adapter_versions ON adapter_versions(name, version)")


class AdaptersMixin(StoreBase):
    @locked
    def adapter_version_add(self, name: str, spec_text: str, *, source: str, status: str = "draft",
                            host: str | None = None, approved_by: str | None = None) -> int:
        """Store the next version of adapter `name` (1 for a new name); returns that version number."""
        if source not in ADAPTER_SOURCES or status not in ADAPTER_STATUSES:
            raise ValueError(f"adapter source must be one of {ADAPTER_SOURCES}, status one of {ADAPTER_STATUSES}")
        now = time.time()
        with self._tx():
            row = self._one("adapter_versions", "SELECT MAX(version) AS v FROM adapter_versions WHERE name = ?",
                            (name,))
            version = int((row or {}).get("v") or 0) + 1
            self._write("INSERT INTO adapter_versions (name, version, spec, source, status, host, created_at,"
                        " approved_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (name, version, spec_text, source, status, host, now, approved_by,
                         now if status != "draft" else None))
        return version

    @locked
    def adapter_version_next(self, name: str) -> int:
        row = self._one("adapter_versions", "SELECT MAX(version) AS v FROM adapter_versions WHERE name = ?",
                        (name,))
        return int((row or {}).get("v") or 0) + 1

    @locked
    def adapter_version_set(self, name: str, version: int, status: str, approved_by: str | None = None) -> bool:
        """Mark one version draft/approved/rejected/rolled_back; False when there is no such version."""
        if status not in ADAPTER_STATUSES:
            raise ValueError(f"adapter status must be one of {ADAPTER_STATUSES}")
        cur = self._write("UPDATE adapter_versions SET status = ?, approved_by = COALESCE(?, approved_by),"
                          " decided_at = ? WHERE name = ? AND version = ?",
                          (status, approved_by, time.time(), name, version))
        return cur.rowcount > 0

    @locked
    def adapter_versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every stored version (of `name`, or of all), oldest first."""
        if name is None:
            return self._all("adapter_versions", "SELECT * FROM adapter_versions ORDER BY name, version")
        return self._all("adapter_versions", "SELECT * FROM adapter_versions WHERE name = ? ORDER BY version",
                         (name,))

    @locked
    def adapter_current(self, name: str) -> dict[str, Any] | None:
        """The version in use: the newest approved one (None when none is)."""
        return self._one("adapter_versions", "SELECT * FROM adapter_versions WHERE name = ? AND status = 'approved'"
                         " ORDER BY version DESC LIMIT 1", (name,))

    @locked
    def adapters_current(self) -> list[dict[str, Any]]:
        """The version in use of every stored adapter that has an approved one."""
        return self._all("adapter_versions", "SELECT a.* FROM adapter_versions a WHERE a.status = 'approved' AND"
                         " a.version = (SELECT MAX(b.version) FROM adapter_versions b WHERE b.name = a.name AND"
                         " b.status = 'approved') ORDER BY a.name")

    @locked
    def adapter_rollback(self, name: str, to: int | None = None) -> dict[str, Any]:
        """Make an earlier approved version current again: every approved version above it becomes
        rolled_back. `to` defaults to the approved version before the current one. ValueError when there is
        nothing to go back to."""
        with self._tx():
            approved = [r for r in self.adapter_versions(name) if r["status"] == "approved"]
            if not approved:
                raise ValueError(f"adapter {name!r} has no approved version")
            current = approved[-1]
            if to is None:
                if len(approved) < 2:
                    raise ValueError(f"adapter {name!r} has only one approved version (v{current['version']}): "
                                     "nothing earlier to go back to")
                target = approved[-2]
            else:
                rows = {r["version"]: r for r in self.adapter_versions(name)}
                if to not in rows:
                    raise ValueError(f"adapter {name!r} has no version {to}")
                if to >= current["version"]:
                    raise ValueError(f"v{to} is not earlier than the current v{current['version']}")
                target = rows[to]
            now = time.time()
            self._write("UPDATE adapter_versions SET status = 'rolled_back', decided_at = ? WHERE name = ? AND"
                        " status = 'approved' AND version > ?", (now, name, target["version"]))
            self._write("UPDATE adapter_versions SET status = 'approved', decided_at = ? WHERE name = ? AND"
                        " version = ?", (now, name, target["version"]))
        return self._one("adapter_versions", "SELECT * FROM adapter_versions WHERE name = ? AND version = ?",
                         (name, target["version"])) or {}
