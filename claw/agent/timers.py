"""Timers and delayed commands in chat: start/status/change/cancel, the end told once, commands as one-shot routines."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from claw.agent.actuator import Actuator, TurnContext
from claw.agent.policy import join_actions
from claw.channels.notify import Notifier
from claw.events import TurnResult, Voice
from claw.intents.timers import TimerOp, length_text
from claw.intents.types import Plan
from claw.replies import local as replies
from claw.replies.conversation import confirm_prompt
from claw.routines.model import DeviceStep, InvalidRoutine, Once, Routine, RoutineError, routine_from_row, routine_row
from claw.routines.service import Routines
from claw.routines.triggers import zone
from memory.store import Store

log = logging.getLogger(__name__)

DELAY_KIND = "timer_delay"  # the confirmation payload kind of a risky delayed command
REMINDER = "reminder: "  # the name of a timer that is a reminder ("remind me to … in 10 minutes")
MAX_ACTIVE = 20  # running timers and delayed commands per sender (a guest cannot fill the table)
LATE = 60.0  # a timer told later than this after its end (the claw was down) says so
Parse = Callable[..., Plan | None]


class Timers:
    """Carries out the timer plans of claw.intents.timers for one sender: timers in the store (their end told once
    by `tick`, also after a restart), delayed commands as one-shot routines (the same actuator, policy, ledger)."""

    def __init__(self, store: Store, notifier: Notifier, routines: Routines, actuator: Actuator, parse: Parse,
                 *, default_area: str | None, ttl: float) -> None:
        self.store = store
        self.notifier = notifier
        self.routines = routines
        self.actuator = actuator
        self.parse = parse
        self.default_area = default_area
        self.ttl = ttl

    def kinds(self) -> dict[str, Any]:
        """The confirmation kinds answered here, for Confirmations.kinds."""
        return {DELAY_KIND: self.confirmed}

    def _now(self) -> float:
        return self.routines.clock.now().timestamp()

    def _clock_text(self, when: float) -> str:
        """"07:42" in the routines' zone; with seconds when it is under two minutes away ("07:42:30")."""
        shape = "%H:%M:%S" if abs(when - self._now()) < 120 else "%H:%M"
        return dt.datetime.fromtimestamp(when, zone(self.routines.zone_name)).strftime(shape)

    # chat ------------------------------------------------------------------------------------------
    async def handle(self, ctx: TurnContext, plan: Plan, voice: Voice) -> TurnResult | None:
        """The reply to a timer sentence; None when it is a delayed command the local tier cannot parse (the
        LLM tier, if any, takes the sentence)."""
        if plan.problem:
            return _said(replies.problem_reply(plan.problem, voice))
        op: TimerOp = plan.slots["timer"]
        if op.op == "start" and len(self.store.timers_active(ctx.sender)) >= MAX_ACTIVE:
            return _said(f"You have {MAX_ACTIVE} timers and delayed commands already; cancel one first.")
        if op.op == "start" and (reminder := _reminder(op.command)):  # "remind me to call mum in 10 minutes"
            return _said(self._start(ctx, TimerOp("start", op.seconds, f"{REMINDER}{reminder}")))
        if op.op == "start" and op.command:
            return await self._delay(ctx, op, voice)
        if op.op == "start":
            return _said(self._start(ctx, op))
        rows = self.store.timers_active(ctx.sender)
        if op.op == "status":
            return _said(self._status(rows, op))
        if op.op == "cancel_all":
            for row in rows:
                self._cancel(row)
            return _said("Cancelled " + (f"{len(rows)} timer{'s' if len(rows) != 1 else ''}." if rows else
                                         "nothing: you have no timers."))
        row = _pick(rows, op, commands=op.op == "cancel")
        if row is None:
            what = f"a {op.name} timer" if op.name else "a timer running"
            return _said(f"You don't have {what}.")
        if op.op == "cancel":
            self._cancel(row)
            if row["kind"] == "command":
                return _said(f"Cancelled: I won't {row['what']} at {self._clock_text(row['ends_at'])}.")
            return _said(f"Cancelled your {_title(row)}.")
        return _said(self._change(row, op))

    def _start(self, ctx: TurnContext, op: TimerOp) -> str:
        ends = self._now() + op.seconds
        self.store.timer_add(kind="timer", channel=ctx.channel, sender=ctx.sender, name=op.name,
                             seconds=op.seconds, ends_at=ends)
        if op.name.startswith(REMINDER):
            return f"OK — at {self._clock_text(ends)} I'll remind you to {op.name[len(REMINDER):]}."
        title = f"{op.name} timer" if op.name else "timer"
        return f"⏰ {title[0].upper()}{title[1:]} set for {length_text(op.seconds)} (until {self._clock_text(ends)})."

    def _status(self, rows: list[dict[str, Any]], op: TimerOp) -> str:
        picked = [r for r in rows if _matches(r, op)] if (op.name or op.which) else rows
        if not picked:
            return f"You don't have a {op.name} timer." if op.name else "You have no timers running."
        now = self._now()
        lines = []
        for row in picked:
            if row["kind"] == "command":
                lines.append(f"At {self._clock_text(row['ends_at'])} I'll {row['what']} "
                             f"(in {length_text(row['ends_at'] - now)}).")
            elif row["status"] == "paused":
                lines.append(f"Your {_title(row)} is paused with {length_text(row['left_s'])} left.")
            else:
                lines.append(f"Your {_title(row)} has {length_text(row['ends_at'] - now)} left.")
        return " ".join(lines)

    def _change(self, row: dict[str, Any], op: TimerOp) -> str:
        now = self._now()
        paused = row["status"] == "paused"
        left = float(row["left_s"]) if paused else float(row["ends_at"]) - now
        if op.op == "pause":
            if paused:
                return f"Your {_title(row)} is already paused ({length_text(left)} left)."
            self.store.timer_update(row["id"], status="paused", ends_at=None, left_s=left)
            return f"Paused your {_title(row)} with {length_text(left)} left."
        if op.op == "resume":
            if not paused:
                return f"Your {_title(row)} is running ({length_text(left)} left)."
            self.store.timer_update(row["id"], status="running", ends_at=now + left, left_s=None)
            return f"Resumed your {_title(row)}: {length_text(left)} left, until {self._clock_text(now + left)}."
        change = op.seconds if op.op == "add" else -op.seconds
        left = max(1.0, left + change)
        seconds = float(row["seconds"]) + change
        if paused:
            self.store.timer_update(row["id"], status="paused", ends_at=None, left_s=left, seconds=seconds)
        else:
            self.store.timer_update(row["id"], status="running", ends_at=now + left, left_s=None, seconds=seconds)
        verb = "Added" if change > 0 else "Took"
        where = "to" if change > 0 else "off"
        return f"{verb} {length_text(op.seconds)} {where} your {_title(row)}: {length_text(left)} left."

    def _cancel(self, row: dict[str, Any]) -> None:
        if row["kind"] == "command" and row.get("routine_id"):
            try:
                self.routines.delete(int(row["routine_id"]))
            except RoutineError:
                pass  # already run or deleted by hand
        self.store.timer_update(row["id"], status="cancelled", ends_at=row["ends_at"], left_s=row["left_s"])

    # delayed commands ------------------------------------------------------------------------------
    async def _delay(self, ctx: TurnContext, op: TimerOp, voice: Voice) -> TurnResult | None:
        plan = self.parse(op.command, self.default_area)
        if plan is None:
            return None
        if plan.problem:
            return _said(replies.problem_reply(plan.problem, voice))
        if not plan.steps:
            return _said(f"I can only do device commands later, like “turn off the kitchen light in "
                         f"{length_text(op.seconds)}”.")
        calls = [(s.device_id, s.command, dict(s.args)) for s in plan.steps]
        risks = self.actuator.risks(calls)
        at = self._now() + op.seconds
        steps = tuple(DeviceStep(d, c, a) for d, c, a in calls)
        what = join_actions([self.routines.step_text(s) for s in steps])
        routine = Routine(name=f"later: {what} at {self._clock_text(at)}",
                          trigger=Once(dt.datetime.fromtimestamp(at, dt.UTC)), steps=steps,
                          tz=self.routines.zone_name)
        if risks:
            if ctx.standing != "owner":
                return _said(f"Only the owner can have me {join_actions([r.what for r in risks])}.")
            asked = f"{join_actions([r.what for r in risks])} at {self._clock_text(at)}"
            payload = {"kind": DELAY_KIND, "routine": routine_row(routine), "channel": ctx.channel,
                       "sender": ctx.sender, "what": what, "seconds": op.seconds}
            self.store.confirmation_add(ctx.confirm_as or ctx.sender, asked, payload, time.time() + self.ttl)
            reasons = "; ".join(r.reason for r in risks if r.reason)
            return TurnResult(reply=confirm_prompt(asked, reasons, self.ttl, voice), tier="confirm")
        return _said(self._schedule(routine, ctx.channel, ctx.sender, what, op.seconds, confirmed=False))

    def _schedule(self, routine: Routine, channel: str, sender: str, what: str, seconds: float, *,
                  confirmed: bool) -> str:
        base = routine.name
        for n in range(2, 50):
            try:  # the system acts for the sender: a guest's step was checked above (risky ones: owner only)
                made = self.routines.create(routine, confirmed_risky=confirmed, standing="owner")
                break
            except InvalidRoutine:
                routine = replace(routine, name=f"{base} ({n})")
        else:
            return "I could not schedule that."
        at = made.trigger.at.timestamp() if isinstance(made.trigger, Once) else self._now() + seconds
        self.store.timer_add(kind="command", channel=channel, sender=sender, name="", seconds=seconds,
                             ends_at=at, what=what, routine_id=made.id)
        return f"OK — at {self._clock_text(at)} I'll {what}. (Say “cancel that” to cancel it.)"

    async def confirmed(self, ctx: TurnContext, payload: dict[str, Any], voice: Voice) -> TurnResult:
        """The owner's YES to a risky delayed command: schedule it, its risky steps confirmed now."""
        routine = routine_from_row(payload["routine"])
        if isinstance(routine.trigger, Once) and routine.trigger.at.timestamp() <= self._now():
            return _said("That time has passed already, so I did not schedule it.", tier="confirm")
        return _said(self._schedule(routine, str(payload["channel"]), str(payload["sender"]), str(payload["what"]),
                                    float(payload["seconds"]), confirmed=True), tier="confirm")

    # the end of a timer ----------------------------------------------------------------------------
    def tick(self) -> int:
        """Tell every timer that has ended, once; returns how many were told now. A delayed command whose time
        passed leaves the active list (its routine runs it)."""
        now = self._now()
        told = 0
        for row in self.store.timers_due(now):
            late = now - float(row["ends_at"])
            text = f"⏰ Your {_title(row)} ({length_text(row['seconds'])}) is done."
            if str(row["name"]).startswith(REMINDER):
                text = f"⏰ Reminder: {str(row['name'])[len(REMINDER):]}."
            if late > LATE:
                text = (f"⏰ Your {_title(row)} ({length_text(row['seconds'])}) ended at "
                        f"{self._clock_text(row['ends_at'])}, {length_text(late)} ago, while I was down.")
            _, messages = self.notifier.prepare(row["channel"], row["sender"], text, proactive=True)
            if self.store.timer_finish(int(row["id"]), messages):
                told += 1
        for row in self.store.timers_due(now, "command"):
            self.store.timer_update(row["id"], status="done", ends_at=row["ends_at"], left_s=None)
        if told:
            self.notifier.wake()
        return told

    async def run(self, stop: asyncio.Event, every: float = 1.0) -> None:
        """The worker: tick at once (timers that ended while the claw was down) and then every second."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("timers: tick failed")
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass


def _said(text: str, tier: str = "intent") -> TurnResult:
    return TurnResult(reply=text, tier=tier)


def _title(row: dict[str, Any]) -> str:
    name = str(row.get("name") or "")
    if name.startswith(REMINDER):
        return f"reminder to {name[len(REMINDER):]}"
    return f"{name} timer" if name else "timer"


def _reminder(command: str) -> str:
    """What "remind me to call mum" asks to be reminded of ("call mum"); "" for any other command."""
    words = command.lower().split()
    if words[:2] != ["remind", "me"] or len(words) < 4 or words[2] not in ("to", "about"):
        return ""
    return " ".join(command.split()[3:])


def _matches(row: dict[str, Any], op: TimerOp) -> bool:
    if op.name and (row["kind"] != "timer" or op.name not in str(row["name"])):
        return False
    return not op.which or round(float(row["seconds"])) == op.which


def _pick(rows: list[dict[str, Any]], op: TimerOp, *, commands: bool) -> dict[str, Any] | None:
    """The timer a sentence means: by name or length, else the newest (a delayed command only for cancel)."""
    found = [r for r in rows if _matches(r, op) and (commands or r["kind"] == "timer")]
    return found[-1] if found else None
