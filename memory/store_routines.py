"""Store mixin for routines: the routines table, the run ledger (one row per slot) and each run's step progress."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from memory.store_base import StoreBase, dumps, locked

if TYPE_CHECKING:
    from memory.records import OutboundRecord

log = logging.getLogger(__name__)

# queued: asked for by hand (`claw routines run`), not started yet; running: claimed, steps under way (a crash
# leaves it so: resumed at start); the rest are final. missed / skipped / interrupted never ran (all of it).
RUN_STATUSES = ("queued", "running", "done", "failed", "missed", "skipped", "interrupted", "cancelled")
RUN_FINAL = RUN_STATUSES[2:]
RUN_KINDS = ("scheduled", "catch_up", "manual")
# started: about to run (a crash leaves it so); unknown: a device command whose outcome is open
STEP_STATUSES = ("started", "done", "failed", "refused", "unknown", "skipped")
_EDITABLE = ("name", "trigger", "steps", "tz", "missed", "grace", "paused", "anchor")
_JSON_COLUMNS = ("trigger", "steps")


class DuplicateName(ValueError):
    """Another routine already has this name (names are unique, ignoring case)."""


class RoutinesMixin(StoreBase):
    # routines --------------------------------------------------------------------------------
    def _bump(self) -> None:
        self._write("UPDATE routine_revision SET rev = rev + 1 WHERE id = 1")

    @locked
    def routines_revision(self) -> int:
        """A number that grows with every change to the routines or a queued run (a running claw polls it)."""
        row = self._one("routine_revision", "SELECT rev FROM routine_revision WHERE id = 1")
        return int(row["rev"]) if row else 0

    @locked
    def routine_add(self, row: dict[str, Any]) -> int:
        """Store a new routine (`row`: name, trigger, steps, tz, missed, grace, paused, anchor); its id.
        Raises DuplicateName when the name is taken."""
        now = time.time()
        values = {k: (dumps(row[k]) if k in _JSON_COLUMNS else row[k]) for k in _EDITABLE if k in row}
        values.update(created_at=now, updated_at=now)
        columns = ", ".join(values)
        try:
            with self._tx():
                # never the id of a deleted routine: its run ledger (routine, slot) would swallow this one's slots
                top = self._one("routines", "SELECT MAX(m) AS m FROM (SELECT MAX(id) AS m FROM routines UNION ALL "
                                            "SELECT MAX(routine_id) FROM routine_runs)")
                routine_id = int((top or {}).get("m") or 0) + 1
                cur = self._write(f"INSERT INTO routines (id, {columns}) VALUES (?, "
                                  f"{', '.join('?' * len(values))})", [routine_id, *values.values()])
                self._bump()
        except sqlite3.IntegrityError as exc:
            raise DuplicateName(f"a routine called {row.get('name')!r} exists already") from exc
        return int(cur.lastrowid or routine_id)

    @locked
    def routine_get(self, routine_id: int) -> dict[str, Any] | None:
        return self._one("routines", "SELECT * FROM routines WHERE id = ?", (routine_id,))

    @locked
    def routine_find(self, name: str) -> dict[str, Any] | None:
        """The routine of this name, ignoring case."""
        return self._one("routines", "SELECT * FROM routines WHERE name = ? COLLATE NOCASE", (name.strip(),))

    @locked
    def routines_all(self) -> list[dict[str, Any]]:
        return self._all("routines", "SELECT * FROM routines ORDER BY id")

    @locked
    def routine_update(self, routine_id: int, **changes: Any) -> bool:
        """Change some columns of a routine (see _EDITABLE); False when there is no such routine."""
        unknown = set(changes) - set(_EDITABLE)
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)} of a routine")
        values = {k: (dumps(v) if k in _JSON_COLUMNS else v) for k, v in changes.items()}
        values["updated_at"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in values)
        try:
            with self._tx():
                cur = self._write(f"UPDATE routines SET {sets} WHERE id = ?", [*values.values(), routine_id])
                self._bump()
        except sqlite3.IntegrityError as exc:
            raise DuplicateName(f"a routine called {changes.get('name')!r} exists already") from exc
        return cur.rowcount > 0

    @locked
    def routine_delete(self, routine_id: int) -> bool:
        """Delete a routine (its run history stays); queued runs of it are cancelled."""
        with self._tx():
            cur = self._write("DELETE FROM routines WHERE id = ?", (routine_id,))
            self._write("UPDATE routine_runs SET status = 'cancelled', finished_at = ?, note = 'routine deleted'"
                        " WHERE routine_id = ? AND status = 'queued'", (time.time(), routine_id))
            self._bump()
        return cur.rowcount > 0

    # the run ledger --------------------------------------------------------------------------
    @locked
    def run_begin(self, routine_id: int, name: str, slot: float, kind: str, steps: list[dict[str, Any]]
                  ) -> tuple[int, bool]:
        """Claim the slot before any step runs: (run id, True) when this call inserted it (so it runs now),
        (the existing run's id, False) when the slot was claimed before (by this process or an earlier one)."""
        if kind not in RUN_KINDS:
            raise ValueError(f"run kind must be one of {RUN_KINDS}, not {kind!r}")
        now = time.time()
        with self._tx():
            cur = self._write("INSERT OR IGNORE INTO routine_runs (routine_id, name, slot_utc, kind, status, steps,"
                              " created_at, started_at) VALUES (?, ?, ?, ?, 'running', ?, ?, ?)",
                              (routine_id, name, slot, kind, dumps(steps), now, now))
            if cur.rowcount:
                return int(cur.lastrowid or 0), True
            row = self._one("routine_runs", "SELECT id FROM routine_runs WHERE routine_id = ? AND slot_utc = ?",
                            (routine_id, slot))
            return int(row["id"] if row else 0), False

    @locked
    def run_record(self, routine_id: int, name: str, slot: float, kind: str, status: str, note: str,
                   notify: Sequence[OutboundRecord] = ()) -> bool:
        """Record a slot that does not run (missed, skipped) with its notice to the owner in one transaction;
        False (and no notice) when the slot is in the ledger already."""
        if status not in RUN_FINAL:
            raise ValueError(f"a recorded run is final, not {status!r}")
        now = time.time()
        with self._tx():
            cur = self._write("INSERT OR IGNORE INTO routine_runs (routine_id, name, slot_utc, kind, status, note,"
                              " created_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              (routine_id, name, slot, kind, status, note, now, now))
            if not cur.rowcount:
                return False
            for message in notify:
                self.outbox_add(message)
            return True

    @locked
    def run_queue(self, routine_id: int, name: str, slot: float, steps: list[dict[str, Any]]) -> int:
        """Ask for a run by hand at `slot` (now; moved on by a millisecond while that slot is taken); the claw
        that runs the routines claims it (see run_claim). Returns the run's id."""
        slot = round(slot, 3)
        with self._tx():
            while self._one("routine_runs", "SELECT id FROM routine_runs WHERE routine_id = ? AND slot_utc = ?",
                            (routine_id, slot)) is not None:
                slot = round(slot + 0.001, 3)
            cur = self._write("INSERT INTO routine_runs (routine_id, name, slot_utc, kind, status, steps,"
                              " created_at) VALUES (?, ?, ?, 'manual', 'queued', ?, ?)",
                              (routine_id, name, slot, dumps(steps), time.time()))
            self._bump()
        return int(cur.lastrowid or 0)

    @locked
    def run_claim(self, run_id: int) -> bool:
        """Move a queued run to running; False when someone else claimed (or cancelled) it first."""
        cur = self._write("UPDATE routine_runs SET status = 'running', started_at = ? WHERE id = ?"
                          " AND status = 'queued'", (time.time(), run_id))
        return cur.rowcount > 0

    @locked
    def run_finish(self, run_id: int, status: str, note: str | None = None,
                   notify: Sequence[OutboundRecord] = ()) -> bool:
        """Close a running run with its report to the owner (if any) in one transaction; False when it was not
        running (finished already)."""
        if status not in RUN_FINAL:
            raise ValueError(f"a finished run is one of {RUN_FINAL}, not {status!r}")
        with self._tx():
            cur = self._write("UPDATE routine_runs SET status = ?, note = ?, finished_at = ? WHERE id = ?"
                              " AND status = 'running'", (status, note, time.time(), run_id))
            if not cur.rowcount:
                return False
            for message in notify:
                self.outbox_add(message)
            return True

    @locked
    def run_get(self, run_id: int) -> dict[str, Any] | None:
        return self._one("routine_runs", "SELECT * FROM routine_runs WHERE id = ?", (run_id,))

    @locked
    def runs_with_status(self, status: str) -> list[dict[str, Any]]:
        """Runs in one status ('running': cut off by a crash, to resume; 'queued': asked for), oldest first."""
        return self._all("routine_runs", "SELECT * FROM routine_runs WHERE status = ? ORDER BY id", (status,))

    @locked
    def runs_recent(self, routine_id: int | None = None, since: float | None = None,
                    limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs (of one routine, created since a time), newest first."""
        sql, params = "SELECT * FROM routine_runs WHERE 1 = 1", []
        if routine_id is not None:
            sql, params = sql + " AND routine_id = ?", [*params, routine_id]
        if since is not None:
            sql, params = sql + " AND slot_utc >= ?", [*params, since]
        return self._all("routine_runs", sql + " ORDER BY slot_utc DESC, id DESC LIMIT ?", [*params, limit])

    @locked
    def run_last_slot(self, routine_id: int) -> float | None:
        """The latest scheduled slot in the ledger for this routine (run, missed or skipped), or None."""
        row = self._one("routine_runs", "SELECT MAX(slot_utc) AS slot FROM routine_runs WHERE routine_id = ?"
                        " AND kind != 'manual'", (routine_id,))
        return float(row["slot"]) if row and row["slot"] is not None else None

    @locked
    def runs_last_slots(self) -> dict[int, float]:
        """run_last_slot for every routine with a scheduled slot in the ledger, in one query (start-up)."""
        rows = self.db.query("SELECT routine_id, MAX(slot_utc) AS slot FROM routine_runs WHERE kind != 'manual'"
                             " GROUP BY routine_id")
        return {int(r["routine_id"]): float(r["slot"]) for r in rows}

    # per-step progress -----------------------------------------------------------------------
    @locked
    def step_begin(self, run_id: int, idx: int, kind: str) -> dict[str, Any] | None:
        """Mark step `idx` of a run started: None when it is new (go ahead), else the existing row (a resumed
        run: 'done', 'failed', 'refused' and 'skipped' are final; 'started' / 'unknown' were cut off)."""
        with self._tx():
            existing = self._one("routine_steps", "SELECT * FROM routine_steps WHERE run_id = ? AND idx = ?",
                                 (run_id, idx))
            if existing is not None:
                return existing
            self._write("INSERT INTO routine_steps (run_id, idx, kind, status, started_at) VALUES"
                        " (?, ?, ?, 'started', ?)", (run_id, idx, kind, time.time()))
            return None

    @locked
    def step_finish(self, run_id: int, idx: int, status: str, detail: str | None = None,
                    notify: Sequence[OutboundRecord] = ()) -> None:
        """Record how a step ended, with its message to the owner (a `say` step) in the same transaction."""
        if status not in STEP_STATUSES[1:]:
            raise ValueError(f"a step ends as one of {STEP_STATUSES[1:]}, not {status!r}")
        with self._tx():
            self._write("UPDATE routine_steps SET status = ?, detail = ?, finished_at = ? WHERE run_id = ?"
                        " AND idx = ?", (status, detail, time.time(), run_id, idx))
            for message in notify:
                self.outbox_add(message)

    @locked
    def steps_of(self, run_id: int) -> list[dict[str, Any]]:
        return self._all("routine_steps", "SELECT * FROM routine_steps WHERE run_id = ? ORDER BY idx", (run_id,))

    if TYPE_CHECKING:  # provided by MessagesMixin in the composed Store
        def outbox_add(self, msg: OutboundRecord) -> int: ...
