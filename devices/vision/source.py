"""Camera frame sources: MJPEG/RTSP through OpenCV's FFmpeg backend, JPEG snapshot URLs through one httpx client."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg quiet: a refused reconnect is ours to log, once
import cv2  # noqa: E402 - after the log level above
import httpx  # noqa: E402
import numpy as np  # noqa: E402

from devices.errors import CameraUnavailable  # noqa: E402

log = logging.getLogger(__name__)
# OpenCV's own warnings (a backend that cannot open a URL, on every reconnect): errors only
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

SourceKind = Literal["mjpeg", "rtsp", "snapshot"]
OPEN_TIMEOUT = 5.0
READ_TIMEOUT = 5.0


@dataclass
class Frame:
    """One picture: when it was taken (wall clock), the grey image motion looks at, and the colour picture for a
    snapshot (decoded from `jpeg` only when asked for)."""

    t: float
    gray: np.ndarray
    color: np.ndarray | None = None
    jpeg: bytes | None = field(default=None, repr=False)

    def bgr(self) -> np.ndarray:
        if self.color is None:
            if self.jpeg is None:
                return cv2.cvtColor(self.gray, cv2.COLOR_GRAY2BGR)
            self.color = cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        return self.color


class FrameSource(Protocol):
    """A camera's pictures. `read` blocks for at most about READ_TIMEOUT; failures raise CameraUnavailable."""

    def open(self) -> None: ...

    def read(self) -> Frame: ...

    def skip(self) -> bool:
        """Consume a frame without decoding it to a picture (fps cap); False when the source cannot."""
        ...

    def close(self) -> None: ...


def guess_kind(url: str) -> SourceKind:
    """rtsp:// is RTSP; an http(s) URL whose path looks like a still picture is a snapshot; else MJPEG."""
    parts = urlsplit(url)
    if parts.scheme in ("rtsp", "rtsps"):
        return "rtsp"
    path = parts.path.lower()
    if path.endswith((".jpg", ".jpeg", ".png")) or "snapshot" in path or "still" in path:
        return "snapshot"
    return "mjpeg"


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL with user:password in it (OpenCV's FFmpeg takes credentials only that way)."""
    if not username:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(username, safe='')}:{quote(password or '', safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(url: str) -> str:
    """A URL safe for logs: no credentials."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, ""))


class CaptureSource:
    """MJPEG over HTTP or RTSP through `cv2.VideoCapture(url, cv2.CAP_FFMPEG)` with open/read timeouts."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None) -> None:
        self.url = with_credentials(url, username, password)
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        self.close()
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(OPEN_TIMEOUT * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(READ_TIMEOUT * 1000), cv2.CAP_PROP_N_THREADS, 1]
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailable(f"cannot open {redact(self.url)}")
        self._cap = cap

    def read(self) -> Frame:
        if self._cap is None:
            raise CameraUnavailable("not open")
        ok, image = self._cap.read()
        if not ok or image is None:
            raise CameraUnavailable(f"no frame from {redact(self.url)}")
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return Frame(time.time(), gray, color=image)

    def skip(self) -> bool:
        if self._cap is None or not self._cap.grab():
            raise CameraUnavailable(f"no frame from {redact(self.url)}")
        return True

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class SnapshotSource:
    """A JPEG snapshot URL polled with one reused httpx client (keep-alive), decoded with `cv2.imdecode`."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 max_bytes: int = 10_000_000) -> None:
        self.url = url
        self.auth = (username, password or "") if username else None
        self.max_bytes = max_bytes
        self._client: httpx.Client | None = None

    def open(self) -> None:
        if self._client is None:
            self._client = httpx.Client(trust_env=False, follow_redirects=False, auth=self.auth,
                                        timeout=httpx.Timeout(READ_TIMEOUT, connect=OPEN_TIMEOUT))

    def read(self) -> Frame:
        if self._client is None:
            self.open()
        assert self._client is not None
        try:
            resp = self._client.get(self.url)
        except httpx.HTTPError as exc:
            raise CameraUnavailable(f"snapshot from {redact(self.url)} failed: {exc.__class__.__name__}") from exc
        if resp.status_code != 200:
            raise CameraUnavailable(f"snapshot from {redact(self.url)}: HTTP {resp.status_code}")
        data = resp.content
        if len(data) > self.max_bytes:
            raise CameraUnavailable(f"snapshot from {redact(self.url)} is over {self.max_bytes} bytes")
        gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise CameraUnavailable(f"snapshot from {redact(self.url)} is not a picture")
        return Frame(time.time(), gray, jpeg=data)

    def skip(self) -> bool:
        return False  # polled at the fps cap: nothing to skip

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def open_source(url: str, kind: SourceKind | None = None, *, username: str | None = None,
                password: str | None = None) -> FrameSource:
    """The source for a camera URL (kind guessed from the URL when not given)."""
    kind = kind or guess_kind(url)
    if kind == "snapshot":
        return SnapshotSource(url, username=username, password=password)
    return CaptureSource(url, username=username, password=password)
