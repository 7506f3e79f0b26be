"""`claw init`, `claw run` and `claw demo`: write the config, serve the claw, serve it with a simulated home."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated

import typer

from claw.cli.common import demo_settings, fail, run_or_exit, settings_or_exit, setup_logging
from claw.config import CONFIG_TEMPLATE, config_file


def init_command(force: Annotated[bool, typer.Option(help="Overwrite an existing claw.toml.")] = False) -> None:
    """Write a commented claw.toml (to CLAW_CONFIG or the data dir) and create the data dir."""
    settings = settings_or_exit()
    path = config_file()
    if path.exists() and not force:
        typer.echo(f"{path} exists; use --force to overwrite")
        raise typer.Exit(1)
    settings.ensure_data_dir()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG_TEMPLATE.format(data_dir=settings.data_dir), encoding="utf-8")
    typer.echo(f"wrote {path}\ndata dir: {settings.data_dir}")


def run_command(
        host: Annotated[str | None, typer.Option(help="Bind address (default from config: 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default from config: 8000).")] = None) -> None:
    """Run the claw: agent, outbox and web API, with the devices from the store and devices_file."""
    from claw.serve import serve

    settings = settings_or_exit()
    setup_logging(settings)
    run_or_exit(serve(settings, host=host, port=port))


def demo_command(
        home: Annotated[Path | None, typer.Option(help="YAML file describing a simulated home.")] = None,
        port: Annotated[int | None, typer.Option(help="Web port (default 8000).")] = None,
        console: Annotated[bool | None, typer.Option(help="Chat on this console too (default: if a TTY).")]
        = None,
        sim_ip: Annotated[str, typer.Option(help="Loopback address of the simulated devices (127.x.y.z), so "
                                            "that two demos can run side by side.")] = "127.0.0.2") -> None:
    """Run the claw with a simulated home on loopback: web chat and console chat, no hardware needed."""
    from claw.serve import serve_demo

    try:
        if not ipaddress.IPv4Address(sim_ip).is_loopback:
            fail(f"--sim-ip {sim_ip} is not a loopback address (127.x.y.z): the demo stays on this machine")
    except ValueError:
        fail(f"--sim-ip {sim_ip!r} is not an IPv4 address")

    # the demo finds its simulated vendor devices itself: one discovery pass on loopback at start
    settings = demo_settings(settings_or_exit()).model_copy(update={"discover_at_start": True})
    setup_logging(settings, quiet=True)
    use_console = sys.stdin.isatty() if console is None else console
    run_or_exit(serve_demo(settings, home_file=home, port=port, console=use_console, ip_base=sim_ip))
