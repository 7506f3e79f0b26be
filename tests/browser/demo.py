"""A claw serving the demo's simulated home and cameras (random loopback addresses, a random port) in a thread:
what the browser tests and bench/dashboard.py open pages against."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from claw.config import Settings, VisionSettings
from claw.runtime import Claw
from claw.serve import ClawServer, demo_cameras
from devices.sim.home import SimHome, random_loopback_base
from tests.watching import wait_until

T = TypeVar("T")


@dataclass
class Demo:
    """A claw with the demo's simulated home and cameras, served by uvicorn on a random loopback port."""

    home: SimHome
    claw: Claw
    server: ClawServer
    loop: asyncio.AbstractEventLoop
    url: str = ""

    @property
    def token(self) -> str:
        return self.claw.settings.web_token()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's event loop (the claw's own) and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def until(self, predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        """The predicate's first truthy value; the test fails after `timeout` seconds (tests.watching)."""
        return wait_until(predicate, timeout, what)


def quiet_demo_home(folder: Path) -> Path:
    """The demo's home file without random visitors at the cameras: a test sends its own (camera.visitor())."""
    spec = yaml.safe_load((resources.files("devices.sim") / "default_home.yaml").read_text(encoding="utf-8"))
    for device in spec["devices"]:
        device.pop("visitor_every", None)
    path = folder / "home.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def start_demo(data_dir: Path) -> Iterator[Demo]:
    data_dir.mkdir(parents=True, exist_ok=True)
    home = SimHome.load(quiet_demo_home(data_dir.parent), ip_base=random_loopback_base())
    devices = home.start()
    settings = Settings(_env_file=None, data_dir=data_dir, device_timeout=3.0,  # type: ignore[call-arg]
                        vision=VisionSettings(visit_gap=2.0))
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        claw = Claw(settings, devices=devices, cameras=demo_cameras(home))
        holder["server"] = server = ClawServer(settings, claw, port=0)
        holder["claw"] = claw
        try:
            loop.run_until_complete(server.serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the fixture below
            holder["error"] = exc

    thread = threading.Thread(target=serve, name="claw-demo", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while "server" not in holder or not holder["server"].ready.is_set():
        if "error" in holder or time.monotonic() > deadline:
            home.stop()
            raise RuntimeError(f"the claw did not start: {holder.get('error')!r}")
        time.sleep(0.05)
    server: ClawServer = holder["server"]
    host, port = server.server.servers[0].sockets[0].getsockname()[:2]
    demo = Demo(home, holder["claw"], server, loop, url=f"http://{host}:{port}")
    try:
        yield demo
    finally:
        loop.call_soon_threadsafe(server.stop)
        thread.join(30)
        home.stop()


