"""Replays the simulated scene through motion, visit grouping and the persistent-change step (tests, bench)."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2

from devices.sim.camera_scene import Scene, SceneOptions
from devices.vision.motion import MotionDetector
from devices.vision.persist_watch import ChangeOptions, ChangeWatch, ThingLeft
from devices.vision.source import Frame
from devices.vision.visits import VisitEnded, VisitGrouper, VisitRules, VisitStarted


@dataclass
class Replay:
    """What the change step said over a replay, and what the scene really did."""

    left: list[float] = field(default_factory=list)  # times of ThingLeft
    taken: list[float] = field(default_factory=list)  # times of ThingTaken
    parcels: list[tuple[float, float]] = field(default_factory=list)  # the scene's (put down, picked up)
    visits: int = 0
    frames: int = 0


def replay(options: SceneOptions, seconds: float, fps: float = 5.0, gap: float = 10.0,
           settle: float = 3.0) -> Replay:
    """Render `seconds` of the scene at `fps` and run every frame through the same steps a camera watcher runs."""
    scene = Scene(options)
    motion, grouper = MotionDetector(), VisitGrouper(VisitRules(gap=gap, cooldown=0))
    watch = ChangeWatch("sim", ChangeOptions(settle=settle))
    out = Replay()
    t = 0.0
    while t < seconds:
        image = scene.render(t)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        result = motion.detect(gray)
        for change in grouper.feed(t, result):
            if isinstance(change, VisitStarted):
                out.visits += 1
                watch.visit_started(change.boxes)
            elif isinstance(change, VisitEnded):
                watch.visit_ended(change.last_motion)
        for event in watch.frame(Frame(t, gray, color=image), result, grouper.visit is not None):
            (out.left if isinstance(event, ThingLeft) else out.taken).append(event.t)
        out.frames += 1
        t += 1.0 / fps
    out.parcels = [(down, up) for down, up in scene._parcels if down < seconds]
    return out
