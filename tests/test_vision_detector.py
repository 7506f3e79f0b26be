"""The detector through transformers with a tiny random model built here (save_pretrained to a temp dir), loaded by
the same code a user's model goes through; square crops; a detector gating visits; labels in the alert."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from devices.sim.camera import SimCamera
from devices.sim.camera_scene import SceneOptions
from devices.vision.detector import Detection, Detector, DetectorConfig, DetectorError, square_crop
from devices.vision.source import open_source
from devices.vision.watcher import CameraWatcher, VisitBegan, WatchOptions

transformers = pytest.importorskip("transformers", reason="the vision extra is not installed")
torch = pytest.importorskip("torch", reason="the vision extra is not installed")


def tiny_model(folder: Path, labels: dict[int, str]) -> Path:
    """A YOLOS detector a few kB big with random weights, in save_pretrained's layout."""
    from transformers import YolosConfig, YolosForObjectDetection, YolosImageProcessorPil

    torch.manual_seed(0)
    config = YolosConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         image_size=[64, 64], patch_size=16, num_detection_tokens=8, id2label=labels,
                         label2id={v: k for k, v in labels.items()})
    YolosForObjectDetection(config).save_pretrained(folder)
    YolosImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 64}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model"), {0: "person", 1: "car", 2: "package"})


def test_square_crops_around_motion_stay_inside_the_frame() -> None:
    assert square_crop(640, 360, [(10, 100, 40, 300)], 320) == (0, 40, 320, 360)
    assert square_crop(640, 360, [(600, 0, 640, 20)], 320) == (320, 0, 640, 320)
    assert square_crop(640, 360, [(0, 0, 600, 50), (100, 300, 120, 360)], 320) == (120, 0, 480, 360)  # capped
    assert square_crop(1280, 720, [(500, 200, 520, 230)], 320) == (350, 55, 670, 375)
    assert square_crop(640, 360, [], 320) is None


def test_a_tiny_random_model_loads_and_detects_in_frame_coordinates(model_dir: Path) -> None:
    detector = Detector(DetectorConfig(model_dir, labels=(), min_score=0.01))
    assert detector.id2label == {0: "person", 1: "car", 2: "package"} and detector.input_size == 64
    frame = np.random.default_rng(1).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    found = detector.detect(frame, [(500, 100, 540, 300)])
    assert found and detector.calls == 1 and detector.forward_seconds > 0
    crop = detector.crop_for(frame, [(500, 100, 540, 300)])
    assert crop == (320, 40, 640, 360)
    for d in found:
        assert isinstance(d, Detection) and d.label in ("person", "car", "package") and 0.01 <= d.score <= 1
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 <= x1 <= 640 and 0 <= y0 <= y1 <= 360
        assert x1 >= crop[0] and y1 >= crop[1]  # from the crop, moved back into the frame
    only_cars = Detector(DetectorConfig(model_dir, labels=("car",), min_score=0.01)).detect(frame, [(0, 0, 9, 9)])
    assert {d.label for d in only_cars} <= {"car"}
    assert Detector(DetectorConfig(model_dir, min_score=0.999)).detect(frame, [(0, 0, 9, 9)]) == []


def test_a_missing_or_wrong_model_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="no detection model"):
        Detector(DetectorConfig(tmp_path / "nothing"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(DetectorError, match="cannot load"):
        Detector(DetectorConfig(tmp_path / "bad"))


def test_motion_without_a_wanted_object_is_no_visit_and_the_detector_rests() -> None:
    calls: list[float] = []
    person_after = 3

    def stub(frame: np.ndarray, boxes: tuple) -> list[Detection]:
        calls.append(time.monotonic())
        if len(calls) < person_after:
            return []
        x0, y0, x1, y1 = boxes[0]
        return [Detection("person", 0.91, (x0, y0, x1, y1)), Detection("person", 0.62, (x0, y0, x1, y1))]

    began: list[VisitBegan] = []
    with SimCamera(name="gate", options=SceneOptions(seed=8)) as cam:
        watcher = CameraWatcher("gate", lambda: open_source(cam.stream_url), lambda e: began.append(e)
                                if isinstance(e, VisitBegan) else None, detector=stub,
                                options=WatchOptions(detect_every=0.5))
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,))
        thread.start()
        try:
            time.sleep(1.0)
            cam.visitor()
            deadline = time.monotonic() + 10
            while not began and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(10)
    [visit] = began
    assert len(calls) == person_after  # no visit (and no alert) for the looks that found nothing
    assert all(b - a >= 0.45 for a, b in zip(calls, calls[1:], strict=False))  # rests between fruitless looks
    assert visit.labels == (("person", 0.91), ("person", 0.62))


async def test_labels_reach_the_event_and_the_alert_through_the_claw(tmp_path: Path) -> None:
    from claw.config import CameraSettings, VisionSettings
    from claw.runtime import Claw
    from tests.conftest import make_settings

    model = tiny_model(tmp_path / "model", {0: "person"})  # one class: whatever it finds is a person
    vision = VisionSettings(detector_path=model, detect_labels=["person"], min_score=0.01, visit_gap=2.0)
    with SimCamera(name="drive", options=SceneOptions(seed=12)) as cam:
        claw = Claw(make_settings(tmp_path, vision=vision), cameras=[CameraSettings(name="drive", url=cam.stream_url)])
        await claw.start()
        try:
            assert claw.cameras is not None
            for _ in range(200):
                if claw.cameras.watchers.get("drive") and claw.cameras.watchers["drive"].processed >= 3:
                    break
                await asyncio.sleep(0.05)
            cam.visitor()
            for _ in range(200):
                if claw.store.camera_events("drive"):
                    break
                await asyncio.sleep(0.05)
            [event] = claw.store.camera_events("drive")
            [alert] = claw.store.outbox_proactive("web", "console")
        finally:
            await claw.stop()
    assert event["labels"] and {item["label"] for item in event["labels"]} == {"person"}
    assert all(0.01 <= item["score"] <= 1 for item in event["labels"])
    assert alert["text"].startswith("Person at the drive camera at ")
