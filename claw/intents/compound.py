"""Compound commands, pure: "turn off the lights and lock the front door" -> one Plan holding both halves' steps.

A sentence is split at " and ", ", then", " then ", ";" and "," only when every half is a local device
command; otherwise the whole sentence goes on as before ("play rock and roll" stays one search). A later half
may be just a target ("… and the bedroom light", "… and the kitchen too": the earlier half's command again)
or say "it"/"them" ("turn on the kitchen light and set it to 40%": the earlier half's devices). One Plan
comes out: every half's steps in order (one confirmation for the risky ones, see claw.agent.local), and a
half that cannot be done (no such light, "which speaker?") is said after what was done, never dropped."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from claw.intents.followup import target_of
from claw.intents.plan import plan
from claw.intents.types import Plan, Step
from claw.intents.vocab import label
from devices.models import Device

COMPOUND = "ClawCompound"
MAX_PARTS = 4
# Intents that change devices: a half must be one of these (a question or a memory op is not split).
ACTING = frozenset({"HassTurnOn", "HassTurnOff", "HassLightSet", "HassClimateSetTemperature", "HassMediaPause",
                    "HassMediaUnpause", "HassMediaNext", "HassMediaPrevious", "HassSetVolume",
                    "HassMediaPlayerMute", "HassMediaPlayerUnmute", "HassMediaSearchAndPlay", "HassSetPosition"})
_SEPARATOR = re.compile(r"\s*(?:,\s*(?:and\s+)?then\b|\band\s+then\b|\bthen\b|;|,\s*and\b|\band\b|,)\s*", re.I)
_MAYBE = re.compile(r"\b(?:and|then)\b|[,;]", re.I)
_TOO = re.compile(r"[\s,]*\b(?:too|as well|also)\W*$", re.I)
_PRONOUN = re.compile(r"\b(it|them|they|those|these)\b", re.I)
# A later half naming a room and a kind of device: "… and the bedroom blinds" -> domain (and cover class).
_NOUNS: dict[str, tuple[str, str | None]] = {
    **{w: ("light", None) for w in ("light", "lights", "lamp", "lamps", "lighting")},
    **{w: ("media_player", None) for w in ("speaker", "speakers", "music")},
    **{w: ("climate", None) for w in ("thermostat", "heating")},
    **{w: ("switch", None) for w in ("switch", "switches")},
    **{w: ("fan", None) for w in ("fan", "fans")},
    **{f"{c}{s}": ("cover", c) for c in ("blind", "shade", "curtain", "shutter", "awning", "window", "gate")
       for s in ("", "s")},
}
_DROPPED = ("name", "area", "name_domain", "all", "response", "here")  # the earlier half's target


def pieces(text: str) -> list[str]:
    """The sentence cut at every separator, as (start, end) spans' texts; [] when there is nothing to cut."""
    if not _MAYBE.search(text):
        return []
    parts = [p.strip(" ,.;!") for p in _SEPARATOR.split(text)]
    parts = [p for p in parts if p]
    return parts if 2 <= len(parts) <= MAX_PARTS else []


def _groupings(parts: list[str], text: str) -> Iterator[list[str]]:
    """Every way to join neighbouring pieces back into 2+ halves, the finest first. A joined half is the
    original text between its pieces ("play rock and roll" keeps its "and")."""
    spans, at = [], 0
    low = text.lower()
    for part in parts:
        start = low.index(part.lower(), at)
        spans.append((start, start + len(part)))
        at = start + len(part)
    n = len(parts)
    cuts = sorted(range(1 << (n - 1)), key=lambda m: -bin(m).count("1"))
    for mask in cuts:
        if not mask:
            continue
        halves, first = [], 0
        for i in range(1, n):
            if mask & (1 << (i - 1)):
                halves.append(text[spans[first][0]:spans[i - 1][1]])
                first = i
        halves.append(text[spans[first][0]:spans[-1][1]])
        yield halves


def _acting(found: Plan | None) -> bool:
    if found is None or found.query is not None or found.memory is not None:
        return False
    return bool(found.steps) or (bool(found.problem) and found.intent in ACTING)


def _devices_of(found: Plan, devices: list[Device]) -> list[Device]:
    ids = list(dict.fromkeys(s.device_id for s in found.steps))
    by_id = {d.id: d for d in devices}
    return [by_id[i] for i in ids if i in by_id]


def again(earlier: Plan, half: str, devices: list[Device], default_area: str | None) -> Plan | None:
    """A half that only names a target ("the bedroom light", "the kitchen too", "the bedroom blinds"): the
    earlier half's command for that target; None when the half is not just a target."""
    if earlier.intent not in ACTING:
        return None
    said = _TOO.sub("", half)
    target = target_of(said, devices)
    if target is None:
        return None
    slots = {k: v for k, v in earlier.slots.items() if k not in _DROPPED}
    by_room = target.room is not None and not (earlier.slots.get("name") and target.device_ids)
    if target.device_ids and target.name and not by_room:
        slots = {k: v for k, v in slots.items() if k not in ("domain", "device_class", "everything")}
        slots["name"] = target.name
        if target.room:
            slots["area"] = target.room
    elif by_room:
        slots["area"] = target.room
        noun = _NOUNS.get(said.lower().split()[-1]) if said.split() else None
        if noun is not None:
            slots = {k: v for k, v in slots.items() if k not in ("device_class", "everything")}
            slots["domain"], cls = noun
            if cls:
                slots["device_class"] = cls
    else:
        return None
    return plan(earlier.intent, slots, devices, default_area)


