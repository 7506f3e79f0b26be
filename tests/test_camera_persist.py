"""Persistent change: the pure comparison on synthetic pictures (a thing appeared and stayed, lighting drift is
nothing, a thing taken), the tracker, and through a running claw with the simulated camera: a parcel left gives
one alert with the before/after picture, its taking a "gone" alert, each once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from claw.events import InboundMessage
from devices.sim.camera import SimCamera
from devices.sim.camera_scene import VISIT_LENGTH, Scene, SceneOptions
from devices.vision.detector import Detection
from devices.vision.motion import MotionResult
from devices.vision.persist import PersistTracker, appeared, side_by_side, still_there, zones_of
from devices.vision.persist_watch import ChangeOptions, ChangeWatch, ThingLeft, ThingTaken
from devices.vision.source import Frame
from tests.test_vision_alerts import camera_claw, until

AREA = (0, 100, 640, 330)  # where the visitor walked (full-picture pixels)


def garden(seed: int = 5, gain: float = 1.0, noise: float = 2.5, thing: bool = False,
           shadow: bool = False) -> np.ndarray:
    """A textured 640x360 scene; optionally a box on the ground, a global gain and fresh sensor noise."""
    rng = np.random.default_rng(seed)
    base = np.zeros((360, 640, 3), np.float32)
    base[:120] = (190, 160, 140)
    base[120:] = (80, 120, 90)
    cv2.fillPoly(base, [np.array([[0, 360], [290, 280], [450, 280], [380, 360]], np.int32)], (150, 150, 150))
    texture = cv2.resize(rng.normal(0, 12, (91, 161)).astype(np.float32), (640, 360))[..., None]
    image = base + texture
    if thing:
        image[290:340, 340:390] = (45, 95, 150)
    if shadow:
        image[:, :] *= np.linspace(0.85, 1.0, 640, dtype=np.float32)[None, :, None]
    fresh = np.random.default_rng(seed * 1000 + int(gain * 100) + int(noise * 10))
    image = image * gain + fresh.normal(0, noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_a_thing_that_appeared_and_stayed_is_found_where_it_is() -> None:
    [change] = appeared(garden(), garden(thing=True), AREA)
    x0, y0, x1, y1 = change.box
    assert abs(x0 - 340) <= 8 and abs(y0 - 290) <= 8 and abs(x1 - 390) <= 8 and abs(y1 - 340) <= 8
    assert change.fill > 0.5


@pytest.mark.parametrize("gain", [0.7, 0.85, 1.15, 1.3])
def test_lighting_drift_and_noise_give_nothing(gain: float) -> None:
    assert appeared(garden(), garden(gain=gain, noise=4.0), AREA) == []
    assert appeared(garden(), garden(shadow=True), AREA) == []  # a gentle gradient (clouds moving) too


def test_a_thing_outside_the_visits_area_is_not_counted() -> None:
    assert appeared(garden(), garden(thing=True), (0, 0, 200, 150)) == []


def test_lighting_change_does_not_hide_a_thing_and_taken_is_back_to_before() -> None:
    before, after = garden(), garden(thing=True, gain=0.8)
    [change] = appeared(before, after, AREA)
    assert still_there(before, garden(thing=True, gain=1.2), change.box)
    assert not still_there(before, garden(gain=1.1), change.box)  # taken: the place looks as before


def test_the_tracker_reports_the_taking_once_and_a_taken_thing_is_not_a_new_one() -> None:
    from devices.vision.persist import Watched

    tracker = PersistTracker()
    before, after = garden(), garden(thing=True)
    found, gone = tracker.check(before, after, AREA)
    assert len(found) == 1 and gone == []
    tracker.watch(Watched(1.0, found[0].box, before, after))
    # another visit later, the parcel still there: nothing new, nothing gone
    assert tracker.check(after, garden(thing=True, gain=0.9), AREA) == ([], [])
    # a visitor takes it: the reference of that visit shows the parcel, yet it is "gone", not a new thing
    found, gone = tracker.check(after, garden(gain=1.05), AREA)
    assert found == [] and [g.key for g in gone] == [1.0]
    assert tracker.gone(garden()) == [] and tracker.watched == []


def test_side_by_side_and_zones() -> None:
    pair = side_by_side(garden(), garden(thing=True), (340, 290, 390, 340))
    assert pair.shape[0] == 360 and pair.shape[1] > 1280
    zones = {"path": [(0.4, 0.7), (0.7, 0.7), (0.7, 1.0), (0.4, 1.0)], "lawn": [(0.0, 0.4), (0.3, 0.4), (0.3, 1.0),
                                                                                 (0.0, 1.0)]}
    assert zones_of((340, 290, 390, 340), (360, 640), zones) == ("path",)


def frame(t: float, image: np.ndarray) -> Frame:
    return Frame(t, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), color=image)


def test_change_watch_on_the_simulated_scene_with_a_detector_naming_it() -> None:
    """The watcher's step fed by hand: calm frames, a visit (motion boxes), its end, the settle delay."""
    scene = Scene(SceneOptions(seed=4))
    named: list[tuple] = []

    def detector(picture: np.ndarray, boxes: tuple) -> list[Detection]:
        named.append(boxes)
        return [Detection("person", 0.4, boxes[0]), Detection("package", 0.8, boxes[0])]

    watch = ChangeWatch("front door", ChangeOptions(settle=2.0), detector=detector)
    still, moving = MotionResult(), MotionResult(boxes=((0, 120, 420, 300),))
    scene.add_parcel(10.0)
    events: list = []
    for i in range(0, 60):
        t = i * 0.5
        visiting = 10.0 <= t < 10.0 + VISIT_LENGTH + 1
        if t == 10.0:
            watch.visit_started(moving.boxes)
        if t == 10.0 + VISIT_LENGTH + 1:
            watch.visit_ended(10.0 + VISIT_LENGTH)
        events += watch.frame(frame(t, scene.render(t)), moving if visiting else still, visiting)
    [left] = events
    assert isinstance(left, ThingLeft) and left.label == "package" and left.t >= 10.0 + VISIT_LENGTH + 2
    assert named and left.pair[:2] == b"\xff\xd8"
    scene.take_parcel(40.0)
    events = []
    for i in range(80, 150):
        t = i * 0.5
        visiting = 40.0 <= t < 40.0 + VISIT_LENGTH + 1
        if t == 40.0:
            watch.visit_started(moving.boxes)
        if t == 40.0 + VISIT_LENGTH + 1:
            watch.visit_ended(40.0 + VISIT_LENGTH)
        events += watch.frame(frame(t, scene.render(t)), moving if visiting else still, visiting)
    [taken] = events
    assert isinstance(taken, ThingTaken) and taken.key == left.key and taken.label == "package"


