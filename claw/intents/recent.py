"""Each sender's last local command (intent, slots, devices) and short follow-ups that refer to it.

"turn it off", "a bit more", "and the kitchen too", "now 50%" (ClawAgain), and "a bit brighter" with no room
named after the owner just used a light, are planned again from the sender's own last command, through the
ordinary handlers of claw.intents.plan: the Plan goes through the same policy, confirmations and audit as
any other. The memory is per sender, in memory, expiring like claw.intents.followup; planning is pure."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claw.intents.plan import HANDLERS, plan
from claw.intents.relative import RELATIVE
from claw.intents.types import Plan, Query, Step
from claw.intents.values import unreferred
from claw.intents.vocab import domain_of, label
from devices.models import Device
from devices.registry import normalize_name

RECENT_SECONDS = 120.0
RECENT_SENDERS = 256
AGAIN = "ClawAgain"

# Per domain: the relative intent and its step slot ("more"), the absolute intent and its value slot ("now 50%").
_STEP_BY_DOMAIN = {"light": ("ClawLightStep", "brightness_step"),
                   "media_player": ("HassSetVolumeRelative", "volume_step"),
                   "climate": ("ClawTemperatureStep", "temperature_step")}
_LEVEL_BY_DOMAIN = {"light": ("HassLightSet", "brightness"), "media_player": ("HassSetVolume", "volume_level"),
                    "cover": ("HassSetPosition", "position"), "climate": ("HassClimateSetTemperature", "temperature")}
_DOMAIN_OF_STEP = {intent: domain for domain, (intent, _) in _STEP_BY_DOMAIN.items()}
_TARGET_SLOTS = frozenset({"name", "area", "name_domain", "all", "response", "one", "everything", "floor"})
_VERBS = {"lock": ("lock", "be locked or unlocked"), "open": ("cover", "be opened or closed")}


@dataclass(frozen=True)
class Last:
    """A sender's last command that acted: the intent and slots it was planned from, and its devices."""

    intent: str
    slots: dict[str, Any] = field(default_factory=dict, hash=False)
    device_ids: tuple[str, ...] = ()


def acted(found: Plan) -> Last | None:
    """What to remember of a plan: one that changes devices (steps, or a relative query), else None."""
    if found.problem or found.intent == AGAIN:
        return None
    if found.steps:
        ids = tuple(dict.fromkeys(s.device_id for s in found.steps))
    elif found.query is not None and found.query.what in RELATIVE:
        ids = found.query.device_ids
    else:
        return None
    return Last(found.intent, dict(found.slots), ids)


