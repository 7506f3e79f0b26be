"""Persistent change in the claw: a thing left (and later taken) stored with before/after and told once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cv2

from claw.cameras.rules import chat_rules_say, in_quiet_hours
from claw.cameras.wording import left_text, taken_text
from claw.channels.notify import Notifier
from claw.config import CameraSettings
from devices.vision.persist import Watched
from devices.vision.persist_watch import ChangeWatch, ThingLeft, ThingTaken
from devices.vision.snapshots import SnapshotDir
from memory.store import Store

log = logging.getLogger(__name__)


class ChangeAlerts:
    """Turns ThingLeft / ThingTaken from the watchers into camera_events rows (kind "appeared" / "taken", the
    before, after and side-by-side pictures on disk) and one alert each, in one transaction with the event."""

    def __init__(self, store: Store, notifier: Notifier, snapshots: SnapshotDir, serve: Callable[[bytes], tuple],
                 label: Callable[[str], str]) -> None:
        self.store = store
        self.notifier = notifier
        self.snapshots = snapshots
        self.serve = serve
        self.label = label
        self._things: dict[tuple[str, float], int] = {}  # (camera, key) -> event id of its "appeared"
        self.last_visit: dict[str, int] = {}  # camera -> id of its latest visit (a change refers to it)

    def seed(self, camera: str, watch: ChangeWatch) -> None:
        """Watch again the things left at this camera and not taken (after a restart): from their stored before
        and after pictures."""
        for row in self.store.camera_things_left(camera):
            before = cv2.imread(str(row.get("before_path") or ""), cv2.IMREAD_COLOR)
            after = cv2.imread(str(row.get("after_path") or ""), cv2.IMREAD_COLOR)
            boxes = row.get("boxes") or []
            if before is None or after is None or not boxes:
                log.info("camera %s: the thing left at event %s has no pictures any more", camera, row["id"])
                continue
            labels = [str(x.get("label")) for x in row.get("labels") or []
                      if isinstance(x, dict) and x.get("label") not in (None, "something")]
            key = float(row["started_at"])
            watch.tracker.watch(Watched(key, tuple(int(v) for v in boxes[0]), before, after,  # type: ignore[arg-type]
                                        labels[0] if labels else ""))
            self._things[(camera, key)] = int(row["id"])

    def handle(self, cam: CameraSettings, event: ThingLeft | ThingTaken, chat: Sequence[Mapping[str, Any]]) -> None:
        paths = [str(self.snapshots.save(event.camera, event.t, data, tag))
                 for tag, data in (("before", event.before), ("after", event.after), ("pair", event.pair))]
        labels = [{"label": event.label or "something", "score": None}]
        name = self.label(event.camera)
        if isinstance(event, ThingLeft):
            kind, ref = "appeared", self.last_visit.get(event.camera)
            if ref is None:
                last = self.store.camera_event_last(event.camera)
                ref = int(last["id"]) if last else 0
            text = left_text(name, event.t, event.label, event.zones)
        else:
            kind, ref = "taken", self._things.pop((event.camera, event.key), None)
            if ref is None:
                log.warning("camera %s: a thing taken that was never stored (%s)", event.camera, event.key)
                return
            left = self.store.camera_event_get(ref)
            text = taken_text(name, event.t, float(left["started_at"]) if left else None, event.label, event.zones)
        why = self.silenced(cam, event.t, event.zones, chat)
        media = self.serve(event.pair) if not why else ()
        messages = []
        if not why:
            for channel, recipient in self.notifier.owner_targets():
                messages += self.notifier.prepare(channel, recipient, text, proactive=True, media=media)[1]
        else:
            log.info("camera %s: %s stored without an alert (%s)", event.camera, kind, why)
        event_id, ids = self.store.camera_change_add(
            event.camera, event.t, kind, ref, box=event.box, labels=labels, zones=event.zones, snapshot=paths[2],
            before_path=paths[0], after_path=paths[1], messages=messages)
        if event_id is None:
            log.info("camera %s: %s after event %s was stored before: not again", event.camera, kind, ref)
            return
        if kind == "appeared":
            self._things[(event.camera, event.key)] = event_id
        if ids:
            self.notifier.wake()

    @staticmethod
    def silenced(cam: CameraSettings, t: float, zones: Sequence[str], chat: Sequence[Mapping[str, Any]]) -> str:
        """Why a change is not told (alerts off, quiet hours, a rule said by chat about parcels), or ""."""
        if not cam.alerts:
            return "alerts are off for this camera"
        if in_quiet_hours(cam.quiet_hours, t):
            return "quiet hours"
        about = [r for r in chat if "package" in (r.get("labels") or [])
                 or (r.get("action") == "ignore" and not r.get("labels"))]  # "only people" says nothing on parcels
        return chat_rules_say(about, cam.name, t, zones, ["package"])
