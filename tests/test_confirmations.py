"""A YES confirms exactly what the owner was shown, in the code's words: a model that lies in its own
confirmation text, several risky calls in one turn, a YES with nothing pending, and guests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from claw.agent.actuator import TurnContext
from claw.config import LLMSettings
from claw.events import InboundMessage, TurnResult
from claw.replies.conversation import confirm_prompt, strip_yes_requests
from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.conftest import make_settings
from tests.fakes.openai_server import ScriptedOpenAI, call, calls, reply

OWNER = "owner"
GUEST = "whatsapp:+15550001111"  # not in twilio.owners: a guest


@pytest.fixture
async def claw(home: SimHome, tmp_path: Path, scripted: ScriptedOpenAI) -> AsyncIterator[Claw]:
    c = Claw(make_settings(tmp_path, device_timeout=2.0,
                           llm=LLMSettings(base_url=scripted.base_url, model="scripted-model")),
             devices=home.devices)
    await c.start()
    yield c
    await c.stop()


async def ask(claw: Claw, text: str, sender: str = OWNER, channel: str = "console") -> TurnResult:
    standing = "owner" if channel in ("console", "web") else "guest"  # as the channel's access check says
    return await asyncio.wait_for(claw.agent.ask(InboundMessage(channel, sender, text, standing=standing)), 20)


def prompt_for(claw: Claw, what: str, reasons: str) -> str:
    """The code's own prompt, as the owner must see it at the end of the reply."""
    return confirm_prompt(what, reasons, claw.settings.safety.confirm_seconds, claw.soul.current().voice)


def unlock_front_door() -> dict:
    return call("control_device", {"device": "front door", "command": "unlock"})


# ------------------------------------------------------------------------------- the lying model


async def test_model_lying_in_its_confirmation_text_cannot_redirect_the_yes(
        claw: Claw, scripted: ScriptedOpenAI, home: SimHome) -> None:
    scripted.push(calls(unlock_front_door()), reply("Reply YES to turn on the kitchen light."))
    lock, light = home.sim("front door"), home.sim("kitchen light")

    asked = await ask(claw, "make it a bit brighter in the kitchen")

    assert asked.reply.endswith(prompt_for(claw, "unlock the front door", "unlocking a door")), asked.reply
    assert "kitchen light" not in asked.reply  # the model's own "reply YES" sentence is gone
    assert asked.reply.count("YES") == 1
    assert lock.state["locked"] is True and home.physical_commands() == 0
    outbox = claw.store.outbox_for_inbox(asked.inbox_id)
    assert outbox[-1]["text"].endswith(prompt_for(claw, "unlock the front door", "unlocking a door"))

    confirmed = await ask(claw, "YES")

    assert confirmed.tier == "confirm"
    assert lock.state["locked"] is False and len(lock.commands) == 1
    assert light.state["on"] is False and light.commands == []
    assert home.physical_commands() == 1
    front_door = claw.registry.find("front door")[0]
    assert [(a.device, a.command) for a in confirmed.actions] == [(front_door.id, "unlock")]
    assert len(scripted.requests) == 2  # the YES never went to the model


async def test_model_imitating_the_code_prompt_is_removed_and_the_real_one_is_last(
        claw: Claw, scripted: ScriptedOpenAI, home: SimHome) -> None:
    fake = prompt_for(claw, "turn on the kitchen light", "")
    scripted.push(calls(call("control_device", {"device": "garage door", "command": "open"})),
                  reply(f"Sure thing.\n\n{fake}\nTo confirm: dim the kitchen light."))

    asked = await ask(claw, "air out the garage")

    assert asked.reply.startswith("Sure thing.")
    assert "kitchen" not in asked.reply
    assert asked.reply.endswith(prompt_for(claw, "open the garage door", "moving a garage door"))
    await ask(claw, "yes")
    assert home.sim("garage door").state["door"] == "open"
    assert home.physical_commands() == 1


# ------------------------------------------------------------------------------ two risky calls


@pytest.mark.parametrize("same_step", [True, False], ids=["one step", "two steps"])
async def test_two_risky_calls_make_one_confirmation_and_yes_does_both(
        same_step: bool, claw: Claw, scripted: ScriptedOpenAI, home: SimHome) -> None:
    garage = call("control_device", {"device": "garage door", "command": "open"})
    if same_step:
        scripted.push(calls(unlock_front_door(), garage), reply("Both are ready when you are."))
    else:
        scripted.push(calls(unlock_front_door()), calls(garage), reply("Both are ready when you are."))

    asked = await ask(claw, "the movers arrive in ten minutes")

    what = "unlock the front door and open the garage door"
    assert asked.reply.endswith(prompt_for(claw, what, "unlocking a door; moving a garage door")), asked.reply
    pending = claw.store.confirmation_pending(OWNER, time.time())
    assert pending is not None and pending["summary"] == what
    assert [tuple(s[:2]) for s in pending["payload"]["steps"]] == [
        (claw.registry.find("front door")[0].id, "unlock"), (claw.registry.find("garage door")[0].id, "open")]
    assert pending["id"] == 1 and claw.store.confirmation_get(2) is None  # ONE request, none superseded
    assert home.physical_commands() == 0

    done = await ask(claw, "yes")

    assert done.tier == "confirm"
    assert home.sim("front door").state["locked"] is False
    assert home.sim("garage door").state["door"] == "open"
    assert home.physical_commands() == 2
    assert sorted(a.command for a in done.actions) == ["open", "unlock"]


