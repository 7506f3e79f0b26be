"""Store mixin for timers and delayed commands: one row each; a timer's end is told once (with its outbox rows)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from memory.store_base import StoreBase, locked

if TYPE_CHECKING:
    from memory.records import OutboundRecord

# running: counting down to ends_at; paused: `left` seconds to go; done: its end was told; cancelled.
# A delayed command (kind "command") is a one-shot routine (routine_id); its row finds it for "cancel that".
TIMER_STATUSES = ("running", "paused", "done", "cancelled")


def create_timers(db: Database) -> None:
    """The timers table (applied by memory.migrations)."""
    db["timers"].create(
        {"id": int, "kind": str, "channel": str, "sender": str, "name": str, "seconds": float, "ends_at": float,
         "left_s": float, "status": str, "routine_id": int, "what": str, "created_at": float, "finished_at": float},
        pk="id", not_null={"kind", "channel", "sender", "name", "seconds", "status", "created_at"},
        defaults={"kind": "timer", "name": "", "what": ""}, if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_timers_status ON timers(status, ends_at)")


class TimersMixin(StoreBase):
    @locked
    def timer_add(self, *, kind: str, channel: str, sender: str, name: str, seconds: float, ends_at: float,
                  what: str = "", routine_id: int | None = None) -> int:
        cur = self._write("INSERT INTO timers (kind, channel, sender, name, seconds, ends_at, status, what,"
                          " routine_id, created_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                          (kind, channel, sender, name, seconds, ends_at, what, routine_id, time.time()))
        return int(cur.lastrowid or 0)

    @locked
    def timers_active(self, sender: str | None = None) -> list[dict[str, Any]]:
        """Running and paused timers and delayed commands (of one sender), oldest first."""
        if sender is None:
            return self._all("timers", "SELECT * FROM timers WHERE status IN ('running', 'paused') ORDER BY id")
        return self._all("timers", "SELECT * FROM timers WHERE status IN ('running', 'paused') AND sender = ?"
                         " ORDER BY id", (sender,))

    @locked
    def timers_due(self, now: float, kind: str = "timer") -> list[dict[str, Any]]:
        """Running timers (or delayed commands) whose end is at or before `now`, the earliest first."""
        return self._all("timers", "SELECT * FROM timers WHERE status = 'running' AND kind = ?"
                         " AND ends_at <= ? ORDER BY ends_at", (kind, now))

    @locked
    def timer_update(self, timer_id: int, *, status: str, ends_at: float | None, left_s: float | None,
                     seconds: float | None = None) -> bool:
        """Change an active timer (pause, resume, more or less time, cancel); False when it is not active."""
        if status not in TIMER_STATUSES:
            raise ValueError(f"timer status {status!r}")
        sets = "status = ?, ends_at = ?, left_s = ?" + (", seconds = ?" if seconds is not None else "")
        params: list[Any] = [status, ends_at, left_s] + ([seconds] if seconds is not None else [])
        if status == "cancelled":
            sets += ", finished_at = ?"
            params.append(time.time())
        cur = self._write(f"UPDATE timers SET {sets} WHERE id = ? AND status IN ('running', 'paused')",
                          [*params, timer_id])
        return bool(cur.rowcount)

    @locked
    def timer_finish(self, timer_id: int, notify: Sequence[OutboundRecord] = ()) -> bool:
        """Mark a running timer done and queue its message in one transaction: False (nothing queued) when it
        was done, cancelled or paused already, so its end is told exactly once whatever restarts."""
        with self._tx():
            cur = self._write("UPDATE timers SET status = 'done', finished_at = ? WHERE id = ? AND status = 'running'",
                              (time.time(), timer_id))
            if not cur.rowcount:
                return False
            for message in notify:
                self.outbox_add(message)
            return True

    if TYPE_CHECKING:  # provided by MessagesMixin in the composed Store
        def outbox_add(self, msg: OutboundRecord) -> int: ...
