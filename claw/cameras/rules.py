"""Whether a visit is worth telling the owner: zones, labels and quiet hours of its camera (the event is kept)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

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
                verdicts: Mapping[str, str] | None = None) -> tuple[bool, str]:
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
    if cam.alert_zones and not set(zones) & set(cam.alert_zones):
        return False, "outside the alert zones"
    if cam.alert_labels and labels and not set(labels) & set(cam.alert_labels):
        return False, "not one of the alert labels"
    if in_quiet_hours(cam.quiet_hours, t):
        return False, "quiet hours"
    return True, ""
