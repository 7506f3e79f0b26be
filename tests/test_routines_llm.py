"""Routines through the LLM tool: a scripted model proposes, the code describes and asks, the owner's YES creates;
guests are refused, bad arguments come back as tool errors, and the model's own "reply YES" confirms nothing."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from claw.config import LLMSettings
from claw.events import InboundMessage, TurnResult
from claw.routines.clock import ManualClock
from claw.routines.model import UTC, DeviceStep, SayStep, WaitStep
from claw.routines.triggers import describe_trigger
from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.conftest import make_settings
from tests.fakes.openai_server import ScriptedOpenAI, call, calls, reply, status

pytestmark = pytest.mark.asyncio(loop_scope="module")
LONDON = "Europe/London"
T0 = dt.datetime(2030, 1, 7, 6, 0, tzinfo=UTC)  # a Monday, 06:00 in London
GUEST = "+15550001111"


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedOpenAI]:
    server = ScriptedOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def claw(shared_home: SimHome, tmp_path_factory: pytest.TempPathFactory, clock: ManualClock,
               model: ScriptedOpenAI) -> AsyncIterator[Claw]:
    settings = make_settings(tmp_path_factory.mktemp("llm"), device_timeout=2.0,
                             llm=LLMSettings(base_url=model.base_url, model="scripted-model"),
                             routines={"timezone": LONDON, "latitude": 51.5, "longitude": -0.12})
    c = Claw(settings, devices=shared_home.devices, clock=clock)
    await c.start(routines=False)
    yield c
    await c.stop()


@pytest.fixture
def home(shared_home: SimHome, claw: Claw, clock: ManualClock, model: ScriptedOpenAI) -> SimHome:
    shared_home.reset()
    clock.set(T0)
    for routine in claw.routines.list():
        claw.routines.delete(routine.id)
    pending = claw.store.confirmation_pending(claw.settings.owner, time.time())
    if pending:
        claw.store.confirmation_resolve(pending["id"], "declined")
    with model._lock:
        model.script, model._index = [], 0
        model.requests.clear()
    return shared_home


async def say(claw: Claw, text: str, sender: str | None = None, standing: str = "owner") -> TurnResult:
    return await claw.agent.ask(InboundMessage("web", sender or claw.settings.owner, text,
                                               standing=standing))  # type: ignore[arg-type]


def tool_result(model: ScriptedOpenAI) -> str:
    """What the model saw from its (first) tool call."""
    message = model.requests[1]["messages"][-1]
    assert message["role"] == "tool"
    return str(message["content"])


MORNING = {"when": "weekdays 07:00", "name": "school run",
           "steps": [{"device": "kitchen light", "command": "set_brightness", "args": {"brightness": 40}},
                     {"wait": "30s"}, {"device": "front door", "command": "unlock"},
                     {"say": "Time to go"}]}


async def test_tool_proposes_and_the_owners_yes_creates(claw: Claw, home: SimHome, model: ScriptedOpenAI) -> None:
    model.push(calls(call("propose_routine", MORNING)),
               reply("I've set that up for you! Just reply YES to confirm."))
    asked = await say(claw, "on school days, at seven, light the kitchen softly and let the kids out")
    assert asked.tier == "llm"
    assert claw.routines.list() == []  # the tool never creates
    assert "not created yet" in tool_result(model) and "do not ask them to reply YES" in tool_result(model)
    assert "every weekday at 07:00" in asked.reply and "school run" in asked.reply
    assert "Mon 7 Jan" in asked.reply or "Tue 8 Jan" in asked.reply  # the next times, written by the code
    assert "unlock the front door" in asked.reply  # the risky step the YES lets it do unattended
    assert asked.reply.count("YES") == 1 and "Just reply YES" not in asked.reply  # the code's prompt only
    assert home.sim("front door").commands == []
    pending = claw.store.confirmation_pending(claw.settings.owner, time.time())
    assert pending is not None and pending["payload"]["kind"] == "routine_create"

    done = await say(claw, "yes")
    assert done.tier == "confirm" and len(model.requests) == 2  # the YES never reached the model
    (routine,) = claw.routines.list()
    assert routine.name == "school run"
    assert describe_trigger(routine.trigger, routine.tz) == f"every weekday at 07:00 ({LONDON})"
    names = {d.id: d.name for d in claw.registry.all()}
    kinds = [(names[s.device_id], s.command, dict(s.args), s.confirmed) if isinstance(s, DeviceStep) else
             (s.seconds if isinstance(s, WaitStep) else s.text if isinstance(s, SayStep) else s)
             for s in routine.steps]
    assert kinds == [("kitchen light", "set_brightness", {"brightness": 40}, False), 30.0,
                     ("front door", "unlock", {}, True), "Time to go"]


async def test_list_routines_is_read_only(claw: Claw, home: SimHome, model: ScriptedOpenAI) -> None:
    claw.routines.create({"name": "dusk", "when": "sunset -15m",
                          "steps": [{"device": "bedroom shade", "command": "close"}]})
    model.push(calls(call("list_routines")), reply("You have one routine, dusk."))
    asked = await say(claw, "which automations are set up?")
    seen = tool_result(model)
    assert "“dusk”" in seen and "15 minutes before sunset" in seen
    assert asked.reply == "You have one routine, dusk."
    assert [r.name for r in claw.routines.list()] == ["dusk"]
    assert claw.store.confirmation_pending(claw.settings.owner, time.time()) is None


async def test_guest_is_refused(claw: Claw, home: SimHome, model: ScriptedOpenAI) -> None:
    model.push(calls(call("propose_routine", {"when": "every 2h", "steps": [{"device": "front door",
                                                                              "command": "unlock"}]})),
               reply("Sorry, only the owner can set up routines."))
    asked = await say(claw, "unlock the door every two hours for me", sender=GUEST, standing="guest")
    assert tool_result(model).startswith("error: only the owner")
    assert "YES" not in asked.reply
    assert claw.routines.list() == []
    assert claw.store.confirmation_pending(GUEST, time.time()) is None
    assert claw.store.confirmation_pending(claw.settings.owner, time.time()) is None
    await say(claw, "yes", sender=GUEST, standing="guest")
    assert claw.routines.list() == []


@pytest.mark.parametrize(("arguments", "error"), [
    ({"when": "weekdays 07:00", "steps": [{"device": "garden gnome", "command": "turn_on"}]}, "garden gnome"),
    ({"when": "whenever it feels right", "steps": [{"say": "hi"}]}, "not a time of day"),
    ({"when": "every 2h", "steps": [{"device": "kitchen light", "command": "unlock"}]}, "unlock"),
    ({"when": "every 2h", "steps": [{"prompt": "unlock the front door"}]}, "a step is one of"),
    ({"when": "every 2h", "steps": []}, "at least one step"),
    ({"when": "once 2029-12-24 08:00", "steps": [{"say": "too late"}]}, "passed"),
])
async def test_bad_arguments_are_a_tool_error_and_nothing_is_stored(
        claw: Claw, home: SimHome, model: ScriptedOpenAI, arguments: dict[str, Any], error: str) -> None:
    model.push(calls(call("propose_routine", arguments)), reply("I could not set that up. Reply YES to retry."))
    asked = await say(claw, "make me a routine")
    seen = tool_result(model)
    assert seen.startswith("error:") and error in seen and "nothing was stored" in seen, seen
    assert "YES" not in asked.reply
    assert claw.routines.list() == []
    assert claw.store.confirmation_pending(claw.settings.owner, time.time()) is None
    assert (await say(claw, "yes")).tier == "intent"  # nothing to confirm
    assert claw.routines.list() == []


async def test_the_models_own_yes_request_confirms_nothing(claw: Claw, home: SimHome,
                                                           model: ScriptedOpenAI) -> None:
    model.push(reply("I'll turn the hallway light on every evening at 19:00. Reply YES to create it."))
    asked = await say(claw, "could the hallway light come on every evening")
    assert "YES" not in asked.reply and "19:00" in asked.reply
    answered = await say(claw, "YES")
    assert answered.tier == "intent" and len(model.requests) == 1
    assert claw.routines.list() == []
    assert home.sim("hallway light").commands == []


async def test_one_question_per_turn(claw: Claw, home: SimHome, model: ScriptedOpenAI) -> None:
    model.push(calls(call("control_device", {"device": "front door", "command": "unlock"}),
                     call("propose_routine", {"when": "every 2h", "steps": [{"say": "hi"}]})),
               reply("Both need your confirmation."))
    asked = await say(claw, "let the cleaner in and remind me every 2 hours")
    assert "one confirmation at a time" in str(model.requests[1]["messages"][-1]["content"])
    assert asked.reply.count("YES") == 1 and "unlock the front door" in asked.reply
    await say(claw, "yes")
    assert home.sim("front door").state["locked"] is False
    assert claw.routines.list() == []



async def test_a_turn_cut_short_after_the_proposal_still_shows_the_codes_question(
        claw: Claw, home: SimHome, model: ScriptedOpenAI) -> None:
    model.push(calls(call("propose_routine", {"when": "every 2h", "name": "hello", "steps": [{"say": "hi"}]})),
               status(500))
    cut = await say(claw, "say hi every couple of hours")
    assert cut.reply.startswith("Sorry, I could not finish")
    assert "every 2 hours" in cut.reply and cut.reply.count("YES") == 1  # what a YES now answers, in the code's words
    assert claw.routines.list() == []
    await say(claw, "yes")
    assert [(r.name, describe_trigger(r.trigger, r.tz)) for r in claw.routines.list()] == [("hello", "every 2 hours")]


async def test_a_device_question_after_the_proposal_replaces_it_and_says_so(
        claw: Claw, home: SimHome, model: ScriptedOpenAI) -> None:
    model.push(calls(call("propose_routine", {"when": "every 2h", "name": "hello", "steps": [{"say": "hi"}]})),
               calls(call("control_device", {"device": "front door", "command": "unlock"})), reply("Done."))
    asked = await say(claw, "say hi every 2 hours, and let the cleaner in")
    assert asked.reply.count("YES") == 1 and "unlock the front door" in asked.reply
    assert "“hello” was not proposed" in asked.reply
    await say(claw, "yes")
    assert home.sim("front door").state["locked"] is False
    assert claw.routines.list() == []
