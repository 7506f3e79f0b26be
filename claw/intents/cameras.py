"""Camera questions as pure logic: the ClawCamera plan, which camera a name means, "since 8" as a time."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from claw.intents.types import Plan
from devices.models import Device

TOPICS = ("snapshot", "events", "last", "ignore", "important")
_SINCE = re.compile(r"^(?:(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.|o'?clock)?|noon|midday|midnight)$")


def camera_plan(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """ClawCamera: topic snapshot (a fresh picture), events (what was stored, `since`), last (its picture), or
    ignore / important (the owner's verdict on the last alert)."""
    topic = str(slots.get("topic") or "")
    if topic not in TOPICS:
        return Plan(intent, problem="I understood that was about a camera, but not what to show.", slots=slots)
    if topic == "snapshot" and not slots.get("camera"):
        return Plan(intent, problem="Which camera should I show?", slots=slots)
    since = slots.get("since")
    if since is not None and since_hour(str(since)) is None:
        return Plan(intent, problem=f"I didn't understand the time “{since}”: say for example “since 8” or "
                                    "“since 14:30”.", slots=slots)
    return Plan(intent, slots=slots)


def since_hour(text: str) -> tuple[int, int] | None:
    """"8", "8am", "8:30", "20.15", "2 pm", "noon" -> (hour, minute) on the 24-hour clock; None when not a time."""
    text = " ".join(text.lower().strip(" ?.!").split())
    match = _SINCE.match(text)
    if match is None:
        return None
    if text in ("noon", "midday"):
        return 12, 0
    if text == "midnight":
        return 0, 0
    hour, minute, suffix = int(match.group(1)), int(match.group(2) or 0), match.group(3) or ""
    if suffix.startswith("p") and hour < 12:
        hour += 12
    elif suffix.startswith("a") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def since_time(slots: dict[str, Any], now: float) -> float:
    """When the question's window starts: "since 8" today at 8 (yesterday when that is still to come), else local
    midnight today."""
    local = time.localtime(now)
    hm = since_hour(str(slots["since"])) if slots.get("since") else None
    hour, minute = hm if hm is not None else (0, 0)
    start = time.mktime((local.tm_year, local.tm_mon, local.tm_mday, hour, minute, 0, 0, 0, -1))
    return start - 86400 if start > now else start


def camera_names(name: str) -> list[str]:
    """The ways a camera is named in a sentence: "front door", "front door camera" (the slot list's values)."""
    plain = " ".join(name.split())
    return [plain] if "camera" in plain.lower() else [plain, f"{plain} camera"]


CAPTION_SHOWN = 160  # characters of a visit's caption in an events answer (stored cleaned and capped already)


def event_lines(events: Sequence[dict[str, Any]], limit: int = 8) -> list[str]:
    """One line per event, oldest first: "08:14 person (front door)"; events come newest first."""
    lines = []
    for event in list(events)[:limit][::-1]:
        labels = [str(x.get("label")) for x in event.get("labels") or [] if isinstance(x, dict)]
        what = " and ".join(dict.fromkeys(labels)) or "motion"
        if event.get("kind") in ("appeared", "taken"):  # persistent change (claw.cameras.changes)
            thing = what if what not in ("something", "package") else ("parcel" if what == "package" else what)
            what = f"{thing} left" if event["kind"] == "appeared" else f"{thing} taken"
        told = "" if event.get("alert") else ", not told"
        caption = f": {str(event['caption'])[:CAPTION_SHOWN]}" if event.get("caption") else ""
        lines.append(f"{time.strftime('%H:%M', time.localtime(float(event['started_at'])))} {what}"
                     f" ({event['camera']}{told}){caption}")
    return lines
