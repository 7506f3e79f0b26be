"""`claw chat` and `claw ask`: build a claw (with a simulated home for --demo) and talk to it on this console."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from claw.cli.common import demo_settings, run_or_exit, settings_or_exit, setup_logging
from claw.config import Settings
from claw.errors import ClawError


async def ask_once(settings: Settings, text: str, *, demo: bool, home_file: Path | None) -> dict[str, Any]:
    """One turn: store, handle, reply through the outbox; returns the --json shape. Input over the cap is a
    ClawError before anything starts."""
    from claw.channels.console import too_long
    from claw.discovery.settings import on_demo_lan
    from claw.events import InboundMessage
    from claw.runtime import Claw
    from claw.turn_json import turn_json
    from devices.sim.home import SimHome, random_loopback_base

    refusal = too_long(len(text.strip()), settings.max_input_chars)
    if refusal:
        raise ClawError(refusal)
    home = SimHome.load(home_file, ip_base=random_loopback_base()) if demo else None
    if home is not None:  # "scan my network" finds this home's simulators, not other processes'
        settings = settings.model_copy(update={"discovery": on_demo_lan(settings.discovery, home.ip_base)})
    devices = await asyncio.to_thread(home.start) if home else []
    claw = Claw(settings, devices=devices)
    try:
        await claw.start(routines=False)  # the serving claw (`claw run`) runs the routines, not a one-shot
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


async def run_console(settings: Settings, *, demo: bool, home_file: Path | None) -> None:
    """Start a claw (with a simulated home for --demo) and chat with it on this console until EOF or 'quit'."""
    from claw.channels.console import console_loop
    from claw.discovery.settings import on_demo_lan
    from claw.runtime import Claw
    from devices.sim.home import SimHome, random_loopback_base

    home = SimHome.load(home_file, ip_base=random_loopback_base()) if demo else None
    if home is not None:  # "scan my network" finds this home's simulators, not other processes'
        settings = settings.model_copy(update={"discovery": on_demo_lan(settings.discovery, home.ip_base)})
    devices = await asyncio.to_thread(home.start) if home else []
    claw = Claw(settings, devices=devices)
    try:
        await claw.start(routines=False)  # routines run in the serving claw (`claw run`, `claw demo`)
        await console_loop(claw.channels["console"], claw.agent.submit,  # type: ignore[arg-type]
                           name=claw.soul.current().voice.name, sender=settings.owner,
                           max_chars=settings.max_input_chars)
    finally:
        await claw.stop()
        if home:
            await asyncio.to_thread(home.stop)


def chat_command(
        demo: Annotated[bool, typer.Option("--demo", help="Start a simulated home for this chat.")] = False,
        home: Annotated[Path | None, typer.Option(help="YAML file describing a simulated home.")] = None) -> None:
    """Chat with the claw on this console (same agent path as WhatsApp and the web chat)."""
    settings = settings_or_exit()
    if demo:
        settings = demo_settings(settings)
    setup_logging(settings, quiet=True)
    run_or_exit(run_console(settings, demo=demo, home_file=home))


def ask_command(
        text: Annotated[str, typer.Argument(help="What to say to the claw.")],
        demo: Annotated[bool, typer.Option("--demo", help="Start a simulated home for this one call.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print reply, tier, actions and states.")] = False,
        home: Annotated[Path | None, typer.Option(help="With --demo: YAML of a simulated home.")] = None) -> None:
    """Run exactly one turn through the normal path and print the reply."""
    settings = settings_or_exit()
    tmp = None
    if demo:
        tmp = tempfile.TemporaryDirectory(prefix="claw-ask-")
        settings = demo_settings(settings).model_copy(update={"data_dir": Path(tmp.name)})  # a fresh data dir
    setup_logging(settings, quiet=True)
    try:
        out = run_or_exit(ask_once(settings, text, demo=demo, home_file=home))
    finally:
        if tmp is not None:
            tmp.cleanup()
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2) if as_json else out["reply"])
