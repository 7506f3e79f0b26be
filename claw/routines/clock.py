"""The routines' sense of time, injectable: the system clock, and a hand-driven one for tests and benchmarks."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol

from claw.routines.model import UTC


class Clock(Protocol):
    """What the scheduler and the runner ask of time: the instant now (UTC) and a wait."""

    def now(self) -> dt.datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real time."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """Time that moves only when told: `set`, `advance`, or a `sleep` (which advances it at once and yields,
    so a routine's wait step takes no real time). `sleeps` records every wait asked for."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self.sleeps: list[float] = []

    def now(self) -> dt.datetime:
        return self._now

    def set(self, when: dt.datetime) -> None:
        self._now = when.astimezone(UTC)

    def advance(self, seconds: float) -> dt.datetime:
        self._now += dt.timedelta(seconds=seconds)
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
