"""One camera's watcher: a reader thread (reconnect, fps cap, bounded queue that drops) and a motion loop."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from devices.errors import CameraUnavailable
from devices.vision.detector import Detection
from devices.vision.motion import Box, MotionConfig, MotionDetector
from devices.vision.persist_watch import ChangeEvent, ChangeWatch
from devices.vision.snapshots import draw_boxes, encode_jpeg
from devices.vision.source import Frame, FrameSource
from devices.vision.visits import VisitChange, VisitEnded, VisitGoing, VisitGrouper, VisitRules, VisitStarted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VisitBegan:
    """A visit started: its picture (boxes drawn, JPEG) and whether it is worth an alert."""

    camera: str
    t: float
    boxes: tuple[Box, ...]
    zones: tuple[str, ...]
    alert: bool
    jpeg: bytes = field(repr=False)
    labels: tuple[tuple[str, float], ...] = ()  # what the detector saw (label, score), best first; () without one


@dataclass(frozen=True)
class VisitContinues:
    camera: str
    t: float


@dataclass(frozen=True)
class VisitOver:
    camera: str
    started: float
    last_motion: float


@dataclass(frozen=True)
class CameraStatus:
    """The camera went offline (no picture for `offline_after` seconds) or came back."""

    camera: str
    online: bool
    t: float
    reason: str = ""


WatchEvent = VisitBegan | VisitContinues | VisitOver | CameraStatus | ChangeEvent  # changes: persist_watch.py
Sink = Callable[[WatchEvent], None]
Detect = Callable[[np.ndarray, tuple[Box, ...]], list[Detection]]  # BGR frame, motion boxes -> wanted objects
Judge = Callable[[float, tuple[str, ...], tuple[str, ...]], bool]  # (t, zones, labels) -> worth an alert?


@dataclass(frozen=True)
class WatchOptions:
    fps: float = 5.0  # frames processed per second at most; more are dropped (before decoding when possible)
    offline_after: float = 20.0  # seconds without a picture before the camera is reported offline
    queue_size: int = 2  # frames waiting for the motion step; when full the oldest is dropped, never a backlog
    backoff_initial: float = 0.5  # reconnect waits: doubling from this up to backoff_max
    backoff_max: float = 10.0
    detect_every: float = 0.5  # after a look that found nothing wanted, the detector rests this long (seconds)
    early_look: bool = True  # with a detector: look at the first motion frame, not after the confirming frames


class CameraWatcher:
    """Watches one camera until `stop` is set: `run()` blocks (call it in a thread of its own).

    Everything the claw must know leaves through `sink` (called from this watcher's thread)."""

    def __init__(self, name: str, source: Callable[[], FrameSource], sink: Sink, *,
                 options: WatchOptions | None = None, motion: MotionConfig | None = None,
                 rules: VisitRules | None = None, grouper: VisitGrouper | None = None,
                 detector: Detect | None = None, clock: Callable[[], float] = time.time,
                 judge: Judge | None = None, changes: ChangeWatch | None = None) -> None:
        self.name = name
        self.options = options or WatchOptions()
        self._source_factory = source
        self._sink = sink
        self.motion = MotionDetector(motion)
        self.grouper = grouper or VisitGrouper(rules)
        self._clock = clock
        self.detector = detector  # None: motion alone starts a visit
        self.changes = changes  # persistent change (a thing left, then taken); None: not watched
        self.judge = judge  # the owner's rules (zones, labels, quiet hours): a visit they silence starts no cooldown
        self._detect_after = 0.0
        # the early look: (frames processed when it was taken, its picture, what it found)
        self._early: tuple[int, np.ndarray, list[Detection]] | None = None
        self._queue: queue.Queue[Frame] = queue.Queue(maxsize=self.options.queue_size)
        self._last_frame_at: float | None = None
        self._started_at = 0.0
        self.online: bool | None = None  # None until the first picture or the first offline report
        self.dropped = 0
        self.processed = 0
        self.reconnects = 0
        self.motion_seconds = 0.0  # CPU-ish time spent in the motion step (perf counter)
        self.last_motion_frame: Frame | None = None  # the latest frame with motion (a caption of a visit's end)

    # the two loops ------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Read and watch until `stop` is set (the reader thread is joined before returning)."""
        self._started_at = self._clock()
        reader = threading.Thread(target=self._read_loop, args=(stop,), name=f"camera-read-{self.name}",
                                  daemon=True)
        reader.start()
        try:
            while not stop.is_set():
                try:
                    frame = self._queue.get(timeout=0.5)
                except queue.Empty:
                    frame = None
                now = self._clock()
                if frame is not None:
                    self._process(frame)
                else:
                    self._changes(self.grouper.tick(now), None)
                self._check_online(now)
        finally:
            stop.set()
            reader.join(timeout=10)

    def _read_loop(self, stop: threading.Event) -> None:
        delay = self.options.backoff_initial
        period = 1.0 / self.options.fps
        while not stop.is_set():
            source = self._source_factory()
            try:
                source.open()
                next_due = 0.0
                while not stop.is_set():
                    now = time.monotonic()
                    if now < next_due and source.skip():
                        self._last_frame_at = self._clock()
                        continue
                    if now < next_due:  # a polled source: wait for the next period
                        if stop.wait(next_due - now):
                            break
                    frame = source.read()
                    self._last_frame_at = frame.t
                    delay = self.options.backoff_initial
                    next_due = max(next_due + period, time.monotonic() - period)
                    self._offer(frame)
            except CameraUnavailable as exc:
                log.debug("camera %s: %s", self.name, exc)
            except Exception:  # noqa: BLE001 - a broken picture must not end the watcher
                log.exception("camera %s: reading failed", self.name)
            finally:
                source.close()
            if stop.wait(delay):
                break
            self.reconnects += 1
            delay = min(self.options.backoff_max, delay * 2)

    def _offer(self, frame: Frame) -> None:
        """Queue a frame for the motion step; when the queue is full the oldest waiting frame is dropped."""
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    # the motion step ---------------------------------------------------------------------------------------
    def _process(self, frame: Frame) -> None:
        started = time.perf_counter()
        result = self.motion.detect(frame.gray)
        self.motion_seconds += time.perf_counter() - started
        self.processed += 1
        if result.recalibrated:
            self.grouper.reset_motion()
        if self.detector is not None and self.grouper.visit is None:
            self._early_look(frame, result.boxes if result.motion else ())
        if result.motion:
            self.last_motion_frame = frame
        self._changes(self.grouper.feed(frame.t, result), frame)
        if self.changes is not None:
            for event in self.changes.frame(frame, result, self.grouper.visit is not None):
                self._emit(event)

    def _changes(self, changes: list[VisitChange], frame: Frame | None) -> None:
        for change in changes:
            if isinstance(change, VisitStarted):
                picture = frame.bgr() if frame is not None else None
                boxes, labels = change.boxes, ()
                if self.detector is not None:
                    picture, found = self._look(picture, change)
                    if not found:
                        self.grouper.cancel()  # motion, but nothing worth a visit (a branch, a shadow)
                        continue
                    boxes, labels = tuple(d.box for d in found), tuple((d.label, round(d.score, 3)) for d in found)
                if self.changes is not None:
                    self.changes.visit_started(change.boxes)
                names = [f"{label} {score:.0%}" for label, score in labels]
                jpeg = encode_jpeg(draw_boxes(picture, boxes, names)) if picture is not None else b""
                alert = change.alert
                if alert and self.judge is not None and not self.judge(change.t, change.zones,
                                                                       tuple(label for label, _ in labels)):
                    alert = False
                    self.grouper.silence()
                self._emit(VisitBegan(self.name, change.t, boxes, change.zones, alert, jpeg, labels))
            elif isinstance(change, VisitGoing):
                self._emit(VisitContinues(self.name, change.t))
            elif isinstance(change, VisitEnded):
                if self.changes is not None:
                    self.changes.visit_ended(change.last_motion)
                self._emit(VisitOver(self.name, change.started, change.last_motion))

    def _early_look(self, frame: Frame, boxes: tuple[Box, ...]) -> None:
        """With a detector, look at the first frame with motion at once instead of after the visit's confirming
        frames (the model takes most of a second: the frames meanwhile confirm the visit). A visit confirmed within
        the grouper's window of frames after it uses it, with its picture; the time the look took does not count."""
        if self._early is not None and self.processed - self._early[0] > self.grouper.rules.window:
            self._early = None  # no visit came of that motion
        if not self.options.early_look:
            return
        if not boxes or self._early is not None or frame.t < self._detect_after:
            return
        picture = frame.bgr()
        self._early = (self.processed, picture, self._detect(picture, boxes, frame.t))

    def _look(self, picture: np.ndarray | None, change: VisitStarted) -> tuple[np.ndarray | None, list[Detection]]:
        """What the detector sees for a visit just confirmed: the early look's when it found something, else a
        look at this frame."""
        early, self._early = self._early, None
        if early is not None and early[2] and self.processed - early[0] <= self.grouper.rules.window:
            return early[1], early[2]
        if picture is None or change.t < self._detect_after:
            return picture, []
        return picture, self._detect(picture, change.boxes, change.t)

    def _detect(self, picture: np.ndarray, boxes: tuple[Box, ...], t: float) -> list[Detection]:
        if self.detector is None:
            return []
        try:
            found = self.detector(picture, boxes)
        except Exception:  # noqa: BLE001 - a detector failure must not stop the camera: this look found nothing
            log.exception("camera %s: detection failed", self.name)
            found = []
        if not found:
            self._detect_after = t + self.options.detect_every
        return found

    def _check_online(self, now: float) -> None:
        last = self._last_frame_at
        silent_since = last if last is not None else self._started_at
        if now - silent_since >= self.options.offline_after:
            if self.online is not False:
                self.online = False
                self.motion.reset()
                self._emit(CameraStatus(self.name, False, now, f"no picture for {now - silent_since:.0f} s"))
        elif last is not None and self.online is not True:
            was_offline = self.online is False
            self.online = True
            if was_offline:
                self._emit(CameraStatus(self.name, True, now))

    def _emit(self, event: WatchEvent) -> None:
        try:
            self._sink(event)
        except Exception:  # noqa: BLE001 - the claw's trouble must not stop the camera
            log.exception("camera %s: handling %s failed", self.name, type(event).__name__)
