"""The console channel: `claw chat` (interactive) and `claw ask` (one turn), through the same agent path."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from claw.config import Settings
from claw.errors import ClawError
from claw.events import InboundMessage
from claw.runtime import Claw
from claw.turn_json import turn_json
from devices.sim.home import SimHome, random_loopback_base


def too_long(length: int, settings: Settings) -> str | None:
    """The one-line refusal for input over Settings.max_input_chars (the web chat's cap too), or None."""
    cap = settings.max_input_chars
    if length <= cap:
        return None
    return f"That message is {length:,} characters long; the limit is {cap:,} (max_input_chars). Nothing was done."


def read_line(stream: TextIO, limit: int) -> tuple[str, int] | None:
    """One line, stripped, with at most `limit` + 2 characters kept in memory: (text, length), None at EOF.
    For a longer line `length` counts all of it, and its rest is read and dropped (never further messages)."""
    line = stream.readline(limit + 2)
    if not line:
        return None
    text = line.strip()
    if line.endswith("\n") or len(line) < limit + 2:
        return text, len(text)
    length = len(line)
    while chunk := stream.readline(65536):
        length += len(chunk.rstrip("\r\n"))
        if chunk.endswith("\n"):
            break
    return text, length


async def ask_once(settings: Settings, text: str, *, demo: bool, home_file: Path | None) -> dict[str, Any]:
    """One turn: store, handle, reply through the outbox; returns the --json shape. Input over the cap is a
    ClawError before anything starts."""
    refusal = too_long(len(text.strip()), settings)
    if refusal:
        raise ClawError(refusal)
    home = SimHome.load(home_file, ip_base=random_loopback_base()) if demo else None
    devices = await asyncio.to_thread(home.start) if home else []
    claw = Claw(settings, devices=devices)
    try:
        await claw.start()
        queue = claw.channels["console"].listen()  # type: ignore[attr-defined]
        msg = InboundMessage(channel="console", sender=settings.owner, text=text, standing="owner")
        result = await claw.agent.ask(msg)
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
    """Read lines from stdin, print replies as the outbox delivers them. Bytes that are not UTF-8 become U+FFFD;
    a line over max_input_chars is refused with one line, without a turn."""
    queue = claw.channels["console"].listen()  # type: ignore[attr-defined]
    voice = claw.soul.current().voice
    stdin = sys.stdin
    try:
        stdin.reconfigure(errors="replace")  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (a test's StringIO), or already read
        pass
    print(f"{voice.name}: ready. Type a message, or 'quit'.", flush=True)  # noqa: T201
    while True:
        read = await asyncio.to_thread(read_line, stdin, claw.settings.max_input_chars)
        if read is None:
            break
        text, length = read
        if text.lower() in ("quit", "exit", ":q"):
            break
        refusal = too_long(length, claw.settings)
        if refusal:
            print(f"{voice.name}: {refusal}", flush=True)  # noqa: T201
            continue
        if not text:
            continue
        claw.agent.submit(InboundMessage(channel="console", sender=claw.settings.owner, text=text,
                                         standing="owner"))
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