def test_the_sim_camera_control_endpoints(tmp_path: Path) -> None:
    with SimCamera(name="front door", options=SceneOptions(seed=2, noise=0)) as cam:
        with httpx.Client() as client:
            assert client.post(f"http://{cam.address}/control/take").status_code == 409  # nothing to take
            assert client.post(f"http://{cam.address}/control/parcel").json()["parcel"] is True
            assert client.post(f"http://{cam.address}/control/take").json()["taken"] is True
            assert client.post(f"http://{cam.address}/control/take").status_code == 409
    scene = Scene(SceneOptions(seed=2, visitor_every=60, first_visit=5, parcel_every=2))
    lying = [t for t in range(0, 600, 5) if scene.parcel_at(t)]
    assert lying and len(lying) < 120  # the demo's visitors leave a parcel now and then, and take it later


async def test_a_parcel_left_and_taken_through_a_running_claw_told_once_each_across_a_restart(
        tmp_path: Path) -> None:
    cam = SimCamera(name="front door", options=SceneOptions(seed=9)).start()
    zones = {"zones": {"path": [[0.4, 0.6], [0.75, 0.6], [0.75, 1.0], [0.4, 1.0]]}}
    try:
        async with camera_claw(tmp_path, cam, zones, settle=1.0) as claw:
            def told(word: str) -> list[dict]:
                return [r for r in claw.store.outbox_proactive("web", "console", limit=100) if word in r["text"]]

            cam.parcel()
            [row] = await until(lambda: told("was left at the"), "the parcel alert", timeout=40)
            assert row["text"].startswith("Something was left at the front door camera (front garden) in the path")
            [media] = row["media"]
            pair = cv2.imdecode(np.frombuffer(Path(media).read_bytes(), np.uint8), cv2.IMREAD_COLOR)
            assert pair.shape[1] > 2 * pair.shape[0]  # before and after side by side
            [left] = [e for e in claw.store.camera_events("front door") if e["kind"] == "appeared"]
            assert Path(left["before_path"]).is_file() and Path(left["after_path"]).is_file()
            assert left["alerted_at"] and left["resolved_at"] is None
            assert told("Motion at the front door")  # the visit itself was told as usual
            await asyncio.sleep(2.0)
            assert len(told("was left at the")) == 1  # once
        async with camera_claw(tmp_path, cam, zones, settle=1.0) as claw:  # restarted: the parcel is still watched
            assert cam.take() is not None
            [gone] = await until(lambda: told("is gone"), "the gone alert", timeout=40)
            assert gone["text"].startswith("The thing left at the front door camera (front garden) in the path is "
                                           "gone") and gone["media"]
            [taken] = [e for e in claw.store.camera_events("front door") if e["kind"] == "taken"]
            assert taken["ref_id"] == left["id"] and claw.store.camera_event_get(left["id"])["resolved_at"]
            await asyncio.sleep(2.0)
            assert len(told("is gone")) == 1 and len(told("was left at the")) == 1
            answer = (await claw.agent.ask(InboundMessage(channel="web", sender=claw.settings.owner,
                                                          text="what happened at the front door today?",
                                                          standing="owner"))).reply  # type: ignore[arg-type]
            assert "something left" in answer and "something taken" in answer
    finally:
        cam.stop()


