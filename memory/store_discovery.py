"""Store mixin for discovered devices: one row per identity, its status (new/added/ignored/suspect) and sightings."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from memory.store_base import StoreBase, dumps, loads, locked

DISCOVERY_STATUSES = ("new", "added", "ignored", "suspect")
_COLS = ("key", "identity", "id_kind", "address", "adapter", "what", "name", "fingerprint", "status", "device_id",
         "note", "idx")


def create_discovered(db: Database) -> None:
    """The discovered table (migration m018): `key` is the identity ("mac:…", "serial:…", "sonos:…"), or
    "addr:host:port" for a device that showed none, or "identity@address" for a second claimant of an identity;
    `idx` is the row's number in the last scan's table (NULL when the last scan did not see it)."""
    db["discovered"].create(
        {"key": str, "identity": str, "id_kind": str, "address": str, "adapter": str, "what": str, "name": str,
         "fingerprint": str, "status": str, "device_id": str, "note": str, "idx": int, "first_seen": float,
         "last_seen": float},
        pk="key", not_null={"key", "id_kind", "address", "fingerprint", "status", "first_seen", "last_seen"},
        defaults={"fingerprint": "{}", "status": "new"}, if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_discovered_idx ON discovered(idx)")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["fingerprint"] = loads(row.get("fingerprint"), {})
    return row


class DiscoveryMixin(StoreBase):
    @locked
    def discovered_record(self, rows: Iterable[dict[str, Any]], *, now: float | None = None) -> None:
        """In one transaction: the rows of one scan (keys of _COLS; `idx` their number in its table) upserted,
        keeping each row's first_seen; every row the scan did not list loses its `idx`."""
        now = time.time() if now is None else now
        rows = list(rows)
        cols = ", ".join(_COLS)
        marks = ", ".join("?" for _ in _COLS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLS if c != "key")
        with self._tx():
            self._write("UPDATE discovered SET idx = NULL WHERE idx IS NOT NULL")
            for row in rows:
                if row.get("status") not in DISCOVERY_STATUSES:
                    raise ValueError(f"unknown discovery status {row.get('status')!r}")
                values = [dumps(row.get(c) or {}) if c == "fingerprint" else row.get(c) for c in _COLS]
                self._write(f"INSERT INTO discovered ({cols}, first_seen, last_seen) VALUES ({marks}, ?, ?) "
                            f"ON CONFLICT(key) DO UPDATE SET {updates}, last_seen = excluded.last_seen",
                            [*values, now, now])

    @locked
    def discovered_all(self) -> list[dict[str, Any]]:
        """Every discovered row: those of the last scan first, in its order, then the rest by last sighting."""
        rows = self._all("discovered", "SELECT * FROM discovered ORDER BY idx IS NULL, idx, last_seen DESC")
        return [_decode(r) for r in rows]

    @locked
    def discovered_last_scan(self) -> list[dict[str, Any]]:
        """The rows of the last scan, in the order of its table."""
        rows = self._all("discovered", "SELECT * FROM discovered WHERE idx IS NOT NULL ORDER BY idx")
        return [_decode(r) for r in rows]

    @locked
    def discovered_get(self, key: str) -> dict[str, Any] | None:
        row = self._one("discovered", "SELECT * FROM discovered WHERE key = ?", (key,))
        return None if row is None else _decode(row)

    @locked
    def discovered_set(self, key: str, *, status: str, device_id: str | None = None, note: str | None = None
                       ) -> bool:
        """Set a row's status (and the registry device it is bound to, and the note); False when no such row."""
        if status not in DISCOVERY_STATUSES:
            raise ValueError(f"unknown discovery status {status!r}")
        return self._write("UPDATE discovered SET status = ?, device_id = ?, note = ? WHERE key = ?",
                           (status, device_id, note, key)).rowcount > 0
