"""The routines' API for chat, the CLI and tools: draft, preview, create, describe, list, change, run, history."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from claw.agent.policy import assess, describe, join_actions
from claw.config import SafetySettings
from claw.errors import ClawError
from claw.events import Standing
from claw.permissions import may
from claw.routines.clock import Clock, SystemClock
from claw.routines.model import (
    UTC,
    DeviceStep,
    InvalidRoutine,
    PromptStep,
    Routine,
    RoutineError,
    RoutineNotFound,
    SayStep,
    SceneStep,
    Step,
    Sun,
    routine_from_row,
    routine_row,
    step_json,
)
from claw.routines.spec import draft
from claw.routines.triggers import (
    Location,
    Where,
    describe_trigger,
    duration_text,
    next_fires,
    polar_days,
    when_text,
    zone,
)
from devices.commands import COMMANDS, validate
from devices.errors import DeviceError
from devices.models import Device
from devices.registry import normalize_name
from memory.store import Store
from memory.store_routines import DuplicateName

if TYPE_CHECKING:
    from claw.routines.scheduler import RoutineScheduler

log = logging.getLogger(__name__)

RoutineRef = int | str  # an id, "#3", or a name


@dataclass(frozen=True)
class Preview:
    """What the owner is shown before saying YES: the routine as understood, its next three times, and the
    steps the safety policy finds risky (a YES at creation lets the routine do them unattended)."""

    routine: Routine
    text: str
    risky: tuple[str, ...]


def resolve_device(devices: Iterable[Device], ref: str) -> Device:
    """A device by id, name or alias, optionally "room name"; InvalidRoutine when none or several match."""
    known = list(devices)
    want = normalize_name(ref)
    found = [d for d in known if d.id == ref.strip()] or [
        d for d in known if want in (normalize_name(n) for n in d.names())]
    if not found:
        found = [d for d in known if d.room and want.startswith(normalize_name(d.room) + " ")
                 and want[len(normalize_name(d.room)) + 1:] in (normalize_name(n) for n in d.names())]
    if len(found) == 1:
        return found[0]
    if not found:
        names = ", ".join(sorted(d.name for d in known)) or "none"
        raise InvalidRoutine(f"I don't know a device called “{ref}”. I know: {names}.")
    raise InvalidRoutine(f"“{ref}” could mean {join_actions(sorted(f'{d.name} ({d.id})' for d in found))}.")


class Routines:
    """Routines over the store. In a running claw the scheduler is attached and follows every change at once;
    from the CLI (another process) the running claw notices the change within a second."""

    def __init__(self, store: Store, *, zone_name: str, location: Location | None, safety: SafetySettings,
                 devices: Callable[[], Iterable[Device]], clock: Clock | None = None) -> None:
        self.store = store
        self.zone_name = zone_name
        self.location = location
        self.safety = safety
        self.devices = devices
        self.clock: Clock = clock or SystemClock()
        self.scheduler: RoutineScheduler | None = None
        # a scene's device commands by name (claw.scenes.book.SceneBook.calls): a scene step's risky contents
        self.scene_calls: Callable[[str], list[tuple[str, str, dict[str, Any]]]] | None = None

    def where(self, tz_name: str) -> Where:
        return Where(zone(tz_name), self.location)

    # creating ----------------------------------------------------------------------------------
    def draft(self, spec: Mapping[str, Any]) -> Routine:
        """An unsaved routine from a spec (see claw.routines.spec.draft): devices resolved and commands
        checked against what each device can do; InvalidRoutine saying what is wrong."""
        devices = {d.id: d for d in self.devices()}
        routine = draft(spec, tz_default=self.zone_name, now=self.clock.now(),
                        resolve=lambda ref: resolve_device(devices.values(), ref).id)
        for step in routine.steps:
            if isinstance(step, DeviceStep):
                device = devices[step.device_id]
                spec_ = COMMANDS.get(step.command)
                if spec_ is None:
                    raise InvalidRoutine(f"unknown command {step.command!r} (known: {', '.join(sorted(COMMANDS))})")
                if spec_.capability not in device.capabilities:
                    raise InvalidRoutine(f"the {device.name} cannot {step.command.replace('_', ' ')}")
                try:
                    validate(step.command, dict(step.args))
                except DeviceError as exc:
                    raise InvalidRoutine(f"{device.name}: {exc}") from None
        next_fires(routine.trigger, self.clock.now(), self.where(routine.tz), 1)  # a sun trigger needs a location
        return routine

    def risks(self, routine: Routine) -> list[str]:
        """The steps the safety policy finds risky now, in words ("unlock the front door")."""
        devices = {d.id: d for d in self.devices()}
        return [what for step in routine.steps if (what := self._risk(step, devices))]

    def _risk(self, step: Step, devices: Mapping[str, Device]) -> str | None:
        if isinstance(step, SceneStep) and self.scene_calls is not None:  # names the scene's risky contents
            try:
                calls = self.scene_calls(step.name)
            except ClawError:
                return None  # a missing scene fails at run time, saying so
            risky = [self._risk(DeviceStep(d, c, a), devices) for d, c, a in calls]
            return join_actions([r for r in risky if r]) or None
        if not isinstance(step, DeviceStep) or step.device_id not in devices:
            return None
        risk = assess(devices[step.device_id], step.command, validate(step.command, dict(step.args)), self.safety)
        return None if risk is None else risk.what

    def preview(self, spec: Mapping[str, Any] | Routine) -> Preview:
        routine = spec if isinstance(spec, Routine) else self.draft(spec)
        return Preview(routine, self.describe(routine), tuple(self.risks(routine)))

    def create(self, spec: Mapping[str, Any] | Routine, *, confirmed_risky: bool = False,
               standing: Standing = "owner") -> Routine:
        """Store a routine. `confirmed_risky`: the owner's YES to the preview, which lets each step risky now
        run unattended; without it a risky step is refused at run time (and the owner told)."""
        _require(standing)
        routine = spec if isinstance(spec, Routine) else self.draft(spec)
        if confirmed_risky:  # only the steps risky now; one that becomes risky later is refused then
            devices = {d.id: d for d in self.devices()}
            routine = replace(routine, steps=tuple(
                replace(s, confirmed=True) if isinstance(s, DeviceStep | SceneStep) and self._risk(s, devices) else s
                for s in routine.steps))
        routine = replace(routine, anchor=self.clock.now().timestamp(), paused=False)
        try:
            routine_id = self.store.routine_add(routine_row(routine))
        except DuplicateName as exc:
            raise InvalidRoutine(str(exc)) from None
        self._changed()
        return self.get(routine_id)

    # looking and changing ----------------------------------------------------------------------
    def get(self, ref: RoutineRef) -> Routine:
        """A routine by id (3 or "#3") or by name (ignoring case)."""
        text = str(ref).strip()
        row = None
        if isinstance(ref, int) or text.lstrip("#").isdigit():
            row = self.store.routine_get(int(text.lstrip("#")))
        if row is None and isinstance(ref, str):
            row = self.store.routine_find(text)
        if row is None:
            raise RoutineNotFound(f"I have no routine called “{text}”")
        return routine_from_row(row)

    def list(self) -> list[Routine]:
        return [routine_from_row(r) for r in self.store.routines_all()]

    def pause(self, ref: RoutineRef, *, standing: Standing = "owner") -> Routine:
        _require(standing)
        routine = self.get(ref)
        self.store.routine_update(routine.id, paused=1)
        self._changed()
        return self.get(routine.id)

    def resume(self, ref: RoutineRef, *, standing: Standing = "owner") -> Routine:
        """Un-pause; the slots that passed while paused are not missed runs (the anchor moves to now)."""
        _require(standing)
        routine = self.get(ref)
        self.store.routine_update(routine.id, paused=0, anchor=self.clock.now().timestamp())
        self._changed()
        return self.get(routine.id)

    def delete(self, ref: RoutineRef, *, standing: Standing = "owner") -> Routine:
        _require(standing)
        routine = self.get(ref)
        self.store.routine_delete(routine.id)
        self._changed()
        return routine

    def run_now(self, ref: RoutineRef, *, standing: Standing = "owner") -> int:
        """Run a routine now, by hand; returns the run's id. In a running claw it starts at once; otherwise it
        is queued for the claw (`claw run`), which starts it within a second (or at its start, if soon)."""
        _require(standing)
        routine = self.get(ref)
        if self.scheduler is not None and self.scheduler.ready.is_set():
            return self.scheduler.run_now(routine)
        return self.store.run_queue(routine.id, routine.name, self.clock.now().timestamp(),
                                    [step_json(s) for s in routine.steps])

    def history(self, ref: RoutineRef | None = None, *, since: dt.datetime | None = None,
                limit: int = 20) -> list[dict[str, Any]]:
        """Recent runs, newest first (each with its `step_rows`): of one routine, since a time."""
        routine_id = None if ref is None else self.get(ref).id
        rows = self.store.runs_recent(routine_id, since.timestamp() if since else None, limit)
        for row in rows:
            row["step_rows"] = self.store.steps_of(int(row["id"]))
        return rows

    def _changed(self) -> None:
        if self.scheduler is not None:
            self.scheduler.changed()

    # words -------------------------------------------------------------------------------------
    def step_text(self, step: Step, devices: Mapping[str, Device] | None = None) -> str:
        """One step in words: "turn on the kitchen light", "tell you “Good morning”", "wait 30 seconds"."""
        if isinstance(step, DeviceStep):
            devices = devices if devices is not None else {d.id: d for d in self.devices()}
            device = devices.get(step.device_id)
            if device is None:
                return f"{step.command.replace('_', ' ')} on {step.device_id} (a device I no longer know)"
            try:
                return describe(device, step.command, validate(step.command, dict(step.args)), self.safety)
            except DeviceError:
                return f"{step.command.replace('_', ' ')} on the {device.name}"
        if isinstance(step, SceneStep):
            return f"apply the scene “{step.name}”"
        if isinstance(step, SayStep):
            return f"tell you “{step.text}”"
        if isinstance(step, PromptStep):
            return f"ask myself “{step.text}”"
        return f"wait {duration_text(step.seconds)}"

    def next_times(self, routine: Routine, n: int = 3, now: dt.datetime | None = None) -> list[dt.datetime]:
        start = max(now or self.clock.now(), dt.datetime.fromtimestamp(routine.anchor, UTC))
        return next_fires(routine.trigger, start, self.where(routine.tz), n)

    def describe(self, routine: Routine, now: dt.datetime | None = None) -> str:
        """The routine as the owner reads it: when (with its zone), what, the next three times, what happens
        when a time is missed; a sun trigger says on how many days there is no sunrise or sunset."""
        now = now or self.clock.now()
        devices = {d.id: d for d in self.devices()}
        name = f"“{routine.name}”" + (f" (#{routine.id})" if routine.id else "")
        steps = [self.step_text(s, devices) for s in routine.steps]
        lines = [f"{name}: {describe_trigger(routine.trigger, routine.tz)}, {join_actions(steps)}."]
        tz = zone(routine.tz)
        if routine.paused:
            lines.append("Paused.")
        else:
            times = self.next_times(routine, 3, now)
            if times:
                lines.append("Next: " + ", ".join(when_text(t, tz, now) for t in times) + ".")
            elif isinstance(routine.trigger, Sun):
                lines.append(f"There is no {routine.trigger.event} here within a year, so it will not run.")
            else:
                lines.append("It will not run again.")
            if isinstance(routine.trigger, Sun) and times:
                gaps = polar_days(routine.trigger, now, times[-1], self.where(routine.tz))
                if gaps:
                    lines.append(f"There is no {routine.trigger.event} here on {gaps} day{'s' if gaps != 1 else ''} "
                                 "before then (polar day or night); it does not run on those days.")
        lines.append(_missed_text(routine))
        confirmed = [self.step_text(s, devices) for s in routine.steps
                     if isinstance(s, DeviceStep | SceneStep) and s.confirmed]
        if confirmed:
            lines.append(f"Confirmed to run unattended: {join_actions(confirmed)}.")
        return " ".join(lines)

    def history_text(self, row: Mapping[str, Any], tz_name: str | None = None) -> str:
        """One run in a line: "Mon 7 Dec 07:00 GMT “morning”: done (3 of 3 steps done)"."""
        tz = zone(tz_name or self.zone_name)
        when = when_text(dt.datetime.fromtimestamp(float(row["slot_utc"]), UTC), tz, self.clock.now())
        kind = {"catch_up": " (caught up late)", "manual": " (by hand)"}.get(str(row["kind"]), "")
        note = f" ({row['note']})" if row.get("note") else ""
        return f"{when} “{row['name']}”{kind}: {row['status']}{note}"


def _missed_text(routine: Routine) -> str:
    grace = duration_text(routine.grace)
    if routine.missed == "always":
        return "If I am down at that time, I run it once when I am back, however late."
    if routine.missed == "skip":
        return "If I am down at that time, I skip it and tell you."
    return f"If I am down at that time, I run it when I am back within {grace}; later, I skip it and tell you."


def _require(standing: Standing) -> None:
    if not may(standing, "routines"):
        raise RoutineError("Only the owner can create or change routines.")
