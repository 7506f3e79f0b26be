"""Routines in a claw on the simulated home, with a hand-driven clock: runs through the actuator exactly once per
slot, risky steps, messages and prompts, missed-run policies, resume after a crash, 1,000 routines, APScheduler."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from claw.channels.notify import SYSTEM
from claw.events import InboundMessage
from claw.routines.clock import ManualClock
from claw.routines.model import UTC, InvalidRoutine, Routine, RoutineError, routine_row
from claw.routines.runner import Target
from claw.routines.triggers import next_fire
from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.conftest import make_settings

LONDON = "Europe/London"
T0 = dt.datetime(2030, 1, 7, 6, 0, tzinfo=UTC)  # a Monday, 06:00 in London (GMT)


@pytest.fixture
def home(shared_home: SimHome) -> SimHome:
    shared_home.reset()
    return shared_home


@asynccontextmanager
async def routine_claw(home: SimHome, tmp_path: Path, clock: ManualClock, **overrides: Any) -> AsyncIterator[Claw]:
    """A started claw whose routines see `clock`; the scheduler worker is not started (tests drive it)."""
    settings = make_settings(tmp_path, device_timeout=2.0,
                             routines={"timezone": LONDON, "latitude": 51.5, "longitude": -0.12}, **overrides)
    c = Claw(settings, devices=home.devices, clock=clock)
    await c.start(routines=False)
    try:
        yield c
    finally:
        await c.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def claw(home: SimHome, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Claw]:
    async with routine_claw(home, tmp_path, clock) as c:
        yield c


def light_on(home: SimHome, name: str) -> bool:
    return bool(home.sim(name).state["on"])


def owner_messages(claw: Claw) -> list[str]:
    rows = claw.store.db.query("SELECT * FROM outbox WHERE channel = 'web' AND recipient = ? ORDER BY id",
                               [claw.settings.owner])
    return [r["text"] for r in rows]


def runs(claw: Claw, routine_id: int) -> list[dict[str, Any]]:
    return claw.store.runs_recent(routine_id, limit=100)


async def fire_next(claw: Claw, clock: ManualClock, routine: Routine, late: float = 0.02) -> int | None:
    """Move the clock to the routine's next slot (plus `late` seconds) and fire it as APScheduler would."""
    slot = next_fire(routine.trigger, clock.now(), claw.routines.where(routine.tz))
    assert slot is not None
    clock.set(slot + dt.timedelta(seconds=late))
    return await claw.scheduler.fire(routine, slot)


# ---- a run goes through the actuator, once per slot ---------------------------------------------------
async def test_a_device_step_runs_through_the_actuator_and_its_audit(claw: Claw, home: SimHome,
                                                                    clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "morning", "when": "weekdays 07:00", "steps": [
        "kitchen light:turn_on", "living room lamp:set_brightness brightness=40"]})
    run_id = await fire_next(claw, clock, routine)
    assert run_id is not None
    assert light_on(home, "kitchen light")
    assert home.sim("living room lamp").state["brightness"] == 40
    run = claw.store.run_get(run_id)
    assert run is not None and run["status"] == "done" and run["kind"] == "scheduled"
    assert dt.datetime.fromtimestamp(run["slot_utc"], UTC) == dt.datetime(2030, 1, 7, 7, 0, tzinfo=UTC)
    audit = [a for a in claw.store.audit_recent() if a["key"].startswith(f"routine-run:{run_id}:")]
    assert sorted((a["command"], a["status"], a["sender"]) for a in audit) == [
        ("set_brightness", "done", f"routine:{routine.id}"), ("turn_on", "done", f"routine:{routine.id}")]
    assert owner_messages(claw) == []  # a run that went well is not reported


async def test_the_same_slot_never_runs_twice(claw: Claw, home: SimHome, clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "lamp", "when": "07:00", "steps": ["kitchen light:turn_on"]})
    slot = next_fire(routine.trigger, clock.now(), claw.routines.where(LONDON))
    assert slot is not None
    clock.set(slot)
    first, second = await asyncio.gather(claw.scheduler.fire(routine, slot), claw.scheduler.fire(routine, slot))
    assert sorted([first is None, second is None]) == [False, True]
    assert await claw.scheduler.fire(routine, slot) is None
    assert len(home.sim("kitchen light").commands) == 1
    assert len(runs(claw, routine.id)) == 1


