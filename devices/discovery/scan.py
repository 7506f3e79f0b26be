"""One discovery pass: mDNS, SSDP and an optional nmap sweep on the given interfaces, then bounded HTTP probes
matched to adapters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from devices.adapters.spec import AdapterSpec, builtin_specs
from devices.discovery import mdns, ssdp, sweep
from devices.discovery.matching import (
    GENERIC_HTTP,
    DiscoveryError,
    Found,
    allowed_host,
    describe,
    mac_from_usn,
    match_answers,
    probe_plan,
    ssdp_hits,
    zeroconf_hits,
)
from devices.discovery.probe import ProbeRecord, probe, probe_client
from devices.discovery.subnets import in_subnets

log = logging.getLogger(__name__)

MAX_HOSTS = 64
MAX_SWEEP_TARGETS = 256  # probes after a sweep: a /22 of devices is not a home
PARALLEL_PROBES = 16


@dataclass
class ScanResult:
    """What one pass found, the probe records (for learning unknown devices later) and what was refused."""

    found: list[Found] = field(default_factory=list)
    records: dict[str, ProbeRecord] = field(default_factory=dict)  # by address
    refused: list[str] = field(default_factory=list)  # announced addresses outside the allowed interfaces
    errors: list[str] = field(default_factory=list)  # steps that failed (mDNS, SSDP), to tell the owner
    seconds: float = 0.0
    swept: sweep.SweepResult | None = None  # the nmap sweep, when one was asked for and ran
    sweep_error: str | None = None  # why an asked-for sweep failed while running (checks fail before)


def service_types(specs: dict[str, AdapterSpec]) -> list[str]:
    """Every mDNS service type a spec matches, plus the generic `_http._tcp`."""
    types = {zc.type for s in specs.values() if s.match for zc in s.match.zeroconf}
    return sorted(types | {GENERIC_HTTP})


def search_targets(specs: dict[str, AdapterSpec]) -> list[str]:
    """Every SSDP search target a spec matches (Sonos is searched by soco apart)."""
    return sorted({m.st for s in specs.values() if s.match for m in s.match.ssdp})


def _hints(specs: dict[str, AdapterSpec], f: Found) -> list[str]:
    hits = {n for t in f.services if not t.startswith("ssdp:") for n in zeroconf_hits(specs, t, f.txt)}
    hits |= {n for t in f.services if t.startswith("ssdp:") for n in ssdp_hits(specs, t.removeprefix("ssdp:"))}
    return sorted(hits)


async def scan(interfaces: list[str], *, timeout: float = 1.0, specs: dict[str, AdapterSpec] | None = None,
               targets: Sequence[str] = (), sonos: bool = True, household_id: str = "Sonos",
               sweep_subnets: Sequence[str] = (), allow_public: bool = False,
               progress: Callable[[str], None] | None = None) -> ScanResult:
    """Discover devices on `interfaces` (IPv4 addresses; never all of them) within about `timeout` seconds
    of listening plus the probes; `targets` are extra host:port addresses to fingerprint. `sweep_subnets`
    are also swept with nmap (at the same time as the listening) and every open device port is probed;
    they are checked first (sweep.plan_sweep: SweepRefused, NmapMissing) and `allow_public` lets a
    public range through. `progress` is told each stage ("listening", "probing N", "done") as it starts."""
    tell = progress or (lambda stage: None)
    if not interfaces:
        raise DiscoveryError("discovery needs at least one interface address (never all of them)")
    specs = builtin_specs() if specs is None else specs
    plan = await sweep.plan_sweep(sweep_subnets, interfaces, allow_public=allow_public) if sweep_subnets else None
    loop = asyncio.get_running_loop()
    started = loop.time()
    jobs: list[Coroutine[Any, Any, Any]] = [mdns.browse(interfaces, service_types(specs), timeout)]
    if sonos:
        jobs.extend(ssdp.discover_sonos(i, timeout, household_id) for i in interfaces)
    if search_targets(specs):
        jobs.extend(ssdp.search(i, search_targets(specs), timeout) for i in interfaces)
    if plan is not None:
        jobs.append(sweep.run_sweep(plan))  # last: its result is popped off the end below
    tell("listening")
    results = await asyncio.gather(*jobs, return_exceptions=True)
    result = ScanResult()
    if plan is not None:
        swept = results.pop()
        if isinstance(swept, BaseException):
            result.sweep_error = str(swept)[:300] or swept.__class__.__name__
            log.warning("nmap sweep failed: %s", result.sweep_error)
        else:
            result.swept = swept
    hosts: dict[str, Found] = {}
    for outcome in results:
        if isinstance(outcome, BaseException):
            log.warning("discovery step failed: %s", outcome)
            result.errors.append(f"{type(outcome).__name__}: {str(outcome)[:120]}")
            continue
        for item in outcome:
            if isinstance(item, ssdp.SsdpPlayer):
                f = hosts.setdefault(item.address, Found(item.address))
                f.via.add("ssdp")
                f.identity.update(uuid=item.uuid[:64], name=item.name[:64])
                f.what, f.adapter = "Sonos player", "sonos"
                continue
            if isinstance(item, ssdp.SsdpService):
                if not allowed_host(item.address.rsplit(":", 1)[0], interfaces):
                    result.refused.append(item.address)
                    continue
                f = hosts.setdefault(item.address, Found(item.address))
                f.via.add("ssdp")
                f.services.add(f"ssdp:{item.st}")
                if mac := mac_from_usn(item.usn):
                    f.identity["mac"] = mac
                continue
            for host in item.addresses[:4]:
                address = f"{host}:{item.port}"
                if not allowed_host(host, interfaces) or not 0 < item.port < 65536:
                    result.refused.append(address)
                    continue
                f = hosts.setdefault(address, Found(address))
                f.via.add("mdns")
                f.services.add(item.type)
                f.txt.update(item.txt)
                label = item.name.removesuffix(item.type).rstrip(".")
                if label and len(f.announced) < 8:
                    f.announced.add(label)
    for target in targets:
        if allowed_host(target.rsplit(":", 1)[0], interfaces):
            hosts.setdefault(target, Found(target)).via.add("probe")
        else:
            result.refused.append(target)
    if result.swept is not None:  # checked subnets: their hosts may lie beyond an interface's /24
        for target in result.swept.targets[:MAX_SWEEP_TARGETS]:
            if in_subnets(target.rsplit(":", 1)[0], plan.subnets if plan else []):
                hosts.setdefault(target, Found(target)).via.add("nmap")
    limit = MAX_HOSTS + (MAX_SWEEP_TARGETS if result.swept is not None else 0)
    to_probe = [f for f in hosts.values() if f.adapter != "sonos"][:limit]
    tell(f"probing {len(to_probe)}")
    gate = asyncio.Semaphore(PARALLEL_PROBES)
    async with probe_client() as client:
        async def fingerprint(f: Found) -> None:
            hints = _hints(specs, f)
            plan = probe_plan(specs, hints or None)
            async with gate:
                record = await probe(client, f.address, plan)
            name, identity = match_answers(specs, record.answers, hints)
            if name is None and hints:  # the announcement pointed wrong: try every matcher
                async with gate:
                    record = await probe(client, f.address, probe_plan(specs))
                name, identity = match_answers(specs, record.answers)
            result.records[f.address] = record
            f.via.add("probe")
            # what the probe read wins; an identity only the announcement gave (Venstar's MAC in its SSDP USN)
            # is kept when the answer has none
            f.adapter, f.identity = name, ({**f.identity, **identity} if name else identity)
            f.what = describe(specs[name]) if name else "unknown"

        await asyncio.gather(*(fingerprint(f) for f in to_probe))
    result.found = list(hosts.values())
    result.seconds = round(loop.time() - started, 3)
    tell("done")
    return result
