"""Cameras, side by side in one run: the motion step against Frigate's published algorithm on the same frames,
four 720p cameras at 5 fps (decode + motion CPU), the empty scene for 10 simulated minutes, visitor → alert.

Usage: python bench/vision.py [--empty-minutes 10] [--live-seconds 20] [--alerts 3]
The simulated cameras of the live part run in a child process, so their rendering is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.frigate_motion import FrigateMotion  # noqa: E402
from devices.sim.camera_scene import VISIT_LENGTH, Scene, SceneOptions  # noqa: E402
from devices.vision.motion import MotionDetector  # noqa: E402
from devices.vision.source import open_source  # noqa: E402
from devices.vision.visits import VisitGrouper, VisitStarted  # noqa: E402
from devices.vision.watcher import CameraWatcher, WatchOptions  # noqa: E402

FPS = 5


def gray_frames(width: int, height: int, seconds: float, visit_at: float | None, **options: object) -> list[np.ndarray]:
    scene = Scene(SceneOptions(width=width, height=height, seed=42, **options))  # type: ignore[arg-type]
    if visit_at is not None:
        scene.add_visit(visit_at)
    return [cv2.cvtColor(scene.render(i / FPS), cv2.COLOR_BGR2GRAY) for i in range(int(seconds * FPS))]


def cpu_per_frame(step: object, frames: list[np.ndarray], repeat: int = 3) -> tuple[float, float, int]:
    """(median ms, mean ms) of thread CPU time per call over `repeat` passes, and the frames with motion."""
    times, moving = [], 0
    for r in range(repeat):
        fresh = step()  # type: ignore[operator]
        for frame in frames:
            t0 = time.thread_time_ns()
            found = fresh(frame)
            times.append((time.thread_time_ns() - t0) / 1e6)
            if r == 0 and found:
                moving += 1
    return statistics.median(times), statistics.fmean(times), moving


def ours_step() -> object:
    detector = MotionDetector()
    return lambda frame: detector.detect(frame).boxes


def motion_side_by_side() -> list[tuple[str, str]]:
    rows = []
    for width, height in ((640, 360), (1280, 720)):
        frames = gray_frames(width, height, 60, visit_at=20.0, rain=200)
        shape = frames[0].shape
        ours = cpu_per_frame(lambda: ours_step(), frames)
        ref = cpu_per_frame(lambda shape=shape: FrigateMotion(shape).detect, frames)
        rows.append((f"motion step, {width}×{height} detect frames (300 frames, a visitor, rain), CPU per frame",
                     f"ours median {ours[0]:.3f} ms (mean {ours[1]:.3f}) · Frigate's median {ref[0]:.3f} ms "
                     f"(mean {ref[1]:.3f}) · ratio {ours[0] / ref[0]:.2f}× · frames with motion {ours[2]} vs "
                     f"{ref[2]}"))
    return rows


def empty_scene(minutes: float) -> tuple[str, str]:
    scene = Scene(SceneOptions(seed=7, rain=300, noise=3.0, drift=0.15, drift_period=120.0))
    ours, grouper, ref = MotionDetector(), VisitGrouper(), None
    events = ours_moving = ref_moving = 0
    for i in range(int(minutes * 60 * FPS)):
        gray = cv2.cvtColor(scene.render(i / FPS), cv2.COLOR_BGR2GRAY)
        ref = ref or FrigateMotion(gray.shape)
        result = ours.detect(gray)
        ours_moving += result.motion
        ref_moving += bool(ref.detect(gray))
        events += sum(isinstance(c, VisitStarted) for c in grouper.feed(i / FPS, result))
    return (f"{minutes:g} simulated minutes of the empty scene (lighting drift ±15 %, noise σ 3, 300 rain streaks "
            f"a frame), {int(minutes * 60 * FPS)} frames",
            f"events (alerts): {events} · frames with motion: ours {ours_moving}, Frigate's {ref_moving}")


SIMS = """
import sys, time
from devices.sim.camera import SimCamera
from devices.sim.camera_scene import SceneOptions
cams = [SimCamera(name=f"cam{i}", options=SceneOptions(width=1280, height=720, seed=i), fps=5).start()
        for i in range(4)]
