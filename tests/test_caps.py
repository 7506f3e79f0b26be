"""Bounded everything: reply length in channel messages, tool calls per model step, device actions per turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from claw.channels.base import LocalChannel
from claw.config import LLMSettings
from claw.events import InboundMessage, TurnResult
from claw.replies.conversation import TRUNCATED, confirm_prompt
from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.conftest import make_settings
from tests.fakes.openai_server import ScriptedOpenAI, call, calls, reply

OWNER = "owner"
HUGE = "This sentence is part of an answer that never ends. " * 20_000  # ~1,000,000 characters

StartClaw = Callable[..., Awaitable[Claw]]


@pytest.fixture
async def start_claw(home: SimHome, tmp_path: Path, scripted: ScriptedOpenAI) -> AsyncIterator[StartClaw]:
    """Start a claw on the simulated home and the scripted model, with setting overrides."""
    claws: list[Claw] = []

    async def start(llm: dict[str, Any] | None = None, **overrides: Any) -> Claw:
        settings = make_settings(tmp_path / f"claw{len(claws)}", device_timeout=2.0,
                                 llm=LLMSettings(base_url=scripted.base_url, model="scripted-model", **(llm or {})),
                                 **overrides)
        c = Claw(settings, devices=home.devices)
        claws.append(c)
        await c.start()
        return c

    yield start
    for c in claws:
        await c.stop()


async def ask(claw: Claw, text: str, channel: str = "console") -> TurnResult:
    return await asyncio.wait_for(claw.agent.ask(InboundMessage(channel, OWNER, text, standing="owner")), 60)


def light_toggles(n: int, device: str = "kitchen light") -> list[dict[str, Any]]:
    return [call("control_device", {"device": device, "command": "turn_on" if i % 2 == 0 else "turn_off"})
            for i in range(n)]


# ------------------------------------------------------------------------------------------ replies


@pytest.mark.parametrize(("setting", "expected"), [(None, 4), (2, 2)], ids=["default", "configured"])
async def test_a_million_character_answer_is_cut_to_max_reply_messages(
        setting: int | None, expected: int, start_claw: StartClaw, scripted: ScriptedOpenAI) -> None:
    claw = await (start_claw() if setting is None else start_claw(max_reply_messages=setting))
    claw.add_channel(LocalChannel("web", max_length=1600))  # WhatsApp-sized messages
    assert len(HUGE) >= 1_000_000
    scripted.push(reply(HUGE))

    result = await ask(claw, "tell me everything you know, at length", channel="web")

    rows = claw.store.outbox_for_inbox(result.inbox_id)
    assert len(rows) == expected
    assert all(len(r["text"]) <= 1600 for r in rows)
    assert rows[-1]["text"].endswith(TRUNCATED)
    assert rows[0]["text"].startswith("This sentence is part of an answer")
    assert len(result.reply) <= expected * 1600 + expected and result.reply.endswith(TRUNCATED)
    stored = claw.store.turns_recent(OWNER, limit=1)[0]
    assert stored["role"] == "assistant" and stored["content"] == result.reply  # history holds what was sent

    scripted.push(reply("All quiet at home."))  # a short answer is left alone
    short = await ask(claw, "how is the house", channel="web")
    assert short.reply == "All quiet at home."
    assert [r["text"] for r in claw.store.outbox_for_inbox(short.inbox_id)] == ["All quiet at home."]


async def test_a_huge_answer_with_a_risky_call_keeps_the_code_prompt_whole(
        start_claw: StartClaw, scripted: ScriptedOpenAI, home: SimHome) -> None:
    claw = await start_claw()
    claw.add_channel(LocalChannel("web", max_length=1600))
    scripted.push(calls(call("control_device", {"device": "front door", "command": "unlock"})), reply(HUGE))

    result = await ask(claw, "let the cleaner in and tell me a long story", channel="web")

    rows = claw.store.outbox_for_inbox(result.inbox_id)
    prompt = confirm_prompt("unlock the front door", "unlocking a door", claw.settings.safety.confirm_seconds,
                            claw.soul.current().voice)
    assert len(rows) <= 4
    assert rows[-1]["text"].endswith(prompt)
    assert any(TRUNCATED in r["text"] for r in rows)
    await ask(claw, "yes", channel="web")
    assert home.sim("front door").state["locked"] is False and home.physical_commands() == 1


# ------------------------------------------------------------------------------ tool calls per step


async def test_a_thousand_tool_calls_in_one_step_run_at_most_max_tool_calls_per_step(
        start_claw: StartClaw, scripted: ScriptedOpenAI, home: SimHome) -> None:
    claw = await start_claw()
    cap = claw.settings.llm.max_tool_calls_per_step
    assert cap == 16
    scripted.push(calls(*light_toggles(1000)), reply("Disco!"))

    result = await ask(claw, "make the kitchen light flash")

    assert len(home.sim("kitchen light").commands) == cap
    assert home.physical_commands() == cap
    assert len(result.actions) == cap
    answered = [m for m in scripted.requests[1]["messages"] if m["role"] == "tool"]
    assert len(answered) == 1000  # every call id gets its answer, as the API requires
    refused = [m for m in answered if m["content"].startswith("error: not run, too many tool calls in one step")]
    assert len(refused) == 1000 - cap


async def test_max_tool_calls_per_step_is_a_setting(start_claw: StartClaw, scripted: ScriptedOpenAI,
                                                    home: SimHome) -> None:
    claw = await start_claw(llm={"max_tool_calls_per_step": 3})
    scripted.push(calls(*light_toggles(10)), reply("Done."))
    await ask(claw, "make the kitchen light flash")
    assert home.physical_commands() == 3


# -------------------------------------------------------------------------------- actions per turn


async def test_device_actions_per_turn_are_capped_across_steps(start_claw: StartClaw, scripted: ScriptedOpenAI,
                                                               home: SimHome) -> None:
    claw = await start_claw()
    cap = claw.settings.safety.max_actions_per_turn
    assert cap == 20
    scripted.push(calls(*light_toggles(16)), calls(*light_toggles(16, "bedroom light")),
                  calls(*light_toggles(16, "hallway light")), reply("Party mode."))

    result = await ask(claw, "party mode everywhere")

    assert home.physical_commands() == cap
    assert len(home.sim("kitchen light").commands) == 16 and len(home.sim("bedroom light").commands) == 4
    assert home.sim("hallway light").commands == []
    assert len(result.actions) == cap
    last = [m for m in scripted.requests[-1]["messages"] if m["role"] == "tool"][-16:]
    assert all("at most 20 device commands per turn" in m["content"] for m in last)


async def test_risky_steps_held_for_yes_count_towards_the_cap(start_claw: StartClaw, scripted: ScriptedOpenAI,
                                                              home: SimHome) -> None:
    claw = await start_claw(safety={"max_actions_per_turn": 2})
    scripted.push(calls(call("control_device", {"device": "front door", "command": "unlock"}),
                        call("control_device", {"device": "garage door", "command": "open"}),
                        call("control_device", {"device": "kitchen light", "command": "turn_on"})),
                  reply("Ready."))

    asked = await ask(claw, "the movers are here")

    assert home.physical_commands() == 0  # the two risky ones are held; the third is over the cap
    tool_results = [m["content"] for m in scripted.requests[1]["messages"] if m["role"] == "tool"]
    assert "at most 2 device commands per turn" in tool_results[-1]
    assert asked.reply.endswith(confirm_prompt("unlock the front door and open the garage door",
                                               "unlocking a door; moving a garage door",
                                               claw.settings.safety.confirm_seconds, claw.soul.current().voice))
    await ask(claw, "yes")
    assert home.physical_commands() == 2 and home.sim("kitchen light").commands == []
