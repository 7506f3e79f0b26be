"""With a detector, the watcher looks at a visit's first motion frame at once (not after the confirming frames),
and the alert's picture is the frame the detector looked at."""

from __future__ import annotations

import cv2
import numpy as np

from devices.sim.camera_scene import Scene, SceneOptions
from devices.vision.detector import Detection
from devices.vision.motion import MotionDetector
from devices.vision.source import Frame
from devices.vision.watcher import CameraWatcher, VisitBegan, WatchEvent, WatchOptions

FPS = 5


def feed(watcher: CameraWatcher, scene: Scene, seconds: float, start: float = 0.0) -> None:
    for i in range(int(seconds * FPS)):
        t = start + i / FPS
        color = scene.render(t)
        watcher._process(Frame(1000.0 + t, cv2.cvtColor(color, cv2.COLOR_BGR2GRAY), color=color))


def motion_frames(scene_seed: int, visit_at: float, seconds: float) -> tuple[float, float]:
    """Without a detector: when the watcher first sees motion, and when it confirms the visit."""
    scene = Scene(SceneOptions(seed=scene_seed))
    scene.add_visit(visit_at)
    motion = MotionDetector()
    firsts = [1000.0 + i / FPS for i in range(int(seconds * FPS))
              if motion.detect(cv2.cvtColor(scene.render(i / FPS), cv2.COLOR_BGR2GRAY)).motion]
    began: list[WatchEvent] = []
    watcher = CameraWatcher("gate", lambda: None, began.append)  # type: ignore[arg-type,return-value]
    scene = Scene(SceneOptions(seed=scene_seed))
    scene.add_visit(visit_at)
    feed(watcher, scene, seconds)
    return firsts[0], next(e.t for e in began if isinstance(e, VisitBegan))


def test_the_detector_looks_at_the_first_motion_frame_and_the_alert_shows_it() -> None:
    first_motion, confirmed = motion_frames(11, 3.0, 8.0)
    assert confirmed > first_motion  # without a detector a visit waits for its confirming frames

    looks: list[tuple[float, np.ndarray]] = []
    events: list[WatchEvent] = []
    clock = {"t": 0.0}

    def detector(picture: np.ndarray, boxes: tuple) -> list[Detection]:
        looks.append((clock["t"], picture))
        x0, y0, x1, y1 = boxes[0]
        return [Detection("person", 0.9, (x0, y0, x1, y1))]

    watcher = CameraWatcher("gate", lambda: None, events.append, detector=detector)  # type: ignore[arg-type]
    scene = Scene(SceneOptions(seed=11))
    scene.add_visit(3.0)
    for i in range(int(8.0 * FPS)):
        t = i / FPS
        clock["t"] = 1000.0 + t
        color = scene.render(t)
        watcher._process(Frame(1000.0 + t, cv2.cvtColor(color, cv2.COLOR_BGR2GRAY), color=color))
    [visit] = [e for e in events if isinstance(e, VisitBegan)]
    assert len(looks) == 1  # one look per visit: the early one served the confirmed visit
    assert looks[0][0] == first_motion < confirmed == visit.t
    assert visit.labels == (("person", 0.9),)
    # the alert's picture is the frame the detector saw (its boxes drawn on it), not the later confirming frame
    seen = cv2.imdecode(np.frombuffer(visit.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE).astype(float)
    looked = cv2.cvtColor(looks[0][1], cv2.COLOR_BGR2GRAY).astype(float)
    later = cv2.cvtColor(scene.render(visit.t - 1000.0), cv2.COLOR_BGR2GRAY).astype(float)
    assert np.abs(seen - looked).mean() < np.abs(seen - later).mean()


def test_an_early_look_that_finds_nothing_is_looked_at_again_at_confirmation() -> None:
    calls: list[float] = []
    events: list[WatchEvent] = []
    clock = {"t": 0.0}

    def detector(picture: np.ndarray, boxes: tuple) -> list[Detection]:
        calls.append(clock["t"])
        if len(calls) == 1:
            return []  # the visitor's first step: nothing the model recognises yet
        return [Detection("person", 0.8, boxes[0])]

    watcher = CameraWatcher("gate", lambda: None, events.append, detector=detector)  # type: ignore[arg-type]
    scene = Scene(SceneOptions(seed=11))
    scene.add_visit(3.0)
    for i in range(int(8.0 * FPS)):
        t = i / FPS
        clock["t"] = 1000.0 + t
        color = scene.render(t)
        watcher._process(Frame(1000.0 + t, cv2.cvtColor(color, cv2.COLOR_BGR2GRAY), color=color))
    [visit] = [e for e in events if isinstance(e, VisitBegan)]
    assert len(calls) == 2 and calls[1] == visit.t  # looked again at the confirming frame, after the rest
    assert calls[1] - calls[0] >= watcher.options.detect_every
    assert visit.labels == (("person", 0.8),)


def test_without_the_early_look_the_detector_waits_for_the_confirmed_visit() -> None:
    first_motion, confirmed = motion_frames(11, 3.0, 8.0)
    calls: list[float] = []
    events: list[WatchEvent] = []
    clock = {"t": 0.0}

    def detector(picture: np.ndarray, boxes: tuple) -> list[Detection]:
        calls.append(clock["t"])
        return [Detection("person", 0.7, boxes[0])]

    watcher = CameraWatcher("gate", lambda: None, events.append, detector=detector,  # type: ignore[arg-type]
                            options=WatchOptions(early_look=False))
    scene = Scene(SceneOptions(seed=11))
    scene.add_visit(3.0)
    for i in range(int(8.0 * FPS)):
        t = i / FPS
        clock["t"] = 1000.0 + t
        color = scene.render(t)
        watcher._process(Frame(1000.0 + t, cv2.cvtColor(color, cv2.COLOR_BGR2GRAY), color=color))
    [visit] = [e for e in events if isinstance(e, VisitBegan)]
    assert calls == [confirmed] == [visit.t] and first_motion < confirmed


def test_a_slow_early_look_still_serves_the_visit_confirmed_by_the_frames_after_it() -> None:
    """On a busy machine a look takes seconds and the frames meanwhile are dropped: the visit confirmed by the next
    frames processed still uses the early look (one look, not two)."""
    calls: list[float] = []
    events: list[WatchEvent] = []
    clock = {"t": 0.0}

    def detector(picture: np.ndarray, boxes: tuple) -> list[Detection]:
        calls.append(clock["t"])
        return [Detection("person", 0.8, boxes[0])]

    watcher = CameraWatcher("gate", lambda: None, events.append, detector=detector)  # type: ignore[arg-type]
    scene = Scene(SceneOptions(seed=11))
    scene.add_visit(3.0)
    t, busy_until = 0.0, 0.0
    while t < 10.0 and not any(isinstance(e, VisitBegan) for e in events):
        if t >= busy_until:  # frames that arrive while the detector is busy are dropped
            clock["t"] = 1000.0 + t
            color = scene.render(t)
            looks = len(calls)
            watcher._process(Frame(1000.0 + t, cv2.cvtColor(color, cv2.COLOR_BGR2GRAY), color=color))
            if len(calls) > looks:
                busy_until = t + 3.0  # a 3 s look
        t = round(t + 1 / FPS, 3)
    [visit] = [e for e in events if isinstance(e, VisitBegan)]
    assert len(calls) == 1 and visit.t - calls[0] >= 3.0 and visit.labels == (("person", 0.8),)
