"""`claw discover --sweep`: check the subnets and nmap, show what will be swept, and ask the owner first."""

from __future__ import annotations

import asyncio
import sys

import typer

from claw.cli.common import fail
from devices.discovery.matching import DiscoveryError
from devices.discovery.subnets import default_subnet
from devices.discovery.sweep import plan_sweep


def interactive() -> bool:
    """Whether there is a terminal to ask the owner on."""
    return sys.stdin.isatty()


def confirm_sweep(interfaces: list[str], subnets: list[str], *, yes: bool, allow_public: bool) -> list[str]:
    """The subnets to sweep once checked (size, interface, private range, nmap installed) and approved:
    shown, then asked (unless `yes`); without a terminal to ask on, `--yes` is required. Exits on refusal."""
    try:
        if not subnets:
            from devices.discovery.sweep import local_interfaces

            subnets = [str(default_subnet(interfaces[0], local_interfaces()))]
        plan = asyncio.run(plan_sweep(subnets, interfaces, allow_public=allow_public))
    except DiscoveryError as exc:
        fail(exc)
    count = sum(n.num_addresses for n in plan.subnets)
    typer.echo(f"nmap sweep of {', '.join(str(n) for n in plan.subnets)} ({count} addresses) from "
               f"{', '.join(interfaces)}: ports {','.join(str(p) for p in plan.ports)}, then GET-only "
               "fingerprint probes of every open port")
    if not yes:
        if not interactive():
            fail("a sweep asks first: run it in a terminal, or add --yes to sweep without asking")
        if not typer.confirm("Sweep it now?", default=False):
            typer.echo("not swept")
            raise typer.Exit(1)
    return [str(n) for n in plan.subnets]
