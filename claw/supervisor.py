"""The supervisor: runs named long-lived async workers, restarts a crashed one with backoff, stops them all."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

WorkerFactory = Callable[[], Awaitable[None]]  # called anew for every (re)start


@dataclass(frozen=True)
class Backoff:
    """When to restart a crashed worker: `initial` seconds after its first crash, `factor` times longer after
    each further one, at most `maximum`; a worker that ran `healthy_after` seconds before crashing starts over."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    healthy_after: float = 60.0

    def next_delay(self, previous: float | None, ran_for: float) -> float:
        """The wait before the next restart, given the last wait (None: never crashed) and how long it ran."""
        if previous is None or ran_for >= self.healthy_after:
            return min(self.maximum, self.initial)
        return min(self.maximum, previous * self.factor)


@dataclass
class WorkerState:
    """One supervised worker: its task and how often it crashed and was restarted."""

    name: str
    factory: WorkerFactory
    task: asyncio.Task[None] | None = None
    crashes: int = 0
    restarts: int = 0
    delays: list[float] = field(default_factory=list)  # the waits before each restart, in order
    waiting: bool = False  # between a crash and its restart


class Supervisor:
    """Runs each worker in its own task. A worker that raises is logged with its traceback and restarted after
    the backoff delay; one that returns or is cancelled is done. A name is started at most once.

    `clock` and `sleep` are injectable so that tests decide how time passes."""

    def __init__(self, *, backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.backoff = backoff or Backoff()
        self._clock = clock
        self._sleep = sleep
        self._workers: dict[str, WorkerState] = {}
        self._stopping = False

    def start(self, name: str, factory: WorkerFactory) -> bool:
        """Run `factory()` as the worker `name`; False (and nothing started) when that name was started before
        or the supervisor is stopping."""
        if name in self._workers or self._stopping:
            return False
        state = WorkerState(name, factory)
        self._workers[name] = state
        state.task = asyncio.create_task(self._keep(state), name=name)
        return True

    def __contains__(self, name: object) -> bool:
        return name in self._workers

    def worker(self, name: str) -> WorkerState:
        return self._workers[name]

    def running(self) -> list[str]:
        """The names of the workers whose task has not ended."""
        return [s.name for s in self._workers.values() if s.task is not None and not s.task.done()]

    async def _keep(self, state: WorkerState) -> None:
        delay: float | None = None
        while True:
            started = self._clock()
            try:
                await state.factory()
            except asyncio.CancelledError:
                log.debug("worker %s cancelled", state.name)
                raise
            except Exception:
                state.crashes += 1
                if self._stopping:
                    log.exception("worker %s crashed while stopping; not restarted", state.name)
                    return
                delay = self.backoff.next_delay(delay, self._clock() - started)
                state.delays.append(delay)
                log.exception("worker %s crashed (crash #%d); restarting in %.1f s", state.name, state.crashes,
                              delay)
                state.waiting = True
                try:
                    await self._sleep(delay)
                finally:
                    state.waiting = False
                if self._stopping:
                    return
                state.restarts += 1
                log.warning("restarting worker %s (restart #%d)", state.name, state.restarts)
                continue
            log.debug("worker %s finished", state.name)
            return

    async def stop(self, *, grace: float = 0.0, timeout: float = 5.0) -> list[str]:
        """Stop every worker: let them end by themselves for up to `grace` seconds (the caller has told them
        to, e.g. by setting their stop event), then cancel the rest and wait up to `timeout` seconds for them.
        Nothing is restarted from now on. Returns the names of workers still not ended (logged)."""
        self._stopping = True
        tasks = {s.task: s.name for s in self._workers.values() if s.task is not None and not s.task.done()}
        if not tasks:
            return []
        for state in self._workers.values():  # nothing to wait for: it would only be restarted
            if state.waiting and state.task is not None:
                state.task.cancel()
        pending: set[asyncio.Task[None]] = set(tasks)
        if grace > 0:
            _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            _, pending = await asyncio.wait(pending, timeout=timeout)
        left = sorted(tasks[t] for t in pending)
        if left:
            log.warning("worker(s) still running after stop: %s", ", ".join(left))
        return left
