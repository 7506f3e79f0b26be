"""Learning the pool controller over the chat path: scan, explore, the scripted model's draft, the owner's YES,
the first write held for a YES, then "set the pool to 28 degrees" through the normal local tier."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from claw.config import LLMSettings
from claw.events import InboundMessage, TurnResult
from claw.runtime import Claw
from devices.learn.demo import demo_draft_for
from devices.sim.announce import Announcement, LoopbackAnnouncer
from devices.sim.home import random_loopback_base
from devices.sim.pool import SimPool
from tests.conftest import make_settings
from tests.fakes.openai_server import ScriptedOpenAI, reply

GENERIC_HTTP = "_http._tcp.local."


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[SimPool]:
    """The pool controller on a random loopback address, announced as plain _http._tcp."""
    sim = SimPool(host=random_loopback_base()).start()
    announcer = await LoopbackAnnouncer([Announcement(GENERIC_HTTP, "Pool Controller", sim.address, {})]).start()
    try:
        yield sim
    finally:
        await announcer.stop()
        sim.stop()


async def say(claw: Claw, text: str, standing: str = "owner") -> TurnResult:
    return await claw.agent.ask(InboundMessage("web", claw.settings.owner, text,
                                               standing=standing))  # type: ignore[arg-type]


async def claw_for(tmp_path: Path, model: ScriptedOpenAI | None, device: str) -> Claw:
    """A claw whose scans listen on loopback (longer: the machine may be loaded) and keep only `device`'s
    address: other processes on this machine may announce their own pool controllers there."""
    llm = LLMSettings(base_url=model.base_url, model="scripted-model") if model else LLMSettings()
    host = device.rsplit(":", 1)[0]
    claw = Claw(make_settings(tmp_path, device_timeout=2.0, llm=llm,
                              discovery={"interfaces": ["127.0.0.1"], "timeout": 2.0, "subnets": [f"{host}/32"]}))
    await claw.start()
    return claw


async def test_learn_approve_first_write_needs_yes_then_set_the_pool(pool: SimPool, scripted: ScriptedOpenAI,
                                                                     tmp_path: Path) -> None:
    wrong_host = demo_draft_for("127.0.0.1:1")  # the first draft addresses another host: refused, sent back
    scripted.push(reply(f"```yaml\n{wrong_host}```"), reply(demo_draft_for(pool.address)))
    claw = await claw_for(tmp_path, scripted, pool.address)
    try:
        asked = await say(claw, "learn the pool controller")
        assert "scanned the network first" in asked.reply
        assert "2 call(s)" in asked.reply, asked.reply  # one refusal sent back, then a good draft
        assert len(scripted.requests) == 2
        refusal = scripted.requests[1]["messages"][-1]["content"]
        assert "may only address http://" + pool.address in refusal
        for line in ("POST /api/v1/pool/setpoint {\"setpoint_c\": \"{temperature}\"}", "GET /api/v1/status"):
            assert line in asked.reply  # every request it would send
        assert "Reply YES" in asked.reply
        assert {m for m, _ in pool.requests} == {"GET"}  # exploring and the live check only read
        assert pool.state["pool"]["setpoint_c"] == 27.0
        prompt = scripted.requests[0]["messages"][1]["content"]
        assert "<<untrusted device data: probe of " + pool.address in prompt and "PoolPilot 300" in prompt
        assert claw.store.adapter_versions("poolpilot")[0]["status"] == "draft"
        assert not [d for d in claw.registry.all() if d.name == "pool"]

        done = await say(claw, "yes")
        assert "approved" in done.reply and done.tier == "confirm"
        row = claw.store.adapter_current("poolpilot")
        assert row is not None and row["status"] == "approved" and row["host"] == pool.address
        assert row["approved_by"] == claw.settings.owner and row["source"] == "learned"
        device = next(d for d in claw.registry.all() if d.name == "pool")
        assert device.kind == "climate" and "pool controller" in device.aliases
        assert device.id == f"serial:{pool.serial}" and device.attrs["adapter_trusted"] is False

        first = await say(claw, "set the pool to 25 degrees")  # within the safe range: held only as a first write
        assert "newly learned adapter" in first.reply and "YES" in first.reply
        assert pool.state["pool"]["setpoint_c"] == 27.0  # nothing sent yet
        await say(claw, "yes")
        assert pool.state["pool"]["setpoint_c"] == 25.0
        assert claw.registry.get(device.id).attrs["adapter_trusted"] is True
        assert (claw.store.device_get(device.id) or {})["attrs"]["adapter_trusted"] is True

        second = await say(claw, "set the pool to 24 degrees")  # normal policy now: no question
        assert "YES" not in second.reply and pool.state["pool"]["setpoint_c"] == 24.0
        hot = await say(claw, "set the pool to 28 degrees")  # above hvac_max: normal policy asks
        assert "YES" in hot.reply and "newly learned" not in hot.reply
        await say(claw, "yes")
        assert pool.state["pool"]["setpoint_c"] == 28.0
        assert ("POST /api/v1/pool/setpoint", {"pool.setpoint_c": 28}) in pool.commands
        state = await claw.registry.state(device.id)
        assert state["target_temperature"] == 28.0 and state["current_temperature"] == 26.5
        rescan = await claw.learning.service.scan()  # the learned adapter's matcher now knows it
        found = next(f for f in rescan.found if f.address == pool.address)
        assert found.adapter == "poolpilot" and found.device_id == device.id
    finally:
        await claw.stop()


async def test_reject_and_the_learned_adapter_survives_a_restart(pool: SimPool, scripted: ScriptedOpenAI,
                                                                 tmp_path: Path) -> None:
    scripted.push(reply(demo_draft_for(pool.address)))
    claw = await claw_for(tmp_path, scripted, pool.address)
    try:
        learned = await say(claw, "learn the pool controller")
        assert "Reply YES" in learned.reply, learned.reply
        rejected = await say(claw, "reject it")
        assert "Rejected" in rejected.reply
        assert claw.store.adapter_versions("poolpilot")[0]["status"] == "rejected"
        await say(claw, "learn the pool controller")  # the scan of this process is reused
        assert await say(claw, "no") is not None
        assert [r["status"] for r in claw.store.adapter_versions("poolpilot")] == ["rejected", "rejected"]
        await say(claw, "learn the pool controller")
        assert "approved" in (await say(claw, "approve")).reply
        assert [r["version"] for r in claw.store.adapter_versions("poolpilot")] == [1, 2, 3]
    finally:
        await claw.stop()
    again = await claw_for(tmp_path, None, pool.address)  # the approved version and the device are loaded at start
    try:
        device = next(d for d in again.registry.all() if d.name == "pool")
        assert device.adapter == "poolpilot" and device.attrs["adapter_trusted"] is False
        assert (await again.registry.state(device.id))["target_temperature"] == 27.0
    finally:
        await again.stop()


async def test_without_a_model_the_demo_draft_is_said_plainly(pool: SimPool, tmp_path: Path) -> None:
    claw = await claw_for(tmp_path, None, pool.address)
    try:
        asked = await say(claw, "learn the pool controller")
        assert "No language model is configured, so I used the demo's built-in draft for this device" in asked.reply
        assert "POST /api/v1/pool/setpoint" in asked.reply
    finally:
        await claw.stop()


async def test_guests_cannot_learn(pool: SimPool, tmp_path: Path) -> None:
    claw = await claw_for(tmp_path, None, pool.address)
    try:
        asked = await say(claw, "learn the pool controller", standing="guest")
        assert "Only the owner" in asked.reply and pool.requests == []
        assert claw.store.adapter_versions() == []
        pending = claw.store.confirmation_pending(claw.settings.owner, time.time())
        assert pending is None
    finally:
        await claw.stop()


class OtherPool(SimPool):
    MODEL = "AquaBrain 9"  # not the demo's controller: no built-in draft for it


async def test_without_a_model_another_device_gets_its_fingerprint_and_a_pointer(tmp_path: Path) -> None:
    sim = OtherPool(host=random_loopback_base(), name="Garden Gadget").start()
    announcer = await LoopbackAnnouncer([Announcement(GENERIC_HTTP, "Garden Gadget", sim.address, {})]).start()
    claw = await claw_for(tmp_path, None, sim.address)
    try:
        asked = await say(claw, "learn the garden gadget")
        assert "No language model is configured, so I can't draft an adapter" in asked.reply
        assert f"Address: {sim.address}" in asked.reply and "Garden Gadget" in asked.reply
        assert "/api/v1/status (keys: pool, spa, fw, serial" in asked.reply
        assert "claw adapters check FILE --device HOST:PORT" in asked.reply
        assert claw.store.adapter_versions() == [] and {m for m, _ in sim.requests} == {"GET"}
        unknown = await say(claw, "learn the fridge")
        assert "No unknown device is called “the fridge”" in unknown.reply and "Garden Gadget" in unknown.reply
    finally:
        await claw.stop()
        await announcer.stop()
        sim.stop()