class Recent:
    """The last command per sender, in memory: valid for `ttl` seconds, at most `size` senders kept."""

    def __init__(self, ttl: float = RECENT_SECONDS, size: int = RECENT_SENDERS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self._clock = ttl, size, clock
        self._items: OrderedDict[str, tuple[float, Last]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def put(self, sender: str, last: Last) -> None:
        """Remember the sender's last command (replacing the one before); the oldest go first when full."""
        now = self._clock()
        with self._lock:
            self._items.pop(sender, None)
            self._items[sender] = (now + self.ttl, last)
            while self._items and (len(self._items) > self.size or next(iter(self._items.values()))[0] < now):
                self._items.popitem(last=False)

    def get(self, sender: str) -> Last | None:
        """The sender's last command if it has not expired (it stays: "more", "more" again)."""
        with self._lock:
            item = self._items.get(sender)
        if item is None or item[0] < self._clock():
            return None
        return item[1]

    def follow(self, sender: str, found: Plan, devices: list[Device]) -> Plan:
        """The plan with the sender's last command filled in where it refers to it; remembered if it acts."""
        last = self.get(sender)
        if last is not None:
            found = refer(last, found, devices)
        remember = acted(found)
        if remember is not None:
            self.put(sender, remember)
        return found


def refer(last: Last, found: Plan, devices: list[Device]) -> Plan:
    """`found` completed from `last`: a ClawAgain plan replayed on the last command's devices or in another
    room, or a relative plan that named no target ("a bit brighter") moved to the last devices of that
    kind. Anything else, or when the last devices are gone, `found` as it is."""
    mine = [d for d in devices if d.id in last.device_ids]
    if not mine:
        return found
    domain = domain_of(mine[0])
    slots = found.slots
    if found.intent != AGAIN:
        same_kind = _DOMAIN_OF_STEP.get(found.intent) == domain
        vague = found.intent != "ClawLightStep" or slots.get("one")  # "dim the lights": the room's, all
        if same_kind and vague and not slots.get("name") and not slots.get("area"):
            return _each(found.intent, {k: v for k, v in slots.items() if k not in _TARGET_SLOTS}, mine)
        return found
    kind = slots.get("again")
    if kind in ("room", "device", "repeat") and last.intent not in HANDLERS:  # e.g. two commands in one
        return Plan(AGAIN, problem="I can't repeat that one on its own: please say it again in full.", slots=slots)
    if kind in ("room", "device"):
        return _elsewhere(last, slots, devices, domain)
    if kind == "power":
        return _power(slots, mine, domain)
    if kind == "repeat":
        return _each(last.intent, _untargeted(last.slots), mine)
    if kind == "step":
        return _step(last, slots, mine, domain)
    if kind == "level":
        return _level(slots, mine, domain)
    return found


def _untargeted(slots: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in slots.items() if k not in _TARGET_SLOTS}


def _each(intent: str, slots: dict[str, Any], mine: list[Device]) -> Plan:
    """The intent planned for each device on its own (by its name, among only itself), merged into one
    Plan: the steps, or one relative query over them all; the first problem when none can."""
    steps: list[Step] = []
    ids: list[str] = []
    problems: list[str] = []
    what: str | None = None
    merged = dict(slots)
    for device in mine:
        one = plan(intent, {**slots, "name": device.name}, [device])
        if one.problem:
            problems.append(one.problem)
            continue
        steps.extend(one.steps)
        if one.query is not None:
            ids.extend(one.query.device_ids)
            what = one.query.what
        merged = {k: v for k, v in one.slots.items() if k != "name"}
    if what is not None and ids:
        return Plan(intent, query=Query(tuple(ids), what), slots=merged)
    if steps:
        return Plan(intent, steps=tuple(steps), slots=merged)
    return Plan(intent, problem=problems[0] if problems else "I can't do that again.", slots=merged)


def _elsewhere(last: Last, slots: dict[str, Any], devices: list[Device], domain: str) -> Plan:
    """"and the kitchen too": the last command in that room (same kind of device), or on the named device."""
    area, name = slots.get("area"), slots.get("name")
    rooms = {normalize_name(d.room): d.room for d in devices if d.room}
    if name and not area and normalize_name(str(name)) in rooms:  # "the kitchen": a room before a speaker
        area, name = rooms[normalize_name(str(name))], None
    again = _untargeted(last.slots)
    if area:
        again = {**again, "area": area, "domain": last.slots.get("domain") or domain}
        if last.slots.get("device_class"):
            again["device_class"] = last.slots["device_class"]
    else:
        again = {k: v for k, v in again.items() if k not in ("domain", "device_class")} | {"name": name}
    return plan(last.intent, again, devices)


def _power(slots: dict[str, Any], mine: list[Device], domain: str) -> Plan:
    """"turn it off", "switch them back on", "close it", "unlock it": on/off in the devices' own terms."""
    verb = _VERBS.get(str(slots.get("verb")))
    if verb is not None and domain != verb[0]:
        return Plan(AGAIN, problem=f"The {label(mine[0])} can't {verb[1]}.", slots=slots)
    return _each("HassTurnOn" if slots.get("power") == "on" else "HassTurnOff", {}, mine)


def _step(last: Last, slots: dict[str, Any], mine: list[Device], domain: str) -> Plan:
    """"more", "a bit less": the last relative step again (the other way for "less"); after an absolute
    setting ("kitchen light 40%"), one step up or down from there."""
    relative = _STEP_BY_DOMAIN.get(domain)
    if relative is None:
        return Plan(AGAIN, problem=f"I can't make the {label(mine[0])} more or less of anything.", slots=slots)
    intent, key = relative
    if last.intent != intent and last.intent != _LEVEL_BY_DOMAIN[domain][0]:  # after "turn it off": of what?
        return Plan(AGAIN, problem=unreferred(slots), slots=slots)
    step = last.slots.get(key, "up") if last.intent == intent else "up"
    if slots.get("step") == "less":
        step = -step if isinstance(step, int | float) else "down" if step == "up" else "up"
    again = {key: step, "step_size": slots.get("step_size") or last.slots.get("step_size")}
    return _each(intent, {k: v for k, v in again.items() if v is not None}, mine)


def _level(slots: dict[str, Any], mine: list[Device], domain: str) -> Plan:
    """"now 50%", "make it 22 degrees": the last devices set to that value, in their own quantity."""
    level = _LEVEL_BY_DOMAIN.get(domain)
    degrees = slots.get("unit") == "degrees"
    if level is None or (degrees and domain != "climate"):
        what = "a temperature" if degrees else "a level"
        return Plan(AGAIN, problem=f"The {label(mine[0])} can't be set to {what}.", slots=slots)
    intent, key = level
    return _each(intent, {key: slots.get("level")}, mine)
