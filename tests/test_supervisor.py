"""The supervisor: crashed workers come back with growing delays, finished ones stay done, stop() is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import pytest

from claw.events import InboundMessage
from claw.runtime import Claw
from claw.supervisor import Backoff, Supervisor
from tests.conftest import make_settings


class FakeTime:
    """A clock that only moves when the supervisor sleeps (or a worker says it ran for a while)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_backoff_doubles_up_to_the_maximum_and_starts_over_after_a_healthy_run() -> None:
    b = Backoff(initial=1.0, factor=2.0, maximum=60.0, healthy_after=30.0)
    delays: list[float] = []
    delay: float | None = None
    for _ in range(8):
        delay = b.next_delay(delay, ran_for=0.1)
        delays.append(delay)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert b.next_delay(60.0, ran_for=29.9) == 60.0
    assert b.next_delay(60.0, ran_for=30.0) == 1.0  # it ran fine for a while: the next crash is a first one


async def test_a_worker_that_crashes_twice_is_restarted_with_growing_delays_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    t = FakeTime()
    sup = Supervisor(backoff=Backoff(initial=1.0, maximum=60.0, healthy_after=60.0), clock=t.clock, sleep=t.sleep)
    runs = 0
    settled = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise RuntimeError(f"boom {runs}")
        settled.set()
        await asyncio.Event().wait()  # then it runs until stopped

    with caplog.at_level(logging.INFO, logger="claw.supervisor"):
        assert sup.start("flaky", flaky)
        await asyncio.wait_for(settled.wait(), 2)
        assert sup.running() == ["flaky"]
        await sup.stop(timeout=2)
    state = sup.worker("flaky")
    assert (runs, state.crashes, state.restarts) == (3, 2, 2)
    assert t.sleeps == state.delays == [1.0, 2.0]
    crashes = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert len(crashes) == 2 and all(r.exc_info and r.exc_info[0] is RuntimeError for r in crashes)
    assert "boom 1" in caplog.text and "boom 2" in caplog.text and "Traceback" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("restarting")] == [
        "restarting worker flaky (restart #1)", "restarting worker flaky (restart #2)"]


async def test_a_worker_that_returns_or_is_cancelled_is_not_restarted() -> None:
    t = FakeTime()
    sup = Supervisor(clock=t.clock, sleep=t.sleep)
    runs = {"once": 0, "cancelled": 0}

    async def once() -> None:
        runs["once"] += 1

    async def cancelled() -> None:
        runs["cancelled"] += 1
        raise asyncio.CancelledError

    assert sup.start("once", once)
    assert sup.start("cancelled", cancelled)
    assert not sup.start("once", once)  # a name is started at most once
    await asyncio.sleep(0.05)
    assert sup.running() == [] and runs == {"once": 1, "cancelled": 1} and t.sleeps == []
    assert sup.worker("once").restarts == sup.worker("cancelled").restarts == 0
    assert await sup.stop() == []


async def test_stop_cancels_everything_within_the_bound() -> None:
    sup = Supervisor(backoff=Backoff(initial=3600.0))
    cancelled: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def stubborn() -> None:  # ignores its first cancellation, then gives up at the second
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.01)
        await asyncio.Event().wait()

    async def crasher() -> None:
        raise RuntimeError("crash: now waits an hour to restart")

    sup.start("a", lambda: forever("a"))
    sup.start("b", lambda: forever("b"))
    sup.start("crasher", crasher)
    await asyncio.sleep(0.05)
    assert sorted(sup.running()) == ["a", "b", "crasher"]
    t0 = time.monotonic()
    assert await sup.stop(grace=0.2, timeout=1.0) == []
    assert time.monotonic() - t0 < 1.0
    assert sorted(cancelled) == ["a", "b"] and sup.running() == []
    assert not sup.start("late", lambda: forever("late"))  # nothing starts once stopping

    sup2 = Supervisor()
    sup2.start("stubborn", stubborn)
    await asyncio.sleep(0.01)
    t0 = time.monotonic()
    assert await sup2.stop(timeout=0.3) == ["stubborn"]  # bounded even when a worker will not end
    assert time.monotonic() - t0 < 1.0
    task = sup2.worker("stubborn").task
    assert task is not None
    task.cancel()  # the second cancellation ends it
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 1)


async def test_a_crashed_outbox_worker_of_a_real_claw_is_restarted_and_still_delivers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    claw = Claw(make_settings(tmp_path))
    claw.supervisor.backoff = Backoff(initial=0.05)
    real_run = claw.outbox.run
    calls = 0

    async def crash_once(stop: asyncio.Event) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("outbox exploded")
        await real_run(stop)

    monkeypatch.setattr(claw.outbox, "run", crash_once)
    web = claw.channels["web"].listen()  # type: ignore[attr-defined]
    with caplog.at_level(logging.INFO, logger="claw.supervisor"):
        await claw.start(dispatch=False)
        try:
            claw.start_dispatch()
            claw.start_dispatch()  # idempotent: one outbox worker
            result = await asyncio.wait_for(claw.agent.ask(InboundMessage("web", "owner", "hi", standing="owner")), 20)
            row = await asyncio.wait_for(web.get(), 10)
            assert row["recipient"] == "owner" and row["text"]
            assert result.reply
            assert calls == 2 and claw.supervisor.worker("outbox").restarts == 1
            assert sorted(claw.supervisor.running()) == ["outbox", "routines", "settler", "timers"]
        finally:
            await claw.stop()
    assert "worker outbox crashed" in caplog.text and "outbox exploded" in caplog.text
    assert claw.supervisor.running() == []
