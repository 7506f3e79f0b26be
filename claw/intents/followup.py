"""Answers to a question asked back: pending follow-ups per sender, and completing one with the target named."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from claw.intents.plan import FollowUp, Plan, in_room, plan
from claw.intents.vocab import COVER_CLASSES, NOUN_BY_DOMAIN, pluralize, spoken_names
from devices.models import Device

FOLLOWUP_SECONDS = 120.0
FOLLOWUP_SENDERS = 256

# Words around a target in an answer: "the one in the kitchen", "I mean the kitchen one please".
_LEAD = frozenset({"the", "my", "our", "in", "on", "at", "for", "one", "ones", "please", "i", "mean", "meant",
                   "oh", "ok", "okay", "um", "uh", "er", "sorry", "just", "only", "that", "its", "it", "is"})
_TRAIL = frozenset({"one", "ones", "please", "thanks", "thank", "you", "then", "there"})
# Nouns after a room: "the kitchen lights", "the bedroom speaker".
_NOUNS = frozenset(n for base in (*NOUN_BY_DOMAIN.values(), *COVER_CLASSES, "lamp", "music", "heating", "device")
                   for n in (base, pluralize(base)))


@dataclass(frozen=True)
class Target:
    """What an answer names: devices by one of their names (and that name), or a room."""

    device_ids: tuple[str, ...] = ()
    name: str | None = None
    room: str | None = None


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.sub(r"[^\w\s]", " ", text.lower().replace("'s", "s")).split())


def _core(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words without the fillers around them; a name made only of fillers stays as it is."""
    start, end = 0, len(words)
    while start < end and words[start] in _LEAD:
        start += 1
    while end > start and words[end - 1] in _TRAIL:
        end -= 1
    return words[start:end] or words


def target_of(text: str, devices: list[Device]) -> Target | None:
    """The target a message names and nothing else ("kitchen speaker", "the kitchen one", "in the kitchen",
    "lamp in the den"), or None when it says something else."""
    said = _core(_words(text))
    if not said:
        return None
    names = _named(said, devices)
    room = _room(said, devices)
    if not names and room is None and len(said) > 1 and said[-1] in _NOUNS:
        room = _room(said[:-1], devices)  # "the kitchen lights"
    if not names and room is None and "in" in said[1:-1]:  # "lamp in the den"
        cut = said.index("in", 1)
        room, named = _room(_core(said[cut + 1:]), devices), _named(_core(said[:cut]), devices)
        if room is None or not named:
            return None
        by_id = {d.id: d for d in devices}
        there = tuple(i for i in named if in_room(by_id[i], room))
        return Target(there, next(iter(named.values())), room)  # no such device there: names it, no ids
    if not names and room is None:
        return None
    return Target(tuple(names), next(iter(names.values()), None), room)


def _named(said: tuple[str, ...], devices: list[Device]) -> dict[str, str]:
    """The devices one of whose spoken names is what was said: id -> that name."""
    return {d.id: spoken for d in devices for spoken in spoken_names(d) if _core(_words(spoken)) == said}


def _room(said: tuple[str, ...], devices: list[Device]) -> str | None:
    for device in devices:
        if device.room and _core(_words(device.room)) == said:
            return device.room
    return None


def complete(pending: FollowUp, target: Target, devices: list[Device], default_area: str | None) -> Plan:
    """The pending intent, finished with the target: the devices the question offered that the answer names,
    else those in the room it names. A device or room the question did not offer gets the intent's own
    answer ("The kitchen light can't skip tracks.", "There is no speaker in the bedroom.")."""
    offered = [d for d in devices if d.id in pending.candidates]
    slots = {k: v for k, v in pending.slots.items() if k != "area"}
    named = [d for d in offered if d.id in target.device_ids]
    if named:
        return plan(pending.intent, slots, named)
    exact = bool(target.name and not target.device_ids)  # "lamp in the kitchen", and no lamp is there
    if not exact and target.room and any(in_room(d, target.room) for d in offered):
        return plan(pending.intent, {**slots, "area": target.room}, devices, default_area)
    if target.room:  # a room (and with "lamp in the kitchen", that name)
        slots["area"] = target.room
    if target.name and (exact or not target.room):
        slots = {k: v for k, v in slots.items() if k != "name_domain"} | {"name": target.name}
    return plan(pending.intent, slots, devices, default_area)


def answer(pending: FollowUp, text: str, devices: list[Device], default_area: str | None) -> Plan | None:
    """The pending intent completed by this message, or None when the message is not just a target."""
    if pending.missing != "target":
        return None
    target = target_of(text, devices)
    return None if target is None else complete(pending, target, devices, default_area)


class FollowUps:
    """Pending follow-ups by sender, in memory: each valid for `ttl` seconds, at most `size` senders kept."""

    def __init__(self, ttl: float = FOLLOWUP_SECONDS, size: int = FOLLOWUP_SENDERS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self._clock = ttl, size, clock
        self._items: OrderedDict[str, tuple[float, FollowUp]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def put(self, sender: str, followup: FollowUp) -> None:
        """Remember the sender's follow-up (replacing any earlier one); the oldest go first when full."""
        now = self._clock()
        with self._lock:
            self._items.pop(sender, None)
            self._items[sender] = (now + self.ttl, followup)
            while self._items and (len(self._items) > self.size or next(iter(self._items.values()))[0] < now):
                self._items.popitem(last=False)

    def pop(self, sender: str) -> FollowUp | None:
        """Take the sender's follow-up out: the one that has not expired, else None."""
        with self._lock:
            item = self._items.pop(sender, None)
        if item is None or item[0] < self._clock():
            return None
        return item[1]
