"""The console channel: `claw chat` (interactive) and `claw ask` (one turn), through the same agent path."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from claw.app import Claw
from claw.config import Settings
from claw.events import InboundMessage
from claw.turn_json import turn_json
from devices.sim.home import SimHome, random_loopback_base


async def ask_once(settings: Settings, text: str, *, demo: bool, home_file: Path | None) -> dict[str, Any]:
    """One turn: store, handle, reply through the outbox; returns the --json shape."""
    home = SimHome.load(home_file, ip_base=random_loopback_base()) if demo else None
    devices = await asyncio.to_thread(home.start) if home else []
    claw = Claw(settings, devices=devices)
    try:
        await claw.start()
        queue = claw.channels["console"].listen()  # type: ignore[attr-defined]
        result = await claw.agent.ask(InboundMessage(channel="console", sender=settings.owner, text=text))
        out = await turn_json(claw, result)
        try:  # the reply really leaves through the outbox; wait for it to be delivered
            await asyncio.wait_for(queue.get(), 5)
        except TimeoutError:
            out["warning"] = "reply stored but not yet delivered by the outbox"
        return out
    finally:
        await claw.stop()
        if home:
            await asyncio.to_thread(home.stop)


async def console_loop(claw: Claw) -> None:
    """Read lines from stdin, print replies as the outbox delivers them."""
    queue = claw.channels["console"].listen()  # type: ignore[attr-defined]
    voice = claw.soul.current().voice
    print(f"{voice.name}: ready. Type a message, or 'quit'.", flush=True)  # noqa: T201
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        text = line.strip()
        if text.lower() in ("quit", "exit", ":q"):
            break
        if not text:
            continue
        claw.agent.submit(InboundMessage(channel="console", sender=claw.settings.owner, text=text))
        row = await queue.get()
        print(f"{voice.name}: {row['text']}", flush=True)  # noqa: T201
        while not queue.empty():
            print(f"{voice.name}: {queue.get_nowait()['text']}", flush=True)  # noqa: T201


async def run_console(settings: Settings, *, demo: bool, home_file: Path | None) -> None:
    home = SimHome.load(home_file, ip_base=random_loopback_base()) if demo else None
    devices = await asyncio.to_thread(home.start) if home else []
    claw = Claw(settings, devices=devices)
    try:
        await claw.start()
        await console_loop(claw)
    finally:
        await claw.stop()
        if home:
            await asyncio.to_thread(home.stop)
