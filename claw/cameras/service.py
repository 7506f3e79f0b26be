"""The claw's cameras: a supervised watcher per camera, events into memory, one alert per visit to the owner."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from claw.cameras.changes import ChangeAlerts
from claw.cameras.models import resolve as resolve_model
from claw.cameras.narrator import Narrator
from claw.cameras.rules import worth_alert
from claw.cameras.wording import alert_text, detector_text, status_text
from claw.channels.media import MediaStore
from claw.channels.notify import Notifier
from claw.config import CameraSettings, Settings
from claw.supervisor import Supervisor
from devices.vision.motion import MotionConfig
from devices.vision.persist_watch import ChangeOptions, ChangeWatch, ThingLeft, ThingTaken
from devices.vision.snapshots import SnapshotDir
from devices.vision.source import FrameSource, open_source
from devices.vision.visits import VisitGrouper, VisitRules
from devices.vision.watcher import (
    CameraStatus,
    CameraWatcher,
    VisitBegan,
    VisitContinues,
    VisitOver,
    WatchEvent,
    WatchOptions,
)
from memory.store import Store

if TYPE_CHECKING:
    from devices.vision.detector import Detector

log = logging.getLogger(__name__)

RETENTION_EVERY = 3600.0  # seconds between retention passes (one runs at start)
JOIN_SECONDS = 10.0  # how long stopping waits for a watcher thread


class CameraService:
    """Owns every camera's watcher (each in a thread of its own, supervised as `camera:<name>`), turns what they
    see into stored events and alerts through the Notifier, and prunes old events and snapshots."""

    def __init__(self, settings: Settings, cameras: Iterable[CameraSettings], store: Store, notifier: Notifier,
                 media: MediaStore | None, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.cameras = {c.name: c for c in cameras}
        self.store = store
        self.notifier = notifier
        self.media = media
        self.snapshots = SnapshotDir(settings.snapshot_dir)
        self.watchers: dict[str, CameraWatcher] = {}
        self._open: dict[str, int] = {}  # camera -> event id of its visit under way
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._detector: Detector | None = None
        self._detector_lock = threading.Lock()
        self.verdicts = store.camera_rules()  # camera -> label -> the owner's "ignore"/"important"
        self.chat_rules = store.camera_chat_rules()  # the owner's rules said by chat (claw.agent.camera_rules)
        self.changes = ChangeAlerts(store, notifier, self.snapshots, self.serve, self._label)
        self.detector_error: str | None = None  # why the configured detector could not load (told once)
        self._detector_told = False
        self._detector_note: str | None = None  # the whole message when there is no model to load (not fetched)
        self.handled: list[WatchEvent] = []  # the last events handled, newest last (status and tests)
        # captions of alerted visits from a vision language model ([vision] caption_url), None when off
        self.narrator = Narrator.from_settings(settings.vision, store, notifier, self._label)

    def __bool__(self) -> bool:
        return bool(self.cameras)

    def start(self, supervisor: Supervisor, stop: asyncio.Event) -> None:
        """One supervised worker per camera, plus retention."""
        for name in self.cameras:
            supervisor.start(f"camera:{name}", lambda name=name: self.watch(name, stop))  # type: ignore[misc]
        supervisor.start("camera-retention", lambda: self.retention_loop(stop))

    # one camera ---------------------------------------------------------------------------------------------
    def detector(self) -> Detector | None:
        """The detection model, loaded once for every camera (blocking: call it off the event loop). One that
        cannot load is tried once: the cameras then watch for motion alone and the owner is told (watch())."""
        vision = self.settings.vision
        choice = resolve_model(vision, self.settings.data_dir / "models")
        if choice.kind == "none":
            return None
        with self._detector_lock:
            if choice.path is None:  # a hub id never fetched: said once, with the command that fetches it
                if self.detector_error is None:
                    self.detector_error = choice.problem or "not downloaded"
                    self._detector_note = choice.problem
                    log.error("%s", choice.problem)
                return None
            if self._detector is None and self.detector_error is None:
                try:
                    from devices.vision.detector import Detector, DetectorConfig

                    self._detector = Detector(DetectorConfig(choice.path, tuple(vision.detect_labels),
                                                             vision.min_score))
                    log.info("detector loaded from %s", choice.path)
                except Exception as exc:  # noqa: BLE001 - a bad model folder must not crash-loop every camera
                    self.detector_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                    log.error("detector at %s could not be loaded (%s): motion only", choice.path,
                              self.detector_error)
            return self._detector

    def _tell_detector_error(self) -> None:
        """Tell the owner once that the detector did not load (on the event loop)."""
        if self.detector_error is None or self._detector_told:
            return
        self._detector_told = True
        vision = self.settings.vision
        self.notifier.tell_owner(self._detector_note or detector_text(str(vision.detector_path or vision.detector),
                                                                      self.detector_error))

    def snapshot(self, name: str) -> bytes:
        """A fresh JPEG from the camera's main URL (blocking camera I/O: call it in a thread, with a timeout).
        Raises CameraUnavailable when the camera gives no picture."""
        from devices.vision.snapshots import encode_jpeg

        cam = self.cameras[name]
        password = cam.password.get_secret_value() if cam.password else None
        source = open_source(cam.url, cam.kind, username=cam.username, password=password)
        try:
            source.open()
            frame = source.read()
        finally:
            source.close()
        return frame.jpeg if frame.jpeg is not None else encode_jpeg(frame.bgr())

    def serve(self, jpeg: bytes) -> tuple[str, ...]:
        """The picture as a copy the channels serve at signed URLs: the media tuple of a reply (() without)."""
        return (str(self.media.save(jpeg, "image/jpeg").path),) if self.media is not None else ()

    def set_verdict(self, event: dict, verdict: str) -> list[str]:
        """The owner's "ignore this" / "this is important" on an alerted event: stored, and used from the next
        visit on. Returns the labels it applies to."""
        labels = list(dict.fromkeys(str(x.get("label")) for x in event.get("labels") or [] if isinstance(x, dict)))
        labels = labels or ["motion"]
        self.store.camera_rule_set(event["camera"], labels, verdict, int(event["id"]))
        self.verdicts = self.store.camera_rules()  # a new dict: the watcher threads read it without a lock
        return labels

    def label(self, name: str) -> str:
        return self._label(name)

    def make_watcher(self, name: str) -> CameraWatcher:
        """A watcher for this camera that continues the visit that was under way when the claw stopped, if any."""
        cam, vision = self.cameras[name], self.settings.vision
        rules = VisitRules(gap=vision.visit_gap, cooldown=vision.cooldown)
        resume = self._resume(name, rules)
        grouper = VisitGrouper(rules, resume=resume, last_alert_end=self.store.camera_last_alert_end(name))
        motion = MotionConfig(threshold=vision.motion_threshold, min_area=vision.motion_min_area,
                              masks=tuple(tuple(p) for p in cam.masks),
                              zones={k: tuple(v) for k, v in cam.zones.items()})
        options = WatchOptions(fps=cam.fps, offline_after=vision.offline_after)
        detector = self.detector()
        changes = None
        if vision.persist:
            changes = ChangeWatch(name, ChangeOptions(settle=vision.settle),
                                  detector=detector.detect if detector else None, zones=motion.zones)
            self.changes.seed(name, changes)
        return CameraWatcher(name, lambda: self._source(cam), self._from_thread, options=options, motion=motion,
                             grouper=grouper, detector=detector.detect if detector else None, clock=self._clock,
                             judge=lambda t, zones, labels: worth_alert(self.cameras[name], t, zones, labels,
                                                                        self.verdicts.get(name), self.chat_rules)[0],
                             changes=changes)

    def rules_changed(self) -> None:
        """The owner's rules changed (by chat): used from the next visit on (new objects: the watcher threads
        read them without a lock)."""
        self.verdicts = self.store.camera_rules()
        self.chat_rules = self.store.camera_chat_rules()

    def _source(self, cam: CameraSettings) -> FrameSource:
        url = cam.detect_url or cam.url
        kind = cam.kind if not cam.detect_url else None
        password = cam.password.get_secret_value() if cam.password else None
        return open_source(url, kind, username=cam.username, password=password)

    def _resume(self, name: str, rules: VisitRules) -> tuple[float, float, bool] | None:
        last = self.store.camera_event_last(name)
        if last is None or last["ended_at"] is not None:
            return None
        if self._clock() - last["last_motion_at"] < rules.gap:
            self._open[name] = int(last["id"])
            return float(last["started_at"]), float(last["last_motion_at"]), bool(last["alert"])
        self.store.camera_event_end(int(last["id"]), float(last["last_motion_at"]))  # it ended while we were down
        return None

    async def watch(self, name: str, stop: asyncio.Event) -> None:
        """Run the camera's watcher in its own thread until `stop`; a crash of the watcher raises here (the
        supervisor restarts it)."""
        loop = self._loop = asyncio.get_running_loop()
        watcher = self.watchers[name] = await asyncio.to_thread(self.make_watcher, name)  # may load the model
        self._tell_detector_error()
        thread_stop = threading.Event()
        done: asyncio.Future[None] = loop.create_future()

        def target() -> None:
            error: BaseException | None = None
            try:
                watcher.run(thread_stop)
            except BaseException as exc:  # noqa: BLE001 - handed to the supervisor through the future
                error = exc
            try:
                loop.call_soon_threadsafe(_settle, done, error)
            except RuntimeError:  # the loop is gone: nobody waits any more
                pass

        thread = threading.Thread(target=target, name=f"camera-{name}", daemon=True)
        thread.start()
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({done, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            thread_stop.set()
            stopper.cancel()
            await asyncio.wait({done}, timeout=JOIN_SECONDS)
        if done.done() and done.exception() is not None:
            raise done.exception()  # type: ignore[misc]

    # what the watchers see -----------------------------------------------------------------------------------
    def _from_thread(self, event: WatchEvent) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self.handle, event)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def handle(self, event: WatchEvent) -> None:
        """Store and tell (on the event loop). Errors are logged: one bad event must not stop the camera."""
        try:
            if isinstance(event, VisitBegan):
                self._began(event)
            elif isinstance(event, VisitContinues):
                if event.camera in self._open:
                    self.store.camera_event_touch(self._open[event.camera], event.t)
            elif isinstance(event, VisitOver):
                event_id = self._open.pop(event.camera, None)
                if event_id is not None:
                    self.store.camera_event_end(event_id, event.last_motion)
                    self.changes.last_visit[event.camera] = event_id
                    if self.narrator is not None:
                        self.narrator.visit_ended(event_id, event.camera, self._end_picture(event.camera))
            elif isinstance(event, ThingLeft | ThingTaken):
                self.changes.handle(self.cameras[event.camera], event, self.chat_rules)
            elif isinstance(event, CameraStatus):
                self.notifier.tell_owner(status_text(self._label(event.camera), event.online,
                                                     self.settings.vision.offline_after))
        except Exception:
            log.exception("camera %s: could not handle %s", event.camera, type(event).__name__)
        self.handled = [*self.handled[-99:], event]

    def _began(self, event: VisitBegan) -> None:
        cam = self.cameras[event.camera]
        snapshot = self.snapshots.save(event.camera, event.t, event.jpeg) if event.jpeg else None
        worth, why = worth_alert(cam, event.t, event.zones, [label for label, _ in event.labels],
                                 self.verdicts.get(event.camera), self.chat_rules)
        alert = event.alert and worth
        if event.alert and not worth:
            log.info("camera %s: visit stored without an alert (%s)", event.camera, why)
        media: tuple[str, ...] = ()
        if alert and event.jpeg and self.media is not None:  # the copy the channels serve (signed URLs)
            media = (str(self.media.save(event.jpeg, "image/jpeg").path),)
        text = alert_text(self._label(event.camera), event.t, event.zones, [label for label, _ in event.labels])
        event_id, ids = self.notifier.camera_event(
            event.camera, event.t, text, media=media, alert=alert, boxes=event.boxes, zones=event.zones,
            labels=[{"label": label, "score": score} for label, score in event.labels],
            snapshot=str(snapshot) if snapshot else None)
        self._open[event.camera] = event_id
        if self.narrator is not None and ids and event.jpeg:  # after the alert is queued: it never waits for this
            self.narrator.visit_started(event_id, event.camera, event.jpeg, event.labels)
        log.info("camera %s: visit %d started%s", event.camera, event_id, " (alert queued)" if ids else "")

    def _end_picture(self, name: str) -> Callable[[], bytes] | None:
        """The visit's last picture with motion, encoded when called (in the caption's thread)."""
        from devices.vision.snapshots import encode_jpeg

        watcher = self.watchers.get(name)
        frame = watcher.last_motion_frame if watcher is not None else None
        return (lambda: encode_jpeg(frame.bgr())) if frame is not None else None

    def _label(self, name: str) -> str:
        """"front door camera (front garden)": the name, "camera" added when it does not say so, and the room."""
        cam = self.cameras.get(name)
        label = name if "camera" in name.lower() else f"{name} camera"
        return f"{label} ({cam.room})" if cam is not None and cam.room and cam.room not in name else label

    # retention ----------------------------------------------------------------------------------------------
    def prune(self, now: float | None = None) -> tuple[int, int]:
        """Delete events older than keep_days with their pictures, then the oldest pictures over max_mb.
        Returns (events deleted, pictures deleted)."""
        now = self._clock() if now is None else now
        vision = self.settings.vision
        max_age = vision.keep_days * 86400
        old = self.store.camera_events_prune(now - max_age)
        files = 0
        for row in old:
            for key in ("snapshot", "before_path", "after_path"):
                if row.get(key):
                    files += _unlink(Path(row[key]))
        open_pictures = [Path(p) for r in [*self._open_rows(), *self._left_rows()]
                         for p in (r.get("snapshot"), r.get("before_path"), r.get("after_path")) if p]
        pruned = self.snapshots.prune(max_age, int(vision.max_mb * 1024 * 1024), now=now, keep=open_pictures)
        if pruned.over_cap:
            self.store.camera_events_forget_pictures(str(p) for p in pruned.over_cap)
        files += len(pruned.old) + len(pruned.over_cap)
        if old or files:
            log.info("camera retention: %d event(s) and %d picture(s) deleted", len(old), files)
        return len(old), files

    def _left_rows(self) -> list[dict]:
        return [row for name in self.cameras for row in self.store.camera_things_left(name)]

    def _open_rows(self) -> list[dict]:
        return [row for row in (self.store.camera_event_get(i) for i in self._open.values()) if row]

    async def retention_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.to_thread(self.prune)
            try:
                await asyncio.wait_for(stop.wait(), timeout=RETENTION_EVERY)
            except TimeoutError:
                continue


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _unlink(path: Path) -> int:
    try:
        path.unlink()
        return 1
    except OSError:
        return 0