async def test_say_and_prompt_steps_reach_the_owner_as_the_system_channel(claw: Claw, home: SimHome,
                                                                         clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "evening", "when": "every 30m",
                                    "steps": [{"say": "Time to wind down."},
                                              {"prompt": "turn on the hallway light"}]})
    run_id = await fire_next(claw, clock, routine)
    await claw.agent.idle()
    assert run_id is not None and claw.store.run_get(run_id)["status"] == "done"  # type: ignore[index]
    assert light_on(home, "hallway light")  # the prompt ran as a turn, as the owner
    inbox = [r for r in claw.store.db.query("SELECT * FROM inbox WHERE channel = ?", [SYSTEM])]
    assert [(r["sender"], r["standing"], r["text"]) for r in inbox] == [
        (f"routine:{routine.id}", "owner", "turn on the hallway light")]
    messages = owner_messages(claw)
    assert messages[0] == "Time to wind down."
    assert len(messages) == 2 and "hallway light" in messages[1]  # the prompt's reply, routed to the owner
    proactive = claw.store.db.query("SELECT proactive FROM outbox ORDER BY id LIMIT 1")
    assert [r["proactive"] for r in proactive] == [1]  # window rules apply to a routine's own message


async def test_a_wait_step_waits_on_the_routine_clock(claw: Claw, home: SimHome, clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "pulse", "when": "08:00",
                                    "steps": ["kitchen light:turn_on", {"wait": "5m"}, "kitchen light:turn_off"]})
    await fire_next(claw, clock, routine)
    assert clock.sleeps == [300.0]
    assert [c[1] for c in home.sim("kitchen light").commands] == [{"on": True}, {"on": False}]


async def test_a_scene_step_fails_plainly_until_scenes_exist(claw: Claw, clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "film", "when": "20:00", "steps": [{"scene": "movie night"},
                                                                               {"say": "Enjoy."}]})
    run_id = await fire_next(claw, clock, routine)
    assert claw.store.run_get(run_id or 0)["status"] == "failed"  # type: ignore[index]
    assert [s["status"] for s in claw.store.steps_of(run_id or 0)] == ["failed", "done"]
    assert any("no scene called “movie night”" in m for m in owner_messages(claw))


async def test_a_failing_device_step_is_reported_and_the_rest_still_run(claw: Claw, home: SimHome,
                                                                       clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "two", "when": "09:00",
                                    "steps": ["bedroom light:turn_on", "hallway light:turn_on"]})
    home.sim("bedroom light").stop()
    try:
        run_id = await fire_next(claw, clock, routine)
    finally:
        home.sim("bedroom light").start()
    steps = claw.store.steps_of(run_id or 0)
    assert [s["status"] for s in steps][1] == "done" and steps[0]["status"] in ("failed", "unknown")
    assert light_on(home, "hallway light")
    assert any(m.startswith("“two”:") and "bedroom light" in m for m in owner_messages(claw))


# ---- risky steps ---------------------------------------------------------------------------------------
async def test_a_risky_step_not_confirmed_at_creation_is_refused_and_the_owner_told(claw: Claw, home: SimHome,
                                                                                   clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "door", "when": "07:30",
                                    "steps": ["front door:unlock", "kitchen light:turn_on"]})
    assert claw.routines.preview(routine).risky == ("unlock the front door",)
    run_id = await fire_next(claw, clock, routine)
    assert home.sim("front door").state["locked"] is True
    assert home.sim("front door").commands == []
    assert light_on(home, "kitchen light")  # the safe step still ran
    assert [s["status"] for s in claw.store.steps_of(run_id or 0)] == ["refused", "done"]
    [message] = owner_messages(claw)
    assert "I did not unlock the front door: that was not confirmed when the routine was created." in message
    assert "Reply YES" in message
    # the owner's YES on their own channel does it now, through the normal confirmation path
    result = await claw.agent.ask(InboundMessage("web", claw.settings.owner, "yes", standing="owner"))
    assert result.tier == "confirm"
    assert home.sim("front door").state["locked"] is False


async def test_a_risky_step_confirmed_at_creation_runs_unattended(claw: Claw, home: SimHome,
                                                                 clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "door", "when": "07:30", "steps": ["front door:unlock"]},
                                   confirmed_risky=True)
    assert "Confirmed to run unattended: unlock the front door." in claw.routines.describe(routine)
    await fire_next(claw, clock, routine)
    assert home.sim("front door").state["locked"] is False
    assert owner_messages(claw) == []


