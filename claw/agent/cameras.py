"""Camera turns: a fresh snapshot as a picture in the reply, the stored events, the last event's picture."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from claw.agent.actuator import TurnContext
from claw.agent.camera_rules import camera_rule_turn
from claw.events import TurnResult
from claw.intents.cameras import event_lines, since_time
from claw.intents.types import Plan
from claw.permissions import may
from devices.errors import DeviceError
from memory.store import Store

if TYPE_CHECKING:
    from claw.cameras.service import CameraService

log = logging.getLogger(__name__)

SNAPSHOT_TIMEOUT = 8.0  # seconds a fresh picture may take (open + one frame) before the reply says so
SHOWN_EVENTS = 8  # the newest visits listed in an answer (the count covers all of them)
VERDICT_WINDOW = 86400.0  # "ignore this" applies to the latest alert of the last day
REFUSED = "Only the owner can see the cameras and what they recorded."
RULES_REFUSED = "Only the owner can set or see the camera rules."


class CameraChat:
    """Answers ClawCamera plans (claw.intents.cameras) for the owner; `service` None means no cameras."""

    def __init__(self, store: Store, service: CameraService | None, *, timeout: float = SNAPSHOT_TIMEOUT,
                 clock: Any = time.time) -> None:
        self.store = store
        self.service = service
        self.timeout = timeout
        self._clock = clock
        self._asked: dict[str, str | None] = {}  # sender -> the camera of their last events question

    async def run(self, ctx: TurnContext, plan: Plan) -> TurnResult:
        if not may(ctx.standing, "cameras"):  # pictures of the home and who came: the owner's
            return TurnResult(reply=RULES_REFUSED if plan.intent == "ClawCameraRule" else REFUSED, tier="intent")
        if not self.service:
            return TurnResult(reply="There are no cameras set up.", tier="intent")
        if plan.problem:
            return TurnResult(reply=plan.problem, tier="intent")
        if plan.intent == "ClawCameraRule":  # rules said by chat (claw.agent.camera_rules)
            return camera_rule_turn(self.store, self.service, plan, ctx.text)
        slots = plan.slots
        camera = slots.get("camera")
        if camera is not None and camera not in self.service.cameras:
            return TurnResult(reply=f"I don't know a camera called “{camera}”.", tier="intent")
        topic = slots.get("topic")
        if topic == "snapshot":
            return await self._snapshot(str(camera))
        if topic == "last":
            return self._last(camera if camera is not None else self._asked.get(ctx.sender))
        if topic in ("ignore", "important"):
            return self._verdict(str(topic))
        self._asked[ctx.sender] = camera
        return self._events(camera, slots)

    async def _snapshot(self, camera: str) -> TurnResult:
        assert self.service is not None
        label = self.service.label(camera)
        try:  # camera I/O off the event loop, bounded (a thread that overruns finishes on its own)
            jpeg = await asyncio.wait_for(asyncio.to_thread(self.service.snapshot, camera), timeout=self.timeout)
        except (TimeoutError, DeviceError) as exc:
            log.info("snapshot of %s failed: %s", camera, exc or type(exc).__name__)
            return TurnResult(reply=f"The {label} is not answering (offline?), so I have no picture from it now.",
                              tier="intent")
        media = self.service.serve(jpeg)
        if not media:
            return TurnResult(reply=f"I took a picture with the {label} but cannot send pictures here.",
                              tier="intent")
        return TurnResult(reply=f"The {label} now ({time.strftime('%H:%M:%S', time.localtime(self._clock()))}).",
                          tier="intent", media=media)

    def _events(self, camera: str | None, slots: dict[str, Any]) -> TurnResult:
        assert self.service is not None
        now = self._clock()
        since = since_time(slots, now)
        events = self.store.camera_events(camera, since=since, limit=SHOWN_EVENTS)
        when = f"since {time.strftime('%H:%M', time.localtime(since))}" if slots.get("since") else "today"
        where = f"at the {self.service.label(camera)}" if camera else "on the cameras"
        if not events:
            return TurnResult(reply=f"Nothing {where} {when}.", tier="intent")
        total = self.store.camera_events_count(camera, since=since)  # all of them, however many: only a few shown
        count = f"{total} visit" + ("s" if total != 1 else "")
        lines = event_lines(events, SHOWN_EVENTS)
        more = f" (the last {len(lines)} shown)" if len(lines) < total else ""
        return TurnResult(reply=f"{count} {where} {when}{more}: " + "; ".join(lines)
                          + ". Say “show me the last one” for its picture.", tier="intent")

    def _last(self, camera: str | None) -> TurnResult:
        assert self.service is not None
        events = self.store.camera_events(camera, limit=1, with_snapshot=True)
        where = f"the {self.service.label(camera)}" if camera else "the cameras"
        if not events:
            return TurnResult(reply=f"I have no stored picture from {where}.", tier="intent")
        event = events[0]
        try:
            with open(event["snapshot"], "rb") as fh:
                jpeg = fh.read()
        except OSError:
            return TurnResult(reply=f"The last picture from {where} was deleted.", tier="intent")
        stamp = time.strftime("%H:%M:%S on %d %b", time.localtime(float(event["started_at"])))
        labels = [str(x.get("label")) for x in event.get("labels") or [] if isinstance(x, dict)]
        what = " and ".join(dict.fromkeys(labels)) or "motion"
        return TurnResult(reply=f"The last visit at the {self.service.label(event['camera'])}: {what} at {stamp}.",
                          tier="intent", media=self.service.serve(jpeg))

    def _verdict(self, verdict: str) -> TurnResult:
        """"ignore this" / "this is important" about the latest alert (of the last day)."""
        assert self.service is not None
        since = self._clock() - VERDICT_WINDOW
        alerted = self.store.camera_events(since=since, limit=1, alerted=True)
        if not alerted:
            return TurnResult(reply="There was no camera alert in the last day for me to apply that to.",
                              tier="intent")
        event = alerted[0]
        labels = self.service.set_verdict(event, verdict)
        what = " and ".join(labels)
        where = self.service.label(event["camera"])
        if verdict == "ignore":
            reply = (f"OK: I'll still keep visits with {what} at the {where}, but not tell you about them. "
                     "Say “this is important” to undo that.")
        else:
            reply = (f"OK: I'll always tell you about {what} at the {where}, even in quiet hours or outside the "
                     "alert zones.")
        return TurnResult(reply=reply, tier="intent")
