"""Learning the pool controller: explore it, the scripted model's draft, checks, live read; calls and seconds.

Usage: python bench/learn.py [--runs 3] [--refusals 1]

Starts the simulated pool/spa controller (devices/sim/pool.py) and a scripted OpenAI-compatible model on loopback
(tests/fakes/openai_server.py), then runs claw.learn.service.LearnService.learn --runs times: GET-only
exploration (<= 24 requests, 64 KiB, 10 s), the model's draft (the first --refusals drafts address another host
and are refused and sent back), the draft's checks and replay, the live read-only check, the stored version.
Prints one JSON line with model calls and wall seconds; targets <= 3 calls and <= 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from claw.agent.llm import LLMClient  # noqa: E402
from claw.config import Settings  # noqa: E402
from claw.learn.service import LearnService  # noqa: E402
from devices.discovery.matching import Found  # noqa: E402
from devices.learn.demo import demo_draft_for  # noqa: E402
from devices.sim.home import random_loopback_base  # noqa: E402
from devices.sim.pool import SimPool  # noqa: E402
from memory.store import Store  # noqa: E402
from tests.fakes.openai_server import ScriptedOpenAI, reply  # noqa: E402

TARGET_CALLS, TARGET_S = 3, 30.0


async def main(runs: int, refusals: int) -> dict[str, object]:
    pool = SimPool(host=random_loopback_base()).start()
    model = ScriptedOpenAI().start()
    walls, calls, requests, explore_s = [], [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(_env_file=None, data_dir=Path(tmp))  # type: ignore[call-arg]
            store = Store.memory()
            llm = LLMClient(model.base_url, "scripted-model", timeout=30)
            service = LearnService(store, None, None, llm, settings)
            for _ in range(runs):
                model.push(*[reply(demo_draft_for("127.0.0.1:1"))] * refusals, reply(demo_draft_for(pool.address)))
                before = len(model.requests)
                started = time.monotonic()
                proposal = await service.learn(Found(pool.address, announced={"Pool Controller"}), "pool controller")
                walls.append(time.monotonic() - started)
                calls.append(len(model.requests) - before)
                requests.append(len(proposal.exploration.sent()))
                explore_s.append(proposal.exploration.seconds)
                assert proposal.calls == calls[-1]
            await llm.aclose()
            store.close()
    finally:
        model.stop()
        pool.stop()
    return {"runs": runs, "refusals_each": refusals, "model_calls_max": max(calls),
            "probe_requests": max(requests), "explore_s_median": round(statistics.median(explore_s), 3),
            "wall_s_median": round(statistics.median(walls), 3), "wall_s_max": round(max(walls), 3),
            "target_calls": TARGET_CALLS, "target_s": TARGET_S,
            "ok": max(calls) <= TARGET_CALLS and max(walls) <= TARGET_S}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--refusals", type=int, default=1, choices=(0, 1, 2))
    args = parser.parse_args()
    report = asyncio.run(main(args.runs, args.refusals))
    print(json.dumps(report))
    sys.exit(0 if report["ok"] else 1)
