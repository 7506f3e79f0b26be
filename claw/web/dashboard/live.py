"""Live updates for open pages: one poller reads every device's state while a page listens, and fans out changes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from claw.runtime import Claw
from devices.errors import DeviceError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1  # how often each device's state is read while at least one page listens
STORE_SECONDS = 0.5  # how often the newest camera event and chat message are looked up meanwhile
LINGER_SECONDS = 10.0  # reading goes on this long after the last page closed: the next page opens with fresh states
FRESH_SECONDS = 30.0  # a state read this recently is rendered into a page as it loads
KEEPALIVE_SECONDS = 15.0
END = ""  # put in a listener's queue: its stream ends
STORE = "store"  # the loop that watches the store (camera events, chat)


class Live:
    """Device states and the newest camera event, read while listeners exist (each device in its own loop, so a
    slow one never delays the others); each listener gets every change as an SSE message. A command sent to a
    device by anyone (chat, a routine, a control) wakes that device's loop at once; nothing runs while no page
    has been open for LINGER_SECONDS."""

    def __init__(self, claw: Claw, poll: float = POLL_SECONDS, linger: float = LINGER_SECONDS) -> None:
        self.claw = claw
        self.poll = poll
        self.linger = linger
        self.states: dict[str, dict[str, Any]] = {}
        self.read_at: dict[str, float] = {}  # time.monotonic() of each device's last read
        self.last_event = 0
        self.chat_marker = ""
        self._listeners: set[asyncio.Queue[str]] = set()  # every open page: camera events, chat
        self._watchers: set[asyncio.Queue[str]] = set()  # pages that show devices (Home): their states too
        self._owners: dict[asyncio.Queue[str], str] = {}  # each open stream's session (signing out ends them)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._until = {True: 0.0, False: 0.0}  # time.monotonic() until which loops go on with no page (devices?)
        self.closed = False
        claw.registry.on_command(self.kick)
        claw.registry.on_change(self._start_new)

    def close(self) -> None:
        """End every open stream (the server is shutting down: it waits for open responses to finish)."""
        self.closed = True
        self.claw.registry.off_command(self.kick)
        self.claw.registry.off_change(self._start_new)
        for queue in self._listeners:
            queue.put_nowait(END)
        for task in self._tasks.values():
            task.cancel()

    def end_session(self, session_id: str | None) -> None:
        """End the open streams of a session that was signed out (None: of every session)."""
        for queue, owner in list(self._owners.items()):
            if session_id is None or owner == session_id:
                queue.put_nowait(END)

    def kick(self, name: str | None = None) -> None:
        """Read one device (by id) again now, or every device and the store."""
        for key in [name] if name is not None else list(self._wake):
            event = self._wake.get(key)
            if event is not None:
                event.set()

    def current(self) -> dict[str, dict[str, Any]]:
        """What a page shows as it loads, without reading anything: states read within FRESH_SECONDS, else the
        registry's last known state; devices with neither are left out (the stream fills them in)."""
        now = time.monotonic()
        out: dict[str, dict[str, Any]] = {}
        for device in self.claw.registry.all():
            if device.id in self.states and now - self.read_at.get(device.id, 0.0) < FRESH_SECONDS:
                out[device.id] = self.states[device.id]
            elif (known := self.claw.registry.known(device.id)) is not None:
                out[device.id] = known
        return out

    def _running(self, devices: bool) -> bool:
        listening = self._watchers if devices else self._listeners
        return not self.closed and (bool(listening) or time.monotonic() < self._until[devices])

    def _start_new(self) -> None:
        """A device was added while pages listen: start its loop (outside the event loop: nothing to do)."""
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            if self._running(devices=True):
                self._start(devices=True)

    def _start(self, devices: bool) -> None:
        """The store's loop and, for a page that shows devices, a reading loop per device, unless running."""
        loops: dict[str, Any] = {STORE: self._store_loop}
        if devices:
            loops |= {d.id: (lambda i=d.id: self._device_loop(i)) for d in self.claw.registry.all()}
        for name, loop in loops.items():
            self._wake.setdefault(name, asyncio.Event())
            task = self._tasks.get(name)
            if task is None or task.done():
                self._tasks[name] = asyncio.create_task(loop(), name=f"dashboard live: {name}")

    async def _device_loop(self, device_id: str) -> None:
        wake = self._wake[device_id]
        try:
            floor = self.claw.registry.read_floor(device_id)  # a hub's or a slow device's own limit
        except DeviceError:
            return
        while self._running(devices=True):
            wake.clear()  # a command during the read below wakes the next wait at once: read again
            try:
                self.claw.registry.get(device_id)
            except DeviceError:  # removed from the registry: nothing more to show
                self.states.pop(device_id, None)
                return
            try:
                state = (await self.claw.registry.states([device_id]))[device_id]
            except Exception:  # noqa: BLE001 - a bad read must not stop live updates
                log.exception("reading %s for the dashboard failed", device_id)
                state = {"available": False, "error": "could not be read"}
            self.read_at[device_id] = time.monotonic()
            if self.states.get(device_id) != state:
                self.states[device_id] = state
                self._send("device", {"id": device_id, "state": state}, self._watchers)
            await self._pause(wake, max(self.poll, floor))

    async def _store_loop(self) -> None:
        """New camera events ("camera") and new chat messages or replies ("chat"), from the store."""
        wake = self._wake[STORE]
        while self._running(devices=False):
            wake.clear()
            marker = self.claw.store.chat_marker()
            if marker != self.chat_marker:
                self.chat_marker = marker
                self._send("chat", {"marker": marker}, self._listeners)
            events = self.claw.store.camera_events(limit=1)
            newest = int(events[0]["id"]) if events else 0
            if newest > self.last_event:
                self.last_event = newest
                self._send("camera", {"id": newest, "camera": events[0]["camera"]}, self._listeners)
            await self._pause(wake, STORE_SECONDS)

    @staticmethod
    async def _pause(wake: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)

    @staticmethod
    def _send(kind: str, data: dict[str, Any], listeners: set[asyncio.Queue[str]]) -> None:
        message = f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
        for queue in listeners:
            if queue.qsize() < 1000:  # a stuck page is not allowed to grow memory without end
                queue.put_nowait(message)

    async def stream(self, devices: bool = True, session: str = "") -> AsyncIterator[str]:
        """One page's SSE stream: with `devices`, every fresh state first and then each change as it is seen
        (devices are read only while such a page listens); new camera events and chat messages for every page."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._listeners.add(queue)
        self._owners[queue] = session
        if devices:
            self._watchers.add(queue)
        try:
            for device_id, state in self.current().items() if devices else ():
                yield f"event: device\ndata: {json.dumps({'id': device_id, 'state': state}, default=str)}\n\n"
            if self.chat_marker:
                yield f"event: chat\ndata: {json.dumps({'marker': self.chat_marker})}\n\n"
            self._start(devices)
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
            self._watchers.discard(queue)
            self._owners.pop(queue, None)
            for kind, left in ((True, self._watchers), (False, self._listeners)):
                if not left:
                    self._until[kind] = time.monotonic() + self.linger
