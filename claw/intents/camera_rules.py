"""Camera rules said by chat as pure logic: slots -> a rule (camera, labels, zone, time window, action), the
configured zone a place word means, and the sentence that restates a rule as the code understood it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from claw.intents.cameras import since_hour
from claw.intents.types import Plan
from devices.models import Device

ACTIONS = ("ignore", "only", "reset", "list")
WINDOWS = {"day": ("07:00", "20:00"), "night": ("20:00", "07:00"), "morning": ("06:00", "12:00"),
           "evening": ("18:00", "23:00")}
GROUPS = {"animal": ("dog", "cat")}  # a word that means several labels
# place words and the zone names they may be configured as ("on the street" finds a zone named "road")
PLACES: tuple[frozenset[str], ...] = (
    frozenset({"street", "road", "pavement", "sidewalk"}), frozenset({"path", "footpath", "walkway"}),
    frozenset({"driveway", "drive", "parking", "car park"}), frozenset({"garden", "lawn", "yard"}),
    frozenset({"porch", "doorstep", "steps", "entrance"}), frozenset({"patio", "terrace"}),
)
NIGHT_FROM = 18 * 60  # "after 10pm" runs until the morning; "after 2pm" until midnight
MORNING = "06:00"


def _hm(text: str) -> str | None:
    found = since_hour(text)
    return f"{found[0]:02d}:{found[1]:02d}" if found is not None else None


def window(slots: Mapping[str, Any]) -> tuple[str | None, str | None] | str:
    """(start, end) as "HH:MM" (None: open) from the sentence's time words, or a problem sentence."""
    if slots.get("camera_when"):
        return WINDOWS[str(slots["camera_when"])]
    for key in ("rule_after", "rule_before", "rule_from", "rule_to"):
        if slots.get(key) and _hm(str(slots[key])) is None:
            return (f"I didn't understand the time “{slots[key]}”: say for example “after 10pm” or “between 8 and "
                    "18:30”.")
    if slots.get("rule_after"):
        start = _hm(str(slots["rule_after"]))
        assert start is not None
        hour, minute = map(int, start.split(":"))
        return start, MORNING if hour * 60 + minute >= NIGHT_FROM else None
    if slots.get("rule_before"):
        return None, _hm(str(slots["rule_before"]))
    if slots.get("rule_from") and slots.get("rule_to"):
        return _hm(str(slots["rule_from"])), _hm(str(slots["rule_to"]))
    return None, None


def camera_rule_plan(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """ClawCameraRule: the rule in `slots["rule"]` (camera, labels, place, start, end, action) or a problem."""
    action = str(slots.get("action") or "")
    if action not in ACTIONS:
        return Plan(intent, problem="I understood that was a camera rule, but not what to do.", slots=slots)
    labels: list[str] = []
    for key in ("camera_what", "what2"):
        if slots.get(key):
            labels += GROUPS.get(str(slots[key]), (str(slots[key]),))
    labels = list(dict.fromkeys(labels))
    if "motion" in labels:
        labels = []  # "motion", "everything": whatever was seen
    span = window(slots)
    if isinstance(span, str):
        return Plan(intent, problem=span, slots=slots)
    rule = {"action": action, "camera": slots.get("camera"), "labels": labels, "place": slots.get("camera_zone"),
            "start": span[0], "end": span[1]}
    return Plan(intent, slots={**slots, "rule": rule})


def resolve_place(place: str, camera: str | None, zones: Mapping[str, Sequence[str]]) -> tuple[str | None, str] | str:
    """The camera (None: every camera that has it) and configured zone a place word means, or a problem sentence
    that names the zones there are. `zones` is camera -> its zone names."""
    word = place.lower()
    kin = next((group for group in PLACES if word in group), frozenset({word}))
    scope = {camera: zones.get(camera, ())} if camera else zones
    found = [(cam, zone) for cam, names in scope.items() for zone in names if zone.lower() in kin]
    exact = [(cam, zone) for cam, zone in found if zone.lower() == word]
    found = exact or found
    if found:
        names = {zone for _, zone in found}
        if len(names) == 1:
            cams = {cam for cam, _ in found}
            return (next(iter(cams)) if len(cams) == 1 else None), next(iter(names))
        return f"“{place}” could mean the zone {_or(sorted(names))}: say which."
    existing = [f"{zone} ({cam})" for cam, names in scope.items() for zone in names]
    lead = f"The {camera} camera has no zone for" if camera else "No camera has a zone for"
    if not existing:
        return (f"{lead} “the {place}” (no zones are set up): add `zones` to the camera in the config, or say "
                "the rule without a place.")
    return f"{lead} “the {place}”. The zones there are: {', '.join(existing)}."


def _or(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


PLURALS = {"person": "people", "package": "parcels", "bicycle": "bicycles", "motorcycle": "motorcycles",
           "bus": "buses"}


def things(labels: Sequence[str]) -> str:
    """"cars and trucks", "people", "motion" (no labels)."""
    if not labels:
        return "anything (motion)"
    return _and([PLURALS.get(x, x if x.endswith("s") else x + "s") for x in labels])


def span_text(start: str | None, end: str | None) -> str:
    if start and end:
        return f" between {start} and {end}"
    if start:
        return f" after {start} (until midnight)"
    if end:
        return f" before {end} (from midnight)"
    return ""


def where_text(camera: str | None, zone: str | None) -> str:
    """" in the street zone of the front door camera", " at the front door camera", " on any camera"."""
    cam = f"the {camera} camera" if camera and "camera" not in camera.lower() else (f"the {camera}" if camera
                                                                                  else "any camera")
    if zone:
        return f" in the {zone} zone of {cam}" if camera else f" in the {zone} zone of any camera"
    return f" at {cam}" if camera else " on any camera"


def describe(rule: Mapping[str, Any]) -> str:
    """The rule in words: "no alerts for cars in the street zone of the front door camera"."""
    where = where_text(rule.get("camera"), rule.get("zone"))
    when = span_text(rule.get("start"), rule.get("end"))
    if rule.get("action") == "only":
        return f"only {things(rule.get('labels') or [])}{where}{when}"
    return f"no alerts for {things(rule.get('labels') or [])}{where}{when}"


def restate(rule: Mapping[str, Any]) -> str:
    """What the reply says about a new rule, with how to undo it."""
    where = where_text(rule.get("camera"), rule.get("zone"))
    when = span_text(rule.get("start"), rule.get("end"))
    what = things(rule.get("labels") or [])
    undo_at = str(rule["camera"]) if rule.get("camera") else "the cameras"
    undo = f" Say “tell me about everything at {'the ' + undo_at if rule.get('camera') else undo_at} again” to undo."
    if rule.get("action") == "only":
        scope = where.strip()
        return (f"From now on, {scope} I'll only tell you about {what}{when}; other visits there are kept but not "
                f"told.{undo}")
    return f"From now on I won't tell you about {what}{where}{when} (they are still kept).{undo}"
