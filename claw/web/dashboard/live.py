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

POLL_SECONDS = 0.1  # how often each device's state is read while at least one page listens
STORE_SECONDS = 0.5  # how often the newest camera event and chat message are looked up meanwhile
KEEPALIVE_SECONDS = 15.0
END = ""  # put in a listener's queue: its stream ends


class Live:
    """Device states and the newest camera event, read while listeners exist (each device in its own loop, so a
    slow one never delays the others); each listener gets every change as an SSE message. Nothing runs while no
    page is open."""

    def __init__(self, claw: Claw, poll: float = POLL_SECONDS) -> None:
        self.claw = claw
        self.poll = poll
        self.states: dict[str, dict[str, Any]] = {}
        self.last_event = 0
        self.chat_marker = ""
        self._listeners: set[asyncio.Queue[str]] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._kick = asyncio.Event()
        self.closed = False

    def close(self) -> None:
        """End every open stream (the server is shutting down: it waits for open responses to finish)."""
        self.closed = True
        for queue in self._listeners:
            queue.put_nowait(END)

    def kick(self) -> None:
        """Read every device again now (a dashboard control just acted)."""
        self._kick.set()

    def _start(self) -> None:
        """A reading loop per device (and one for camera events) that is not running yet."""
        loops = {d.id: (lambda i=d.id: self._device_loop(i)) for d in self.claw.registry.all()}
        loops["store"] = self._store_loop
        for name, loop in loops.items():
            task = self._tasks.get(name)
            if task is None or task.done():
                self._tasks[name] = asyncio.create_task(loop(), name=f"dashboard live: {name}")

    async def _device_loop(self, device_id: str) -> None:
        while self._listeners:
            try:
                state = (await self.claw.registry.states([device_id]))[device_id]
            except Exception:  # noqa: BLE001 - a bad read must not stop live updates
                log.exception("reading %s for the dashboard failed", device_id)
                state = {"available": False, "error": "could not be read"}
            if self.states.get(device_id) != state:
                self.states[device_id] = state
                self._send("device", {"id": device_id, "state": state})
            await self._pause(self.poll)

    async def _store_loop(self) -> None:
        """New camera events ("camera") and new chat messages or replies ("chat"), from the store."""
        while self._listeners:
            marker = self.claw.store.chat_marker()
            if marker != self.chat_marker:
                self.chat_marker = marker
                self._send("chat", {"marker": marker})
            events = self.claw.store.camera_events(limit=1)
            newest = int(events[0]["id"]) if events else 0
            if newest > self.last_event:
                self.last_event = newest
                self._send("camera", {"id": newest, "camera": events[0]["camera"]})
            await self._pause(STORE_SECONDS)

    async def _pause(self, seconds: float) -> None:
        kick = self._kick
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(kick.wait(), seconds)
        if kick.is_set():  # every loop woke; the next kick needs a fresh event
            await asyncio.sleep(0)
            if self._kick is kick:
                self._kick = asyncio.Event()

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
            if self.chat_marker:
                yield f"event: chat\ndata: {json.dumps({'marker': self.chat_marker})}\n\n"
            self._start()
            yield ": connected\n\n"
            while not self.closed:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    message = ": keepalive\n\n"
                if message == END:
                    return
                yield message
        finally:
            self._listeners.discard(queue)
