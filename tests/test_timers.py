"""Timers and delayed commands end to end on the simulated home, with a hand-driven clock: start, status, add/remove,
pause/resume, cancel, the end told once in the outbox (also after a restart), delayed commands run at their time."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from claw.events import InboundMessage
from claw.routines.clock import ManualClock
from claw.routines.model import Once
from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.test_routines import T0, owner_messages, routine_claw


@pytest.fixture
def home(shared_home: SimHome) -> SimHome:
    shared_home.reset()
    return shared_home


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def claw(home: SimHome, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Claw]:
    async with routine_claw(home, tmp_path, clock) as c:
        yield c


async def say(claw: Claw, text: str, sender: str | None = None, standing: str = "owner") -> str:
    msg = InboundMessage(channel="web", sender=sender or claw.settings.owner, text=text, standing=standing)
    result = await claw.agent.ask(msg)
    return result.reply


async def test_a_named_timer_runs_out_once_with_a_message(claw: Claw, clock: ManualClock) -> None:
    reply = await say(claw, "set a 10 minute pasta timer")
    assert "Pasta timer set for 10 minutes" in reply and "06:10" in reply  # London is on GMT in January
    clock.advance(240)
    assert await say(claw, "how much time is left on the pasta timer?") == "Your pasta timer has 6 minutes left."
    assert claw.timers.tick() == 0
    clock.advance(359)
    assert claw.timers.tick() == 0 and not any("⏰ Your" in m for m in owner_messages(claw))
    clock.advance(1)
    assert claw.timers.tick() == 1
    assert claw.timers.tick() == 0
    assert owner_messages(claw)[-1] == "⏰ Your pasta timer (10 minutes) is done."
    assert await say(claw, "how long is left?") == "You have no timers running."


async def test_add_remove_pause_resume_cancel(claw: Claw, clock: ManualClock) -> None:
    await say(claw, "set a timer for 5 minutes")
    assert "7 minutes" in await say(claw, "add 2 minutes to the timer")
    assert "6 minutes" in await say(claw, "take 1 minute off")
    clock.advance(60)
    assert "Paused" in await say(claw, "pause the timer")
    clock.advance(3600)  # paused: time does not run
    assert claw.timers.tick() == 0
    assert await say(claw, "how long is left?") == "Your timer is paused with 5 minutes left."
    assert "5 minutes left, until 07:06" in await say(claw, "resume the timer")
    clock.advance(299)
    assert claw.timers.tick() == 0
    assert await say(claw, "cancel the timer") == "Cancelled your timer."
    clock.advance(60)
    assert claw.timers.tick() == 0
    await say(claw, "timer 90 seconds")
    await say(claw, "set a 10 minute pasta timer")
    assert await say(claw, "cancel all timers") == "Cancelled 2 timers."
    assert claw.store.timers_active() == []


async def test_a_timer_that_ended_while_down_is_told_once_and_late(home: SimHome, tmp_path: Path,
                                                                   clock: ManualClock) -> None:
    async with routine_claw(home, tmp_path, clock) as first:
        await say(first, "set a 10 minute pasta timer")
    clock.advance(30 * 60)
    async with routine_claw(home, tmp_path, clock) as second:
        assert second.timers.tick() == 1
        assert second.timers.tick() == 0
        told = [m for m in owner_messages(second) if m.startswith("⏰ Your")]
        assert told == ["⏰ Your pasta timer (10 minutes) ended at 06:10, 20 minutes ago, while I was down."]
    async with routine_claw(home, tmp_path, clock) as third:
        assert third.timers.tick() == 0


async def test_a_guests_timer_ends_with_a_message_to_that_guest(claw: Claw, clock: ManualClock) -> None:
    await say(claw, "set a timer for 1 minute", sender="guest-1", standing="guest")
    assert await say(claw, "how long is left?") == "You have no timers running."  # the owner's: none
    clock.advance(60)
    assert claw.timers.tick() == 1
    rows = claw.store.db.query("SELECT recipient, text FROM outbox WHERE text LIKE '⏰ Your%'")
    assert [(r["recipient"], r["text"]) for r in rows] == [("guest-1", "⏰ Your timer (1 minute) is done.")]


def _delayed(claw: Claw) -> list[tuple[int, dt.datetime]]:
    return [(r.id, r.trigger.at) for r in claw.routines.list() if isinstance(r.trigger, Once)]


async def test_a_delayed_command_runs_at_its_time_and_not_before(claw: Claw, home: SimHome,
                                                                 clock: ManualClock) -> None:
    assert home.sim("kitchen light").state["on"] is False
    reply = await say(claw, "in 10 minutes turn on the kitchen light")
    assert reply.startswith("OK — at 06:10 I'll turn on the kitchen light")
    [(routine_id, at)] = _delayed(claw)
    assert at == T0 + dt.timedelta(minutes=10)
    assert home.sim("kitchen light").state["on"] is False
    assert "At 06:10 I'll turn on the kitchen light" in await say(claw, "how long is left?")
    clock.set(at)
    await claw.scheduler.fire(claw.routines.get(routine_id), at)
    assert home.sim("kitchen light").state["on"] is True
    claw.timers.tick()
    assert await say(claw, "how long is left?") == "You have no timers running."


async def test_cancel_that_cancels_a_delayed_command(claw: Claw, home: SimHome) -> None:
    await say(claw, "turn on the bedroom light in an hour")
    assert len(_delayed(claw)) == 1
    assert await say(claw, "cancel that") == "Cancelled: I won't turn on the bedroom light at 07:00."
    assert _delayed(claw) == []


async def test_a_risky_delayed_command_is_confirmed_now_and_then_runs(claw: Claw, home: SimHome,
                                                                      clock: ManualClock) -> None:
    reply = await say(claw, "open the garage door in 5 minutes")
    assert "YES" in reply and "06:05" in reply and _delayed(claw) == []
    assert home.sim("garage door").state["door"] == "closed"
    assert (await say(claw, "YES")).startswith("OK — at 06:05 I'll open the garage door")
    [(routine_id, at)] = _delayed(claw)
    clock.set(at + dt.timedelta(seconds=1))
    await claw.scheduler.fire(claw.routines.get(routine_id), at)
    assert home.sim("garage door").state["door"] == "open"
    audit = [a for a in claw.store.audit_recent() if a["command"] == "open"]
    assert [a["status"] for a in audit] == ["done"]


async def test_a_risky_delayed_command_without_yes_never_runs(claw: Claw, home: SimHome) -> None:
    await say(claw, "open the garage door in 5 minutes")
    await say(claw, "NO")
    assert "nothing waiting" in await say(claw, "YES") and _delayed(claw) == []  # declined: a late YES does nothing
    guest = await say(claw, "open the garage door in 5 minutes", sender="guest-1", standing="guest")
    assert guest.startswith("Only the owner") and _delayed(claw) == []
    assert home.sim("garage door").state["door"] == "closed"


async def test_a_reminder_is_a_timer_with_its_words(claw: Claw, clock: ManualClock) -> None:
    assert await say(claw, "remind me to call mum in 10 minutes") == "OK — at 06:10 I'll remind you to call mum."
    assert _delayed(claw) == []
    assert "reminder to call mum has 10 minutes left" in await say(claw, "how long is left?")
    clock.advance(600)
    assert claw.timers.tick() == 1
    assert owner_messages(claw)[-1] == "⏰ Reminder: call mum."


async def test_a_sentence_that_is_not_a_device_command_is_not_delayed(claw: Claw) -> None:
    reply = await say(claw, "write me a poem in 10 minutes")
    assert not reply.startswith("OK — at") and _delayed(claw) == [] and claw.store.timers_active() == []


async def test_turning_off_the_heating_later_and_an_extreme_asked_now(claw: Claw, home: SimHome,
                                                                      clock: ManualClock) -> None:
    reply = await say(claw, "turn off the heating in 30 minutes")
    assert reply.startswith("OK — at 06:30 I'll") and "hallway thermostat" in reply
    [(routine_id, at)] = _delayed(claw)
    assert home.sim("hallway thermostat").state["mode"] == "heat"
    clock.set(at)
    await claw.scheduler.fire(claw.routines.get(routine_id), at)
    assert home.sim("hallway thermostat").state["mode"] == "off"
    extreme = await say(claw, "set the thermostat to 30 degrees in 10 minutes")
    assert "YES" in extreme and len(_delayed(claw)) == 1  # only the first one: this waits for the owner's YES


async def test_the_worker_tells_an_ended_timer(claw: Claw, clock: ManualClock) -> None:
    import asyncio

    await say(claw, "set a timer for 2 minutes")
    stop = asyncio.Event()
    worker = asyncio.create_task(claw.timers.run(stop, every=0.01))
    clock.advance(120)
    for _ in range(200):
        if owner_messages(claw)[-1].startswith("⏰ Your"):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await worker
    assert owner_messages(claw)[-1] == "⏰ Your timer (2 minutes) is done."


async def test_limits_a_guest_cannot_flood_and_odd_lengths_do_not_crash(claw: Claw) -> None:
    for _ in range(20):
        assert (await say(claw, "set a timer for 5 minutes", sender="guest-2", standing="guest")).startswith("⏰")
    assert "cancel one first" in await say(claw, "set a timer for 5 minutes", sender="guest-2", standing="guest")
    assert len(claw.store.timers_active("guest-2")) == 20
    assert "went wrong" not in await say(claw, "set a timer for 0 minutes")
    assert "up to a day" in await say(claw, "set a timer for 100 hours")
    assert claw.store.timers_active(claw.settings.owner) == []
