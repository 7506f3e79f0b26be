"""Helpers for tests that run a camera watcher in its thread: wait for a condition, collect what it reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from devices.vision.watcher import CameraStatus, VisitBegan, WatchEvent


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """The predicate's first truthy value, polled every 0.05 s; the test fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


class Collector:
    """A watcher's sink: every event it reports, thread-safe."""

    def __init__(self) -> None:
        self.events: list[WatchEvent] = []
        self.lock = threading.Lock()

    def __call__(self, event: WatchEvent) -> None:
        with self.lock:
            self.events.append(event)

    def statuses(self) -> list[bool]:
        with self.lock:
            return [e.online for e in self.events if isinstance(e, CameraStatus)]

    def visits(self) -> list[VisitBegan]:
        with self.lock:
            return [e for e in self.events if isinstance(e, VisitBegan)]
