"""Running one slot of a routine: claim it in the ledger, then each step once (devices through the actuator)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from claw.agent.actuator import Actuator, Outcome, TurnContext
from claw.agent.policy import join_actions
from claw.channels.notify import SYSTEM, Notifier
from claw.events import InboundMessage, TurnResult, Voice
from claw.routines.clock import Clock, SystemClock
from claw.routines.model import (
    DeviceStep,
    PromptStep,
    RoutineError,
    SayStep,
    SceneStep,
    Step,
    WaitStep,
    step_from_json,
    step_json,
)
from memory.store import Store

log = logging.getLogger(__name__)

DeviceCall = tuple[str, str, dict[str, Any]]
Ask = Callable[[InboundMessage], Awaitable[TurnResult]]
FINAL_STEP = ("done", "failed", "refused", "skipped")
PROMPT_TIMEOUT = 300.0  # a prompt step waits this long for its turn's answer, then the run goes on
GIVE_WAY = 0.25  # seconds a step waits, at most, for people's turns in flight to finish first
GiveWay = Callable[[float], Awaitable[None]]


class Scenes(Protocol):
    """Resolves a scene's name to its device commands (the scenes capability plugs in here)."""

    async def steps(self, name: str) -> list[DeviceCall]: ...


class NoScenes:
    """The stand-in until scenes exist: every scene step fails, saying so."""

    async def steps(self, name: str) -> list[DeviceCall]:
        raise RoutineError(f"there is no scene called “{name}” (scenes are not available yet)")


@dataclass(frozen=True)
class Target:
    """Whose run it is: the routine's id and name (the routine may have been deleted since)."""

    id: int
    name: str

    @property
    def sender(self) -> str:
        return f"routine:{self.id}"


@dataclass
class _Report:
    """What the owner is told at the end of a run: problems in order, and the steps held for one YES."""

    problems: list[str]
    held: TurnContext