async def test_a_step_that_became_risky_since_creation_is_refused(home: SimHome, tmp_path: Path,
                                                                 clock: ManualClock) -> None:
    async with routine_claw(home, tmp_path, clock) as claw:
        routine = claw.routines.create({"name": "warm", "when": "06:30",
                                        "steps": ["thermostat:set_temperature temperature=24"]},
                                       confirmed_risky=True)  # not risky now: nothing to confirm
    async with routine_claw(home, tmp_path, clock, safety={"hvac_max": 22.0}) as claw:
        await fire_next(claw, clock, claw.routines.get(routine.id))
        assert home.sim("hallway thermostat").state["target"] != 24
        assert "set the hallway thermostat to 24 °C" in owner_messages(claw)[0]


def test_only_the_owner_may_create_or_change_routines(store: Any) -> None:
    from claw.config import SafetySettings
    from claw.routines.service import Routines

    routines = Routines(store, zone_name=LONDON, location=None, safety=SafetySettings(), devices=list,
                        clock=ManualClock(T0))
    with pytest.raises(RoutineError, match="Only the owner"):
        routines.create({"name": "x", "when": "07:00", "steps": ["say:hi"]}, standing="guest")
    routine = routines.create({"name": "x", "when": "07:00", "steps": ["say:hi"]})
    with pytest.raises(RoutineError, match="Only the owner"):
        routines.delete(routine.id, standing="guest")
    assert routines.get("X").id == routine.id


# ---- missed slots and start-up ---------------------------------------------------------------------------
async def test_a_slot_missed_within_the_grace_is_caught_up_at_start(claw: Claw, home: SimHome,
                                                                    clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "morning", "when": "07:00", "steps": ["kitchen light:turn_on"]})
    clock.set(dt.datetime(2030, 1, 7, 7, 8, tzinfo=UTC))  # down from before 07:00 until 07:08
    await claw.scheduler.start_up()
    await claw.scheduler.idle()
    assert light_on(home, "kitchen light")
    [run] = runs(claw, routine.id)
    assert (run["kind"], run["status"]) == ("catch_up", "done")
    await claw.scheduler.start_up()  # a second start finds the slot in the ledger
    await claw.scheduler.idle()
    assert len(runs(claw, routine.id)) == 1 and len(home.sim("kitchen light").commands) == 1


async def test_a_slot_missed_beyond_the_grace_is_skipped_and_the_owner_asked(claw: Claw, home: SimHome,
                                                                             clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "morning", "when": "07:00", "steps": ["kitchen light:turn_on"]})
    clock.set(dt.datetime(2030, 1, 9, 7, 30, tzinfo=UTC))  # three days' slots passed; the last 30 min ago
    await claw.scheduler.start_up()
    await claw.scheduler.idle()
    assert not light_on(home, "kitchen light")
    [run] = runs(claw, routine.id)
    assert run["status"] == "missed"
    assert dt.datetime.fromtimestamp(run["slot_utc"], UTC) == dt.datetime(2030, 1, 9, 7, 0, tzinfo=UTC)
    [message] = owner_messages(claw)
    assert message.startswith("I missed “morning” at Wed 9 Jan 07:00 GMT (and 2 earlier times) while I was down "
                              "— run it now?")
    await claw.scheduler.start_up()  # told once
    assert len(owner_messages(claw)) == 1
    result = await claw.agent.ask(InboundMessage("web", claw.settings.owner, "YES", standing="owner"))
    assert result.reply == "Running “morning” now."
    claw.scheduler.sync()  # what the worker does within a second (it is not started here)
    await claw.scheduler.idle()
    assert light_on(home, "kitchen light")
    assert [r["kind"] for r in runs(claw, routine.id)] == ["manual", "scheduled"]


