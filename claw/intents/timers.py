"""Home Assistant's timer intents as timer operations (pure): start, status, add/remove time, pause, cancel, delay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claw.intents.types import Plan
from devices.models import Device

MAX_TIMER = 24 * 3600  # one timer runs at most a day
MAX_NAME = 60  # characters of a timer's name kept
OPS = {"HassStartTimer": "start", "HassTimerStatus": "status", "HassIncreaseTimer": "add",
       "HassDecreaseTimer": "remove", "HassPauseTimer": "pause", "HassUnpauseTimer": "resume",
       "HassCancelTimer": "cancel", "HassCancelAllTimers": "cancel_all"}
TIMER_INTENTS = frozenset(OPS)


@dataclass(frozen=True)
class TimerOp:
    """What one timer sentence asks. `seconds`: a new timer's length or the time added/removed; `name`: the
    timer's name ("pasta"); `which`: the length naming an existing timer ("the 5 minute timer"); `command`:
    the words of a delayed command ("turn off the heating" in "turn off the heating in 30 minutes")."""

    op: str
    seconds: int = 0
    name: str = ""
    which: int = 0
    command: str = ""


def _seconds(slots: dict[str, Any], prefix: str = "") -> int:
    total = 0
    for unit, factor in (("hours", 3600), ("minutes", 60), ("seconds", 1)):
        value = slots.get(prefix + unit)
        if value is not None and value != "":
            total += round(float(value) * factor)
    return total


def _name(slots: dict[str, Any]) -> str:
    name = " ".join(str(slots.get("name") or "").split()).strip(" .!?,").lower()
    for word in ("the ", "my ", "a ", "an "):
        if name.startswith(word):
            name = name[len(word):]
    return name.removesuffix(" timer").strip()[:MAX_NAME]


def timer_op(intent: str, slots: dict[str, Any]) -> TimerOp:
    """The operation a recognised timer intent asks for (ValueError: a length that is not a timer's)."""
    op = OPS[intent]
    seconds = _seconds(slots)
    if op in ("start", "add", "remove") and not 0 < seconds <= MAX_TIMER:
        raise ValueError(f"a timer of {seconds} s")
    command = " ".join(str(slots.get("conversation_command") or "").split()).strip(" .!?,")
    return TimerOp(op, seconds, _name(slots), _seconds(slots, "start_"), command)


def handle_timer(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """The plan of a timer sentence: its TimerOp in `slots["timer"]`, carried out by claw.agent.timers."""
    try:
        op = timer_op(intent, slots)
    except ValueError:
        return Plan(intent, problem="A timer can run for a second up to a day.", slots=slots)
    return Plan(intent, slots={**slots, "timer": op})


TIMER_HANDLERS = {name: handle_timer for name in OPS}


def length_text(seconds: float) -> str:
    """"10 minutes", "1 hour 30 minutes", "45 seconds" (rounded to the second)."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in
             ((hours, "hour"), (minutes, "minute"), (secs, "second")) if n]
    return " ".join(parts) or "0 seconds"
