"""A routine as data: its trigger, its steps, the missed-run policy, and their JSON shapes (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from claw.errors import ClawError

UTC = dt.UTC
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
ALL_DAYS: frozenset[int] = frozenset(range(7))
WORKDAYS: frozenset[int] = frozenset(range(5))
WEEKEND: frozenset[int] = frozenset({5, 6})
DEFAULT_GRACE = 600.0  # seconds: a slot found late by at most this much still runs (catch_up)
MAX_STEPS = 50
MAX_WAIT = 24 * 3600.0  # one wait step waits at most a day
MIN_INTERVAL = 10  # seconds

MissedPolicy = Literal["catch_up", "skip", "always"]
"""What happens to a slot found late (the claw was down, or busy): catch_up runs it within the grace, else
skips it and tells the owner; skip never runs late (the owner is told); always runs it once however late."""
MISSED_POLICIES: tuple[str, ...] = get_args(MissedPolicy)
SunEvent = Literal["sunrise", "sunset"]


class RoutineError(ClawError):
    """The root of the routines' errors; the message is safe to show to the owner."""


class InvalidRoutine(RoutineError):
    """A routine (or its spec) that cannot be stored or run as given."""


class RoutineNotFound(RoutineError):
    """No routine has that id or name."""


# triggers ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Daily:
    """At a wall-clock time on the given weekdays (all seven: every day), in the routine's time zone."""

    at: dt.time
    days: frozenset[int] = ALL_DAYS
    kind: Literal["daily"] = "daily"


@dataclass(frozen=True)
class Interval:
    """Every `every` seconds of elapsed time from `start` (UTC): DST does not move it."""

    every: int
    start: dt.datetime
    kind: Literal["interval"] = "interval"


@dataclass(frozen=True)
class Once:
    """Once, at an instant (UTC); a routine whose only slot has passed stays for its history."""

    at: dt.datetime
    kind: Literal["once"] = "once"


@dataclass(frozen=True)
class Sun:
    """At sunrise or sunset plus `offset` seconds (negative: before) at the configured location."""

    event: SunEvent
    offset: int = 0
    days: frozenset[int] = ALL_DAYS
    kind: Literal["sun"] = "sun"


Trigger = Daily | Interval | Once | Sun


# steps ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeviceStep:
    """One device command; `confirmed`: the owner's YES at creation covers it if the policy finds it risky."""

    device_id: str
    command: str
    args: Mapping[str, Any] = field(default_factory=dict)
    confirmed: bool = False
    kind: Literal["device"] = "device"


@dataclass(frozen=True)
class SceneStep:
    """Apply a named scene (resolved at run time through claw.routines.runner.Scenes)."""

    name: str
    confirmed: bool = False
    kind: Literal["scene"] = "scene"


@dataclass(frozen=True)
class SayStep:
    """A message to the owner, through the Notifier (the owner's route, the channel's window rules)."""

    text: str
    kind: Literal["say"] = "say"


@dataclass(frozen=True)
class PromptStep:
    """A prompt run as an agent turn on the system channel, as the owner; its reply goes to the owner."""

    text: str
    kind: Literal["prompt"] = "prompt"


@dataclass(frozen=True)
class WaitStep:
    """Wait this many seconds before the next step (a restart waits only what is left)."""

    seconds: float
    kind: Literal["wait"] = "wait"


Step = DeviceStep | SceneStep | SayStep | PromptStep | WaitStep


@dataclass(frozen=True)
class Routine:
    """A stored routine. `anchor` (UTC seconds): slots at or before it are never due (creation, resume)."""

    name: str
    trigger: Trigger
    steps: tuple[Step, ...]
    tz: str
    missed: MissedPolicy = "catch_up"
    grace: float = DEFAULT_GRACE
    paused: bool = False
    id: int = 0
    anchor: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def sender(self) -> str:
        """Who the routine is on the system channel (its messages and turns)."""
        return f"routine:{self.id}"


