"""Area-wide and house-wide targets, pure: "all/every/everywhere" markers, "turn everything off", floors.

What "everything" touches is one table here (EVERYTHING): off switches off lights, switches, heaters and
fans and pauses speakers; on switches on lights, switches, heaters and fans. Neither ever unlocks, locks,
opens, closes or moves anything, nor changes a thermostat: those are left as they are and the reply says so.
Words that say "the whole home" ("every", "all the rooms", "house", "everywhere") are markers, never a
device or room name; floors ("downstairs") are not known (rooms carry no floor) and the reply says so."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from claw.intents.types import FollowUp, Plan, Step
from claw.intents.vocab import COVER_FAMILIES, NOUN_BY_DOMAIN, cover_class, domain_of, join_or, label, pluralize
from devices.models import Device, Kind
from devices.registry import normalize_name

# Words outside any device name / room / search text that widen a command to the whole home (or to every
# device of the kind in the named room): "turn on every light", "close both blinds", "pause the music
# everywhere", "lock the doors in the whole house".
QUANTIFIERS = frozenset({"all", "every", "each", "both", "everywhere", "whole", "entire", "throughout",
                         "house", "home", "apartment", "flat", "rooms"})
# Never a device or room name in "I don't know a device called …" (claw.intents.engine.unknown_target).
SCOPE_WORDS = QUANTIFIERS | {"the", "my", "our", "of", "in", "on", "at", "everything", "anything", "room",
                             "area", "areas", "floor", "floors", "single", "and", "whole", "it", "them"}

# What "turn everything off/on" does per Home Assistant domain; any other device is left as it is.
EVERYTHING: dict[bool, dict[str, str]] = {
    False: {"light": "turn_off", "switch": "turn_off", "fan": "turn_off", "media_player": "pause"},
    True: {"light": "turn_on", "switch": "turn_on", "fan": "turn_on"},
}
_LEFT_ALONE = frozenset({"lock", "cover", "climate"})  # named in the reply as "left as they are"


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def quantified(text: str, entity_texts: Iterable[str]) -> bool:
    """Whether the sentence says "all / every / everywhere / the whole house" in its own words, not inside a
    device name, room or search text (those are the entities' texts): "play all of me" is not widened."""
    words = _words(text)
    for entity in entity_texts:
        taken = _words(entity)
        for i in range(len(words) - len(taken) + 1):
            if taken and words[i:i + len(taken)] == taken:
                del words[i:i + len(taken)]
                break
    return not QUANTIFIERS.isdisjoint(words)


def widen(slots: dict[str, Any], default_area: str | None, one_at_home: bool) -> tuple[str | None, bool]:
    """For a sentence that says "all/every/everywhere": not just the owner's room, and no "which one?"."""
    if slots.get("all"):
        return None, False
    return default_area, one_at_home


def stray_words(words: str) -> str:
    """An unknown target without the words that only say how far it reaches: "every toaster" -> "toaster",
    "all the rooms" -> "" (nothing left to call a device)."""
    return " ".join(w for w in words.split() if w.lower() not in SCOPE_WORDS)


def floor_problem(floor: str, devices: list[Device]) -> str:
    """A command for a floor ("turn off the lights downstairs"; slot `scope_floor` of sentences/en/scope.yaml):
    rooms carry no floor, so say so and name the rooms; nothing is done."""
    rooms = sorted({d.room for d in devices if d.room})
    where = f" Name a room instead ({join_or(rooms)}), or say “everywhere”." if rooms else ""
    return f"I don't know which rooms are {' '.join(str(floor).split())}: rooms here have no floors.{where}"


def _in_room(device: Device, area: str) -> bool:
    return bool(device.room) and normalize_name(device.room or "") == normalize_name(area)


def _command(device: Device, on: bool) -> str | None:
    command = EVERYTHING[on].get(domain_of(device))
    if command is None:
        return None
    needs = "media" if command == "pause" else "power"
    return command if needs in device.capabilities else None


def _noun(device: Device) -> str:
    if device.kind == Kind.GARAGE:
        return "garage door"
    if domain_of(device) == "cover":  # shades, curtains, shutters: one word for them all
        return "blind" if cover_class(device) in COVER_FAMILIES[0] else "door"
    return NOUN_BY_DOMAIN.get(domain_of(device), "device")


def left_alone_note(devices: list[Device]) -> str | None:
    """ "I left the front door and the hallway thermostat as they are." (by kind when there are many)."""
    if not devices:
        return None
    if len(devices) <= 3:
        names = [f"the {label(d)}" for d in devices]
    else:
        counts: dict[str, int] = {}
        for d in devices:
            counts[_noun(d)] = counts.get(_noun(d), 0) + 1
        names = [f"the {noun}" if n == 1 else f"{n} {pluralize(noun)}" for noun, n in counts.items()]
    both = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]
    return f"I left {both} as {'it is' if len(devices) == 1 else 'they are'}."


def everything(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """ "turn everything off [in the kitchen]": the EVERYTHING table over the named room, else (unless the
    sentence said "here") the whole home. Locks, covers and thermostats are left alone, and said to be."""
    on = intent == "HassTurnOn"
    area = slots.get("area") or (default_area if slots.get("here") else None)
    if slots.get("here") and not area:  # "in here", and no room is known for the owner
        rooms = sorted({d.room for d in devices if d.room})
        rest = {k: v for k, v in slots.items() if k != "here"}  # the answer ("the kitchen") finishes it
        return Plan(intent, problem=f"Which room do you mean: {join_or(rooms)}?" if rooms else
                    "I don't know which room you are in.", slots=slots, followup=FollowUp(intent, rest))
    scope = [d for d in devices if area is None or _in_room(d, area)]
    steps = [Step(d.id, cmd) for d in scope if (cmd := _command(d, on)) is not None]
    alone = [d for d in scope if domain_of(d) in _LEFT_ALONE and not any(s.device_id == d.id for s in steps)]
    where = f"in the {area}" if area else "in the house"
    if not steps:
        note = left_alone_note(alone)
        return Plan(intent, problem=f"There is nothing to switch {'on' if on else 'off'} {where}."
                    + (f" {note}" if note else ""), slots=slots)
    note = left_alone_note(alone)
    return Plan(intent, steps=tuple(steps), slots=slots, notes=(note,) if note else ())
