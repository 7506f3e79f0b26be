"""A simulated IP camera on loopback: MJPEG stream, JPEG snapshot, and a control endpoint that sends a visitor."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from devices.sim.camera_scene import Scene, SceneOptions
from devices.sim.loopback_http import LoopbackServed, SimRequestHandler

log = logging.getLogger(__name__)

BOUNDARY = "clawframe"


class SimCamera(LoopbackServed):
    """Serves `GET /stream.mjpg` (multipart/x-mixed-replace JPEG frames at `fps`), `GET /snapshot.jpg`,
    `GET /api/info`, `POST /control/visitor` (a visitor walks in now), `POST /control/parcel` (a visitor
    leaves a parcel on the path) and `POST /control/take` (a visitor takes it; 409 when none lies there).

    Its clock starts at `start()`; `clock` may be replaced (tests). `stop()` ends the server and every open
    stream (a camera that dies); `start()` again serves on the same port. `freeze = True` keeps connections
    open but sends no frames (a camera that hangs)."""

    MODEL = "ClawSim Camera"
    THREAD_PREFIX = "simcam"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str = "camera", *,
                 options: SceneOptions | None = None, fps: float = 5.0, quality: int = 80,
                 clock: Callable[[], float] | None = None) -> None:
        self.host = host
        self.name = name
        self.fps = fps
        self.quality = quality
        self.scene = Scene(options or SceneOptions())
        self.serial = "CC" + hashlib.sha1(f"{self.MODEL}/{name}".encode()).hexdigest()[:10].upper()
        self.freeze = False
        self.frames_served = 0
        self._init_serving(port)
        self._t0 = time.monotonic()
        self._clock = clock or (lambda: time.monotonic() - self._t0)
        self._lock = threading.Lock()
        self._cached: tuple[int, bytes] | None = None

    # addresses ---------------------------------------------------------------------------------------
    @property
    def stream_url(self) -> str:
        return f"http://{self.address}/stream.mjpg"

    @property
    def snapshot_url(self) -> str:
        return f"http://{self.address}/snapshot.jpg"

    @property
    def info(self) -> dict[str, Any]:
        return {"model": self.MODEL, "serial": self.serial, "name": self.name, "stream": "/stream.mjpg",
                "snapshot": "/snapshot.jpg", "width": self.scene.options.width, "height": self.scene.options.height}

    # the picture -------------------------------------------------------------------------------------------
    def now(self) -> float:
        return self._clock()

    def visitor(self) -> float:
        """Send a visitor in now; returns the camera time of the visit."""
        t = self.now()
        self.scene.add_visit(t)
        with self._lock:
            self._cached = None
        return t

    def parcel(self) -> float:
        """Send a visitor who leaves a parcel; returns the camera time of the visit."""
        t = self.now()
        self.scene.add_parcel(t)
        with self._lock:
            self._cached = None
        return t

    def take(self) -> float | None:
        """Send a visitor who takes the parcel lying there; None (nobody comes) when there is none."""
        t = self.now()
        if not self.scene.take_parcel(t):
            return None
        with self._lock:
            self._cached = None
        return t

    def frame_jpeg(self) -> bytes:
        """The JPEG of the current frame (one encoding per frame period, shared by every client)."""
        t = self.now()
        index = int(t * self.fps)
        with self._lock:
            if self._cached is not None and self._cached[0] == index:
                return self._cached[1]
        data = self.scene.jpeg(index / self.fps, self.quality)
        with self._lock:
            self._cached = (index, data)
            self.frames_served += 1
        return data

    # server ------------------------------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def _stream(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        handler.send_header("Cache-Control", "no-cache")
        handler.end_headers()
        period = 1.0 / self.fps
        next_at = time.monotonic()
        while not self._stopping.is_set():
            if not self.freeze:
                data = self.frame_jpeg()
                handler.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}"
                                    "\r\n\r\n".encode() + data + b"\r\n")
                handler.wfile.flush()
            next_at += period
            delay = next_at - time.monotonic()
            if delay < -1.0:  # fell behind (a paused process): do not burst to catch up
                next_at, delay = time.monotonic(), 0.0
            if self._stopping.wait(max(0.0, delay)):
                break


def _handler_for(cam: SimCamera) -> type[BaseHTTPRequestHandler]:
    class Handler(SimRequestHandler):
        server_version = "ClawSimCamera/1.0"
        sim_name = cam.name
        sim_log = log

        def _send(self, status: int, data: bytes, ctype: str) -> None:
            self.reply(status, data, ctype, (("Cache-Control", "no-cache"),))

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            path = self.path.split("?", 1)[0]
            try:
                if path == "/stream.mjpg":
                    cam._stream(self)
                elif path == "/snapshot.jpg":
                    if cam.freeze:
                        cam._stopping.wait(30)  # a hung camera: no answer until it is stopped
                        self.close_connection = True
                        return
                    self._send(200, cam.frame_jpeg(), "image/jpeg")
                elif path == "/api/info":
                    self._json(200, cam.info)
                else:
                    self._json(404, {"error": f"no such endpoint {path}"})
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 4096))
            path = self.path.split("?", 1)[0]
            if path == "/control/visitor":
                self._json(200, {"visitor_at": round(cam.visitor(), 3)})
            elif path == "/control/parcel":
                self._json(200, {"visitor_at": round(cam.parcel(), 3), "parcel": True})
            elif path == "/control/take":
                taken = cam.take()
                if taken is None:
                    self._json(409, {"error": "no parcel lies there to take"})
                else:
                    self._json(200, {"visitor_at": round(taken, 3), "taken": True})
            else:
                self._json(404, {"error": "no such endpoint"})

    return Handler