# JSON ----------------------------------------------------------------------------------------------
def _iso(when: dt.datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise InvalidRoutine(f"stored instant {text!r} has no time zone")
    return when.astimezone(UTC)


def day_names(days: frozenset[int]) -> list[str]:
    return [WEEKDAYS[d] for d in sorted(days)]


def trigger_json(trigger: Trigger) -> dict[str, Any]:
    if isinstance(trigger, Daily):
        return {"kind": "daily", "at": trigger.at.strftime("%H:%M:%S"), "days": day_names(trigger.days)}
    if isinstance(trigger, Interval):
        return {"kind": "interval", "every": trigger.every, "start": _iso(trigger.start)}
    if isinstance(trigger, Once):
        return {"kind": "once", "at": _iso(trigger.at)}
    return {"kind": "sun", "event": trigger.event, "offset": trigger.offset, "days": day_names(trigger.days)}


def _days(names: Any) -> frozenset[int]:
    if not isinstance(names, list) or not names:
        raise InvalidRoutine("days must be a non-empty list of mon … sun")
    try:
        return frozenset(WEEKDAYS.index(str(n).lower()[:3]) for n in names)
    except ValueError:
        raise InvalidRoutine(f"days must be among {', '.join(WEEKDAYS)}, not {names!r}") from None


def trigger_from_json(data: Mapping[str, Any]) -> Trigger:
    """The trigger of a stored (canonical) JSON shape; see claw.routines.spec for what people type."""
    kind = data.get("kind")
    try:
        if kind == "daily":
            return Daily(dt.time.fromisoformat(str(data["at"])), _days(data.get("days", list(WEEKDAYS))))
        if kind == "interval":
            return Interval(int(data["every"]), _instant(str(data["start"])))
        if kind == "once":
            return Once(_instant(str(data["at"])))
        if kind == "sun" and data.get("event") in get_args(SunEvent):
            return Sun(data["event"], int(data.get("offset", 0)), _days(data.get("days", list(WEEKDAYS))))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRoutine(f"bad {kind} trigger {dict(data)!r}: {exc}") from None
    raise InvalidRoutine(f"unknown trigger {dict(data)!r}")


def step_json(step: Step) -> dict[str, Any]:
    if isinstance(step, DeviceStep):
        return {"kind": "device", "device": step.device_id, "command": step.command, "args": dict(step.args),
                "confirmed": step.confirmed}
    if isinstance(step, SceneStep):
        return {"kind": "scene", "name": step.name, "confirmed": step.confirmed}
    if isinstance(step, WaitStep):
        return {"kind": "wait", "seconds": step.seconds}
    return {"kind": step.kind, "text": step.text}


def step_from_json(data: Mapping[str, Any]) -> Step:
    kind = data.get("kind")
    try:
        if kind == "device":
            return DeviceStep(str(data["device"]), str(data["command"]), dict(data.get("args") or {}),
                              bool(data.get("confirmed", False)))
        if kind == "scene":
            return SceneStep(str(data["name"]), bool(data.get("confirmed", False)))
        if kind == "say":
            return SayStep(str(data["text"]))
        if kind == "prompt":
            return PromptStep(str(data["text"]))
        if kind == "wait":
            return WaitStep(float(data["seconds"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRoutine(f"bad {kind} step {dict(data)!r}: {exc}") from None
    raise InvalidRoutine(f"unknown step {dict(data)!r}")


def routine_row(routine: Routine) -> dict[str, Any]:
    """The columns the store keeps for a routine (JSON columns as Python values)."""
    return {"name": routine.name, "trigger": trigger_json(routine.trigger),
            "steps": [step_json(s) for s in routine.steps], "tz": routine.tz, "missed": routine.missed,
            "grace": routine.grace, "paused": int(routine.paused), "anchor": routine.anchor}


def routine_from_row(row: Mapping[str, Any]) -> Routine:
    missed = row.get("missed") or "catch_up"
    if missed not in MISSED_POLICIES:
        raise InvalidRoutine(f"unknown missed-run policy {missed!r}")
    return Routine(name=str(row["name"]), trigger=trigger_from_json(row["trigger"]),
                   steps=tuple(step_from_json(s) for s in row["steps"]), tz=str(row["tz"]), missed=missed,
                   grace=float(row.get("grace") if row.get("grace") is not None else DEFAULT_GRACE),
                   paused=bool(row.get("paused")), id=int(row.get("id") or 0),
                   anchor=float(row.get("anchor") or 0.0), created_at=float(row.get("created_at") or 0.0),
                   updated_at=float(row.get("updated_at") or 0.0))