async def test_the_skip_policy_never_runs_late_and_always_runs_once(claw: Claw, home: SimHome,
                                                                    clock: ManualClock) -> None:
    skip = claw.routines.create({"name": "skipper", "when": "07:00", "missed": "skip",
                                 "steps": ["kitchen light:turn_on"]})
    always = claw.routines.create({"name": "plants", "when": "07:00", "missed": "always",
                                   "steps": ["hallway light:turn_on"]})
    clock.set(dt.datetime(2030, 1, 8, 9, 0, tzinfo=UTC))  # two slots passed, the last 2 h ago
    await claw.scheduler.start_up()
    await claw.scheduler.idle()
    assert not light_on(home, "kitchen light")
    assert [r["status"] for r in runs(claw, skip.id)] == ["missed"]
    assert light_on(home, "hallway light")
    assert [(r["kind"], r["status"]) for r in runs(claw, always.id)] == [("catch_up", "done")]
    assert len(home.sim("hallway light").commands) == 1  # the two missed slots ran once, not twice
    assert "“skipper”" in owner_messages(claw)[0] and "“plants”" not in owner_messages(claw)[0]


async def test_a_slot_fired_late_at_run_time_follows_the_grace(claw: Claw, home: SimHome,
                                                              clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "late", "when": "07:00", "grace": "2m",
                                    "steps": ["kitchen light:turn_on"]})
    assert await fire_next(claw, clock, routine, late=119) is not None
    assert await fire_next(claw, clock, routine, late=121) is None  # the next day: a stalled loop, past grace
    assert [r["status"] for r in runs(claw, routine.id)] == ["missed", "done"]
    assert "because I was busy" in owner_messages(claw)[0]


async def test_paused_times_are_not_missed_runs(claw: Claw, home: SimHome, clock: ManualClock) -> None:
    routine = claw.routines.create({"name": "morning", "when": "07:00", "steps": ["kitchen light:turn_on"]})
    claw.routines.pause("morning")
    clock.set(dt.datetime(2030, 1, 9, 7, 5, tzinfo=UTC))
    await claw.scheduler.start_up()
    assert runs(claw, routine.id) == []
    claw.routines.resume(routine.id)
    await claw.scheduler.start_up()
    await claw.scheduler.idle()
    assert runs(claw, routine.id) == [] and owner_messages(claw) == []
    assert claw.routines.next_times(claw.routines.get(routine.id), 1) == [dt.datetime(2030, 1, 10, 7, 0,
                                                                                      tzinfo=UTC)]


async def test_a_run_cut_off_by_a_crash_resumes_without_repeating_a_done_step(home: SimHome, tmp_path: Path,
                                                                             clock: ManualClock) -> None:
    async with routine_claw(home, tmp_path, clock) as claw:
        routine = claw.routines.create({"name": "three", "when": "07:00",
                                        "steps": ["kitchen light:turn_on", {"say": "half way"},
                                                  "hallway light:turn_on"]})
        slot = dt.datetime(2030, 1, 7, 7, 0, tzinfo=UTC)
        # what a crash after the first two steps leaves behind: the ledger row, two finished steps, the message
        run_id, created = claw.store.run_begin(routine.id, routine.name, slot.timestamp(), "scheduled",
                                               routine_row(routine)["steps"])
        assert created
        runner = claw.routine_runner
        claw.store.step_begin(run_id, 0, "device")
        await runner._step(run_id, 0, routine.steps[0], Target(routine.id, routine.name), None,
                           _report(claw, run_id, routine))
        claw.store.step_begin(run_id, 1, "say")
        await runner._step(run_id, 1, routine.steps[1], Target(routine.id, routine.name), None,
                           _report(claw, run_id, routine))
        claw.store.step_begin(run_id, 2, "device")  # started, then the process died
    clock.set(slot + dt.timedelta(minutes=3))
    async with routine_claw(home, tmp_path, clock) as claw:
        await claw.scheduler.start_up()
        await claw.scheduler.idle()
        assert claw.store.run_get(run_id)["status"] == "done"  # type: ignore[index]
        assert len(runs(claw, routine.id)) == 1
        assert len(home.sim("kitchen light").commands) == 1  # done before the crash: not again
        assert len(home.sim("hallway light").commands) == 1
        assert owner_messages(claw) == ["half way"]


def _report(claw: Claw, run_id: int, routine: Routine) -> Any:
    from claw.routines.runner import _Report

    return _Report([], claw.routine_runner._context(run_id, Target(routine.id, routine.name), "report"))