def test_a_change_is_stored_and_alerted_once_per_event_it_follows(tmp_path: Path) -> None:
    from claw.events import OutboundMessage
    from memory.store import Store

    store = Store(tmp_path / "m.db")
    visit, _ = store.camera_event_start("front door", 100.0)
    msg = [OutboundMessage(channel="web", recipient="console", text="Something was left", proactive=True)]
    first = store.camera_change_add("front door", 110.0, "appeared", visit, box=(1, 2, 3, 4), messages=msg)
    again = store.camera_change_add("front door", 111.0, "appeared", visit, box=(1, 2, 3, 4), messages=msg)
    assert first[0] and len(first[1]) == 1 and again == (None, [])
    assert [r["id"] for r in store.camera_things_left("front door")] == [first[0]]
    store.camera_event_touch(visit, 101.0)
    assert store.camera_event_last("front door")["id"] == visit  # a change is never taken for the open visit
    gone = store.camera_change_add("front door", 200.0, "taken", first[0], box=(1, 2, 3, 4), messages=msg)
    assert gone[0] and store.camera_change_add("front door", 201.0, "taken", first[0], box=(1, 2, 3, 4),
                                               messages=msg) == (None, [])
    assert store.camera_things_left("front door") == []
    assert len(store.outbox_proactive("web", "console", limit=10)) == 2
    store.close()


def test_replayed_scene_visitors_leave_nothing_and_parcels_are_told_left_then_taken() -> None:
    """The real motion, visit and change steps over the simulated scene: plain visitors in rain leave nothing;
    every other visitor leaving a parcel (the next taking it) gives left, taken, left, taken."""
    from devices.vision.persist_replay import replay

    plain = replay(SceneOptions(seed=2, rain=300, visitor_every=40, first_visit=5), 130, fps=2.5, gap=6)
    assert plain.visits >= 3 and plain.left == [] and plain.taken == []
    parcels = replay(SceneOptions(seed=3, visitor_every=40, first_visit=5, parcel_every=2), 190, fps=2.5, gap=6)
    events = sorted([(t, "left") for t in parcels.left] + [(t, "taken") for t in parcels.taken])
    assert [kind for _, kind in events] == ["left", "taken"] * (len(events) // 2) + ["left"] * (len(events) % 2)
    assert len(events) >= 2 and len(parcels.left) == len(parcels.parcels)  # each parcel told once
    for (t_left, _), (down, _) in zip(events[::2], parcels.parcels, strict=True):
        assert down < t_left < down + 30
    for (t_taken, _), (_, up) in zip(events[1::2], parcels.parcels, strict=False):
        assert up < t_taken < up + 30


def test_the_demo_console_parcel_and_take_commands() -> None:
    from types import SimpleNamespace

    from claw.serve import parcel

    cam = SimCamera(name="front door camera", options=SceneOptions(seed=2))
    home = SimpleNamespace(cameras={"front door camera": cam})
    assert parcel(home, take=True).startswith("no parcel lies")  # type: ignore[arg-type]
    assert "leaves a parcel in front of front door camera" in parcel(home)  # type: ignore[arg-type]
    assert cam.scene.parcel_at(cam.now() + 10)
    assert parcel(home, take=True).startswith("a visitor takes the parcel at front door camera")  # type: ignore[arg-type]
    assert not cam.scene.parcel_at(cam.now() + 20)
