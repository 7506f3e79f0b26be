"""Routines at scale against the simulated home: start-up with 1,000 routines, slot -> first step, chat-turn delay.

Usage: python bench/routines.py [--routines 1000] [--seconds 50] [--per-second 2] [--burst 100]
                                [--chat-seconds 180] [--together 1] [--no-give-way]
The simulated home runs in a child process (real devices are not the claw's CPU). Prints: the start-up the
routines add (claw start -> scheduler ready, with 0 vs N routines, median of 3); with N routines registered, how
late each firing routine's first step (a device command) starts after its slot, through APScheduler: p50/p99
spread (a few due each second) and in a burst (many due in the same second); and local chat turns paced every
0.1 s, every other one started just as `--together` routines fire: p50/p99 of both and the difference.
Issue targets: first step p99 <= 50 ms; start-up added <= 1 s; turn delay p99 <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from claw.config import Settings  # noqa: E402
from claw.events import InboundMessage  # noqa: E402
from claw.routines.model import UTC, Daily, DeviceStep, Interval, Once, Routine, SayStep, Sun, routine_row  # noqa: E402
from claw.runtime import Claw  # noqa: E402
from devices.models import Device  # noqa: E402

ZONE = "Europe/London"
TURNS = ["turn on the living room lamp", "turn off the living room lamp"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir,  # type: ignore[call-arg]
                    routines={"timezone": ZONE, "latitude": 51.5, "longitude": -0.12})


def registered(n: int, devices: list[Device]) -> list[Routine]:
    """n routines that do not fire during the benchmark: daily, weekdays, hourly, sunset, a one-shot next year."""
    light = next(d.id for d in devices if d.name == "kitchen light")
    far = dt.datetime.now(UTC) + dt.timedelta(days=300)
    hour = (dt.datetime.now(UTC).hour + 12) % 24
    kinds = [Daily(dt.time(hour, 0)), Daily(dt.time(hour, 30), frozenset(range(5))),
             Interval(86400, far), Sun("sunset", -900), Once(far)]
    return [Routine(name=f"registered {i}", trigger=kinds[i % len(kinds)], steps=(DeviceStep(light, "turn_on"),),
                    tz=ZONE, anchor=time.time()) for i in range(n)]


def firing(slots: list[dt.datetime], devices: list[Device], tag: str) -> list[Routine]:
    lights = [d.id for d in devices if d.name in ("kitchen light", "bedroom light", "hallway light")]
    return [Routine(name=f"{tag} {i}", trigger=Once(slot), tz=ZONE, anchor=time.time(),
                    steps=(DeviceStep(lights[i % len(lights)], "turn_on" if i % 2 else "turn_off"), SayStep("ok")))
            for i, slot in enumerate(slots)]


def add_all(claw: Claw, routines: list[Routine]) -> list[int]:
    return [claw.store.routine_add(routine_row(r)) for r in routines]


async def startup(data_dir: Path, devices: list[Device]) -> float:
    claw = Claw(settings(data_dir), devices=devices)
    t0 = time.perf_counter()
    await claw.start(dispatch=False)
    await asyncio.wait_for(claw.scheduler.ready.wait(), 60)
    took = time.perf_counter() - t0
    await claw.stop()
    return took


def first_step_delays(claw: Claw, ids: list[int]) -> list[float]:
    out = []
    for routine_id in ids:
        [run] = claw.store.runs_recent(routine_id, limit=1) or [None]
        steps = claw.store.steps_of(int(run["id"])) if run else []
        if run and steps:
            out.append((float(steps[0]["started_at"]) - float(run["slot_utc"])) * 1000)
    return out


async def chat_delay(claw: Claw, routines: list[Routine], seconds: float, together: int,
                     period: float = 0.1) -> tuple[list[float], list[float]]:
    """Chat turns paced every `period` s for `seconds`; before every other one, `together` routines are handed
    to the scheduler as due now (the path APScheduler's executor takes), so that turn runs while they fire and
    the next one runs on its own. Returns the turn latencies (ms): (quiet, while routines fire)."""
    quiet: list[float] = []
    busy: list[float] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    k, used = 0, 0
    while loop.time() - t0 < seconds:
        await asyncio.sleep(max(0.0, t0 + k * period - loop.time()))
        firing = k % 2 == 1 and used + together <= len(routines) and together > 0
        if firing:
            now = dt.datetime.now(UTC)
            for routine in routines[used:used + together]:
                claw.scheduler.routines[routine.id] = routine
                claw.scheduler._due(str(routine.id), now)
            used += together
        start = time.perf_counter()
        await claw.agent.ask(InboundMessage("bench", "bench", TURNS[k % 2], standing="owner"))
        (busy if k % 2 == 1 else quiet).append((time.perf_counter() - start) * 1000)
        k += 1
    await claw.scheduler.idle()
    return quiet, busy


SIM_CHILD = """
import json, sys
from devices.sim.home import SimHome, random_loopback_base
home = SimHome.load(ip_base=random_loopback_base())
devices = home.start()
print(json.dumps([d.to_dict() for d in devices]), flush=True)
sys.stdin.read()
home.stop()
"""


def start_sim() -> tuple[subprocess.Popen[str], list[Device]]:
    """The simulated home in a child process, as real devices are outside the claw (its servers' CPU is not the
    claw's); returns the process (stopped by closing its stdin) and its devices."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", SIM_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env, cwd=REPO)
    assert proc.stdout is not None
    return proc, [Device.from_dict(d) for d in json.loads(proc.stdout.readline())]


async def run(n: int, seconds: int, per_second: int, burst: int, chat_seconds: float, together: int,
              give_way: bool) -> None:
    sim, devices = start_sim()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            empty, full = Path(tmp) / "empty", Path(tmp) / "full"
            seed = Claw(settings(full), devices=devices)
            add_all(seed, registered(n, devices))
            seed.store.close()
            await startup(Path(tmp) / "warm", devices)  # first-use costs (imports) out of the way
            base = [await startup(empty, devices) for _ in range(3)]
            loaded = [await startup(full, devices) for _ in range(3)]
            print(f"start-up: claw start -> scheduler ready: 0 routines {statistics.median(base) * 1000:.0f} ms, "
                  f"{n} routines {statistics.median(loaded) * 1000:.0f} ms; added "
                  f"{(statistics.median(loaded) - statistics.median(base)) * 1000:.0f} ms (target <= 1000 ms)")

            claw = Claw(settings(full), devices=devices)
            if not give_way:  # for comparison: routine steps do not wait for people's turns in flight
                claw.routine_runner.give_way = None
            await claw.start(dispatch=False)
            await claw.scheduler.ready.wait()
            try:
                for text in TURNS * 10:  # warm-up
                    await claw.agent.ask(InboundMessage("bench", "bench", text, standing="owner"))
                start = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(seconds=2)
                slots = [start + dt.timedelta(seconds=s) for s in range(seconds) for _ in range(per_second)]
                spread = add_all(claw, firing(slots, devices, "spread"))
                claw.scheduler.changed()
                await asyncio.sleep((slots[-1] - dt.datetime.now(UTC)).total_seconds() + 1.5)
                await claw.scheduler.idle()
                spread_ms = first_step_delays(claw, spread)

                far = dt.datetime.now(UTC) + dt.timedelta(days=200)
                handed = [claw.routines.get(i) for i in add_all(claw, firing([far] * 2000, devices, "handed"))]
                quiet_turns, busy_turns = await chat_delay(claw, handed, chat_seconds, together)

                at = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(seconds=3)
                burst_ids = add_all(claw, firing([at] * burst, devices, "burst"))
                claw.scheduler.changed()
                await asyncio.sleep((at - dt.datetime.now(UTC)).total_seconds() + 1.5)
                await claw.scheduler.idle()
                burst_ms = first_step_delays(claw, burst_ids)
            finally:
                await claw.stop()
    finally:
        assert sim.stdin is not None
        sim.stdin.close()
        sim.wait(timeout=30)
    print(f"slot -> first step started, {n} routines registered:")
    print(f"  spread ({per_second} due each second for {seconds} s, {len(spread_ms)} runs): "
          f"p50 {pct(spread_ms, 50):.1f} ms  p99 {pct(spread_ms, 99):.1f} ms  max {max(spread_ms, default=0):.1f} ms "
          f"(target p99 <= 50 ms)")
    print(f"  burst ({burst} due in the same second, {len(burst_ms)} runs): p50 {pct(burst_ms, 50):.1f} ms"
          f"  p99 {pct(burst_ms, 99):.1f} ms")
    print(f"chat turns (local tier, a device command each), {len(quiet_turns)} alone vs {len(busy_turns)} started as "
          f"{together} routine(s) fire (a device command and a message each):")
    print(f"  turn p50 {pct(quiet_turns, 50):.2f} vs {pct(busy_turns, 50):.2f} ms; p99 {pct(quiet_turns, 99):.2f} vs "
          f"{pct(busy_turns, 99):.2f} ms; delay p50 {pct(busy_turns, 50) - pct(quiet_turns, 50):+.2f} ms, "
          f"p99 {pct(busy_turns, 99) - pct(quiet_turns, 99):+.2f} ms (target p99 <= 5 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routines", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=50, help="seconds with routines due (spread)")
    parser.add_argument("--per-second", type=int, default=2, help="routines due each of those seconds")
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--chat-seconds", type=float, default=180.0, help="how long chat turns are paced")
    parser.add_argument("--together", type=int, default=1,
                        help="routines firing as one chat turn starts (0: the noise floor, both halves alone)")
    parser.add_argument("--no-give-way", action="store_true",
                        help="routine steps do not wait for people's turns in flight (for comparison)")
    args = parser.parse_args()
    asyncio.run(run(args.routines, args.seconds, args.per_second, args.burst, args.chat_seconds, args.together,
                    not args.no_give_way))


if __name__ == "__main__":
    main()
