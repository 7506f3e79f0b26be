"""Store mixin for camera events: one row per visit, its alert queued at most once, retention by age."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from memory.records import OutboundRecord
from memory.store_base import StoreBase, dumps, locked

if TYPE_CHECKING:
    from sqlite_utils import Database

log = logging.getLogger(__name__)

VERDICTS = ("ignore", "important")


def create_camera_rules(db: Database) -> None:
    """The camera_rules table (migration m017): the owner's "ignore this" / "this is important" per camera and
    label ("motion" for a visit without a detector's label)."""
    db["camera_rules"].create({"camera": str, "label": str, "verdict": str, "event_id": int, "created_at": float},
                              pk=("camera", "label"), not_null={"camera", "label", "verdict", "created_at"},
                              if_not_exists=True)


class CamerasMixin(StoreBase):
    if TYPE_CHECKING:  # provided by MessagesMixin in the composed Store
        def _outbox_insert(self, msg: OutboundRecord, inbox_id: int | None) -> int: ...

    @locked
    def camera_event_start(self, camera: str, started_at: float, *, boxes: Sequence[Sequence[int]] = (),
                           zones: Sequence[str] = (), labels: Sequence[dict[str, Any]] = (),
                           snapshot: str | None = None, alert: bool = True,
                           messages: Sequence[OutboundRecord] = ()) -> tuple[int, list[int]]:
        """Store a new visit and, in the same transaction, its alert's outbox rows (when `messages` are given):
        (event id, outbox ids). A crash leaves either both or neither."""
        with self._tx():
            cur = self._write(
                "INSERT INTO camera_events (camera, started_at, last_motion_at, labels, boxes, zones, snapshot,"
                " alert, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (camera, started_at, started_at, dumps(list(labels)), dumps([list(b) for b in boxes]),
                 dumps(list(zones)), snapshot, int(alert), time.time()))
            event_id = int(cur.lastrowid or 0)
            ids = self.camera_event_alert(event_id, messages) if messages else []
        return event_id, ids

    @locked
    def camera_event_alert(self, event_id: int, messages: Sequence[OutboundRecord]) -> list[int]:
        """Queue the event's alert unless it was queued before (keyed by the event id): the outbox ids, or []."""
        with self._tx():
            cur = self._write("UPDATE camera_events SET alerted_at = ? WHERE id = ? AND alerted_at IS NULL",
                              (time.time(), event_id))
            if not cur.rowcount:
                return []
            return [self._outbox_insert(m, m.inbox_id) for m in messages]

    @locked
    def camera_event_touch(self, event_id: int, last_motion_at: float) -> None:
        self._write("UPDATE camera_events SET last_motion_at = MAX(last_motion_at, ?) WHERE id = ?",
                    (last_motion_at, event_id))

    @locked
    def camera_event_end(self, event_id: int, last_motion_at: float) -> None:
        """The visit is over: it ended with its last motion."""
        self._write("UPDATE camera_events SET last_motion_at = MAX(last_motion_at, ?), ended_at = ? WHERE id = ?",
                    (last_motion_at, last_motion_at, event_id))

    @locked
    def camera_event_get(self, event_id: int) -> dict[str, Any] | None:
        return self._one("camera_events", "SELECT * FROM camera_events WHERE id = ?", (event_id,))

    @locked
    def camera_event_last(self, camera: str) -> dict[str, Any] | None:
        return self._one("camera_events", "SELECT * FROM camera_events WHERE camera = ? AND kind IS NULL"
                         " ORDER BY started_at DESC,"
                         " id DESC LIMIT 1", (camera,))

    @locked
    def camera_last_alert_end(self, camera: str) -> float | None:
        """When the latest alerted visit of this camera had its last motion (for the cooldown)."""
        row = self._one("camera_events", "SELECT MAX(last_motion_at) AS t FROM camera_events WHERE camera = ?"
                        " AND alert = 1 AND kind IS NULL", (camera,))
        return float(row["t"]) if row and row["t"] is not None else None

    @locked
    def camera_events(self, camera: str | None = None, since: float | None = None, limit: int = 50, *,
                      alerted: bool = False, with_snapshot: bool = False) -> list[dict[str, Any]]:
        """Events, newest first (only those whose alert was queued / that still have a picture, when asked)."""
        where, params = _event_filter(camera, since, alerted, with_snapshot)
        return self._all("camera_events", f"SELECT * FROM camera_events WHERE {where}"
                         " ORDER BY started_at DESC, id DESC LIMIT ?", [*params, limit])

    @locked
    def camera_events_count(self, camera: str | None = None, since: float | None = None) -> int:
        """How many events match (however many there are: the listing above is capped)."""
        where, params = _event_filter(camera, since, False, False)
        row = self._one("camera_events", f"SELECT COUNT(*) AS n FROM camera_events WHERE {where}", params)
        return int(row["n"]) if row else 0

    @locked
    def camera_event_caption(self, event_id: int, caption: str) -> None:
        """The visit's caption from the vision language model (untrusted text, already cleaned)."""
        self._write("UPDATE camera_events SET caption = ? WHERE id = ?", (caption, event_id))

    @locked
    def camera_events_prune(self, before: float) -> list[dict[str, Any]]:
        """Delete the events that started before `before`; returns them (their pictures are the caller's)."""
        with self._tx():
            rows = self._all("camera_events", "SELECT * FROM camera_events WHERE started_at < ?", (before,))
            self._write("DELETE FROM camera_events WHERE started_at < ?", (before,))
        return rows

    @locked
    def camera_events_forget_pictures(self, paths: Iterable[str]) -> int:
        """Pictures deleted from disk (size cap): their events keep everything else."""
        n = 0
        with self._tx():
            for path in paths:
                for column in ("snapshot", "before_path", "after_path"):
                    cur = self._write(f"UPDATE camera_events SET {column} = NULL WHERE {column} = ?", (path,))
                    n += int(cur.rowcount or 0)
        return n

    @locked
    def camera_rule_set(self, camera: str, labels: Sequence[str], verdict: str, event_id: int | None = None) -> None:
        """The owner's verdict on visits of this camera with these labels (replacing an earlier one)."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
        with self._tx():
            for label in labels:
                self._write("INSERT INTO camera_rules (camera, label, verdict, event_id, created_at) VALUES"
                            " (?, ?, ?, ?, ?) ON CONFLICT(camera, label) DO UPDATE SET verdict = excluded.verdict,"
                            " event_id = excluded.event_id, created_at = excluded.created_at",
                            (camera, label, verdict, event_id, time.time()))

    @locked
    def camera_rules(self) -> dict[str, dict[str, str]]:
        """Every verdict: camera -> label -> "ignore" or "important"."""
        rules: dict[str, dict[str, str]] = {}
        for row in self._all("camera_rules", "SELECT camera, label, verdict FROM camera_rules"):
            rules.setdefault(row["camera"], {})[row["label"]] = row["verdict"]
        return rules


def _event_filter(camera: str | None, since: float | None, alerted: bool,
                  with_snapshot: bool) -> tuple[str, list[Any]]:
    where, params = ["1 = 1"], []
    if camera is not None:
        where, params = [*where, "camera = ?"], [*params, camera]
    if since is not None:
        where, params = [*where, "started_at >= ?"], [*params, since]
    if alerted:
        where.append("alerted_at IS NOT NULL")
    if with_snapshot:
        where.append("snapshot IS NOT NULL")
    return " AND ".join(where), params