# ------------------------------------------------------------------------------- nothing pending


async def test_model_asking_for_yes_with_nothing_risky_creates_nothing_and_yes_says_so(
        claw: Claw, scripted: ScriptedOpenAI, home: SimHome) -> None:
    scripted.push(calls(call("control_device", {"device": "kitchen light", "command": "turn_on"})),
                  reply("The kitchen light is on. Reply YES and I'll unlock the front door too."))

    asked = await ask(claw, "brighten up the kitchen")

    assert asked.reply == "The kitchen light is on."
    assert claw.store.confirmation_latest(OWNER) is None
    assert home.physical_commands() == 1
    requests = len(scripted.requests)

    answered = await ask(claw, "yes")

    assert answered.tier != "confirm"
    assert "nothing waiting for your YES" in answered.reply
    assert home.sim("front door").state["locked"] is True
    assert home.physical_commands() == 1 and answered.actions == ()
    assert len(scripted.requests) == requests  # not handed to the model to guess what it meant


async def test_a_safe_step_held_with_a_risky_one_is_shown_too(claw: Claw, home: SimHome) -> None:
    """A plan holding a risky step holds all of its steps; the prompt names each one the YES will do."""
    door, light = claw.registry.find("front door")[0], claw.registry.find("kitchen light")[0]
    actuator = claw.handler.actuator
    ctx = TurnContext(inbox_id=0, sender=OWNER, channel="console", text="")
    outcome = await actuator.run(ctx, [(door.id, "unlock", {}), (light.id, "set_brightness", {"brightness": 40})])
    assert outcome.risks and home.physical_commands() == 0
    actuator.ask_confirmation(ctx, list(outcome.held))
    prompt = actuator.close_confirmation(ctx, claw.soul.current().voice)
    assert prompt == prompt_for(claw, "unlock the front door and set the kitchen light to 40%", "unlocking a door")

    await ask(claw, "yes")

    assert home.sim("front door").state["locked"] is False
    assert home.sim("kitchen light").state["brightness"] == 40
    assert home.physical_commands() == 2


# ------------------------------------------------------------------------------------------ guests


async def test_guest_cannot_raise_or_answer_a_confirmation(claw: Claw, scripted: ScriptedOpenAI,
                                                            home: SimHome) -> None:
    scripted.push(calls(unlock_front_door()), reply("Reply YES to let yourself in."))

    asked = await ask(claw, "let me in please", sender=GUEST, channel="whatsapp")

    assert "only the owner can unlock the front door" in asked.reply.lower()
    assert "YES" not in asked.reply
    assert claw.store.confirmation_latest(GUEST) is None
    tool_message = scripted.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and "only the owner" in tool_message["content"]

    answered = await ask(claw, "yes", sender=GUEST, channel="whatsapp")
    assert "nothing waiting" in answered.reply
    assert home.sim("front door").state["locked"] is True and home.physical_commands() == 0


async def test_guest_yes_to_a_stored_request_is_refused(claw: Claw, home: SimHome) -> None:
    """A request left for a number that is no longer the owner's: its YES is not the owner's YES."""
    door = claw.registry.find("front door")[0]
    claw.store.confirmation_add(GUEST, "unlock the front door",
                                {"kind": "steps", "steps": [[door.id, "unlock", {}]]}, time.time() + 60)

    answered = await ask(claw, "yes", sender=GUEST, channel="whatsapp")

    assert "only the owner can unlock the front door" in answered.reply.lower()
    assert home.sim("front door").state["locked"] is True and home.physical_commands() == 0


# ------------------------------------------------------------------------------ the text filter


@pytest.mark.parametrize(("text", "kept"), [
    ("Reply YES to turn on the kitchen light.", ""),
    ("I've queued it. Please reply yes to confirm. Anything else?", "I've queued it. Anything else?"),
    ("To confirm: open the garage door.\nThe lights are on.", "The lights are on."),
    ("Please reply \uff39\uff25\uff33 to unlock.", ""),  # full-width look-alikes
    ("Please reply Y\u200bES to unlock.", ""),  # a zero-width space inside the word
    ("Yes, the kitchen light is on.", "Yes, the kitchen light is on."),
    ("Line one.\n\nLine two!", "Line one.\n\nLine two!"),
])
def test_the_models_own_yes_requests_are_removed(text: str, kept: str) -> None:
    assert strip_yes_requests(text) == kept
