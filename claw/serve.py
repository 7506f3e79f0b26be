"""Serving: `claw run` (uvicorn + the claw) and `claw demo` (the same plus a simulated home)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

from claw.config import CameraSettings, Settings
from claw.running import announce, withdraw
from claw.runtime import Claw
from claw.web.app import create_app
from claw.web.auth import bind_warning
from devices.sim.home import SimHome

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, calling `on_shutdown` first when it shuts down (before it waits for open responses)."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets)


class ClawServer:
    """uvicorn serving the claw's app; `ready` is set once it listens, `stop()` shuts it down cleanly."""

    def __init__(self, settings: Settings, claw: Claw, *, host: str | None = None, port: int | None = None,
                 banner: str | None = None) -> None:
        self.settings = settings
        self.claw = claw
        self.banner = banner
        self.ready = asyncio.Event()
        # The claw is started and stopped here, not in the app's lifespan, so that a startup error (a broken
        # devices file) reaches the CLI as a one-line ClawError instead of a uvicorn traceback.
        app = create_app(claw, manage_lifecycle=False)
        config = uvicorn.Config(app, host=host or settings.web.host,
                                port=settings.web.port if port is None else port, log_level="warning",
                                lifespan="on", access_log=False, timeout_graceful_shutdown=5)
        self.server = _Server(config, on_shutdown=app.state.live.close)  # open dashboards' SSE streams end
        self._started = time.perf_counter()

    async def serve(self) -> None:
        await self.claw.start(dispatch=False)  # the outbox starts once we listen (see _announce)
        watcher = asyncio.create_task(self._announce())
        try:
            await self.server.serve()
        finally:
            watcher.cancel()
            withdraw(self.settings)
            await self.claw.stop()

    def stop(self) -> None:
        self.server.should_exit = True

    async def _announce(self) -> None:
        while not self.server.started:
            await asyncio.sleep(0.02)
        self.claw.start_dispatch()
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        announce(self.settings, host, port)  # for `claw token` and `claw devices`
        url = f"http://{host}:{port}/#token={self.settings.web_token()}"
        took = time.perf_counter() - self._started
        log.info("claw ready in %.2fs on %s:%s", took, host, port)
        print(f"claw ready in {took:.2f}s: {url}", flush=True)  # noqa: T201
        warning = bind_warning(str(host))
        if warning:
            log.warning("%s", warning)
            print(warning, flush=True)  # noqa: T201
        if self.banner:
            print(self.banner, flush=True)  # noqa: T201
        self.ready.set()


async def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    await ClawServer(settings, Claw(settings), host=host, port=port).serve()


def demo_cameras(home: SimHome) -> list[CameraSettings]:
    """The simulated home's cameras as the claw watches them (MJPEG on loopback)."""
    rooms = home.camera_rooms()
    return [CameraSettings(name=name, url=cam.stream_url, kind="mjpeg", room=rooms.get(name))
            for name, cam in home.cameras.items()]


def visitor(home: SimHome) -> str:
    """`/visitor` on the demo console: someone walks up to every simulated camera now."""
    for cam in home.cameras.values():
        cam.visitor()
    names = ", ".join(home.cameras) or "no camera"
    return f"a visitor walks in front of {names}; the alert with its picture comes to the web chat in a moment."


async def serve_demo(settings: Settings, *, home_file: Path | None, port: int | None, console: bool) -> None:
    home = SimHome.load(home_file)
    devices = await asyncio.to_thread(home.start)
    try:
        cameras = demo_cameras(home)
        claw = Claw(settings, devices=devices, cameras=cameras)
        names = ", ".join(f"{d.name} ({d.room})" for d in devices)
        banner = (f"simulated home: {names}\n"
                  "try: turn on the kitchen light · pause the living room speaker · what's the temperature "
                  "in the hallway?")
        for name, cam in home.cameras.items():
            banner += (f"\ncamera {name}: {cam.stream_url} · a visitor now: /visitor on this console, or "
                       f"curl -X POST http://{cam.address}/control/visitor (the alert shows in the web chat)")
        server = ClawServer(settings, claw, port=port, banner=banner)
        if not console:
            await server.serve()
            return
        from claw.channels.console import console_loop

        serving = asyncio.create_task(server.serve())
        ready = asyncio.create_task(server.ready.wait())
        await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():  # it failed to start (e.g. the port is taken)
            ready.cancel()
            await serving
            return
        try:
            await console_loop(claw.channels["console"], claw.agent.submit,  # type: ignore[arg-type]
                               name=claw.soul.current().voice.name, sender=settings.owner,
                               max_chars=settings.max_input_chars, commands={"/visitor": lambda: visitor(home)})
        finally:
            server.stop()
            await serving
    finally:
        await asyncio.to_thread(home.stop)
