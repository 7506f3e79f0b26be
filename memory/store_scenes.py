"""Store mixin for scenes: a name (unique, ignoring case) and its device commands, saved and read whole."""

from __future__ import annotations

import time
from typing import Any

from sqlite_utils import Database

from memory.store_base import StoreBase, dumps, loads, locked


def create_scenes(db: Database) -> None:
    """The scenes table (migration m016)."""
    db["scenes"].create({"id": int, "name": str, "calls": str, "source": str, "created_at": float,
                         "updated_at": float},
                        pk="id", not_null={"name", "calls", "created_at", "updated_at"},
                        defaults={"calls": "[]", "source": "chat"}, if_not_exists=True)
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_scenes_name ON scenes(name COLLATE NOCASE)")


class ScenesMixin(StoreBase):
    @locked
    def scene_save(self, name: str, calls: list[list[Any]], source: str = "chat") -> int:
        """Store (or replace) a scene: `calls` are [device_id, command, args] in order; returns its id."""
        now = time.time()
        with self._tx():
            self._write("INSERT INTO scenes (name, calls, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET calls = excluded.calls, source = excluded.source, "
                        "updated_at = excluded.updated_at", (name, dumps(calls), source, now, now))
            row = self._one("scenes", "SELECT id FROM scenes WHERE name = ? COLLATE NOCASE", (name,))
        return int(row["id"]) if row else 0

    @locked
    def scene_get(self, name: str) -> dict[str, Any] | None:
        row = self._one("scenes", "SELECT * FROM scenes WHERE name = ? COLLATE NOCASE", (name.strip(),))
        if row is not None:
            row["calls"] = loads(row["calls"], [])
        return row

    @locked
    def scenes_all(self) -> list[dict[str, Any]]:
        rows = self._all("scenes", "SELECT * FROM scenes ORDER BY name COLLATE NOCASE")
        for row in rows:
            row["calls"] = loads(row["calls"], [])
        return rows

    @locked
    def scene_delete(self, name: str) -> bool:
        return self._write("DELETE FROM scenes WHERE name = ? COLLATE NOCASE", (name.strip(),)).rowcount > 0
