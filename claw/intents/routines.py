"""Routines and scenes in words (pure): a recognised sentence's slots made into a routine draft or a scene request.

The command part of a routine ("turn on the kitchen light") is left as text: claw.agent.routines parses it
with the same intent engine and takes the Plan's steps, so there is no second grammar for commands."""

from __future__ import annotations

import re
from typing import Any

from claw.intents.types import Plan
from devices.models import Device

ROUTINE_INTENTS = frozenset({"ClawRoutineAdd", "ClawRoutineList", "ClawRoutineManage", "ClawRoutineHistory",
                             "ClawSceneSave", "ClawSceneDefine", "ClawSceneApply", "ClawSceneList",
                             "ClawSceneDelete"})
_TIME = re.compile(r"^(?:(noon|midday|midnight)|(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.|o'?clock)?)"
                   r"(?=\s|$)\s*(.*)$", re.I)
_REMIND = re.compile(r"^(.*?)\s+(?:to|that)\s+(.+)$", re.I)
_NAME_MAX = 80


def clock_at(text: str) -> tuple[str, str] | None:
    """"7 turn on …" -> ("07:00", "turn on …"); "11pm …", "22:30 …", "6.30 pm …", "noon …"; None if no time."""
    match = _TIME.match(text.strip())
    if not match:
        return None
    word, hour, minute, suffix, rest = match.groups()
    if word:
        h, m = (0, 0) if word.lower() == "midnight" else (12, 0)
    else:
        h, m = int(hour), int(minute or 0)
        tag = (suffix or "").lower().replace(".", "")
        if tag in ("am", "pm"):
            if not 1 <= h <= 12:
                return None
            h = h % 12 + (12 if tag == "pm" else 0)
    if h > 23 or m > 59:
        return None
    return f"{h:02d}:{m:02d}", rest.strip(" ,")


def when_and_rest(form: str, slots: dict[str, Any]) -> tuple[str, str, bool] | None:
    """The `when` words claw.routines.spec reads, the command text, and whether "today" may become tomorrow."""
    rest = " ".join(str(slots.get("routine_rest", "")).split()).strip(" ,")
    count, unit = slots.get("routine_count"), slots.get("routine_unit") or slots.get("routine_unit_one")
    if form == "interval":
        return f"every {int(count or 1)}{unit}", rest, False
    if form == "in":
        return f"in {int(count or 1)}{unit}", rest, False
    if form == "sun":
        offset = f" {slots.get('routine_side', '+')}{int(count)}{unit}" if count else ""
        return f"{slots['routine_sun']}{offset}", rest, False
    at = clock_at(rest)
    if at is None:
        return None
    clock, rest = at
    if form == "daily":
        return f"{slots.get('routine_days', 'daily')} {clock}", rest, False
    if form == "tomorrow":
        return f"tomorrow {clock}", rest, False
    return f"today {clock}", rest, True  # "at 11pm": the next 11pm


def remind_parts(text: str) -> tuple[str, str, bool] | None:
    """"at 6pm to water the plants", "every weekday at 7 to …", "in 20 minutes to …", "tomorrow at 8 to …"."""
    match = _REMIND.match(" ".join(text.split()))
    if not match:
        return None
    head, what = match.group(1).lower(), match.group(2).strip(" .!")
    forms: list[tuple[str, str, dict[str, Any]]] = []
    if m := re.fullmatch(r"(?:every|on)\s+(day|weekday|weekend|\w+day)s?\s+at\s+(.+)", head):
        days = {"day": "daily", "weekday": "weekdays", "weekend": "weekends"}.get(m.group(1), m.group(1)[:3])
        forms.append(("daily", m.group(2), {"routine_days": days}))
    elif m := re.fullmatch(r"(?:today |tonight )?at\s+(.+)", head):
        forms.append(("at", m.group(1), {}))
    elif m := re.fullmatch(r"tomorrow(?:\s+at)?\s+(.+)", head):
        forms.append(("tomorrow", m.group(1), {}))
    elif m := re.fullmatch(r"(in|every)\s+(\d+)\s+(minute|min|hour|hr)s?", head):
        unit = "m" if m.group(3).startswith("m") else "h"
        forms.append(("in" if m.group(1) == "in" else "interval", "",
                      {"routine_count": int(m.group(2)), "routine_unit": unit}))
    for form, rest, extra in forms:
        found = when_and_rest(form, {"routine_rest": rest, **extra})
        if found is not None and not found[1]:
            return found[0], what, found[2]
    return None


def routine_name(when: str, what: str) -> str:
    """A readable, unique-enough name: "turn on the kitchen light, weekdays 07:00"."""
    name = f"{what}, {when}"
    return name if len(name) <= _NAME_MAX else name[: _NAME_MAX - 1] + "…"


def _add(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    form = str(slots.get("routine_form", ""))
    if form == "remind":
        found = remind_parts(str(slots.get("routine_rest", "")))
        if found is None:
            return Plan(intent, problem="I can set a reminder like “remind me at 6pm to water the plants” or "
                                        "“remind me every weekday at 7 to take the bins out”.", slots=slots)
        when, say, roll = found
        draft = {"when": when, "say": say, "roll": roll, "name": routine_name(when, f"remind: {say}")}
        return Plan(intent, slots={**slots, "routine": draft})
    found_ = when_and_rest(form, slots)
    if found_ is None or not found_[1]:
        return Plan(intent, problem="I understood a routine, but not when or what: try “every weekday at 7 turn "
                                    "on the kitchen light” or “at sunset close the bedroom shade”.", slots=slots)
    when, command, roll = found_
    draft = {"when": when, "command": command, "roll": roll, "name": routine_name(when, command)}
    return Plan(intent, slots={**slots, "routine": draft})


def _pass(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """Management and scenes: the slots as they are (the agent side reads the store and the devices)."""
    cleaned = {k: " ".join(str(v).split()).strip(" .!?,\"'“”") if isinstance(v, str) else v for k, v in slots.items()}
    return Plan(intent, slots=cleaned)


ROUTINE_HANDLERS = {"ClawRoutineAdd": _add, **{name: _pass for name in ROUTINE_INTENTS if name != "ClawRoutineAdd"}}


_STATE_WORDS = (("unlocked", "unlock"), ("locked", "lock"), ("opened", "open"), ("open", "open"),
                ("closed", "close"), ("shut", "close"))


def as_command(part: str) -> str:
    """A scene's state phrase as a command the engine reads: "front door locked" -> "lock front door",
    "blinds closed" -> "close blinds"; other text as it is ("lights off", "thermostat 18")."""
    words = part.split()
    if len(words) >= 2 and words[-1].lower() in dict(_STATE_WORDS):
        return f"{dict(_STATE_WORDS)[words[-1].lower()]} the {' '.join(words[:-1]).removeprefix('the ')}"
    return part
