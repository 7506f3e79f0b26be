"""The nmap sweep by chat: with `[discovery] nmap = true`, "scan my network" first shows the subnets it would
sweep and asks the owner's YES (a confirmation the code writes); without it, the reply says how to allow one."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from devices.discovery.matching import DiscoveryError

if TYPE_CHECKING:
    from claw.discovery.service import Discovery, ScanReport
    from devices.discovery.sweep import SweepPlan

SWEEP_KIND = "discovery_sweep"


def enable_hint(subnets: list[str]) -> str:
    """How the owner allows a sweep (what this scan did not do)."""
    where = ", ".join(subnets) if subnets else "the primary interface's /24"
    return (f"That was mDNS and SSDP only. To also sweep {where} with nmap (it finds devices that announce "
            "nothing), set nmap = true under [discovery] in claw.toml (subnets = [\"192.168.1.0/24\"] to choose "
            "the range), restart, and ask again: I'll show the range and ask before sweeping.")


async def subnets_to_sweep(service: Discovery) -> tuple[list[str], list[str]]:
    """The interfaces a scan uses and the subnets a sweep would cover: `[discovery] subnets`, else the first
    interface's /24 (or its narrower network). SweepRefused when the interface is not an address."""
    from devices.discovery.subnets import default_subnet
    from devices.discovery.sweep import local_interfaces

    interfaces = service.interfaces()
    if service.settings.subnets:
        return interfaces, list(service.settings.subnets)
    local = await asyncio.to_thread(local_interfaces)
    return interfaces, [str(default_subnet(interfaces[0], local))]


def sweep_summary(plan: SweepPlan, interfaces: list[str]) -> str:
    """What the owner's YES allows, written by the code from the checked plan (never by a model)."""
    count = sum(n.num_addresses for n in plan.subnets)
    return (f"sweep {', '.join(str(n) for n in plan.subnets)} ({count} addresses) from {', '.join(interfaces)} "
            f"with nmap (ports {','.join(str(p) for p in plan.ports)}), then send read-only GET probes to every "
            "open device port, along with the usual mDNS and SSDP scan")


async def plan_or_reason(service: Discovery) -> tuple[dict[str, Any], str] | str:
    """The sweep to ask about (payload, summary), or why none can run (nmap missing, a refused subnet)."""
    from devices.discovery.sweep import plan_sweep

    try:
        interfaces, subnets = await subnets_to_sweep(service)
        plan = await plan_sweep(subnets, interfaces)
    except DiscoveryError as exc:
        return str(exc)
    payload = {"kind": SWEEP_KIND, "subnets": [str(n) for n in plan.subnets], "interfaces": interfaces}
    return payload, sweep_summary(plan, interfaces)


async def swept_scan(service: Discovery, payload: dict[str, Any]) -> ScanReport | str:
    """The scan the owner said YES to, with the approved subnets only (checked again: the machine may have
    changed since); the reason when it cannot run now."""
    try:
        return await service.scan(interfaces=list(payload["interfaces"]), sweep_subnets=list(payload["subnets"]))
    except DiscoveryError as exc:
        return str(exc)


def swept_line(report: ScanReport) -> str:
    """What the nmap sweep of a scan did, for chat ("" when none was asked for)."""
    result = report.result
    if result is None:
        return ""
    if result.sweep_error:
        return f"The nmap sweep failed ({result.sweep_error[:200]}); the list has what mDNS and SSDP found."
    if result.swept is None:
        return ""
    s = result.swept
    return (f"nmap swept {', '.join(s.subnets)} in {s.seconds:.1f} s: {len(s.live)} host(s) up, "
            f"{len(s.targets)} open device port(s) probed.")


def expires(ttl: float) -> float:
    return time.time() + ttl
