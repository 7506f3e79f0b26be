"""What people type for a routine (CLI flags, a JSON spec, "weekdays 07:00") made into a draft Routine (pure)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from claw.routines.model import (
    ALL_DAYS,
    DEFAULT_GRACE,
    MAX_STEPS,
    MAX_WAIT,
    MIN_INTERVAL,
    MISSED_POLICIES,
    UTC,
    WEEKDAYS,
    WEEKEND,
    WORKDAYS,
    Daily,
    DeviceStep,
    Interval,
    InvalidRoutine,
    Once,
    PromptStep,
    Routine,
    SayStep,
    SceneStep,
    Step,
    Sun,
    Trigger,
    WaitStep,
)
from claw.routines.triggers import local_instant, zone

DeviceResolver = Callable[[str], str]  # a device's id or name -> its id; raises InvalidRoutine
MAX_NAME = 80
MAX_TEXT = 2000
STEP_WORDS = ("say", "prompt", "wait", "scene")

_UNITS = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60, "minute": 60,
          "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400,
          "days": 86400}
_DURATION = re.compile(r"^([+-]?)((?:\s*\d+(?:\.\d+)?\s*[a-z]+)+)\s*$", re.I)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)", re.I)
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(am|pm)?$", re.I)
_DAY_WORDS = {"daily": ALL_DAYS, "every day": ALL_DAYS, "everyday": ALL_DAYS, "all": ALL_DAYS,
              "weekdays": WORKDAYS, "weekday": WORKDAYS, "workdays": WORKDAYS, "weekends": WEEKEND,
              "weekend": WEEKEND}


def parse_duration(text: str | float) -> float:
    """Seconds in "90", "30s", "15m", "1h30m", "-15 min", "+1 hour" (signed)."""
    if isinstance(text, int | float):
        return float(text)
    raw = text.strip()
    try:
        return float(raw)
    except ValueError:
        pass
    match = _DURATION.match(raw)
    if not match:
        raise InvalidRoutine(f"not a duration: {text!r} (try 30s, 15m, 1h30m)")
    total = 0.0
    for number, unit in _PART.findall(match.group(2)):
        if unit.lower() not in _UNITS:
            raise InvalidRoutine(f"unknown unit {unit!r} in {text!r} (use s, m, h or d)")
        total += float(number) * _UNITS[unit.lower()]
    return -total if match.group(1) == "-" else total


def parse_clock(text: str) -> dt.time:
    """A wall-clock time: "07:00", "7:30", "19:05:30", "7am", "7:30 pm"."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise InvalidRoutine(f"not a time of day: {text!r} (try 07:00 or 7pm)")
    hour, minute, second = int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)
    if match.group(4):
        if not 1 <= hour <= 12:
            raise InvalidRoutine(f"not a time of day: {text!r}")
        hour = hour % 12 + (12 if match.group(4).lower() == "pm" else 0)
    try:
        return dt.time(hour, minute, second)
    except ValueError:
        raise InvalidRoutine(f"not a time of day: {text!r}") from None


