"""Routines by chat in the local tier: each phrasing stored as the right trigger and steps (through hassil, the
intent engine and the owner's YES), then run on the simulated home with a hand-driven clock; managing by chat."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from claw.routines.clock import ManualClock
from claw.routines.model import UTC, DeviceStep, Routine, SayStep
from claw.routines.triggers import describe_trigger, next_fire
from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.module_claw import clocked_claw, say

pytestmark = pytest.mark.asyncio(loop_scope="module")  # every test uses the module's claw
LONDON = "Europe/London"
T0 = dt.datetime(2030, 1, 7, 6, 0, tzinfo=UTC)  # a Monday, 06:00 in London (GMT)
L = f" ({LONDON})"

# phrase, the trigger in words (claw.routines.triggers.describe_trigger), the steps (device name, command, args)
# or ("say", text)
PHRASES: list[tuple[str, str, list[tuple[str, ...] | tuple[str, str, dict[str, Any]]]]] = [
    ("every weekday at 7 turn on the kitchen light", "every weekday at 07:00" + L,
     [("kitchen light", "turn_on", {})]),
    ("every day at 22:30 lock the front door", "every day at 22:30" + L, [("front door", "lock", {})]),
    ("at sunset close the bedroom shade", "at sunset every day" + L, [("bedroom shade", "close", {})]),
    ("30 minutes before sunrise open the bedroom shade", "30 minutes before sunrise every day" + L,
     [("bedroom shade", "open", {})]),
    ("at 11pm turn off the kitchen light", "once, on Mon 7 Jan 2030 23:00 GMT" + L,
     [("kitchen light", "turn_off", {})]),
    ("tomorrow at 8 open the bedroom shade", "once, on Tue 8 Jan 2030 08:00 GMT" + L,
     [("bedroom shade", "open", {})]),
    ("every 2 hours turn on the hallway light", "every 2 hours", [("hallway light", "turn_on", {})]),
    ("remind me at 6pm to water the plants", "once, on Mon 7 Jan 2030 18:00 GMT" + L, [("say", "water the plants")]),
    ("every weekend at 9:30 set the kitchen light to 40%", "every weekend day at 09:30" + L,
     [("kitchen light", "set_brightness", {"brightness": 40})]),
    ("on weekdays at 6.45 am turn on the hallway light", "every weekday at 06:45" + L,
     [("hallway light", "turn_on", {})]),
    ("every monday at 18:00 turn on the living room lamp", "every Monday at 18:00" + L,
     [("living room lamp", "turn_on", {})]),
    ("at dusk turn on the living room lamp", "at sunset every day" + L, [("living room lamp", "turn_on", {})]),
    ("at dawn open the bedroom blind", "at sunrise every day" + L, [("bedroom shade", "open", {})]),
    ("1 hour after sunset turn off the hallway light", "1 hour after sunset every day" + L,
     [("hallway light", "turn_off", {})]),
    ("every 30 minutes turn off the bedroom light", "every 30 minutes", [("bedroom light", "turn_off", {})]),
    ("every hour turn off the kitchen light", "every hour", [("kitchen light", "turn_off", {})]),
    ("tonight at 10pm turn off the bedroom light", "once, on Mon 7 Jan 2030 22:00 GMT" + L,
     [("bedroom light", "turn_off", {})]),
    ("at 7:15 set the thermostat to 21", "once, on Mon 7 Jan 2030 07:15 GMT" + L,
     [("hallway thermostat", "set_temperature", {"temperature": 21.0})]),
    ("at 5am turn on the kitchen light", "once, on Tue 8 Jan 2030 05:00 GMT" + L,  # 05:00 has passed: tomorrow
     [("kitchen light", "turn_on", {})]),
    ("tomorrow at 7am set the bedroom shade to 50%", "once, on Tue 8 Jan 2030 07:00 GMT" + L,
     [("bedroom shade", "set_position", {"position": 50})]),
    ("every day at noon open the bedroom shade", "every day at 12:00" + L, [("bedroom shade", "open", {})]),
    ("at midnight lock the front door", "once, on Tue 8 Jan 2030 00:00 GMT" + L, [("front door", "lock", {})]),
    ("remind me every weekday at 7 to take the bins out", "every weekday at 07:00" + L,
     [("say", "take the bins out")]),
    ("remind me tomorrow at 9 to call mum", "once, on Tue 8 Jan 2030 09:00 GMT" + L, [("say", "call mum")]),
    ("remind me in 20 minutes to check the oven", "once, on Mon 7 Jan 2030 06:20 GMT" + L,
     [("say", "check the oven")]),
    ("every weekday at 8 turn off the kitchen light and open the bedroom shade", "every weekday at 08:00" + L,
     [("kitchen light", "turn_off", {}), ("bedroom shade", "open", {})]),
    ("every weekday at 7 set the kitchen speaker volume to 30", "every weekday at 07:00" + L,
     [("Kitchen", "set_volume", {"volume": 30})]),
    ("every evening at 19:30 dim the living room lamp to 20%", "every day at 19:30" + L,
     [("living room lamp", "set_brightness", {"brightness": 20})]),
    ("every friday at 17:00 set the hallway thermostat to 22 degrees", "every Friday at 17:00" + L,
     [("hallway thermostat", "set_temperature", {"temperature": 22.0})]),
    ("daily at 6:30 turn on the bedroom light", "every day at 06:30" + L, [("bedroom light", "turn_on", {})]),
    ("every sunday at 10 turn on the kitchen light", "every Sunday at 10:00" + L, [("kitchen light", "turn_on", {})]),
    ("at 9pm close the bedroom shade", "once, on Mon 7 Jan 2030 21:00 GMT" + L, [("bedroom shade", "close", {})]),
]


clock, claw, home = clocked_claw(T0, "chat")


def owner_messages(claw: Claw) -> list[str]:
    rows = claw.store.db.query("SELECT text FROM outbox WHERE channel = 'web' AND recipient = ? ORDER BY id",
                               [claw.settings.owner])
    return [r["text"] for r in rows]


async def fire(claw: Claw, clock: ManualClock, routine: Routine) -> int:
    slot = next_fire(routine.trigger, clock.now(), claw.routines.where(routine.tz))
    assert slot is not None
    clock.set(slot + dt.timedelta(seconds=0.02))
    run_id = await claw.scheduler.fire(routine, slot)
    assert run_id is not None
    return run_id


def steps_of(claw: Claw, routine: Routine) -> list[tuple[Any, ...]]:
    names = {d.id: d.name for d in claw.registry.all()}
    return [(names[s.device_id], s.command, dict(s.args)) if isinstance(s, DeviceStep) else ("say", s.text)
            for s in routine.steps if isinstance(s, DeviceStep | SayStep)]


async def test_thirty_phrasings_are_stored_as_said_and_run_on_the_home(claw: Claw, home: SimHome,
                                                                      clock: ManualClock) -> None:
    assert len(PHRASES) >= 30
    for phrase, when, steps in PHRASES:
        for routine in claw.routines.list():
            claw.routines.delete(routine.id)
        clock.set(T0)
        proposed = await say(claw, phrase)
        assert proposed.tier == "confirm" and "Next:" in proposed.reply and "Reply YES" in proposed.reply, phrase
        assert claw.routines.list() == [], phrase  # nothing until the YES
        done = await say(claw, "yes")
        assert done.reply.startswith("Done."), (phrase, done.reply)
        [routine] = claw.routines.list()
        assert describe_trigger(routine.trigger, routine.tz) == when, phrase
        assert steps_of(claw, routine) == [tuple(s) for s in steps], phrase
        run_id = await fire(claw, clock, routine)
        run = claw.store.run_get(run_id)
        assert run is not None and run["status"] == "done", (phrase, run)
        audit = [a for a in claw.store.audit_recent() if a["key"].startswith(f"routine-run:{run_id}:")]
        devices = [s for s in steps if s[0] != "say"]
        assert sorted(a["command"] for a in audit if a["status"] == "done") == sorted(s[1] for s in devices), phrase
        if not devices:
            assert owner_messages(claw)[-1] == steps[0][1], phrase


async def test_the_runs_change_the_devices(claw: Claw, home: SimHome, clock: ManualClock) -> None:
    for phrase in ("every weekday at 7 turn on the kitchen light", "at sunset close the bedroom shade",
                   "every weekend at 9:30 set the living room lamp to 40%"):
        await say(claw, phrase)
        await say(claw, "yes")
    home.sim("bedroom shade").state["position"] = 100
    assert not home.sim("kitchen light").state["on"]
    await fire(claw, clock, claw.routines.get(_id(claw, "kitchen light")))
    assert home.sim("kitchen light").state["on"]
    await fire(claw, clock, claw.routines.get(_id(claw, "sunset")))
    assert home.sim("bedroom shade").state["position"] == 0
    clock.set(T0)
    await fire(claw, clock, claw.routines.get(_id(claw, "living room lamp")))  # Saturday 12 Jan 09:30
    assert home.sim("living room lamp").state["on"] and home.sim("living room lamp").state["brightness"] == 40


async def test_a_risky_step_is_confirmed_by_the_yes_at_creation(claw: Claw, home: SimHome,
                                                                clock: ManualClock) -> None:
    proposed = await say(claw, "at 8 unlock the front door")
    assert "it may then unlock the front door on its own" in proposed.reply
    await say(claw, "yes")
    [routine] = claw.routines.list()
    assert [s.confirmed for s in routine.steps if isinstance(s, DeviceStep)] == [True]
    await fire(claw, clock, routine)
    assert home.sim("front door").state["locked"] is False


async def test_a_declined_proposal_creates_nothing_and_nothing_runs(claw: Claw, home: SimHome) -> None:
    await say(claw, "every day at 7 open the garage door")
    result = await say(claw, "no")
    assert result.tier == "confirm" and claw.routines.list() == []
    assert home.sim("garage door").commands == []


async def test_a_guest_cannot_create_or_change_routines(claw: Claw, home: SimHome) -> None:
    await say(claw, "every weekday at 7 turn on the kitchen light")
    await say(claw, "yes")
    for text in ("every day at 7 open the garage door", "remind me at 6pm to water the plants",
                 "pause the 7am one", "delete the 7am one", "what routines do I have?"):
        result = await say(claw, text, sender="guest-1", standing="guest")
        assert "only the owner" in result.reply.lower(), text
    assert claw.store.confirmation_pending("guest-1", 0.0) is None
    [routine] = claw.routines.list()
    assert not routine.paused


async def test_managing_routines_by_chat(claw: Claw, home: SimHome, clock: ManualClock) -> None:
    for phrase in ("every weekday at 7 turn on the kitchen light", "at 11pm turn off the kitchen light",
                   "at sunset close the bedroom shade"):
        await say(claw, phrase)
        await say(claw, "yes")
    listed = await say(claw, "what routines do I have?")
    assert listed.reply.startswith("You have 3 routines:") and "every weekday at 07:00" in listed.reply
    which = await say(claw, "pause the kitchen light routine")
    assert which.reply.startswith("Which routine do you mean:")
    paused = await say(claw, "pause the 7am one")
    assert paused.reply.startswith("Paused “turn on the kitchen light")
    assert claw.routines.get("turn on the kitchen light, weekdays 07:00").paused
    resumed = await say(claw, "resume the 7am routine")
    assert resumed.reply.startswith("Resumed.") and not claw.routines.get(_id(claw, "weekdays")).paused
    deleted = await say(claw, "delete the 11pm one")
    assert deleted.reply == "Deleted the routine “turn off the kitchen light, today 23:00”."
    assert len(claw.routines.list()) == 2
    unknown = await say(claw, "delete the disco routine")
    assert "no routine called “disco”" in unknown.reply
    clock.set(T0 + dt.timedelta(hours=1, seconds=1))  # 07:00:01: the weekday one fires
    assert await claw.scheduler.fire(claw.routines.get(_id(claw, "weekdays")), T0 + dt.timedelta(hours=1))
    assert home.sim("kitchen light").state["on"]
    history = await say(claw, "what ran this morning?")
    assert "“turn on the kitchen light, weekdays 07:00”: done" in history.reply
    ran = await say(claw, "run the sunset one now")
    assert ran.reply == "Running “close the bedroom shade, sunset” now."


def _id(claw: Claw, part: str) -> int:
    return next(r.id for r in claw.routines.list() if part in r.name)


async def test_sentences_that_are_not_routines_are_left_alone(claw: Claw, home: SimHome) -> None:
    result = await say(claw, "turn on the kitchen light")
    assert result.reply.startswith("Done") and home.sim("kitchen light").state["on"]
    odd = await say(claw, "at the weekend turn on the kitchen light")
    assert claw.routines.list() == [] and odd.tier != "confirm"
    unknown = await say(claw, "every day at 7 turn on the disco ball")
    assert "not what to do" in unknown.reply and claw.routines.list() == []
