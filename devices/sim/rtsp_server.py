"""A simulated RTSP camera on loopback: GStreamer's RTSP server (Debian's python3-gi), run as a subprocess.

Our Python cannot import Debian's `gi`, so this file runs under the system `/usr/bin/python3`; it imports
nothing from the project. `RtspSimCamera` (below) starts and stops it from our side:

    /usr/bin/python3 devices/sim/rtsp_server.py --host 127.0.0.1 --port 0 --codec h264
prints `rtsp://127.0.0.1:PORT/stream` on its first line of stdout once it listens, and serves a moving test
picture (videotestsrc "ball") until it is killed. `--codec jpeg` serves RTP/JPEG (format=I420 in the caps,
else clients time out) for a box without gstreamer1.0-plugins-ugly's x264enc.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
PACKAGES = ("python3-gi", "gir1.2-gst-rtsp-server-1.0", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good",
            "gstreamer1.0-plugins-ugly")
CHECK = ("import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
         "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
         "import sys; sys.exit(0 if Gst.ElementFactory.find(sys.argv[1]) else 3)")


def pipeline(codec: str, width: int, height: int, fps: int) -> str:
    """The gst-launch description of the served stream (the RTP payloader must be named pay0)."""
    raw = (f"videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width={width},height={height},"
           f"framerate={fps}/1")
    if codec == "jpeg":
        return f"( {raw} ! jpegenc quality=80 ! rtpjpegpay name=pay0 pt=26 )"
    return (f"( {raw} ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate=800 "
            "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )")


def missing(codec: str = "h264") -> str | None:
    """Why the RTSP simulator cannot run here (None when it can): no system Python, no gi, no RTSP server or no
    encoder for `codec`."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is absent"
    element = "x264enc" if codec == "h264" else "jpegenc"
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", CHECK, element], capture_output=True, timeout=30, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{SYSTEM_PYTHON} failed: {exc}"
    if done.returncode == 3:
        return f"GStreamer element {element} is missing (apt-get install {' '.join(PACKAGES)})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"GStreamer's RTSP server is not importable ({last}); apt-get install {' '.join(PACKAGES)}"
    return None


class RtspSimCamera:
    """Runs this file under the system Python; `start()` returns the rtsp:// URL, `stop()` kills the server (a
    camera that dies); `start()` again serves on the same port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, codec: str = "h264", width: int = 640,
                 height: int = 360, fps: int = 10) -> None:
        self.host, self.port, self.codec = host, port, codec
        self.width, self.height, self.fps = width, height, fps
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 20.0) -> str:
        self.stop()
        cmd = [SYSTEM_PYTHON, str(Path(__file__).resolve()), "--host", self.host, "--port", str(self.port),
               "--codec", self.codec, "--width", str(self.width), "--height", str(self.height),
               "--fps", str(self.fps)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        proc = self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                             env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline().strip() if proc.stdout else ""
            if line.startswith("rtsp://"):
                break
        if not line.startswith("rtsp://"):
            err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
            self.stop()
            raise RuntimeError(f"the RTSP simulator did not start: {err.strip()[-400:] or 'no URL printed'}")
        self.url = line
        self.port = int(line.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        return line

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> RtspSimCamera:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(host: str, port: int, codec: str, width: int, height: int, fps: int) -> None:
    """Serve until killed (runs under the system Python with Debian's gi)."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(host)
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(pipeline(codec, width, height, fps))
    factory.set_shared(True)
    server.get_mount_points().add_factory("/stream", factory)
    if server.attach(None) == 0:
        sys.stderr.write(f"cannot listen on {host}:{port}\n")
        sys.exit(2)
    sys.stdout.write(f"rtsp://{host}:{server.get_bound_port()}/stream\n")
    sys.stdout.flush()
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    loop.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--codec", choices=("h264", "jpeg"), default="h264")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=10)
    args = parser.parse_args()
    serve(args.host, args.port, args.codec, args.width, args.height, args.fps)


if __name__ == "__main__":
    main()
