"""nmap sweep of checked subnets (python-nmap): live hosts and open device ports, for scan.py to probe."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import nmap

from devices.discovery.matching import DiscoveryError
from devices.discovery.subnets import check_subnets, in_subnets

log = logging.getLogger(__name__)

# The ports our adapters' devices answer on: HTTP APIs (WLED, Shelly, Tasmota, Hue v1, Venstar) on 80,
# Hue v2 / Venstar HTTPS on 443, Sonos on 1400, and the usual alternative HTTP ports.
SWEEP_PORTS: tuple[int, ...] = (80, 443, 1400, 8080, 8081)
HTTPS_PORTS = frozenset({443})
PING_PORTS_UNPRIVILEGED = (80, 443)  # a live host answers these (even with a reset): enough to call it up
HOST_TIMEOUT = 5.0  # nmap gives up on one host after this long
SWEEP_TIMEOUT = 60.0  # the whole nmap run is killed after this long
MAX_RTT = "500ms"  # a home LAN answers well within this; without it an unprivileged sweep waits ~10 s on a /24


class NmapMissing(DiscoveryError):
    """The nmap program is not installed (python-nmap needs it)."""


@dataclass
class SweepResult:
    """What one nmap run saw: live hosts, open ports by host, the targets to probe, and how it ran."""

    subnets: list[str]
    live: list[str] = field(default_factory=list)
    open_ports: dict[str, list[int]] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)  # host:port to fingerprint
    command_line: str = ""
    seconds: float = 0.0


def find_nmap() -> str:
    """The nmap binary on PATH, or NmapMissing with how to install it."""
    path = shutil.which("nmap")
    if path is None:
        raise NmapMissing("nmap is not installed (needed for --sweep): install it with `apt-get install nmap` "
                          "(Debian/Ubuntu), `dnf install nmap` or `brew install nmap`")
    return path


def privileged() -> bool:
    """Whether nmap may use raw packets (SYN scan, ARP ping): only as root."""
    return os.geteuid() == 0


def nmap_arguments(ports: Sequence[int], *, as_root: bool, host_timeout: float = HOST_TIMEOUT) -> str:
    """The nmap options (pure): no DNS, fast timing, one retry, bounded round trips and time per host, only
    open ports. As root: a SYN scan, ARP ping on the local segment (TCP SYN ping to every port elsewhere).
    Otherwise: connect() scan, and a connect() ping of 80 and 443 only with at least 64 probes in flight
    (each dead address costs connect()s that wait on ARP: pinging all five ports made a /24 take 5-12 s)."""
    port_list = ",".join(str(p) for p in sorted(set(ports)))
    if not port_list or not all(0 < p < 65536 for p in ports):
        raise DiscoveryError("sweep ports must be 1-65535")
    ping = port_list if as_root else ",".join(
        str(p) for p in ([p for p in PING_PORTS_UNPRIVILEGED if p in ports] or sorted(ports)[:1]))
    args = ["-n", "-T4", "--max-retries", "1", "--max-rtt-timeout", MAX_RTT,
            "--host-timeout", f"{max(1, round(host_timeout))}s", f"-PS{ping}", "-p", port_list, "--open"]
    args[:0] = ["-sS"] if as_root else ["-sT", "--unprivileged", "--min-parallelism", "64"]
    return shlex.join(args)


def probe_targets(open_ports: dict[str, list[int]]) -> list[str]:
    """host:port addresses to fingerprint over HTTP (pure): every open port, but an HTTPS port only when the
    host has no other open port (a Hue bridge answers on 80 and 443; its 443 would only repeat it)."""
    targets = []
    for host in sorted(open_ports, key=lambda h: ipaddress.IPv4Address(h)):
        ports = sorted(open_ports[host])
        plain = [p for p in ports if p not in HTTPS_PORTS]
        targets += [f"{host}:{p}" for p in (plain or ports)]
    return targets


def local_interfaces() -> list[ipaddress.IPv4Interface]:
    """The IPv4 addresses with prefixes of this network namespace (`ip -j -4 addr`); [] if `ip` is missing."""
    try:
        done = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, timeout=5,
                              check=True)
        links = json.loads(done.stdout or "[]")
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.warning("cannot list local interfaces: %s", exc)
        return []
    return [ipaddress.IPv4Interface(f"{a['local']}/{a['prefixlen']}")
            for link in links for a in link.get("addr_info", []) if a.get("family") == "inet"]


def _run_nmap(path: str, hosts: str, arguments: str, timeout: float) -> dict[str, dict[str, object]]:
    try:
        scanner = nmap.PortScanner(nmap_search_path=(path,))
        return scanner.scan(hosts=hosts, arguments=arguments, timeout=max(1, round(timeout)))
    except nmap.PortScannerTimeout as exc:
        raise DiscoveryError(f"the nmap sweep of {hosts} took longer than {timeout:g} s and was stopped") from exc
    except nmap.PortScannerError as exc:
        detail = str(getattr(exc, "value", exc)).strip()  # PortScannerError's str() is a repr
        raise DiscoveryError(f"nmap failed: {detail[:300]}") from exc


@dataclass
class SweepPlan:
    """A checked sweep, ready to run: the subnets, the nmap binary and its arguments."""

    subnets: list[ipaddress.IPv4Network]
    nmap_path: str
    arguments: str
    ports: tuple[int, ...]
    timeout: float


async def plan_sweep(subnets: Sequence[str], interfaces: Sequence[str], *, ports: Sequence[int] = SWEEP_PORTS,
                     allow_public: bool = False, timeout: float = SWEEP_TIMEOUT,
                     host_timeout: float = HOST_TIMEOUT) -> SweepPlan:
    """Check `subnets` (subnets.check_subnets against the interfaces that exist in this namespace) and find
    nmap; raises SweepRefused or NmapMissing before anything is sent."""
    nets = check_subnets(subnets, interfaces, await asyncio.to_thread(local_interfaces),
                         allow_public=allow_public)
    path = find_nmap()
    arguments = nmap_arguments(ports, as_root=privileged(), host_timeout=host_timeout)
    return SweepPlan(nets, path, arguments, tuple(sorted(set(ports))), timeout)


async def run_sweep(plan: SweepPlan) -> SweepResult:
    """Run a checked sweep; raises DiscoveryError when nmap fails or overruns the plan's timeout."""
    hosts = " ".join(str(n) for n in plan.subnets)
    started = time.monotonic()
    raw = await asyncio.to_thread(_run_nmap, plan.nmap_path, hosts, plan.arguments, plan.timeout)
    result = SweepResult([str(n) for n in plan.subnets],
                         command_line=str(raw.get("nmap", {}).get("command_line", "")))
    for host, info in raw.get("scan", {}).items():
        if not isinstance(info, dict) or not in_subnets(host, plan.subnets):
            continue  # nmap answered about an address we did not ask for: ignore it
        if info.get("status", {}).get("state") == "up":
            result.live.append(host)
        tcp = info.get("tcp", {})
        open_ports = sorted(int(p) for p, st in tcp.items() if st.get("state") == "open" and int(p) in plan.ports)
        if open_ports:
            result.open_ports[host] = open_ports
    result.live.sort(key=ipaddress.IPv4Address)
    result.targets = probe_targets(result.open_ports)
    result.seconds = round(time.monotonic() - started, 3)
    return result


async def sweep(subnets: Sequence[str], interfaces: Sequence[str], *, ports: Sequence[int] = SWEEP_PORTS,
                allow_public: bool = False, timeout: float = SWEEP_TIMEOUT,
                host_timeout: float = HOST_TIMEOUT) -> SweepResult:
    """Check then sweep `subnets` with nmap (plan_sweep + run_sweep); never scans anything unchecked."""
    return await run_sweep(await plan_sweep(subnets, interfaces, ports=ports, allow_public=allow_public,
                                            timeout=timeout, host_timeout=host_timeout))
