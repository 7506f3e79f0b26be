"""Motion and visits on synthetic sequences from the simulated camera's scene: a walker is one event, light and
noise are none; masks, zones, grouping and cooldown."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from devices.sim.camera_scene import VISIT_LENGTH, Scene, SceneOptions
from devices.vision.motion import MotionConfig, MotionDetector, MotionResult
from devices.vision.visits import VisitEnded, VisitGoing, VisitGrouper, VisitRules, VisitStarted

FPS = 5


def run(scene: Scene, seconds: float, *, detector: MotionDetector | None = None, rules: VisitRules | None = None,
        transform: object = None) -> tuple[list[object], list[MotionResult]]:
    """Feed `seconds` of the scene at FPS through motion and grouping; the visit changes and motion results."""
    detector = detector or MotionDetector()
    grouper = VisitGrouper(rules or VisitRules())
    changes: list[object] = []
    results: list[MotionResult] = []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        frame = scene.render(t)
        if callable(transform):
            frame = transform(t, frame)
        result = detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        results.append(result)
        changes += grouper.feed(t, result)
    return changes, results


def started(changes: list[object]) -> list[VisitStarted]:
    return [c for c in changes if isinstance(c, VisitStarted)]


def test_a_walker_is_one_event_from_arrival_to_departure() -> None:
    scene = Scene(SceneOptions(seed=7, rain=200))
    scene.add_visit(10.0)
    changes, results = run(scene, 10 + VISIT_LENGTH + 45)
    [visit] = started(changes)
    assert 10.0 < visit.t < 12.0 and visit.alert
    assert visit.boxes and all(y1 > 200 for _, _, _, y1 in visit.boxes)  # where the walker's feet are
    ends = [c for c in changes if isinstance(c, VisitEnded)]
    assert len(ends) == 1 and ends[0].last_motion >= 10 + VISIT_LENGTH - 2  # motion went on until they left
    assert any(isinstance(c, VisitGoing) for c in changes)
    assert not any(r.motion for r in results[:10 * FPS])  # nothing before the walker came


def test_the_walker_is_found_wherever_they_are() -> None:
    scene = Scene(SceneOptions(seed=3))
    detector = MotionDetector()
    detector.detect(cv2.cvtColor(scene.render(0), cv2.COLOR_BGR2GRAY))
    scene.add_visit(1.0)
    t = 1.0 + 6.0 + 1.0  # standing at the door
    result = detector.detect(cv2.cvtColor(scene.render(t), cv2.COLOR_BGR2GRAY))
    x = scene.visitor_x(t)
    assert x is not None and result.boxes
    assert any(x0 <= x <= x1 for x0, _, x1, _ in result.boxes)


@pytest.mark.parametrize("gain", [0.6, 1.5])
def test_a_sudden_change_of_the_whole_picture_is_no_event(gain: float) -> None:
    scene = Scene(SceneOptions(seed=2))

    def lights(t: float, frame: np.ndarray) -> np.ndarray:
        return frame if t < 5 else cv2.convertScaleAbs(frame, alpha=gain)

    changes, results = run(scene, 20, transform=lights)
    assert started(changes) == []
    assert not any(r.motion for r in results)


def test_half_the_picture_lit_up_recalibrates_instead_of_alerting() -> None:
    scene = Scene(SceneOptions(seed=2))

    def porch_light(t: float, frame: np.ndarray) -> np.ndarray:
        if t >= 5:
            frame = frame.copy()
            half = frame[:, frame.shape[1] // 2:]
            frame[:, frame.shape[1] // 2:] = cv2.convertScaleAbs(half, alpha=1.8)
        return frame

    changes, results = run(scene, 20, transform=porch_light)
    assert started(changes) == []
    assert any(r.recalibrated for r in results)


def test_drift_noise_and_rain_for_two_minutes_are_no_event() -> None:
    scene = Scene(SceneOptions(seed=11, rain=400, noise=4.0, drift=0.2, drift_period=60.0))
    changes, results = run(scene, 120)
    assert started(changes) == []
    assert sum(r.motion for r in results) <= 2  # the odd blip at most, never confirmed


def test_the_same_detector_does_see_a_walker_in_the_rain() -> None:
    """The quiet above is not deafness: the same settings and weather with a visitor give exactly one event."""
    scene = Scene(SceneOptions(seed=11, rain=400, noise=4.0, drift=0.2, drift_period=60.0))
    scene.add_visit(30.0)
    changes, _ = run(scene, 60)
    assert len(started(changes)) == 1


def test_a_mask_hides_motion_and_zones_name_where_it_stands() -> None:
    scene = Scene(SceneOptions(seed=4))
    scene.add_visit(0.0)
    left_half = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
    [unmasked] = started(run(scene, 8)[0])
    [masked] = started(run(scene, 8, detector=MotionDetector(MotionConfig(masks=(left_half,))))[0])
    assert unmasked.t < 2.0
    assert masked.t > 4.9  # the walker crosses x = 0.5 (out from behind the mask) at about 5 s
    assert all(x1 > 320 for _, _, x1, _ in masked.boxes)
    zoned, _ = run(scene, 8, detector=MotionDetector(MotionConfig(zones={"path": left_half, "lawn": (
        (0.9, 0.9), (1.0, 0.9), (1.0, 1.0), (0.9, 1.0))})))
    [visit] = started(zoned)
    assert visit.zones == ("path",)


def motion(on: bool) -> MotionResult:
    return MotionResult(boxes=((1, 1, 10, 10),) if on else ())


def feed(grouper: VisitGrouper, frames: list[tuple[float, bool]]) -> list[object]:
    out: list[object] = []
    for t, on in frames:
        out += grouper.feed(t, motion(on))
    return out


def test_one_blip_is_no_visit_and_motion_within_the_gap_is_the_same_visit() -> None:
    g = VisitGrouper(VisitRules(gap=40, cooldown=0))
    assert feed(g, [(0.0, True), (0.2, False), (0.4, False), (0.6, False)]) == []
    out = feed(g, [(1.0, True), (1.2, True), (1.4, True)])
    assert [type(c) for c in out] == [VisitStarted]
    assert started(feed(g, [(30.0, True), (30.2, True), (30.4, True)])) == []  # 29 s later: same visit
    assert feed(g, [(70.0, False)]) == []  # 39.6 s after the last motion
    [end] = feed(g, [(70.5, False)])
    assert isinstance(end, VisitEnded) and end.started == 1.4 and end.last_motion == 30.4
    assert g.tick(200.0) == []


def test_cooldown_stores_a_visit_without_an_alert() -> None:
    g = VisitGrouper(VisitRules(gap=10, cooldown=60))
    [first] = started(feed(g, [(0.0, True), (0.2, True), (0.4, True)]))
    assert first.alert
    g.tick(11.0)  # over: last motion at 0.4
    [second] = started(feed(g, [(30.0, True), (30.2, True), (30.4, True)]))
    assert not second.alert  # 29.6 s after the alerted visit ended
    g.tick(41.0)
    [third] = started(feed(g, [(61.0, True), (61.2, True), (61.4, True)]))
    assert third.alert  # the second visit was not alerted: the cooldown counts from the first one's end


def test_a_resumed_visit_is_continued_not_started_again() -> None:
    g = VisitGrouper(VisitRules(gap=40), resume=(100.0, 120.0, True))
    assert started(feed(g, [(130.0, True), (130.2, True), (130.4, True)])) == []
    [end] = g.tick(171.0)
    assert isinstance(end, VisitEnded) and end.started == 100.0 and end.last_motion == 130.4