for i, c in enumerate(cams):
    if i % 2:
        c.visitor()
print(" ".join(c.stream_url for c in cams), flush=True)
sys.stdin.read()
"""


def live_cameras(seconds: float) -> tuple[str, str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    sims = subprocess.Popen([sys.executable, "-c", SIMS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                            text=True)
    try:
        urls = (sims.stdout.readline() if sims.stdout else "").split()
        stop = threading.Event()
        watchers = [CameraWatcher(f"cam{i}", lambda u=u: open_source(u), lambda e: None,
                                  options=WatchOptions(fps=5)) for i, u in enumerate(urls)]
        threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in watchers]
        for t in threads:
            t.start()
        time.sleep(3.0)  # connected and calibrated
        c0, w0, n0 = os.times(), time.monotonic(), sum(w.processed for w in watchers)
        time.sleep(seconds)
        c1, w1, n1 = os.times(), time.monotonic(), sum(w.processed for w in watchers)
        stop.set()
        for t in threads:
            t.join(10)
    finally:
        if sims.stdin:
            sims.stdin.close()
        sims.wait(10)
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    share = cpu / (w1 - w0)
    motion_ms = sum(w.motion_seconds for w in watchers) / max(1, sum(w.processed for w in watchers)) * 1000
    return ("four 1280×720 MJPEG cameras at 5 fps over loopback: decode (OpenCV/FFmpeg) + motion, whole process CPU",
            f"{share * 100:.1f} % of one core at {(n1 - n0) / (w1 - w0):.1f} frames/s watched "
            f"({cpu / max(1, n1 - n0) * 1000:.2f} ms CPU per frame; at the full 20 frames/s: "
            f"{cpu / max(1, n1 - n0) * 20 * 100:.1f} %; motion step ≈ {motion_ms:.2f} ms wall within it)")


def rtdetr_r18(folder: Path, side: int = 320) -> Path:
    """An RT-DETR with a ResNet-18-shaped backbone (random weights, 80 classes) and a `side`² input, saved."""
    import torch
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessorPil, RTDetrResNetConfig

    torch.manual_seed(0)
    backbone = RTDetrResNetConfig(layer_type="basic", depths=[2, 2, 2, 2], hidden_sizes=[64, 128, 256, 512],
                                  embedding_size=64, downsample_in_bottleneck=False,
                                  out_features=["stage2", "stage3", "stage4"])
    config = RTDetrConfig(backbone_config=backbone, encoder_in_channels=[128, 256, 512], decoder_layers=3,
                          use_pretrained_backbone=False, id2label={i: f"class{i}" for i in range(80)})
    RTDetrForObjectDetection(config).save_pretrained(folder)
    RTDetrImageProcessorPil(size={"height": side, "width": side}).save_pretrained(folder)
    return folder


def detector_overhead(folder: Path, calls: int) -> tuple[str, str]:
    from devices.vision.detector import Detector, DetectorConfig

    detector = Detector(DetectorConfig(folder, labels=(), min_score=0.5))
    frame = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    detector.detect(frame, [(600, 300, 650, 500)])  # warm-up
    detector.forward_seconds, detector.calls = 0.0, 0
    t0 = time.perf_counter()
    for _ in range(calls):
        detector.detect(frame, [(600, 300, 650, 500)])
    total = (time.perf_counter() - t0) / calls
    forward = detector.forward_seconds / calls
    return (f"detector: RT-DETR with a ResNet-18-shaped backbone, random weights, {detector.input_size}² input, "
            "one torch thread, on the 320² crop of a 720p frame",
            f"detect {total * 1000:.0f} ms, of which the model's forward {forward * 1000:.0f} ms: wrapper overhead "
            f"{(total - forward) / forward * 100:.1f} %")


async def alert_latency(runs: int, detector: Path | None = None) -> list[tuple[str, str]]:
    """Visitor → alert with its picture in the outbox. With a detector, the visits alternate between looking at the
    first motion frame and looking after the 3 confirming frames (as before), so both meet the same load."""
    from claw.config import CameraSettings, Settings, VisionSettings
    from claw.runtime import Claw
    from devices.sim.camera import SimCamera

    cam = SimCamera(name="porch", options=SceneOptions(seed=3)).start()
    took: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        # one visit per visitor (they stand still at the door for 3 s), no cooldown
        vision = VisionSettings(visit_gap=5.0, cooldown=0, detector_path=detector, detect_labels=[], min_score=0.01)
        settings = Settings(_env_file=None, data_dir=Path(tmp), vision=vision)
        claw = Claw(settings, cameras=[CameraSettings(name="porch", url=cam.stream_url)])

        def alerts_after(row_id: int) -> list[dict]:
            return [r for r in claw.store.outbox_proactive("web", "console", after=row_id, limit=100) if r["media"]]

        await claw.start()
        try:
            while not (claw.cameras and claw.cameras.watchers.get("porch")
                       and claw.cameras.watchers["porch"].processed >= 3):  # the model loads first
                await asyncio.sleep(0.1)
            watcher = claw.cameras.watchers["porch"]
            await asyncio.sleep(1.0)
            for n in range((2 if detector else 1) * runs):
                early = detector is None or n % 2 == 0
                watcher.options = dataclasses.replace(watcher.options, early_look=early)
                last = max([0, *(r["id"] for r in claw.store.outbox_proactive("web", "console", limit=100))])
                t = cam.visitor()
                start = time.monotonic()
                visible = t + 0.35  # the walker's front edge crosses into the picture ≈ 0.35 s after the trigger
                while not alerts_after(last):
                    await asyncio.sleep(0.01)
                took[early].append(time.monotonic() - start - (visible - t))
                await asyncio.sleep(VISIT_LENGTH + 7.0)  # the visit ends (5 s after its last motion)
        finally:
            await claw.stop()
            cam.stop()
    if detector is None:
        return [(f"visitor in the picture → alert with its picture in the outbox, motion only ({runs} visits, "
                 "MJPEG 5 fps)", f"median {statistics.median(took[True]):.2f} s, max {max(took[True]):.2f} s "
                 "(3 confirming frames at 5 fps ≈ 0.6 s)")]
    rows = []
    for early, how in ((False, "looking after the 3 confirming frames (before)"),
                       (True, "looking at the first motion frame (now)")):
        rows.append((f"the same with the RT-DETR-R18-shaped detector, {how} ({runs} visits, alternating)",
                     f"median {statistics.median(took[early]):.2f} s, max {max(took[early]):.2f} s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--empty-minutes", type=float, default=10.0)
    parser.add_argument("--live-seconds", type=float, default=20.0)
    parser.add_argument("--alerts", type=int, default=3)
    parser.add_argument("--detector", action="store_true", help="also the detector figures (needs the vision extra)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rows = motion_side_by_side()
    if args.live_seconds > 0:
        rows.append(live_cameras(args.live_seconds))
    if args.empty_minutes > 0:
        rows.append(empty_scene(args.empty_minutes))
    if args.alerts > 0:
        rows += asyncio.run(alert_latency(args.alerts))
    if args.detector:
        with tempfile.TemporaryDirectory() as tmp:
            model = rtdetr_r18(Path(tmp))
            rows.append(detector_overhead(model, 5))
            if args.alerts > 0:
                rows += asyncio.run(alert_latency(args.alerts, model))
    if args.json:
        print(json.dumps(dict(rows), indent=2, ensure_ascii=False))
        return
    for what, measured in rows:
        print(f"- {what}\n    {measured}")


if __name__ == "__main__":
    main()
