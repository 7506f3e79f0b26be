"""Real OpenCV and httpx reading the simulated camera (MJPEG stream, JPEG snapshot); the watcher's reconnect,
offline/online reports, fps cap and dropping queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from devices.errors import CameraUnavailable
from devices.sim.camera import SimCamera
from devices.sim.camera_scene import SceneOptions
from devices.vision.source import CaptureSource, Frame, SnapshotSource, guess_kind, open_source, redact
from devices.vision.watcher import CameraWatcher, VisitBegan, WatchOptions
from tests.watching import Collector, wait_until


@pytest.fixture
def camera() -> Iterator[SimCamera]:
    cam = SimCamera(name="porch", options=SceneOptions(seed=5), fps=10).start()
    yield cam
    cam.stop()




def test_opencv_reads_the_mjpeg_stream(camera: SimCamera) -> None:
    source = CaptureSource(camera.stream_url)
    source.open()
    try:
        frames = [source.read() for _ in range(3)]
    finally:
        source.close()
    assert [f.gray.shape for f in frames] == [(360, 640)] * 3
    assert frames[0].color is not None and frames[0].color.shape == (360, 640, 3)
    assert frames[2].t > frames[0].t and 60 < float(frames[0].gray.mean()) < 200  # a picture, not a blank


def test_snapshots_come_through_one_reused_client(camera: SimCamera) -> None:
    source = SnapshotSource(camera.snapshot_url)
    source.open()
    try:
        first = source.read()
        client = source._client
        second = source.read()
        assert source._client is client
    finally:
        source.close()
    assert first.gray.shape == (360, 640) and first.jpeg is not None and first.jpeg.startswith(b"\xff\xd8")
    assert first.bgr().shape == (360, 640, 3) and second.gray.dtype == np.uint8


def test_a_dead_camera_raises_the_device_error(camera: SimCamera) -> None:
    url_stream, url_snap = camera.stream_url, camera.snapshot_url
    camera.stop()
    with pytest.raises(CameraUnavailable):
        CaptureSource(url_stream).open()
    snap = SnapshotSource(url_snap)
    with pytest.raises(CameraUnavailable):
        snap.read()
    snap.close()


def test_kinds_and_credentials_in_urls() -> None:
    assert guess_kind("rtsp://10.0.0.2:554/stream1") == "rtsp"
    assert guess_kind("http://cam/snapshot.jpg") == "snapshot"
    assert guess_kind("http://cam/cgi-bin/mjpg/video.cgi") == "mjpeg"
    src = open_source("http://127.0.0.1:9/video", username="me", password="p@ss:word")
    assert isinstance(src, CaptureSource) and src.url == "http://me:p%40ss%3Aword@127.0.0.1:9/video"
    assert redact(src.url) == "http://127.0.0.1:9/video"


def test_the_control_endpoint_sends_a_visitor(camera: SimCamera) -> None:
    r = httpx.post(f"http://{camera.address}/control/visitor", trust_env=False)
    assert r.status_code == 200
    assert camera.scene.visitor_x(r.json()["visitor_at"] + 2.0) is not None





@pytest.mark.parametrize("kind", ["mjpeg", "snapshot"])
def test_the_watcher_reports_offline_once_reconnects_and_reports_back(camera: SimCamera, kind: str) -> None:
    url = camera.stream_url if kind == "mjpeg" else camera.snapshot_url
    sink = Collector()
    watcher = CameraWatcher("porch", lambda: open_source(url), sink,
                            options=WatchOptions(fps=5, offline_after=1.5, backoff_initial=0.2, backoff_max=0.4))
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: watcher.processed >= 3, 10, "the first frames")
        camera.stop()  # the camera dies: its stream ends, its port refuses
        wait_until(lambda: sink.statuses() == [False], 10, "the offline report")
        time.sleep(1.0)
        assert sink.statuses() == [False]  # reported once, not on every failed reconnect
        before = watcher.processed
        camera.start()
        wait_until(lambda: sink.statuses() == [False, True], 10, "the camera to be back")
        wait_until(lambda: watcher.processed > before + 3, 10, "frames after the reconnect")
        assert watcher.reconnects >= 1
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_hung_camera_goes_offline_too(camera: SimCamera) -> None:
    sink = Collector()
    watcher = CameraWatcher("porch", lambda: open_source(camera.stream_url), sink,
                            options=WatchOptions(offline_after=1.0, backoff_initial=0.2, backoff_max=0.4))
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: watcher.processed >= 2, 10, "the first frames")
        camera.freeze = True  # connected, but no more pictures
        wait_until(lambda: sink.statuses() == [False], 10, "the offline report")
        camera.freeze = False
        wait_until(lambda: sink.statuses() == [False, True], 15, "the camera to be back")
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()


def test_fps_cap_and_a_visit_through_the_real_stream(camera: SimCamera) -> None:
    sink = Collector()
    watcher = CameraWatcher("porch", lambda: open_source(camera.stream_url), sink, options=WatchOptions(fps=4))
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: watcher.processed >= 2, 10, "the first frames")
        camera.visitor()
        began = wait_until(lambda: [e for e in sink.events if isinstance(e, VisitBegan)], 10, "the visit")
        start, count = time.monotonic(), watcher.processed
        time.sleep(2.0)
        rate = (watcher.processed - count) / (time.monotonic() - start)
    finally:
        stop.set()
        thread.join(10)
    assert 2.5 <= rate <= 4.6  # the camera sends 10 a second; 4 are watched
    assert began[0].jpeg.startswith(b"\xff\xd8") and began[0].alert


def test_a_full_queue_drops_the_oldest_frame_never_blocks() -> None:
    watcher = CameraWatcher("x", lambda: SnapshotSource("http://127.0.0.1:9/"), lambda e: None,
                            options=WatchOptions(queue_size=2))
    frames = [Frame(float(i), np.zeros((4, 4), np.uint8)) for i in range(5)]
    for frame in frames:
        watcher._offer(frame)
    assert watcher.dropped == 3
    assert [watcher._queue.get_nowait().t for _ in range(2)] == [3.0, 4.0]