async def test_a_run_cut_off_too_long_ago_is_closed_and_told(home: SimHome, tmp_path: Path,
                                                            clock: ManualClock) -> None:
    async with routine_claw(home, tmp_path, clock) as claw:
        routine = claw.routines.create({"name": "long", "when": "07:00", "steps": ["kitchen light:turn_on"]})
        run_id, _ = claw.store.run_begin(routine.id, routine.name, T0.timestamp(), "scheduled",
                                         routine_row(routine)["steps"])
        claw.store.db.execute("UPDATE routine_runs SET started_at = ? WHERE id = ?", [time.time() - 3600, run_id])
    async with routine_claw(home, tmp_path, ManualClock(dt.datetime.now(UTC))) as claw:
        await claw.scheduler.start_up()
        await claw.scheduler.idle()
        assert claw.store.run_get(run_id)["status"] == "interrupted"  # type: ignore[index]
        assert home.sim("kitchen light").commands == []
        assert "“long” was cut off by a restart" in owner_messages(claw)[0]


# ---- scale and the real scheduler ------------------------------------------------------------------------
async def test_a_thousand_routines_are_scheduled_at_start(home: SimHome, tmp_path: Path) -> None:
    clock = ManualClock(dt.datetime.now(UTC))
    async with routine_claw(home, tmp_path, clock) as claw:
        for i in range(1000):
            claw.store.routine_add(routine_row(claw.routines.draft(
                {"name": f"r{i}", "when": ["07:00", "weekdays 18:30", "every 2h", "sunset -15m"][i % 4],
                 "steps": ["kitchen light:turn_on"]})))
        stop = asyncio.Event()
        worker = asyncio.create_task(claw.scheduler.run(stop))
        started = time.perf_counter()
        await asyncio.wait_for(claw.scheduler.ready.wait(), 30)
        took = time.perf_counter() - started
        try:
            assert len(claw.scheduler.routines) == 1000
            assert all(claw.scheduler.next_run(i) is not None for i in claw.scheduler.routines)
            assert took < 5.0, f"1,000 routines took {took:.2f} s to schedule"
        finally:
            stop.set()
            await worker


async def test_the_running_scheduler_fires_on_time_and_follows_changes(home: SimHome, tmp_path: Path) -> None:
    """APScheduler for real (no hand-driven clock): a one-shot due in a moment runs; a routine added to the
    table from outside (as `claw routines add` does) is picked up; a deleted one is dropped."""
    settings = make_settings(tmp_path, device_timeout=2.0, routines={"timezone": LONDON})
    async with _started(Claw(settings, devices=home.devices)) as claw:
        await asyncio.wait_for(claw.scheduler.ready.wait(), 30)
        soon = dt.datetime.now(UTC) + dt.timedelta(seconds=1)
        routine = claw.routines.create({"name": "soon", "when": f"once {soon.isoformat()}",
                                        "steps": ["kitchen light:turn_on"]})
        outside = claw.routines.draft({"name": "outside", "when": "every 1h", "steps": ["say:hi"]})
        outside_id = claw.store.routine_add(routine_row(outside))  # no in-process notice: the poll finds it
        deadline = time.monotonic() + 15
        while not (runs(claw, routine.id) and runs(claw, routine.id)[0]["status"] == "done"):
            assert time.monotonic() < deadline, "the one-shot did not run"
            await asyncio.sleep(0.05)
        [run] = runs(claw, routine.id)
        assert run["started_at"] - run["slot_utc"] < 2.0
        assert light_on(home, "kitchen light")
        while claw.scheduler.next_run(outside_id) is None:
            assert time.monotonic() < deadline, "the routine added from outside was not scheduled"
            await asyncio.sleep(0.05)
        claw.store.routine_delete(outside_id)
        while claw.scheduler.next_run(outside_id) is not None:
            assert time.monotonic() < deadline, "the deleted routine was not unscheduled"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def _started(claw: Claw) -> AsyncIterator[Claw]:
    await claw.start()
    try:
        yield claw
    finally:
        await claw.stop()


def test_invalid_specs_say_what_is_wrong(store: Any) -> None:
    from claw.config import SafetySettings
    from claw.routines.service import Routines

    routines = Routines(store, zone_name=LONDON, location=None, safety=SafetySettings(), devices=list,
                        clock=ManualClock(T0))
    cases = {"I don't know a device called “toaster”": {"name": "a", "when": "07:00", "steps": ["toaster:turn_on"]},
             "need the home's location": {"name": "a", "when": "sunset", "steps": ["say:x"]},
             "already passed": {"name": "a", "when": "once 2029-01-01 10:00", "steps": ["say:x"]},
             "needs 1 to 50 steps": {"name": "a", "when": "07:00", "steps": []},
             "unknown time zone": {"name": "a", "when": "07:00", "steps": ["say:x"], "tz": "Mars/Base"}}
    for expected, spec in cases.items():
        with pytest.raises(InvalidRoutine, match=expected.replace("(", r"\(")):
            routines.create(spec)
    routines.create({"name": "dup", "when": "07:00", "steps": ["say:x"]})
    with pytest.raises(InvalidRoutine, match="exists already"):
        routines.create({"name": "DUP", "when": "08:00", "steps": ["say:x"]})