def pronoun(earlier: Plan, half: str, parse: Callable[[str], Plan | None], devices: list[Device]) -> Plan | None:
    """A half saying "it"/"them" ("set it to 40%", "turn them off"): parsed with the earlier half's first device
    named in its place, then planned over the earlier half's devices only."""
    targets = _devices_of(earlier, devices)
    if not targets or not _PRONOUN.search(half):
        return None
    found = parse(_PRONOUN.sub(f"the {label(targets[0])}", half, count=1))
    if found is None or found.intent not in ACTING:
        return None
    slots = {k: v for k, v in found.slots.items() if k not in _DROPPED}
    if found.slots.get("name_domain") and "domain" not in slots:
        slots["domain"] = found.slots["name_domain"]
    again_ = plan(found.intent, slots, targets, None)
    return again_ if again_.steps else None  # "it" did not fit those devices: read the half on its own


def _but(problem: str) -> str:
    problem = problem.strip()
    if problem.endswith("?") or problem.startswith("I "):
        return problem
    return f"But {problem[:1].lower()}{problem[1:]}"


def combine(plans: list[Plan]) -> Plan:
    """One Plan for the halves: their steps in order (a step repeated for a device once), what each half
    could not do as a note after what was done, and the first question asked back as the follow-up."""
    steps: list[Step] = []
    for found in plans:
        for step in found.steps:  # the same step twice in a row for a device is sent once
            if next((s for s in reversed(steps) if s.device_id == step.device_id), None) != step:
                steps.append(step)
    slots: dict[str, Any] = {}
    clashing: set[str] = set()
    for found in plans:
        for key, value in found.slots.items():
            if key in slots and slots[key] != value:
                clashing.add(key)
            slots.setdefault(key, value)
    slots = {k: v for k, v in slots.items() if k not in clashing}
    followup = next((p.followup for p in plans if p.followup is not None), None)
    problems = [p.problem for p in plans if p.problem]
    notes = tuple(n for p in plans for n in p.notes)
    if not steps:
        return Plan(COMPOUND, problem=" ".join(problems), slots=slots, followup=followup, notes=notes)
    return Plan(COMPOUND, steps=tuple(steps), slots=slots, followup=followup,
                notes=(*notes, *(_but(p) for p in problems)))


def _halves(halves: list[str], parse: Callable[[str], Plan | None], devices: list[Device],
            default_area: str | None) -> list[Plan | None]:
    out: list[Plan | None] = []
    for half in halves:
        earlier = out[-1] if out else None
        found = None
        if earlier is not None:  # "… and the bedroom light", "… and set it to 40%": the earlier half's
            found = again(earlier, half, devices, default_area) or pronoun(earlier, half, parse, devices)
        if found is None:
            found = parse(half)
        if not _acting(found):
            return [*out, None]
        out.append(found)
    return out


def _share_noun(halves: list[str], devices: list[Device]) -> list[str]:
    """ "turn on the kitchen and bedroom lights": the last half's kind of device ("lights") also goes to the
    earlier halves that end in a room and name no kind ("turn on the kitchen" -> "turn on the kitchen lights")."""
    last = halves[-1].split()
    if len(last) < 2 or last[-1].lower() not in _NOUNS:
        return halves
    rooms = {" ".join(d.room.lower().split()) for d in devices if d.room}
    out = []
    for half in halves[:-1]:
        words = half.lower().split()
        ends_in_room = any(" ".join(words[-n:]) in rooms for n in (1, 2, 3) if len(words) > n)
        nouned = any(w in _NOUNS for w in words)
        out.append(f"{half} {last[-1]}" if ends_in_room and not nouned else half)
    return [*out, halves[-1]]


def compound(text: str, parse: Callable[[str], Plan | None], devices: list[Device],
             default_area: str | None) -> Plan | None:
    """The Plan for a sentence of two or more local device commands, or None (then it is one sentence)."""
    parts = pieces(text)
    if not parts:
        return None
    seen: dict[str, Plan | None] = {}

    def once(half: str) -> Plan | None:  # a half recurs across groupings: recognise it once
        if half not in seen:
            seen[half] = parse(half)
        return seen[half]

    for halves in _groupings(parts, text):
        shared = _share_noun(halves, devices)
        for tried in (shared, halves) if shared != halves else (halves,):
            plans = _halves(tried, once, devices, default_area)
            done = [p for p in plans if p is not None]
            if len(done) == len(halves):
                return combine(done)
    return None


def gap(text: str, parse: Callable[[str], Plan | None], devices: list[Device],
        default_area: str | None) -> tuple[list[str], list[str]] | None:
    """For a sentence no tier understood as a whole: the pieces that are local commands and those that are
    not ("turn off the lights" / "make me a sandwich"), or None when no piece is a command."""
    parts = pieces(text)
    if not parts:
        return None
    understood, not_understood = [], []
    for part in parts:
        (understood if parse(part) is not None else not_understood).append(part)
    return (understood, not_understood) if understood and not_understood else None


def gap_problem(understood: list[str], not_understood: list[str]) -> str:
    """What the owner is told (no LLM configured) when part of a sentence is not a local command: nothing is
    done, so that half of it does not happen silently."""
    said = " and ".join(f"“{p}”" for p in understood)
    missed = " and ".join(f"“{p}”" for p in not_understood)
    return (f"I understood {said} but not {missed}, so I did nothing. Send the parts one at a time, or set "
            f"up an LLM for sentences like that (see README).")
