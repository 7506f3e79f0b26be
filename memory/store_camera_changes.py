"""Store mixin for persistent camera change (a thing left, then taken) and the owner's camera rules by chat."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from memory.records import OutboundRecord
from memory.store_base import StoreBase, dumps, loads, locked

if TYPE_CHECKING:
    from sqlite_utils import Database

RULE_ACTIONS = ("ignore", "only")


def create_camera_changes(db: Database) -> None:
    """Migration m020: kind / ref_id / resolved_at on camera_events (a change refers to the visit it followed, a
    "taken" to its "appeared": one change per referred event, so an alert is never queued twice), and the
    camera_chat_rules table."""
    columns = set(db["camera_events"].columns_dict)
    for name, kind in (("kind", str), ("ref_id", int), ("resolved_at", float)):
        if name not in columns:
            db["camera_events"].add_column(name, kind)
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_camera_events_change ON camera_events(ref_id, kind)"
               " WHERE ref_id IS NOT NULL")
    db["camera_chat_rules"].create(
        {"id": int, "camera": str, "labels": str, "zone": str, "start": str, "end": str, "action": str,
         "said": str, "created_at": float},
        pk="id", not_null={"labels", "action", "created_at"}, defaults={"labels": "[]"}, if_not_exists=True)


class CameraChangesMixin(StoreBase):
    if TYPE_CHECKING:  # provided by MessagesMixin in the composed Store
        def _outbox_insert(self, msg: OutboundRecord, inbox_id: int | None) -> int: ...

    @locked
    def camera_change_add(self, camera: str, t: float, kind: str, ref_id: int, *, box: Sequence[int],
                          labels: Sequence[dict[str, Any]] = (), zones: Sequence[str] = (),
                          snapshot: str | None = None, before_path: str | None = None,
                          after_path: str | None = None,
                          messages: Sequence[OutboundRecord] = ()) -> tuple[int | None, list[int]]:
        """Store a change ("appeared" after visit `ref_id`, or "taken" of the appeared event `ref_id`) and its
        alert's outbox rows in one transaction. A change already stored for that ref_id and kind is not stored
        or alerted again: (None, []). A "taken" also marks its "appeared" resolved."""
        now = time.time()
        with self._tx():
            cur = self._write(
                "INSERT INTO camera_events (camera, started_at, last_motion_at, ended_at, labels, boxes, zones,"
                " snapshot, before_path, after_path, alert, alerted_at, created_at, kind, ref_id) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (camera, t, t, t, dumps(list(labels)), dumps([list(box)]), dumps(list(zones)), snapshot,
                 before_path, after_path, int(bool(messages)), now if messages else None, now, kind, ref_id))
            if not cur.rowcount:
                return None, []
            event_id = int(cur.lastrowid or 0)
            if kind == "taken":
                self._write("UPDATE camera_events SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
                            (t, ref_id))
            ids = [self._outbox_insert(m, m.inbox_id) for m in messages]
        return event_id, ids

    @locked
    def camera_things_left(self, camera: str) -> list[dict[str, Any]]:
        """The things left at this camera that were not taken yet, oldest first."""
        return self._all("camera_events", "SELECT * FROM camera_events WHERE camera = ? AND kind = 'appeared'"
                         " AND resolved_at IS NULL ORDER BY started_at, id", (camera,))

    # rules said by chat ---------------------------------------------------------------------------------------
    @locked
    def camera_chat_rule_add(self, rule: dict[str, Any], said: str) -> int:
        if rule.get("action") not in RULE_ACTIONS:
            raise ValueError(f"action must be one of {RULE_ACTIONS}, not {rule.get('action')!r}")
        with self._tx():
            cur = self._write(
                "INSERT INTO camera_chat_rules (camera, labels, zone, start, end, action, said, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (rule.get("camera"), dumps(list(rule.get("labels") or [])), rule.get("zone"), rule.get("start"),
                 rule.get("end"), rule["action"], said, time.time()))
        return int(cur.lastrowid or 0)

    @locked
    def camera_chat_rules(self) -> list[dict[str, Any]]:
        """Every rule said by chat, oldest first (labels decoded)."""
        rows = list(self.db.query("SELECT * FROM camera_chat_rules ORDER BY id"))
        for row in rows:
            row["labels"] = loads(row["labels"], [])
        return rows

    @locked
    def camera_chat_rules_reset(self, camera: str | None) -> int:
        """Forget the chat rules and "ignore"/"important" verdicts of this camera (None: of every camera; rules said
        for all cameras stay unless camera is None). Returns how many were forgotten."""
        with self._tx():
            if camera is None:
                n = self._write("DELETE FROM camera_chat_rules").rowcount
                n += self._write("DELETE FROM camera_rules").rowcount
            else:
                n = self._write("DELETE FROM camera_chat_rules WHERE camera = ?",
                                (camera,)).rowcount
                n += self._write("DELETE FROM camera_rules WHERE camera = ?", (camera,)).rowcount
        return int(n or 0)
