"""Per-visit grouping of motion, as a pure state machine: confirmed motion starts a visit, quiet ends it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from devices.vision.motion import Box, MotionResult


@dataclass(frozen=True)
class VisitRules:
    """When motion is a visit and when a visit is worth an alert."""

    confirm_frames: int = 3  # motion in this many of the last `window` frames starts a visit (one-frame blips never)
    window: int = 5
    gap: float = 40.0  # a visit ends this many seconds after its last motion; motion before then is the same visit
    cooldown: float = 120.0  # a visit starting this soon after the end of an alerted one is stored but not alerted
    touch_every: float = 5.0  # how often an open visit reports that it is still going (for the store)


@dataclass(frozen=True)
class VisitStarted:
    t: float
    boxes: tuple[Box, ...]
    zones: tuple[str, ...]
    alert: bool  # False within the cooldown after an alerted visit


@dataclass(frozen=True)
class VisitGoing:
    t: float  # the visit's latest motion so far


@dataclass(frozen=True)
class VisitEnded:
    started: float
    last_motion: float


VisitChange = VisitStarted | VisitGoing | VisitEnded


@dataclass
class OpenVisit:
    started: float
    last_motion: float
    alerted: bool
    reported: float  # when it last reported VisitGoing


class VisitGrouper:
    """Feed it every processed frame's motion (`feed`) and the passing of time without frames (`tick`); it answers
    with what changed. `resume` continues a visit that was open when the claw stopped (started, last motion,
    alerted); `last_alert_end` is when the last alerted visit ended (for the cooldown)."""

    def __init__(self, rules: VisitRules | None = None, *, resume: tuple[float, float, bool] | None = None,
                 last_alert_end: float | None = None) -> None:
        self.rules = rules or VisitRules()
        self._recent: deque[bool] = deque(maxlen=self.rules.window)
        self.visit: OpenVisit | None = None
        if resume is not None:
            started, last, alerted = resume
            self.visit = OpenVisit(started, last, alerted, last)
        self.last_alert_end = last_alert_end

    def feed(self, t: float, result: MotionResult) -> list[VisitChange]:
        self._recent.append(result.motion)
        confirmed = result.motion and sum(self._recent) >= self.rules.confirm_frames
        changes = self.tick(t)
        if not confirmed:
            return changes
        visit = self.visit
        if visit is None:
            alert = self.last_alert_end is None or t - self.last_alert_end >= self.rules.cooldown
            self.visit = OpenVisit(t, t, alert, t)
            changes.append(VisitStarted(t, result.boxes, result.zones, alert))
            return changes
        visit.last_motion = t
        if t - visit.reported >= self.rules.touch_every:
            visit.reported = t
            changes.append(VisitGoing(t))
        return changes

    def tick(self, t: float) -> list[VisitChange]:
        """Time passed (with or without a frame): end the open visit once it has been quiet for `gap`."""
        visit = self.visit
        if visit is None or t - visit.last_motion < self.rules.gap:
            return []
        self.visit = None
        if visit.alerted:
            self.last_alert_end = visit.last_motion
        return [VisitEnded(visit.started, visit.last_motion)]

    def silence(self) -> None:
        """The visit just started will not be alerted (quiet hours, outside the alert zones): its end starts no
        cooldown."""
        if self.visit is not None:
            self.visit.alerted = False

    def cancel(self) -> None:
        """Drop the visit just started: it was not worth one (the detector saw nothing wanted)."""
        self.visit = None

    def reset_motion(self) -> None:
        """Forget the recent frames (after a reconnect the first frames only calibrate)."""
        self._recent.clear()
