"""The routine scheduler worker: jobs rebuilt from the routines table, missed slots caught up or told, runs resumed."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from claw.channels.notify import SYSTEM, Notifier
from claw.routines.clock import Clock, SystemClock
from claw.routines.model import (
    DEFAULT_GRACE,
    UTC,
    Routine,
    RoutineError,
    WaitStep,
    routine_from_row,
    step_from_json,
    step_json,
)
from claw.routines.runner import Runner, Target
from claw.routines.triggers import Missed, Where, duration_text, missed_slot, next_fire, runs_late, when_text, zone
from memory.store import Store

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

MISSED_QUESTION_SECONDS = 3600.0  # how long "I missed … — run it now?" can be answered with YES
QUESTION_KIND = "routine_run"  # the confirmation payload kind of that question (answered by claw.routines.chat)


class RoutineScheduler:
    """Owns the APScheduler instance of a running claw. At start it loads every routine, collapses the slots that
    passed while the claw was down into one per routine (run late within the grace, else skipped and the owner
    asked), resumes runs a crash cut off, then lets APScheduler fire; it re-reads the table when it changes (the
    CLI writes it from another process). Each run is its own task, so a routine never holds up a chat turn."""

    def __init__(self, store: Store, runner: Runner, notifier: Notifier, *, where: Callable[[str], Where],
                 clock: Clock | None = None, poll_seconds: float = 1.0) -> None:
        self.store = store
        self.runner = runner
        self.notifier = notifier
        self.where = where
        self.clock: Clock = clock or SystemClock()
        self.poll_seconds = poll_seconds
        self.ready = asyncio.Event()  # set once the jobs are loaded and APScheduler runs
        self.routines: dict[int, Routine] = {}
        self.runs: dict[int, asyncio.Task[Any]] = {}  # the run tasks of this process, by a run id or -n
        self._aps: AsyncIOScheduler | None = None
        self._revision = -1
        self._wake: asyncio.Event | None = None
        self._spawned = 0

    # the worker --------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """The supervised worker: start, then follow changes to the table until `stop` is set."""
        aps_module = await asyncio.to_thread(importlib.import_module, "claw.routines.aps")  # ~0.1 s, off the loop
        self._aps = aps_module.make_scheduler(self._due)
        self._wake = asyncio.Event()
        try:
            await self.start_up()
            self._aps.start()
            self.ready.set()
            while not stop.is_set():
                await self._idle(stop)
                self.sync()
        finally:
            self.ready.clear()
            if self._aps.running:
                self._aps.shutdown(wait=False)
            await self.cancel_runs()  # a cut-off run stays 'running' in the ledger: resumed at the next start

    async def _idle(self, stop: asyncio.Event) -> None:
        assert self._wake is not None
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        await asyncio.wait(waits, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waits:
            waiter.cancel()
        self._wake.clear()

    def changed(self) -> None:
        """The table changed in this process: sync at once instead of at the next poll."""
        if self._wake is not None:
            self._wake.set()

    async def cancel_runs(self) -> None:
        tasks = [t for t in self.runs.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every run started so far has finished (tests, benchmarks)."""
        while any(not t.done() for t in self.runs.values()):
            await asyncio.gather(*list(self.runs.values()), return_exceptions=True)

    # start-up ----------------------------------------------------------------------------------
    async def start_up(self) -> None:
        """Load the routines, resume cut-off runs, catch up or tell missed slots, and schedule every job
        (yielding to the event loop every 100 routines, so that chat turns go on meanwhile)."""
        now = self.clock.now()
        self.routines = self._load()
        self._revision = self.store.routines_revision()
        for run in self.store.runs_with_status("running"):
            self._resume_or_abandon(run)
        last = self.store.runs_last_slots()
        missed: list[tuple[Routine, Missed]] = []
        for n, routine in enumerate(list(self.routines.values())):
            if n % 100 == 99:
                await asyncio.sleep(0)
            if routine.paused:
                continue
            try:
                since = dt.datetime.fromtimestamp(max(routine.anchor, last.get(routine.id, 0.0)), UTC)
                found = missed_slot(routine.trigger, since, now, self.where(routine.tz), routine.missed,
                                    routine.grace)
            except RoutineError as exc:
                log.warning("routine %s (%s) cannot be scheduled: %s", routine.id, routine.name, exc)
                continue
            if found is not None and found.run:
                self._spawn(self._run(routine, found.slot, "catch_up"))
            elif found is not None:
                missed.append((routine, found))
            self._schedule(routine, now)
        self.tell_missed(missed, while_down=True)
        self._claim_queued(now)

    def _load(self) -> dict[int, Routine]:
        routines = {}
        for row in self.store.routines_all():
            try:
                routines[int(row["id"])] = routine_from_row(row)
            except RoutineError as exc:
                log.error("routine %s (%s) is unreadable and does not run: %s", row["id"], row["name"], exc)
        return routines

    def _resume_or_abandon(self, run: dict[str, Any]) -> None:
        """A run a crash cut off: finish it when the claw is back within the routine's grace of the run's last
        progress (a wait step's progress is its end), else close it and tell the owner."""
        routine = self.routines.get(int(run["routine_id"]))
        policy, grace = (routine.missed, routine.grace) if routine else ("catch_up", DEFAULT_GRACE)
        steps = [step_from_json(s) for s in run["steps"]]
        progress = float(run.get("started_at") or run["created_at"])
        for row in self.store.steps_of(int(run["id"])):
            progress = max(progress, float(row.get("finished_at") or row["started_at"]))
            step = steps[int(row["idx"])] if int(row["idx"]) < len(steps) else None
            if row["status"] == "started" and isinstance(step, WaitStep):
                progress = max(progress, float(row["started_at"]) + step.seconds)
        late = time.time() - progress  # the ledger's times are the wall clock's
        if runs_late(late, policy, grace, after_downtime=False):
            log.info("resuming routine run %s (%s), cut off %.0f s ago", run["id"], run["name"], late)
            self._spawn(self.runner.resume(run), int(run["id"]))
        else:
            self.runner.abandon(run, f"I was back {duration_text(late)} later, past its grace")

    def _claim_queued(self, now: dt.datetime) -> None:
        """Runs asked for by hand (`claw routines run`, possibly from another process)."""
        for run in self.store.runs_with_status("queued"):
            if not self.store.run_claim(int(run["id"])):
                continue
            routine = self.routines.get(int(run["routine_id"]))
            grace = routine.grace if routine else DEFAULT_GRACE
            if time.time() - float(run["slot_utc"]) > max(grace, 60.0):  # queued at a real time
                self.store.run_finish(int(run["id"]), "cancelled", "asked for while I was down; too old to run now")
                continue
            self._spawn(self.runner.resume(run), int(run["id"]))

    # following the table -------------------------------------------------------------------------
    def sync(self) -> None:
        """Re-read the table when its revision moved: new, changed, paused and deleted routines; queued runs."""
        revision = self.store.routines_revision()
        if revision == self._revision:
            return
        self._revision = revision
        now = self.clock.now()
        old, self.routines = self.routines, self._load()
        if self._aps is not None:
            from claw.routines.aps import unschedule

            for gone in set(old) - set(self.routines):
                unschedule(self._aps, gone)
            for routine in self.routines.values():
                before = old.get(routine.id)
                if before is None or before.updated_at != routine.updated_at:
                    unschedule(self._aps, routine.id)
                    self._schedule(routine, now)
        self._claim_queued(now)

    def _schedule(self, routine: Routine, now: dt.datetime) -> dt.datetime | None:
        """Give the routine its APScheduler job, due at its first slot after now (and after its anchor)."""
        if routine.paused or self._aps is None:
            return None
        after = max(now, dt.datetime.fromtimestamp(routine.anchor, UTC))
        try:
            where = self.where(routine.tz)
            first = next_fire(routine.trigger, after, where)
        except RoutineError as exc:
            log.warning("routine %s (%s) cannot be scheduled: %s", routine.id, routine.name, exc)
            return None
        if first is not None:
            from claw.routines.aps import schedule

            schedule(self._aps, routine, where, first)
        return first

    def next_run(self, routine_id: int) -> dt.datetime | None:
        """When APScheduler will next hand this routine's job over (None: no job)."""
        job = self._aps.get_job(str(routine_id)) if self._aps is not None else None
        return None if job is None else job.next_run_time

    # firing ------------------------------------------------------------------------------------
    def _due(self, job_id: str, slot: dt.datetime) -> None:
        """APScheduler says a job is due (called inside its loop callback): start the run in its own task."""
        routine = self.routines.get(int(job_id))
        if routine is None or routine.paused:
            return
        self._spawn(self.fire(routine, slot.astimezone(UTC)))

    async def fire(self, routine: Routine, slot: dt.datetime) -> int | None:
        """A slot is due now: run it if it is not too late for its policy (a stalled machine), else tell the
        owner it was missed. Tests call this directly with a controlled clock."""
        late = (self.clock.now() - slot).total_seconds()
        if runs_late(late, routine.missed, routine.grace, after_downtime=False):
            return await self._run(routine, slot, "scheduled")
        self.tell_missed([(routine, Missed(slot, 1, late, False))], while_down=False)
        return None

    async def _run(self, routine: Routine, slot: dt.datetime, kind: str) -> int | None:
        return await self.runner.fire(Target(routine.id, routine.name), routine.steps, slot, kind)

    def run_now(self, routine: Routine) -> int:
        """Run a routine at once, by hand; returns the run's id (its task is `runs[id]` until it ends)."""
        run_id = self.store.run_queue(routine.id, routine.name, time.time(), [step_json(s) for s in routine.steps])
        self._claim_queued(self.clock.now())
        return run_id

    def _spawn(self, coro: Coroutine[Any, Any, Any], key: int | None = None) -> None:
        if key is None:
            self._spawned += 1
            key = -self._spawned
        task = asyncio.get_running_loop().create_task(coro, name=f"routine-run-{key}")
        self.runs[key] = task
        task.add_done_callback(lambda t: self._done(key, t))

    def _done(self, key: int, task: asyncio.Task[Any]) -> None:
        if self.runs.get(key) is task:
            del self.runs[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("a routine run crashed", exc_info=task.exception())

    # telling the owner -------------------------------------------------------------------------
    def tell_missed(self, missed: list[tuple[Routine, Missed]], *, while_down: bool) -> None:
        """Record each missed slot in the ledger (once) and ask the owner, in one message and one question,
        whether to run them now."""
        told: list[tuple[Routine, Missed]] = []
        for routine, found in missed:
            why = "the claw was down" if while_down else "it came too late to run"
            note = f"missed: {why} ({duration_text(found.late)} late; {found.count} slot(s) passed)"
            if self.store.run_record(routine.id, routine.name, found.slot.timestamp(), "scheduled", "missed", note):
                told.append((routine, found))
        if not told:
            return
        where = "while I was down" if while_down else "because I was busy"
        now = self.clock.now()
        parts = []
        for routine, found in told:
            earlier = found.count - 1
            more = f" (and {earlier} earlier time{'s' if earlier != 1 else ''})" if earlier > 0 else ""
            parts.append(f"“{routine.name}” at {when_text(found.slot, zone(routine.tz), now)}{more}")
        them = "it" if len(told) == 1 else "them"
        minutes = round(MISSED_QUESTION_SECONDS / 60)
        text = (f"I missed {' and '.join(parts)} {where} — run {them} now? Reply YES within {minutes} minutes to "
                f"run {them}, or NO.")
        owner = self.notifier.route(SYSTEM, "routine")[1]
        names = ", ".join(f"“{r.name}”" for r, _ in told)
        self.store.confirmation_add(owner, f"run {names} now",
                                    {"kind": QUESTION_KIND, "routine_ids": [r.id for r, _ in told]},
                                    time.time() + MISSED_QUESTION_SECONDS)
        self.notifier.send(SYSTEM, Target(told[0][0].id, told[0][0].name).sender, text, proactive=True)