def parse_days(value: str | list[str] | tuple[str, ...]) -> frozenset[int]:
    """"daily", "weekdays", "weekends", "mon,wed,fri", "mon-fri", or a list of day names."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _DAY_WORDS:
            return _DAY_WORDS[text]
        items = [p for p in re.split(r"[\s,]+", text) if p]
    else:
        items = [str(p).strip().lower() for p in value]
    days: set[int] = set()
    for item in items:
        ends = item.split("-")
        try:
            index = [WEEKDAYS.index(e[:3]) for e in ends if e]
        except ValueError:
            raise InvalidRoutine(f"not a day: {item!r} (use mon … sun, weekdays, weekends)") from None
        if len(index) == 2:
            days.update(range(index[0], index[1] + 1) if index[0] <= index[1] else [*range(index[0], 7),
                                                                                    *range(index[1] + 1)])
        elif len(index) == 1:
            days.add(index[0])
    if not days:
        raise InvalidRoutine(f"no days in {value!r}")
    return frozenset(days)


def parse_instant(text: str, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """"2026-12-24 23:00" (in the routine's zone), "2026-12-24T23:00Z", "today 18:00", "tomorrow 8am",
    "in 20m"."""
    raw = text.strip()
    low = raw.lower()
    if low.startswith("in "):
        return (now + dt.timedelta(seconds=parse_duration(raw[3:]))).astimezone(UTC).replace(microsecond=0)
    local_today = now.astimezone(tz).date()
    for word, days in (("today", 0), ("tomorrow", 1)):
        if low.startswith(word):
            at = parse_clock(raw[len(word):].strip().removeprefix("at ").strip())
            return local_instant(local_today + dt.timedelta(days=days), at, tz)  # type: ignore[arg-type]
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRoutine(f"not a date and time: {text!r} (try 2026-12-24 23:00 or in 20m)") from None
    if when.tzinfo is not None:
        return when.astimezone(UTC).replace(microsecond=0)
    return local_instant(when.date(), when.time(), tz)  # type: ignore[arg-type]


def parse_when(text: str, tz_name: str, now: dt.datetime) -> Trigger:
    """A trigger in a few words: "07:00", "daily 7am", "weekdays 07:00", "mon,wed 18:30", "every 15m",
    "in 20m", "once 2026-12-24 23:00", "tomorrow 08:00", "sunset", "sunrise -30m", "sunset +1h weekends"."""
    text = " ".join(text.split())
    low = text.lower()
    tz = zone(tz_name)
    if low.startswith("every "):
        try:
            seconds = parse_duration(text[6:])
        except InvalidRoutine:  # "every weekday 07:00": a calendar trigger, below
            pass
        else:
            return interval(seconds, now)
    if low.startswith(("in ", "today", "tomorrow")):
        return once(parse_instant(text, tz, now), now)
    if low.startswith("once "):
        return once(parse_instant(text[5:], tz, now), now)
    words = low.split()
    for event in ("sunrise", "sunset"):
        if event in words:
            rest = [w for w in words if w not in (event, "at")]
            offsets = [w for w in rest if w[0] in "+-"]
            others = [w for w in rest if w[0] not in "+-"]
            offset = parse_duration(offsets[0]) if offsets else 0.0
            return Sun(event, int(offset), parse_days(" ".join(others)) if others else ALL_DAYS)
    if not words:
        raise InvalidRoutine("say when: e.g. 07:00, weekdays 07:00, every 15m, in 20m, sunset -15m")
    at = parse_clock(words[-1] if words[-1] not in ("am", "pm") else " ".join(words[-2:]))
    head = words[:-2] if words[-1] in ("am", "pm") else words[:-1]
    head = [w for w in head if w not in ("at", "every")]
    if head == ["day"]:
        head = ["daily"]
    return Daily(at, parse_days(" ".join(head)) if head else ALL_DAYS)


def interval(seconds: float, now: dt.datetime) -> Interval:
    if seconds < MIN_INTERVAL:
        raise InvalidRoutine(f"an interval is at least {MIN_INTERVAL} seconds")
    return Interval(int(seconds), now.astimezone(UTC).replace(microsecond=0))


def once(at: dt.datetime, now: dt.datetime) -> Once:
    if at <= now:
        raise InvalidRoutine("that time has already passed")
    return Once(at)


def trigger_spec(data: Mapping[str, Any] | str, tz_name: str, now: dt.datetime) -> Trigger:
    """A trigger from its JSON spec ({"kind": "daily", "at": "07:00", "days": "weekdays"}, {"kind":
    "interval", "every": "15m"}, {"kind": "once", "at": "2026-12-24 23:00"}, {"kind": "sun", "event":
    "sunset", "offset": "-15m"}) or from words (see parse_when)."""
    if isinstance(data, str):
        return parse_when(data, tz_name, now)
    kind = data.get("kind")
    days = parse_days(data.get("days", "daily"))
    if kind == "daily":
        return Daily(parse_clock(str(data.get("at", ""))), days)
    if kind == "interval":
        every = parse_duration(data.get("every", 0))
        start = data.get("start")
        if start is None:
            return interval(every, now)
        return Interval(int(every), parse_instant(str(start), zone(tz_name), now))
    if kind == "once":
        return once(parse_instant(str(data.get("at", "")), zone(tz_name), now), now)
    if kind == "sun":
        if data.get("event") not in ("sunrise", "sunset"):
            raise InvalidRoutine("a sun trigger needs event: sunrise or sunset")
        return Sun(data["event"], int(parse_duration(data.get("offset", 0))), days)
    raise InvalidRoutine(f"unknown trigger kind {kind!r} (daily, interval, once, sun)")


def _arg_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_step(text: str, resolve: DeviceResolver) -> Step:
    """"say:Good morning", "prompt:what's the weather?", "wait:30s", "scene:movie night", or a device command
    "kitchen light:turn_on", "hallway thermostat:set_temperature temperature=18"."""
    head, sep, rest = text.partition(":")
    if not sep:
        raise InvalidRoutine(f"a step is KIND:TEXT or DEVICE:COMMAND, not {text!r}")
    word = head.strip().lower()
    if word in STEP_WORDS:
        return step_spec({word: rest.strip()}, resolve)
    command, *pairs = rest.split()
    args = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            raise InvalidRoutine(f"a command argument is NAME=VALUE, not {pair!r}")
        args[key] = _arg_value(value)
    return DeviceStep(resolve(head.strip()), command.strip(), args)


def step_spec(data: Mapping[str, Any] | str, resolve: DeviceResolver) -> Step:
    """A step from its JSON spec ({"device": "kitchen light", "command": "turn_on", "args": {}}, {"say":
    "…"}, {"prompt": "…"}, {"wait": "30s"}, {"scene": "movie night"}, or with an explicit "kind") or text."""
    if isinstance(data, str):
        return parse_step(data, resolve)
    kind = data.get("kind") or next((w for w in (*STEP_WORDS, "device") if w in data), None)
    value = data.get(kind or "", data.get("text"))
    if kind == "device":
        device, command = data.get("device"), data.get("command")
        if not device or not command:
            raise InvalidRoutine(f"a device step needs device and command: {dict(data)!r}")
        return DeviceStep(resolve(str(device)), str(command), dict(data.get("args") or {}))
    if kind == "wait":
        seconds = parse_duration(data.get("seconds", value if value is not None else 0))
        if not 0 < seconds <= MAX_WAIT:
            raise InvalidRoutine(f"a wait is between 1 second and {MAX_WAIT / 3600:g} hours")
        return WaitStep(seconds)
    text = str(value or data.get("name") or "").strip()
    if kind not in STEP_WORDS or not text or len(text) > MAX_TEXT:
        raise InvalidRoutine(f"not a step: {dict(data)!r}")
    return {"say": SayStep, "prompt": PromptStep, "scene": SceneStep}[kind](text)


def draft(spec: Mapping[str, Any], *, tz_default: str, now: dt.datetime, resolve: DeviceResolver) -> Routine:
    """An unsaved routine from a spec: {"name", "when" or "trigger", "steps", optional "tz", "missed",
    "grace"}; InvalidRoutine saying what is wrong."""
    name = " ".join(str(spec.get("name") or "").split())
    if not name or len(name) > MAX_NAME or name.isdigit() or name.startswith("#"):
        raise InvalidRoutine(f"a routine needs a name of 1 to {MAX_NAME} characters (not only digits)")
    tz_name = str(spec.get("tz") or tz_default)
    zone(tz_name)
    when = spec.get("trigger", spec.get("when"))
    if not when:
        raise InvalidRoutine("a routine needs a trigger (when it runs)")
    trigger = trigger_spec(when, tz_name, now)
    steps_in = spec.get("steps") or []
    if not isinstance(steps_in, list) or not steps_in or len(steps_in) > MAX_STEPS:
        raise InvalidRoutine(f"a routine needs 1 to {MAX_STEPS} steps")
    steps = tuple(step_spec(s, resolve) for s in steps_in)
    missed = str(spec.get("missed") or "catch_up").replace("-", "_")
    if missed not in MISSED_POLICIES:
        raise InvalidRoutine(f"missed must be one of {', '.join(MISSED_POLICIES)}, not {missed!r}")
    grace = parse_duration(spec["grace"]) if spec.get("grace") is not None else DEFAULT_GRACE
    if grace < 0:
        raise InvalidRoutine("grace cannot be negative")
    return Routine(name=name, trigger=trigger, steps=steps, tz=tz_name, missed=missed,  # type: ignore[arg-type]
                   grace=grace, anchor=now.timestamp())
