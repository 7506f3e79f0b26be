"""Live updates for open pages: one poller reads every device's state while a page listens, and fans out changes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from claw.runtime import Claw

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1  # how often device states are read while at least one page listens
KEEPALIVE_SECONDS = 15.0


class Live:
    """Device states and the newest camera event, read in one loop while listeners exist; each listener gets
    every change as an SSE message. Nothing runs while no page is open."""

    def __init__(self, claw: Claw, poll: float = POLL_SECONDS) -> None:
        self.claw = claw
        self.poll = poll
        self.states: dict[str, dict[str, Any]] = {}
        self.last_event = 0
        self._listeners: set[asyncio.Queue[str]] = set()
        self._task: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()

    def kick(self) -> None:
        """Read again now (a dashboard control just acted)."""
        self._kick.set()

    async def _loop(self) -> None:
        while self._listeners:
            try:
                await self.read_once()
            except Exception:  # noqa: BLE001 - a bad read must not stop live updates
                log.exception("reading device states for the dashboard failed")
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.poll)

    async def read_once(self) -> None:
        devices = self.claw.registry.all()
        states = await self.claw.registry.states([d.id for d in devices])
        for device_id, state in states.items():
            if self.states.get(device_id) != state:
                self.states[device_id] = state
                self._send("device", {"id": device_id, "state": state})
        events = self.claw.store.camera_events(limit=1)
        newest = int(events[0]["id"]) if events else 0
        if newest > self.last_event:
            self.last_event = newest
            self._send("camera", {"id": newest, "camera": events[0]["camera"]})

    def _send(self, kind: str, data: dict[str, Any]) -> None:
        message = f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
        for queue in self._listeners:
            if queue.qsize() < 1000:  # a stuck page is not allowed to grow memory without end
                queue.put_nowait(message)

    async def stream(self) -> AsyncIterator[str]:
        """One page's SSE stream: every known state first, then changes as they are seen."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            for device_id, state in self.states.items():
                yield f"event: device\ndata: {json.dumps({'id': device_id, 'state': state}, default=str)}\n\n"
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._loop())
            yield ": connected\n\n"
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keepalive\n\n"
        finally:
            self._listeners.discard(queue)
