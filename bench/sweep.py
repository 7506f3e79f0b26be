"""nmap sweep wall time: a /24 LAN in network namespaces with 10 live hosts swept, probed and matched.

Usage: sudo python bench/sweep.py [--runs 3] [--timeout 1.0] [--hosts 10] [--unprivileged]

Builds devices/sim/netns.py's LAN (a bridge namespace, a scanner namespace at 10.77.0.1, --hosts namespaces
at 10.77.0.2... each serving a WLED, Shelly or Tasmota simulator on port 80 or 8080), then, inside the
scanner's namespace, runs devices.discovery.scan.scan(["10.77.0.1"], sweep_subnets=["10.77.0.0/24"]) --runs
times: mDNS + SSDP listening while nmap sweeps the /24, then HTTP probes of every open port. Nothing is sent
outside the namespaces it creates (and deletes). --unprivileged gives nmap the arguments it gets without root
(connect() scan and ping). Prints one JSON line; target <= 10 s per pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devices.discovery import sweep  # noqa: E402
from devices.discovery.scan import ScanResult, scan  # noqa: E402
from devices.sim.netns import NetnsLan, netns_unavailable  # noqa: E402
from devices.sim.shelly import SimShelly  # noqa: E402
from devices.sim.tasmota import SimTasmota  # noqa: E402
from devices.sim.wled import SimWled  # noqa: E402

TARGET_S = 10.0
KINDS = (SimWled, SimShelly, SimTasmota)


def main(runs: int, timeout: float, hosts: int) -> dict[str, object]:
    t0 = time.monotonic()
    with NetnsLan(hosts_count=hosts) as lan:
        for i, host in enumerate(lan.hosts):
            lan.serve(host, KINDS[i % 3](host=host.address, port=8080 if i % 4 == 0 else 80, name=f"bench {i}"))
        setup = time.monotonic() - t0
        expected = {s.address for s in lan.sims()}
        walls: list[float] = []
        nmaps: list[float] = []
        for _ in range(runs):
            started = time.monotonic()
            result: ScanResult = lan.in_scanner(
                lambda: asyncio.run(scan([lan.scanner_address], timeout=timeout, sweep_subnets=[lan.subnet])))
            walls.append(time.monotonic() - started)
            nmaps.append(result.swept.seconds if result.swept else float("nan"))
            ours = [f for f in result.found if f.address in expected]
            matched = sum(f.adapter is not None for f in ours)
    return {"subnet": lan.subnet, "hosts": hosts, "root_nmap": sweep.privileged(),
            "live": len(result.swept.live) if result.swept else 0,
            "found": len(ours), "matched": matched, "sweep_error": result.sweep_error, "listen_s": timeout,
            "nmap_s_median": round(statistics.median(nmaps), 3), "wall_s_median": round(statistics.median(walls), 3),
            "wall_s_max": round(max(walls), 3), "setup_s": round(setup, 3), "target_s": TARGET_S,
            "ok": max(walls) <= TARGET_S and matched == len(expected)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--unprivileged", action="store_true", help="nmap's arguments for a non-root user")
    args = parser.parse_args()
    if args.unprivileged:
        sweep.privileged = lambda: False
    why = netns_unavailable() or (None if shutil.which("nmap") else "nmap is not installed")
    if why:
        print(json.dumps({"skipped": why}))
        sys.exit(2)
    report = main(args.runs, args.timeout, args.hosts)
    print(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)
