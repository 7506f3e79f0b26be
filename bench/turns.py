"""Local-tier turn latency through the real path (inbox -> intent -> device -> outbox) vs bare hassil.

Usage: python bench/turns.py [--turns N] [--no-memory] [--noop-ab BLOCKS]
Prints, side by side in one run: p50/p99 per turn against the simulated home; hassil's recognize_best on the
same sentences with the claw's sentences merged in; and recognize_best with Home Assistant's sentences alone.
Issue targets: turn p50 <= 4x bare recognize_best; with the claw's sentences <= 1.3x HA's alone.
The sentences mix commands that act, no-ops (the device is already so: read, nothing sent) and questions.
--no-memory: the registry hands out no remembered state, so every command reads its device first.
--noop-ab: in one process, blocks of 3 rounds alternate between no no-op check, the check, and the check
without the memory (the first round of each block warms it up and is not counted); prints each mode's p50.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hassil import recognize_best  # noqa: E402

from claw.config import Settings  # noqa: E402
from claw.events import InboundMessage  # noqa: E402
from claw.intents.engine import ha_only_intents  # noqa: E402
from claw.runtime import Claw  # noqa: E402
from devices.sim.home import SimHome, random_loopback_base  # noqa: E402

SENTENCES = [
    "turn on the kitchen light",
    "turn off the kitchen light",
    "dim the living room lamp to 30%",
    "set the bedroom light to 80%",
    "pause the living room speaker",
    "resume the living room speaker",
    "set the kitchen speaker volume to 25",
    "set the thermostat to 20 degrees",
    "what's the temperature in the hallway?",
    "turn on the hallway light",
    "turn off the hallway light",
    "open the bedroom shade",
    "close the bedroom shade",
    "next track on the kitchen speaker",
    # no-ops: the device already shows it (after the first round, so do the lamp, bedroom light, volume and
    # thermostat settings above); the garage and the lock are read every time, a risky one asks nothing
    "close the garage door",
    "lock the front door",
    # questions
    "is the front door locked?",
    "are any lights on?",
]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run(turns: int, memory: bool = True) -> None:
    home = SimHome.load(ip_base=random_loopback_base())
    home.start()
    with tempfile.TemporaryDirectory() as tmp:
        claw = Claw(Settings(_env_file=None, data_dir=Path(tmp)), devices=home.devices)  # type: ignore[call-arg]
        await claw.start(dispatch=False)
        if not memory:
            claw.registry.known_seconds = 0
        try:
            for text in SENTENCES:  # warm-up: first-use costs (connections, caches)
                await claw.agent.ask(InboundMessage("bench", "bench", text, standing="owner"))
            times: list[float] = []
            tiers: dict[str, int] = {}
            quiet = 0  # turns that sent no device command (no-ops and questions)
            for i in range(turns):
                text = SENTENCES[i % len(SENTENCES)]
                t0 = time.perf_counter()
                result = await claw.agent.ask(InboundMessage("bench", "bench", text, standing="owner"))
                times.append((time.perf_counter() - t0) * 1000)
                tiers[result.tier] = tiers.get(result.tier, 0) + 1
                quiet += not result.actions
            engine = claw.intents
            ha_alone = ha_only_intents(engine.language)
            bare: list[float] = []
            alone: list[float] = []
            for i in range(turns):  # interleaved, so both see the same machine load
                text = SENTENCES[i % len(SENTENCES)]
                for intents, into in ((engine.intents, bare), (ha_alone, alone)):
                    t0 = time.perf_counter()
                    recognize_best(text, intents, slot_lists=engine.slot_lists,
                                   intent_context={"area": {"value": "\x00home", "text": ""}},
                                   language=engine.language, best_slot_name="name")
                    into.append((time.perf_counter() - t0) * 1000)
        finally:
            await claw.stop()
            home.stop()
    print(f"local-tier turns: {turns} over {len(SENTENCES)} sentences, tiers {tiers}, "
          f"{quiet} sent no command{'' if memory else ' (--no-memory)'}")
    print(f"  turn (inbox -> device done -> reply in outbox): p50 {pct(times, 50):.2f} ms  "
          f"p99 {pct(times, 99):.2f} ms  mean {statistics.fmean(times):.2f} ms")
    print(f"  bare hassil recognize_best:                     p50 {pct(bare, 50):.2f} ms  "
          f"p99 {pct(bare, 99):.2f} ms")
    print(f"  recognize_best, HA's sentences alone:           p50 {pct(alone, 50):.2f} ms  "
          f"p99 {pct(alone, 99):.2f} ms")
    print(f"  ratios: turn / bare p50 {pct(times, 50) / pct(bare, 50):.2f}x (target <= 4x); "
          f"claw+HA / HA alone p50 {pct(bare, 50) / pct(alone, 50):.2f}x, "
          f"mean {statistics.fmean(bare) / statistics.fmean(alone):.2f}x (target <= 1.3x)")


async def noop_ab(blocks: int) -> None:
    """The cost of no-op awareness, side by side under the same load (see the module's docstring)."""
    import claw.agent.local as local
    from claw.agent.satisfied import Checked, check_steps

    async def unchecked(*args: object, **kwargs: object) -> Checked:
        return Checked(args[4].steps)  # type: ignore[attr-defined]  # the plan

    modes = {"no check": (unchecked, None), "check": (check_steps, None), "check, no memory": (check_steps, 0.0)}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    home = SimHome.load(ip_base=random_loopback_base())
    home.start()
    with tempfile.TemporaryDirectory() as tmp:
        claw = Claw(Settings(_env_file=None, data_dir=Path(tmp)), devices=home.devices)  # type: ignore[call-arg]
        await claw.start(dispatch=False)
        default = claw.registry.known_seconds
        try:
            for _ in range(blocks):
                for mode, (check, memory) in modes.items():
                    local.check_steps = check  # type: ignore[assignment]
                    claw.registry.known_seconds = default if memory is None else memory
                    for i, text in enumerate(SENTENCES * 3):
                        t0 = time.perf_counter()
                        result = await claw.agent.ask(InboundMessage("bench", "bench", text, standing="owner"))
                        if result.tier == "confirm":  # without the check, "close the garage door" asks
                            await claw.agent.ask(InboundMessage("bench", "bench", "no", standing="owner"))
                        if i >= len(SENTENCES):
                            times[mode].append((time.perf_counter() - t0) * 1000)
        finally:
            local.check_steps = check_steps
            await claw.stop()
            home.stop()
    print(f"no-op awareness A/B: {blocks} blocks x 2 counted rounds of {len(SENTENCES)} sentences per mode")
    for mode, values in times.items():
        print(f"  {mode:17s} turn p50 {pct(values, 50):.2f} ms  p90 {pct(values, 90):.2f} ms  "
              f"mean {statistics.fmean(values):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--no-memory", action="store_true", help="no remembered device states (read every time)")
    parser.add_argument("--noop-ab", type=int, metavar="BLOCKS", help="the cost of no-op awareness, A/B")
    args = parser.parse_args()
    if args.noop_ab:
        asyncio.run(noop_ab(args.noop_ab))
    else:
        asyncio.run(run(args.turns, memory=not args.no_memory))


if __name__ == "__main__":
    main()
