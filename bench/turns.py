"""Local-tier turn latency through the real path (inbox -> intent -> device -> outbox) vs bare hassil.

Usage: python bench/turns.py [--turns N]
Prints, side by side in one run: p50/p99 per turn against the simulated home; hassil's recognize_best on the
same sentences with the claw's sentences merged in; and recognize_best with Home Assistant's sentences alone.
Issue targets: turn p50 <= 4x bare recognize_best; with the claw's sentences <= 1.3x HA's alone.
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
]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def run(turns: int) -> None:
    home = SimHome.load(ip_base=random_loopback_base())
    home.start()
    with tempfile.TemporaryDirectory() as tmp:
        claw = Claw(Settings(_env_file=None, data_dir=Path(tmp)), devices=home.devices)  # type: ignore[call-arg]
        await claw.start(dispatch=False)
        try:
            for text in SENTENCES:  # warm-up: first-use costs (connections, caches)
                await claw.agent.ask(InboundMessage("bench", "bench", text, standing="owner"))
            times: list[float] = []
            tiers: dict[str, int] = {}
            for i in range(turns):
                text = SENTENCES[i % len(SENTENCES)]
                t0 = time.perf_counter()
                result = await claw.agent.ask(InboundMessage("bench", "bench", text, standing="owner"))
                times.append((time.perf_counter() - t0) * 1000)
                tiers[result.tier] = tiers.get(result.tier, 0) + 1
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
    print(f"local-tier turns: {turns} over {len(SENTENCES)} sentences, tiers {tiers}")
    print(f"  turn (inbox -> device done -> reply in outbox): p50 {pct(times, 50):.2f} ms  "
          f"p99 {pct(times, 99):.2f} ms  mean {statistics.fmean(times):.2f} ms")
    print(f"  bare hassil recognize_best:                     p50 {pct(bare, 50):.2f} ms  "
          f"p99 {pct(bare, 99):.2f} ms")
    print(f"  recognize_best, HA's sentences alone:           p50 {pct(alone, 50):.2f} ms  "
          f"p99 {pct(alone, 99):.2f} ms")
    print(f"  ratios: turn / bare p50 {pct(times, 50) / pct(bare, 50):.2f}x (target <= 4x); "
          f"claw+HA / HA alone p50 {pct(bare, 50) / pct(alone, 50):.2f}x, "
          f"mean {statistics.fmean(bare) / statistics.fmean(alone):.2f}x (target <= 1.3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500)
    asyncio.run(run(parser.parse_args().turns))


if __name__ == "__main__":
    main()
