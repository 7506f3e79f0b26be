"""A camera watcher's persistent-change step: the picture before each visit, the check after it, things taken."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from devices.vision.detector import Detection
from devices.vision.motion import Box, MotionResult, Polygon, merge_boxes
from devices.vision.persist import PersistConfig, PersistTracker, Watched, side_by_side, zones_of
from devices.vision.snapshots import encode_jpeg
from devices.vision.source import Frame

log = logging.getLogger(__name__)

THINGS = ("package", "backpack", "suitcase", "handbag")  # detector labels that name a thing left behind
CALM_FRAMES = 5  # frames without motion before a frame may be the reference for the next visit


@dataclass(frozen=True)
class ThingLeft:
    """Something appeared during a visit and stayed: its box, what the detector called it ("" unknown), the
    place before and after (JPEG) and both side by side (the alert's picture)."""

    camera: str
    t: float
    key: float  # identifies the thing until it is taken
    box: Box
    label: str
    before: bytes = field(repr=False)
    after: bytes = field(repr=False)
    pair: bytes = field(repr=False)
    zones: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThingTaken:
    """A thing left earlier is gone: the place looks as it did before the thing came."""

    camera: str
    t: float
    key: float
    box: Box
    label: str
    before: bytes = field(repr=False)
    after: bytes = field(repr=False)
    pair: bytes = field(repr=False)
    zones: tuple[str, ...] = ()


ChangeEvent = ThingLeft | ThingTaken
Detect = Callable[[np.ndarray, tuple[Box, ...]], list[Detection]]


@dataclass(frozen=True)
class ChangeOptions:
    settle: float = 5.0  # seconds after a visit ends before the place is compared with the picture from before
    recheck: float = 30.0  # between visits, how often the things left are looked at (taken without a visit?)


class ChangeWatch:
    """Fed every processed frame by the watcher (with whether a visit is open), and told when a visit starts and
    ends; answers with ThingLeft / ThingTaken. Pictures are decoded only when compared."""

    def __init__(self, camera: str, options: ChangeOptions | None = None, cfg: PersistConfig | None = None,
                 detector: Detect | None = None, zones: Mapping[str, Polygon] | None = None) -> None:
        self.camera = camera
        self.zones = dict(zones or {})
        self.options = options or ChangeOptions()
        self.tracker = PersistTracker(cfg)
        self.detector = detector
        self._calm: Frame | None = None  # the latest frame with no motion for CALM_FRAMES frames
        self._quiet = 0
        self._reference: Frame | None = None  # the calm frame from before the open visit
        self._area: Box | None = None  # every motion box of the visit, merged
        self._due: tuple[float, Frame | None, Box | None] | None = None  # (when, reference, area) of the next check
        self._next_recheck = 0.0

    def visit_started(self, boxes: tuple[Box, ...]) -> None:
        if self._due is not None:  # a new visit before the last one was checked: one check after both
            _, self._reference, self._area = self._due
            self._due = None
        else:
            self._reference = self._calm
            self._area = None
        self._grow(boxes)

    def visit_cancelled(self) -> None:
        self._reference, self._area = None, None

    def visit_ended(self, t: float) -> None:
        """The visit's last motion was at t: check `settle` seconds later (without a picture from before the visit,
        e.g. just after a restart, only whether the things watched are gone)."""
        if (self._reference is not None and self._area is not None) or self.tracker.watched:
            self._due = (t + self.options.settle, self._reference, self._area)
        self._reference, self._area = None, None

    def frame(self, frame: Frame, result: MotionResult, visiting: bool) -> list[ChangeEvent]:
        """One processed frame: keep the calm picture, grow the visit's area, run a check that is due."""
        self._quiet = 0 if result.motion or result.recalibrated else self._quiet + 1
        if visiting:
            self._grow(result.boxes)
            return []
        if self._quiet >= CALM_FRAMES:
            self._calm = frame
        if self._due is not None and frame.t >= self._due[0] and not result.motion:
            _, reference, area = self._due
            self._due = None
            return self._check(frame, reference, area)
        if self.tracker.watched and self._due is None and frame.t >= self._next_recheck and not result.motion:
            self._next_recheck = frame.t + self.options.recheck
            picture = frame.bgr()
            return [self._taken(frame.t, item, picture) for item in self.tracker.gone(picture)]
        return []

    def _grow(self, boxes: tuple[Box, ...]) -> None:
        if boxes:
            self._area = merge_boxes([*boxes, *([self._area] if self._area is not None else [])])

    def _check(self, frame: Frame, reference: Frame | None, area: Box | None) -> list[ChangeEvent]:
        after = frame.bgr()
        before = reference.bgr() if reference is not None else None
        if before is None or area is None or before.shape != after.shape:
            return [self._taken(frame.t, item, after) for item in self.tracker.gone(after)]
        found, gone = self.tracker.check(before, after, area)
        events: list[ChangeEvent] = [self._taken(frame.t, item, after) for item in gone]
        for change in found:
            label = self._name(after, change.box)
            item = Watched(frame.t + len(events) * 1e-3, change.box, before, after, label)
            self.tracker.watch(item)
            log.info("camera %s: something stayed at %s (%s)", self.camera, change.box, label or "unknown")
            events.append(ThingLeft(self.camera, frame.t, item.key, change.box, label, encode_jpeg(before),
                                    encode_jpeg(after), encode_jpeg(side_by_side(before, after, change.box)),
                                    zones_of(change.box, after.shape, self.zones)))
        return events

    def _taken(self, t: float, item: Watched, now: np.ndarray) -> ThingTaken:
        log.info("camera %s: the thing at %s is gone", self.camera, item.box)
        return ThingTaken(self.camera, t, item.key, item.box, item.label, encode_jpeg(item.after), encode_jpeg(now),
                          encode_jpeg(side_by_side(item.after, now, item.box)),
                          zones_of(item.box, now.shape, self.zones))

    def _name(self, picture: np.ndarray, box: Box) -> str:
        if self.detector is None:
            return ""
        try:
            found = self.detector(picture, (box,))
        except Exception:  # noqa: BLE001 - a detector failure only leaves the thing unnamed
            log.exception("camera %s: naming the thing left failed", self.camera)
            return ""
        return next((d.label for d in sorted(found, key=lambda d: -d.score) if d.label in THINGS), "")
