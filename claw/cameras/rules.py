"""Whether a visit is worth telling the owner: zones, labels and quiet hours of its camera (the event is kept)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from claw.config import CameraSettings


def minutes(text: str) -> int:
    hours, _, mins = text.partition(":")
    return (int(hours) % 24) * 60 + int(mins) % 60


def in_quiet_hours(spec: str | None, t: float) -> bool:
    """Is local time t within "HH:MM-HH:MM" (which may run past midnight)?"""
    if not spec:
        return False
    start, _, end = spec.partition("-")
    now = time.localtime(t)
    m, a, b = now.tm_hour * 60 + now.tm_min, minutes(start), minutes(end)
    return a <= m < b if a <= b else m >= a or m < b


def worth_alert(cam: CameraSettings, t: float, zones: Sequence[str], labels: Sequence[str],
                verdicts: Mapping[str, str] | None = None,
                chat: Sequence[Mapping[str, Any]] = ()) -> tuple[bool, str]:
    """(alert?, why not) for a visit of `cam` at time t, standing in `zones`, seen as `labels`. `verdicts` are
    the owner's replies to earlier alerts of this camera (label -> "ignore"/"important", "motion" without
    labels): an important label is told even in quiet hours or outside the zones; a visit whose every label the
    owner said to ignore is not told."""
    if not cam.alerts:
        return False, "alerts are off for this camera"
    seen = list(labels) or ["motion"]
    if verdicts and any(verdicts.get(label) == "important" for label in seen):
        return True, ""
    if verdicts and all(verdicts.get(label) == "ignore" for label in seen):
        return False, "the owner said to ignore this"
    said = chat_rules_say(chat, cam.name, t, zones, labels)
    if said:
        return False, said
    if cam.alert_zones and not set(zones) & set(cam.alert_zones):
        return False, "outside the alert zones"
    if cam.alert_labels and labels and not set(labels) & set(cam.alert_labels):
        return False, "not one of the alert labels"
    if in_quiet_hours(cam.quiet_hours, t):
        return False, "quiet hours"
    return True, ""


def in_window(start: str | None, end: str | None, t: float) -> bool:
    """Is local time t within [start, end) ("HH:MM"; either may be missing: from/until midnight)?"""
    if not start and not end:
        return True
    return in_quiet_hours(f"{start or '00:00'}-{end or '00:00'}", t)


def _matches(rule: Mapping[str, Any], zones: Sequence[str], seen: Sequence[str]) -> bool:
    """Does what was seen (labels, or ["motion"]) in `zones` fall under the rule's labels and zone?"""
    wanted = list(rule.get("labels") or [])
    if rule.get("zone") and rule["zone"] not in zones:
        return False
    return not wanted or "motion" in wanted or bool(set(seen) & set(wanted))


def chat_rules_say(rules: Sequence[Mapping[str, Any]], camera: str, t: float, zones: Sequence[str],
                   labels: Sequence[str]) -> str:
    """Why the owner's rules said by chat (claw.intents.camera_rules) silence this visit, or "" when they do not.
    An "ignore" rule silences a visit all of whose labels (or motion) it names, in its zone and time window; the
    "only" rules of a camera silence every visit that none of them names (with its zone and time window)."""
    seen = list(labels) or ["motion"]
    mine = [r for r in rules if r.get("camera") in (None, camera)]
    for rule in mine:
        if rule.get("action") != "ignore" or not in_window(rule.get("start"), rule.get("end"), t):
            continue
        wanted = list(rule.get("labels") or [])
        if rule.get("zone") and rule["zone"] not in zones:
            continue
        if not wanted or "motion" in wanted or all(label in wanted for label in seen):
            return f"the owner's rule: {rule.get('said') or 'ignore'}"
    only = [r for r in mine if r.get("action") == "only"]
    if only and not any(_matches(r, zones, seen) and in_window(r.get("start"), r.get("end"), t) for r in only):
        return f"the owner's rule: {only[-1].get('said') or 'only'}"
    return ""
