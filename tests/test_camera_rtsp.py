"""Real OpenCV (FFmpeg backend) reading RTSP from GStreamer's RTSP server on loopback: frames, a visit, reconnect."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from devices.errors import CameraUnavailable
from devices.sim.rtsp_server import RtspSimCamera, missing
from devices.vision.source import CaptureSource, guess_kind, open_source
from devices.vision.watcher import CameraWatcher, WatchOptions
from tests.watching import Collector, wait_until

WHY = missing("h264")
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no RTSP simulator here: {WHY}")


def loopback_host() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


@pytest.fixture
def rtsp() -> Iterator[RtspSimCamera]:
    cam = RtspSimCamera(loopback_host(), 0, codec="h264", fps=10)
    cam.start()
    yield cam
    cam.stop()







@pytest.mark.parametrize("codec", ["h264", "jpeg"])
def test_opencv_reads_rtsp_h264_and_jpeg(codec: str) -> None:
    with RtspSimCamera(loopback_host(), 0, codec=codec, width=640, height=360, fps=10) as cam:
        assert guess_kind(cam.url) == "rtsp"
        source = open_source(cam.url)
        assert isinstance(source, CaptureSource)
        source.open()
        try:
            frames = [source.read() for _ in range(4)]
        finally:
            source.close()
    assert [f.gray.shape for f in frames] == [(360, 640)] * 4
    assert frames[0].color is not None and frames[0].color.shape == (360, 640, 3)
    assert all(f.gray.max() > 200 for f in frames)  # the white ball is in the picture, not a blank frame
    assert frames[3].t > frames[0].t


def test_a_dead_rtsp_server_raises_the_device_error(rtsp: RtspSimCamera) -> None:
    url = rtsp.url
    rtsp.stop()
    source = CaptureSource(url)
    with pytest.raises(CameraUnavailable, match="cannot open rtsp://"):
        source.open()


def test_the_watcher_sees_motion_over_rtsp_and_reconnects_after_the_server_dies(rtsp: RtspSimCamera) -> None:
    sink = Collector()
    watcher = CameraWatcher("gate", lambda: open_source(rtsp.url), sink,
                            options=WatchOptions(fps=5, offline_after=4.0, backoff_initial=0.2, backoff_max=0.5))
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop,))
    thread.start()
    try:
        wait_until(lambda: watcher.processed >= 3, 20, "the first RTSP frames")
        began = wait_until(sink.visits, 20, "a visit: the test ball keeps moving")
        assert began[0].jpeg.startswith(b"\xff\xd8") and began[0].boxes
        # opening RTSP takes FFmpeg 2-3 s (probing): on a busy machine that alone may count as offline at first
        base = sink.statuses()
        assert base in ([], [False, True])
        rtsp.stop()  # kill -9 the server: the RTSP session dies, the port refuses
        wait_until(lambda: sink.statuses() == [*base, False], 20, "the offline report")
        time.sleep(1.5)
        assert sink.statuses() == [*base, False]  # once, not on every failed reconnect
        before = watcher.processed
        rtsp.start()  # the same address and port
        wait_until(lambda: sink.statuses() == [*base, False, True], 30, "the camera to be back")
        wait_until(lambda: watcher.processed > before + 3, 20, "frames after the reconnect")
        assert watcher.reconnects >= 1
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
