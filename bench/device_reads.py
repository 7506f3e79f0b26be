"""CPU per device state read, the claw's side and the simulator's, for the demo home's HTTP devices and Sonos players.

Usage: python bench/device_reads.py [--seconds 5] [--poll 0.1]
Starts the demo's simulated home (without its camera) in this process and a Registry with the claw's HTTP and
Sonos drivers; then, as the dashboard does while a Home page is open, reads each device in its own loop every
`--poll` seconds for `--seconds`: once for the HTTP devices, once for the Sonos players, once for all. Prints per
group the reads done, CPU ms per read (the claw's part: everything but the simulators' threads; the
simulators' part) and the share of one core each took.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from importlib import resources
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devices.drivers.http import HttpDriver  # noqa: E402
from devices.drivers.sonos import SonosDriver  # noqa: E402
from devices.models import Device  # noqa: E402
from devices.registry import Registry  # noqa: E402
from devices.sim.cpu import cpu_split  # noqa: E402
from devices.sim.home import SimHome, SimHomeSpec, random_loopback_base  # noqa: E402


async def read_loops(registry: Registry, devices: list[Device], seconds: float, poll: float) -> int:
    """Each device read in its own loop every `poll` s for `seconds`; returns the reads done."""
    done = 0
    end = time.monotonic() + seconds

    async def loop(device: Device) -> None:
        nonlocal done
        while time.monotonic() < end:
            state = await registry.state(device.id)
            if not state.get("available", True):
                raise SystemExit(f"{device.name} could not be read: {state}")
            done += 1
            await asyncio.sleep(poll)

    await asyncio.gather(*(loop(d) for d in devices))
    return done


async def run(home: SimHome, seconds: float, poll: float) -> None:
    registry = Registry({"http": HttpDriver(timeout=3.0), "sonos": SonosDriver(request_timeout=3.0)}, timeout=3.0)
    registry.extend(home.devices)
    groups = {"HTTP devices": [d for d in home.devices if d.driver == "http"],
              "Sonos players": [d for d in home.devices if d.driver == "sonos"], "all": list(home.devices)}
    await read_loops(registry, list(home.devices), 1.0, poll)  # warm up: clients, connections, soco caches
    print(f"{'group':<14} {'devices':>7} {'reads':>6} {'claw ms/read':>13} {'sims ms/read':>13} "
          f"{'claw % core':>12} {'sims % core':>12}")
    for name, devices in groups.items():
        before, t0 = cpu_split(), time.monotonic()
        reads = await read_loops(registry, devices, seconds, poll)
        after, elapsed = cpu_split(), time.monotonic() - t0
        sims = after["sims"] - before["sims"]
        claw = after["total"] - before["total"] - sims
        print(f"{name:<14} {len(devices):>7} {reads:>6} {claw / reads * 1000:>13.2f} {sims / reads * 1000:>13.2f} "
              f"{claw / elapsed:>12.0%} {sims / elapsed:>12.0%}")
    await registry.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--poll", type=float, default=0.1)
    args = parser.parse_args()
    spec = yaml.safe_load((resources.files("devices.sim") / "default_home.yaml").read_text(encoding="utf-8"))
    spec["devices"] = [d for d in spec["devices"] if d.get("type") != "camera"]
    home = SimHome(spec=SimHomeSpec.model_validate(spec), ip_base=random_loopback_base())
    home.start()
    try:
        asyncio.run(run(home, args.seconds, args.poll))
    finally:
        home.stop()


if __name__ == "__main__":
    main()
