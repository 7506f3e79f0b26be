"""`claw discover`: find devices with mDNS, SSDP and fingerprint probes on given interfaces; print a table."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

import typer

from claw.cli.common import fail, run_or_exit

COLUMNS = ("address", "identity", "what", "adapter", "via")


def format_table(rows: list[dict[str, str]]) -> list[str]:
    """Aligned text lines with a header for the rows of devices.discovery.matching.table."""
    widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    return lines


def discover_command(
    interface: Annotated[list[str] | None, typer.Option(
        "--interface", "-i", help="IPv4 address of an interface to discover on (repeatable). Default: "
        "127.0.0.1 (loopback only); give your LAN address to scan the LAN.")] = None,
    timeout: Annotated[float, typer.Option(min=0.2, max=30.0, help="seconds to listen for announcements")] = 1.0,
    target: Annotated[list[str] | None, typer.Option(
        "--target", help="also fingerprint this host:port (on an interface's subnet)")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="start the simulated LAN on loopback and scan it")] = False,
) -> None:
    """Find devices (mDNS, Sonos SSDP, HTTP fingerprints) and the adapter that fits each; run only when asked."""
    interfaces = interface or ["127.0.0.1"]
    for addr in interfaces:
        try:
            ipaddress.IPv4Address(addr)
        except ValueError:
            fail(f"--interface {addr!r} is not an IPv4 address")
    if demo and interfaces != ["127.0.0.1"]:
        fail("--demo scans the simulated LAN on 127.0.0.1 only")
    rows, refused, seconds = run_or_exit(_run(interfaces, timeout, list(target or []), demo))
    for line in format_table(rows):
        typer.echo(line)
    known = sum(r["adapter"] != "unknown" for r in rows)
    typer.echo(f"{len(rows)} device(s), {known} with an adapter, in {seconds:.2f} s on {', '.join(interfaces)}")
    if refused:
        typer.echo(f"ignored {len(refused)} announcement(s) outside these interfaces: {', '.join(refused[:5])}")
    if len(rows) > known:
        typer.echo("unknown devices need an adapter spec: see devices/adapters/*.yaml for the format")
    from devices.adapters.pairing import is_hub
    from devices.adapters.spec import builtin_specs

    hubs = [r["address"] for r in rows if (spec := builtin_specs().get(r["adapter"])) is not None and is_hub(spec)]
    if hubs:
        typer.echo(f"pair a hub to add the devices behind it: claw pair device {hubs[0]}")


async def _run(interfaces: list[str], timeout: float, targets: list[str], demo: bool) -> tuple[Any, ...]:
    from devices.discovery.matching import table
    from devices.discovery.scan import scan

    if not demo:
        result = await scan(interfaces, timeout=timeout, targets=targets)
        return table(result.found), result.refused, result.seconds
    from devices.sim.lan import SimLan

    async with SimLan.load() as lan:
        result = await scan(interfaces, timeout=timeout, targets=targets, household_id=lan.household_id)
    return table(result.found), result.refused, result.seconds
