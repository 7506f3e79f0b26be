"""Serving: `claw run` (uvicorn + the claw) and `claw demo` (the same plus a simulated home)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import uvicorn

from claw.app import Claw
from claw.config import Settings
from claw.web.app import create_app
from devices.sim.home import SimHome

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, host: str | None = None, port: int | None = None,
                claw: Claw | None = None, banner: str | None = None) -> None:
    started = time.perf_counter()
    claw = claw or Claw(settings)
    app = create_app(claw)
    config = uvicorn.Config(app, host=host or settings.web.host, port=settings.web.port if port is None else port,
                            log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.02)
        bound = server.servers[0].sockets[0].getsockname() if server.servers else (config.host, config.port)
        url = f"http://{bound[0]}:{bound[1]}/#token={settings.web_token()}"
        log.warning("claw ready in %.2fs at %s", time.perf_counter() - started, url)
        print(f"claw ready in {time.perf_counter() - started:.2f}s: {url}", flush=True)  # noqa: T201
        if banner:
            print(banner, flush=True)  # noqa: T201

    watcher = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        watcher.cancel()


async def serve_demo(settings: Settings, *, home_file: Path | None, port: int | None, console: bool) -> None:
    home = SimHome.load(home_file)
    devices = await asyncio.to_thread(home.start)
    try:
        claw = Claw(settings, devices=devices)
        names = ", ".join(f"{d.name} ({d.room})" for d in devices)
        banner = f"simulated home: {names}\ntry: turn on the kitchen light · pause the living room speaker"
        if not console:
            await serve(settings, port=port, claw=claw, banner=banner)
            return
        from claw.console import console_loop

        server_task = asyncio.create_task(serve(settings, port=port, claw=claw, banner=banner))
        while not claw.agent or not claw._tasks:  # wait for lifespan start (outbox task running)
            if server_task.done():
                await server_task
                return
            await asyncio.sleep(0.05)
        try:
            await console_loop(claw)
        finally:
            server_task.cancel()
            await asyncio.gather(server_task, return_exceptions=True)
    finally:
        await asyncio.to_thread(home.stop)
