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
from devices.drivers.base import Driver
from devices.drivers.http import HttpDriver
from devices.models import Device
from devices.sim.home import SimHome
from devices.sim.lan import SimLan

log = logging.getLogger(__name__)

DEMO_IP = "127.0.0.2"  # the demo's first simulated device address (`claw demo --sim-ip` moves it)


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
        self.app = app = create_app(claw, manage_lifecycle=False)
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
        if self.claw.store.migrated:  # an upgrade (or a first start): say which schema steps ran
            ran = ", ".join(self.claw.store.migrated)
            print(f"database {self.settings.db_path}: ran migrations {ran}", flush=True)  # noqa: T201
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


async def _demo_lan(settings: Settings, home_file: Path | None, ip_base: str = DEMO_IP
                    ) -> tuple[SimHome, SimLan | None, list[Device], dict[str, Driver] | None, list[str]]:
    """The demo's home: with `discover_at_start`, the simulated LAN found by one pass on loopback
    (claw.demo_lan); without it, or when loopback multicast is unavailable, the home file's devices only."""
    if settings.discover_at_start:
        from claw.demo_lan import discover_demo
        from devices.drivers import build_drivers

        lan = SimLan.load(home_file, ip_base=ip_base)
        try:
            await lan.start()
        except OSError as exc:  # no multicast on this loopback: the demo goes on without its vendor devices
            note = f"no discovery: the simulated LAN could not announce itself on loopback ({exc})"
            log.warning("%s", note)
            home = SimHome.load(home_file, ip_base=ip_base)
            return home, None, await asyncio.to_thread(home.start), None, [note]
        devices = list(lan.home.devices)
        drivers = build_drivers(settings.device_timeout)
        http = drivers["http"]
        assert isinstance(http, HttpDriver)
        try:
            found = await discover_demo(lan, http, devices, earlier=_demo_earlier(settings, http))
        except BaseException:
            await lan.stop()
            raise
        return lan.home, lan, devices + found.added, drivers, found.notes
    home = SimHome.load(home_file, ip_base=ip_base)
    return home, None, await asyncio.to_thread(home.start), None, []


def _demo_earlier(settings: Settings, http: HttpDriver) -> list[Device]:
    """What earlier runs of the demo kept in its store: the devices (followed by identity to where the
    simulators listen now) and the approved learned adapters (given to `http`, so a learned device matches)."""
    from devices.adapters.spec import load_spec
    from devices.errors import AdapterSpecError
    from memory.store import Store

    if not settings.db_path.exists():
        return []
    store = Store(settings.db_path)
    try:
        rows, adapters = store.devices_all(), store.adapters_current()
    finally:
        store.close()
    for row in adapters:
        try:
            http.add_spec(load_spec(row["spec"]))
        except AdapterSpecError as exc:
            log.warning("stored adapter %s v%s no longer loads: %s", row["name"], row["version"], exc)
    out = []
    for row in rows:
        try:
            out.append(Device.from_dict(row))
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("stored device %s is not readable: %s", row.get("id"), exc)
    return out


def parcel(home: SimHome, take: bool = False) -> str:
    """`/parcel` on the demo console: a visitor leaves a parcel on the path; `/take`: one takes it."""
    if take:
        taken = [name for name, cam in home.cameras.items() if cam.take() is not None]
        if not taken:
            return "no parcel lies in front of any camera: /parcel first."
        return (f"a visitor takes the parcel at {', '.join(taken)}; \"… is gone\" with before/after comes a little "
                "after they leave.")
    for cam in home.cameras.values():
        cam.parcel()
    names = ", ".join(home.cameras) or "no camera"
    return (f"a visitor leaves a parcel in front of {names}; the visit's alert comes at once, \"Something was "
            "left …\" with before/after once the visit is over (the visit gap after they leave).")


def demo_network(settings: Settings, ip_base: str) -> Settings:
    """The demo's discovery: on loopback, keeping only its own simulated LAN's /24 (another process's
    simulators announcing on the shared loopback are not this home's), which is also what a sweep covers."""
    from claw.discovery.settings import on_demo_lan

    return settings.model_copy(update={"discovery": on_demo_lan(settings.discovery, ip_base)})


async def serve_demo(settings: Settings, *, home_file: Path | None, port: int | None, console: bool,
                     ip_base: str = DEMO_IP) -> None:
    settings = demo_network(settings, ip_base)
    home, lan, devices, drivers, notes = await _demo_lan(settings, home_file, ip_base)
    try:
        cameras = demo_cameras(home)
        claw = Claw(settings, devices=devices, drivers=drivers, cameras=cameras)
        names = ", ".join(f"{d.name} ({d.room})" for d in devices)
        banner = "\n".join([f"simulated home: {names}", *notes,
                             "try: turn on the kitchen light · pause the living room speaker · what's the "
                             "temperature in the hallway?" + (" · turn on the desk strip" if lan else "")])
        for name, cam in home.cameras.items():
            banner += (f"\ncamera {name}: {cam.stream_url} · a visitor now: /visitor on this console, or "
                       f"curl -X POST http://{cam.address}/control/visitor (the alert shows in the web chat); "
                       "a parcel left: /parcel, taken: /take (or POST /control/parcel, /control/take)")
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
                               max_chars=settings.max_input_chars, commands={"/visitor": lambda: visitor(home),
                                                                    "/parcel": lambda: parcel(home),
                                                                    "/take": lambda: parcel(home, take=True)})
        finally:
            server.stop()
            await serving
    finally:
        if lan is not None:
            await lan.stop()
        else:
            await asyncio.to_thread(home.stop)
