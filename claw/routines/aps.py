"""APScheduler 3 for the routines: the asyncio scheduler, a trigger over the pure computation, a slot executor.

Imported only when the scheduler worker starts (APScheduler costs ~0.1 s to import)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger

from claw.routines.model import UTC, Routine, Trigger
from claw.routines.triggers import Where, last_at_or_before, next_fire

log = logging.getLogger(__name__)

Due = Callable[[str, dt.datetime], None]  # (job id, slot)


class RoutineTrigger(BaseTrigger):
    """An APScheduler trigger over claw.routines.triggers.next_fire (DST, the sun, one-shots)."""

    __slots__ = ("trigger", "where")

    def __init__(self, trigger: Trigger, where: Where) -> None:
        self.trigger = trigger
        self.where = where

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        """The slot after the previous one; after a long stall (a suspended machine) it jumps to the latest slot
        that has passed, so APScheduler does not list every slot in between (they coalesce into one anyway)."""
        nxt = next_fire(self.trigger, previous_fire_time or now, self.where)
        if previous_fire_time is not None and nxt is not None and nxt < now:
            latest = last_at_or_before(self.trigger, now, self.where)
            if latest is not None and latest > nxt:
                return latest
        return nxt

    def __str__(self) -> str:
        return f"routine trigger ({self.trigger.kind})"


class SlotExecutor(BaseExecutor):
    """Hands a due job to the routine scheduler with its slot (the latest of its coalesced run times).

    APScheduler's own job runner is not used: it does not pass the scheduled time to the job, and here the run
    ledger, not an in-memory instance count, decides whether a slot runs; the job's misfire_grace_time is applied
    by the routine scheduler (claw.routines.triggers.runs_late)."""

    def __init__(self, due: Due) -> None:
        super().__init__()
        self._due = due

    def submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        self._due(job.id, run_times[-1])

    def _do_submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        self._due(job.id, run_times[-1])


def _never_called() -> None:  # the jobs' function: SlotExecutor hands jobs over instead of calling it
    raise AssertionError("routine jobs are run by the routine scheduler")


def make_scheduler(due: Due) -> AsyncIOScheduler:
    quiet = logging.getLogger("apscheduler")  # one INFO line per job added: 1,000 routines, 1,000 lines a start
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.WARNING)
    return AsyncIOScheduler(timezone=UTC, executors={"default": SlotExecutor(due)},
                            job_defaults={"coalesce": True, "max_instances": 1})


def grace_of(routine: Routine) -> int | None:
    """The job's misfire_grace_time, set explicitly (APScheduler's default is 1 s): the routine's grace, or no
    limit for the `always` policy."""
    return None if routine.missed == "always" else max(1, int(routine.grace))


def schedule(aps: AsyncIOScheduler, routine: Routine, where: Where, first: dt.datetime) -> None:
    """Add (or replace) the routine's job, due first at `first`."""
    aps.add_job(_never_called, trigger=RoutineTrigger(routine.trigger, where), id=str(routine.id),
                name=routine.name, misfire_grace_time=grace_of(routine), coalesce=True, max_instances=1,
                next_run_time=first, replace_existing=True)


def unschedule(aps: AsyncIOScheduler, routine_id: int) -> None:
    from apscheduler.jobstores.base import JobLookupError

    try:
        aps.remove_job(str(routine_id))
    except JobLookupError:
        pass