class Runner:
    """Runs routine slots. The ledger row is inserted before any step (the INSERT decides that the slot runs),
    each step is marked started before and finished after (a resumed run skips finished steps), and device
    commands go through the actuator: the policy, the audit ledger, evidence on resume."""

    def __init__(self, store: Store, actuator: Actuator, notifier: Notifier, *, ask: Ask,
                 scenes: Scenes | None = None, clock: Clock | None = None,
                 voice: Callable[[], Voice] = Voice, prompt_timeout: float = PROMPT_TIMEOUT,
                 give_way: GiveWay | None = None) -> None:
        self.store = store
        self.actuator = actuator
        self.notifier = notifier
        self.ask = ask
        self.scenes: Scenes = scenes or NoScenes()
        self.clock: Clock = clock or SystemClock()
        self.voice = voice
        self.prompt_timeout = prompt_timeout
        self.give_way = give_way  # Agent.people_idle: a step starts once no person's turn is in flight (capped)
        self.active: set[int] = set()  # run ids being executed in this process

    async def fire(self, target: Target, steps: tuple[Step, ...], slot: dt.datetime, kind: str) -> int | None:
        """Run one slot: None when the ledger already has it (it ran, or runs, elsewhere or earlier)."""
        run_id, created = self.store.run_begin(target.id, target.name, slot.timestamp(), kind,
                                               [step_json(s) for s in steps])
        if not created:
            log.info("routine %s: slot %s is in the ledger already; not run again", target.id, slot.isoformat())
            return None
        await self.execute(run_id, target, steps)
        return run_id

    async def resume(self, run: dict[str, Any]) -> None:
        """Finish a run a crash cut off: the steps it recorded as finished are not run again."""
        steps = tuple(step_from_json(s) for s in run["steps"])
        await self.execute(int(run["id"]), Target(int(run["routine_id"]), str(run["name"])), steps)

    def abandon(self, run: dict[str, Any], why: str) -> bool:
        """Close a cut-off run without finishing it, telling the owner which steps did not run."""
        done = sum(1 for s in self.store.steps_of(int(run["id"])) if s["status"] == "done")
        total = len(run["steps"])
        text = (f"“{run['name']}” was cut off by a restart and I did not finish it ({why}): {done} of {total} "
                f"step{'s' if total != 1 else ''} had run.")
        _, messages = self.notifier.prepare(SYSTEM, Target(int(run["routine_id"]), run["name"]).sender, text,
                                            proactive=True)
        closed = self.store.run_finish(int(run["id"]), "interrupted", why, notify=messages)
        self.notifier.wake()
        return closed

    async def execute(self, run_id: int, target: Target, steps: tuple[Step, ...]) -> str:
        """Run (or resume) the steps of a claimed run and close it with its report; returns its status."""
        if run_id in self.active:
            return "running"
        self.active.add(run_id)
        try:
            report = _Report([], self._context(run_id, target, "report"))
            for idx, step in enumerate(steps):
                if self.give_way is not None and not isinstance(step, WaitStep):
                    await self.give_way(GIVE_WAY)  # a person's turn in flight goes first (at most GIVE_WAY s)
                previous = self.store.step_begin(run_id, idx, step.kind)
                if previous is not None and previous["status"] in FINAL_STEP:
                    self._carry(previous, step, report)
                    continue
                await self._step(run_id, idx, step, target, previous, report)
            return self._finish(run_id, target, steps, report)
        finally:
            self.active.discard(run_id)

    # one step ----------------------------------------------------------------------------------
    async def _step(self, run_id: int, idx: int, step: Step, target: Target, previous: dict[str, Any] | None,
                    report: _Report) -> None:
        try:
            if isinstance(step, DeviceStep):
                calls = [(step.device_id, step.command, dict(step.args))]
                await self._devices(run_id, idx, target, calls, step.confirmed, report)
            elif isinstance(step, SceneStep):
                calls = await self.scenes.steps(step.name)
                await self._devices(run_id, idx, target, calls, step.confirmed, report)
            elif isinstance(step, SayStep):
                _, messages = self.notifier.prepare(SYSTEM, target.sender, step.text, proactive=True)
                self.store.step_finish(run_id, idx, "done", notify=messages)  # said exactly once
                self.notifier.wake()
            elif isinstance(step, PromptStep):
                await self._prompt(run_id, idx, target, step)
            else:
                await self._wait(run_id, idx, step, previous)
        except RoutineError as exc:
            self.store.step_finish(run_id, idx, "failed", str(exc))
            report.problems.append(str(exc))
        except Exception as exc:  # a bug in one step must not stop the others (nor leave the run open)
            log.exception("routine %s run %s: step %d crashed", target.id, run_id, idx)
            self.store.step_finish(run_id, idx, "failed", f"internal error: {exc.__class__.__name__}")
            report.problems.append(f"step {idx + 1} failed on my side ({exc.__class__.__name__}).")

    async def _devices(self, run_id: int, idx: int, target: Target, calls: list[DeviceCall], confirmed: bool,
                       report: _Report) -> None:
        ctx = self._context(run_id, target, str(idx))
        voice = self.voice()
        outcome = await self.actuator.run(ctx, calls, confirmed=confirmed, voice=voice)
        status, detail = _status(outcome)
        if outcome.risks:  # not confirmed when the routine was created: refused, and offered for a YES now
            what = join_actions([r.what for r in outcome.risks])
            detail = f"I did not {what}: that was not confirmed when the routine was created."
            self.actuator.ask_confirmation(report.held, list(outcome.held))
            report.problems.append(detail)
        else:
            report.problems.extend(f"{name}: {error}" if name else error for name, error in outcome.errors)
            report.problems.extend(text for _, text in outcome.uncertain)
            report.held.pending.extend(ctx.pending)  # a step a restart left uncertain, held for a fresh YES
        self.store.step_finish(run_id, idx, status, detail)

    async def _prompt(self, run_id: int, idx: int, target: Target, step: PromptStep) -> None:
        """The prompt is a turn on the system channel, as the owner, stored once (its external id) so that a
        resumed run waits for the same turn instead of asking again."""
        msg = InboundMessage(channel=SYSTEM, sender=target.sender, text=step.text, standing="owner",
                             external_id=f"routine-run:{run_id}:{idx}")
        try:
            result = await asyncio.wait_for(self.ask(msg), self.prompt_timeout)
        except TimeoutError:
            self.store.step_finish(run_id, idx, "done", "submitted; its answer was still coming")
            return
        self.store.step_finish(run_id, idx, "done" if result.tier not in ("error",) else "failed",
                               f"answered by the {result.tier} tier")

    async def _wait(self, run_id: int, idx: int, step: WaitStep, previous: dict[str, Any] | None) -> None:
        left = step.seconds
        if previous is not None:  # resumed: only what is left of the wait
            left = max(0.0, step.seconds - (time.time() - float(previous["started_at"])))
        await self.clock.sleep(left)
        self.store.step_finish(run_id, idx, "done")

    # bookkeeping -------------------------------------------------------------------------------
    def _context(self, run_id: int, target: Target, part: str) -> TurnContext:
        """A turn context for one step: the owner's standing, a risky step's YES asked of the owner's route,
        and idempotency keys of its own (`routine-run:<run>:<step>:<n>:…` in the audit ledger)."""
        owner = self.notifier.route(SYSTEM, target.sender)[1]
        return TurnContext(inbox_id=0, sender=target.sender, channel=SYSTEM, text=target.name, standing="owner",
                           confirm_as=owner, ledger=f"routine-run:{run_id}:{part}")

    def _carry(self, previous: dict[str, Any], step: Step, report: _Report) -> None:
        """A step finished before a restart: its problem still goes into the report (a refused device step is
        offered for the owner's YES again)."""
        if previous["status"] in ("failed", "refused") and previous.get("detail"):
            report.problems.append(str(previous["detail"]))
        if previous["status"] == "refused" and isinstance(step, DeviceStep):
            self.actuator.ask_confirmation(report.held, [(step.device_id, step.command, dict(step.args))])

    def _finish(self, run_id: int, target: Target, steps: tuple[Step, ...], report: _Report) -> str:
        rows = self.store.steps_of(run_id)
        done = sum(1 for r in rows if r["status"] == "done")
        status = "done" if done == len(steps) else "failed"
        note = f"{done} of {len(steps)} steps done"
        messages = []
        if report.problems or report.held.pending:
            voice = self.voice()
            prompt = self.actuator.close_confirmation(report.held, voice)  # one YES for every held step
            text = f"“{target.name}”: " + " ".join(report.problems) + (f" {prompt}" if prompt else "")
            _, messages = self.notifier.prepare(SYSTEM, target.sender, text, proactive=True)
            note += "; " + " ".join(report.problems)
        self.store.run_finish(run_id, status, note, notify=messages)
        if messages:
            self.notifier.wake()
        log.info("routine %s (%s) run %s: %s, %s", target.id, target.name, run_id, status, note)
        return status


def _status(outcome: Outcome) -> tuple[str, str | None]:
    if outcome.risks:
        return "refused", None
    if outcome.errors:
        return "failed", "; ".join(f"{n}: {e}" if n else e for n, e in outcome.errors)
    if outcome.uncertain:
        return "unknown", "; ".join(t for _, t in outcome.uncertain)
    return "done", None
