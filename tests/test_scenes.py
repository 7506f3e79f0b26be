"""Scenes by chat on the simulated home: saved from the devices' state or from commands, applied by their name,
risky contents held for the owner's YES (by chat) or confirmed at a routine's creation; guests cannot define them."""

from __future__ import annotations

import datetime as dt

import pytest

from claw.routines.clock import ManualClock
from claw.routines.model import UTC, SceneStep
from claw.routines.triggers import next_fire
from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.module_claw import clocked_claw, say

pytestmark = pytest.mark.asyncio(loop_scope="module")  # every test uses the module's claw
T0 = dt.datetime(2030, 1, 7, 6, 0, tzinfo=UTC)


clock, claw, home = clocked_claw(T0, "scenes")


async def test_a_room_saved_as_a_scene_comes_back_by_its_name(claw: Claw, home: SimHome) -> None:
    await say(claw, "set the living room lamp to 30%")
    saved = await say(claw, "save the living room as movie night")
    assert saved.reply.startswith("Saved the scene “movie night”:") and "living room lamp to 30%" in saved.reply
    await say(claw, "turn off the living room lamp")
    await say(claw, "set the living room speaker volume to 60")
    assert not home.sim("living room lamp").state["on"]
    applied = await say(claw, "movie night")
    assert applied.reply.startswith("“movie night”:")
    lamp = home.sim("living room lamp").state
    assert lamp["on"] and lamp["brightness"] == 30
    assert home.sim("Living Room").state.volume == 20  # as it was when saved
    await say(claw, "turn off the living room lamp")
    await say(claw, "activate movie night")
    assert home.sim("living room lamp").state["on"]


async def test_save_this_keeps_the_mood_devices_not_the_locks(claw: Claw, home: SimHome) -> None:
    await say(claw, "turn on the kitchen light")
    await say(claw, "save this as cosy")
    calls = claw.scenes.calls("cosy")
    names = {d.id: d.name for d in claw.registry.all()}
    assert (names[calls[0][0]], calls[0][1]) == ("Living Room", "set_volume")
    assert ("kitchen light", "turn_on") in [(names[d], c) for d, c, _ in calls]
    assert not {"front door", "garage door", "hallway thermostat"} & {names[d] for d, _, _ in calls}


async def test_a_scene_defined_by_commands(claw: Claw, home: SimHome) -> None:
    home.sim("front door").state["locked"] = False
    await say(claw, "turn on the kitchen light")
    await say(claw, "turn on the bedroom light")
    saved = await say(claw, "good night means lights off, front door locked, thermostat 18")
    assert saved.reply.startswith("Saved the scene “good night”:"), saved.reply
    assert "lock the front door" in saved.reply and "18 °C" in saved.reply
    applied = await say(claw, "Good night!")
    assert applied.tier == "intent", applied.reply
    assert not home.sim("kitchen light").state["on"] and not home.sim("bedroom light").state["on"]
    assert home.sim("front door").state["locked"] is True  # locking is not risky: no YES needed
    assert home.sim("hallway thermostat").state["target"] == 18


async def test_a_scene_with_a_part_not_understood_is_not_saved(claw: Claw, home: SimHome) -> None:
    result = await say(claw, "party means turn on all the lights, make me a sandwich")
    assert "I did not understand “make me a sandwich”" in result.reply and "nothing was saved" in result.reply
    assert claw.scenes.names() == []
    taken = await say(claw, "lights off means kitchen light on")
    assert "“lights off” already means something to me" in taken.reply and claw.scenes.names() == []
    unknown = await say(claw, "activate disco")
    assert unknown.reply.startswith("I have no scene called “disco”")


async def test_risky_contents_wait_for_the_owners_yes_by_chat(claw: Claw, home: SimHome) -> None:
    await say(claw, "leaving means hallway light off, garage door open")
    held = await say(claw, "leaving")
    assert held.tier == "confirm" and "Reply YES" in held.reply
    assert home.sim("garage door").state["door"] == "closed"
    await say(claw, "yes")
    assert home.sim("garage door").state["door"] == "open"


async def test_a_scene_in_a_routine_names_its_risky_contents_and_runs_once_confirmed(
        claw: Claw, home: SimHome, clock: ManualClock) -> None:
    await say(claw, "leaving means hallway light off, garage door open")
    proposed = await say(claw, "every weekday at 8:15 leaving")
    assert "apply the scene “leaving”" in proposed.reply
    assert "it may then open the garage door on its own" in proposed.reply
    await say(claw, "yes")
    [routine] = claw.routines.list()
    assert routine.steps == (SceneStep("leaving", confirmed=True),)
    slot = next_fire(routine.trigger, clock.now(), claw.routines.where(routine.tz))
    assert slot is not None
    clock.set(slot + dt.timedelta(seconds=0.02))
    assert await claw.scheduler.fire(routine, slot)
    assert home.sim("garage door").state["door"] == "open"


async def test_a_scene_step_not_confirmed_at_creation_is_refused(claw: Claw, home: SimHome,
                                                                 clock: ManualClock) -> None:
    await say(claw, "leaving means garage door open")
    routine = claw.routines.create({"name": "leave", "when": "weekdays 08:15", "steps": ["scene:leaving"]})
    slot = next_fire(routine.trigger, clock.now(), claw.routines.where(routine.tz))
    assert slot is not None
    clock.set(slot + dt.timedelta(seconds=0.02))
    run_id = await claw.scheduler.fire(routine, slot)
    assert run_id is not None
    assert home.sim("garage door").state["door"] == "closed"
    [step] = claw.store.steps_of(run_id)
    assert step["status"] == "refused"


async def test_guests_cannot_define_scenes_but_may_use_harmless_ones(claw: Claw, home: SimHome) -> None:
    for text in ("save this as mine", "party means lights on"):
        result = await say(claw, text, sender="guest-2", standing="guest")
        assert "only the owner" in result.reply.lower()
    assert claw.scenes.names() == []
    await say(claw, "reading means living room lamp on")
    used = await say(claw, "reading", sender="guest-2", standing="guest")
    assert used.reply.startswith("“reading”:") and home.sim("living room lamp").state["on"]


async def test_named_devices_saved_as_a_scene(claw: Claw, home: SimHome) -> None:
    await say(claw, "set the kitchen light to 60%")
    saved = await say(claw, "save the kitchen light and the lamp as reading")
    assert saved.reply.startswith("Saved the scene “reading”:")
    names = {d.id: d.name for d in claw.registry.all()}
    assert [(names[d], c, a) for d, c, a in claw.scenes.calls("reading")] == [
        ("kitchen light", "turn_on", {}), ("kitchen light", "set_brightness", {"brightness": 60}),
        ("living room lamp", "turn_off", {})]
    await say(claw, "turn off the kitchen light")
    await say(claw, "turn on the lamp")
    await say(claw, "reading")
    assert home.sim("kitchen light").state["on"] and home.sim("kitchen light").state["brightness"] == 60
    assert not home.sim("living room lamp").state["on"]