# ---- the chat API: propose, then the owner's YES -------------------------------------------------------
async def test_a_proposed_routine_is_created_by_the_owners_yes_with_its_risky_steps(claw: Claw, home: SimHome,
                                                                                   clock: ManualClock) -> None:
    owner = claw.settings.owner
    voice = claw.soul.current().voice
    preview, reply = claw.routine_chat.propose(
        {"name": "leaving", "when": "weekdays 08:15", "steps": ["front door:lock", "garage door:open"]},
        confirm_as=owner, voice=voice)
    assert preview.risky == ("open the garage door",)
    assert reply.startswith("“leaving”: every weekday at 08:15 (Europe/London), lock the front door and open the "
                            "garage door. Next: Mon 7 Jan 08:15 GMT, Tue 8 Jan 08:15 GMT, Wed 9 Jan 08:15 GMT.")
    assert "create the routine “leaving” (it may then open the garage door on its own)" in reply
    assert "Reply YES" in reply
    assert claw.routines.list() == []  # nothing until the YES
    result = await claw.agent.ask(InboundMessage("web", owner, "yes", standing="owner"))
    assert result.tier == "confirm" and result.reply.startswith("Done. “leaving” (#1)")
    [routine] = claw.routines.list()
    assert [getattr(s, "confirmed", None) for s in routine.steps] == [False, True]
    await fire_next(claw, clock, routine)
    assert home.sim("garage door").state["door"] == "open"
    assert len(home.sim("garage door").commands) == 1


async def test_a_proposed_routine_declined_is_not_created(claw: Claw) -> None:
    claw.routine_chat.propose({"name": "x", "when": "every 1h", "steps": ["say:hi"]},
                              confirm_as=claw.settings.owner, voice=claw.soul.current().voice)
    result = await claw.agent.ask(InboundMessage("web", claw.settings.owner, "no", standing="owner"))
    assert result.tier == "confirm" and claw.routines.list() == []


def test_describe_says_when_there_is_no_sunrise(store: Any) -> None:
    from claw.config import SafetySettings
    from claw.routines.service import Routines
    from claw.routines.triggers import Location

    routines = Routines(store, zone_name="Europe/Oslo", location=Location(69.65, 18.96), safety=SafetySettings(),
                        devices=list, clock=ManualClock(dt.datetime(2026, 11, 25, 12, tzinfo=UTC)))
    dawn = routines.create({"name": "dawn", "when": "sunrise", "steps": ["say:good morning"]})
    text = routines.describe(dawn)
    assert "Next: Thu 26 Nov 11:00 CET, Sat 16 Jan 2027" in text  # the last sunrise before the polar night …
    assert "There is no sunrise here on " in text and "(polar day or night); it does not run on those days." in text
    assert "2027" in text  # … and the first ones after it


async def test_a_routine_step_gives_way_to_a_persons_turn_in_flight(claw: Claw, home: SimHome,
                                                                    clock: ManualClock) -> None:
    from claw.routines.runner import GIVE_WAY

    routine = claw.routines.create({"name": "r", "when": "07:00", "steps": ["hallway light:turn_on"]})
    quick = time.monotonic()
    await fire_next(claw, clock, routine)  # nobody is talking: no wait
    assert time.monotonic() - quick < GIVE_WAY
    home.sim("kitchen light").hang = True
    turn = asyncio.create_task(claw.agent.ask(InboundMessage("web", claw.settings.owner, "turn on the kitchen light",
                                                             standing="owner")))
    try:
        await asyncio.sleep(0.05)  # the person's turn is in flight (its device command hangs)
        started = time.monotonic()
        await fire_next(claw, clock, routine)
        assert time.monotonic() - started >= GIVE_WAY * 0.9  # it waited for the turn, up to the cap
        assert len(home.sim("hallway light").commands) == 2
    finally:
        home.sim("kitchen light").hang = False
        await asyncio.wait_for(turn, 10)
