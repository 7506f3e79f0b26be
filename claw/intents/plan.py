"""Pure mapping from a recognised intent (name + slots) and the devices to a Plan; the intents' handlers.

Adding an intent touches only claw/intents/: its sentences in sentences/<language>.yaml, its handler here.
A Plan asking which device is meant carries a FollowUp, which claw.intents.followup finishes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from claw.intents.camera_rules import camera_rule_plan
from claw.intents.cameras import camera_plan
from claw.intents.discovery import discovery_plan
from claw.intents.learn import LEARN_HANDLERS
from claw.intents.questions import QUESTION_HANDLERS
from claw.intents.routines import ROUTINE_HANDLERS
from claw.intents.scope import everything, floor_problem, widen
from claw.intents.timers import TIMER_HANDLERS
from claw.intents.types import FollowUp, MemoryOp, Plan, Query, Step
from claw.intents.values import DELTA_SLOTS, step_delta, unreferred
from claw.intents.vocab import (
    COLORS,
    DOMAIN_BY_KIND,
    GENERIC_NAMES,
    SWITCHABLE,
    class_matches,
    clean_search,
    distinct_labels,
    domain_of,
    join_or,
    kelvin_to_rgb,
    label,
    noun_for,
    pluralize,
    spoken_names,
)
from devices.commands import COMMANDS, validate
from devices.errors import DeviceError, InvalidArgument
from devices.models import Device, Kind
from devices.registry import normalize_name

log = logging.getLogger(__name__)


# ---- target resolution -------------------------------------------------------------------------
@dataclass
class _Scope:
    devices: list[Device]
    problem: str | None = None
    asked: tuple[str, ...] = ()  # the problem asks which of these devices is meant


def _unresolved(intent: str, slots: dict[str, Any], scope: _Scope) -> Plan:
    """The Plan for a scope with a problem; when the problem asks which device, with the follow-up."""
    followup = FollowUp(intent, dict(slots), "target", scope.asked) if scope.asked else None
    return Plan(intent, problem=scope.problem, slots=slots, followup=followup)


def in_room(device: Device, area: str) -> bool:
    return bool(device.room) and normalize_name(device.room or "") == normalize_name(area)


def _resolve(slots: dict[str, Any], devices: list[Device], domains: frozenset[str] | set[str],
             *, default_area: str | None, one_at_home: bool, verb: str, plural: bool = False) -> _Scope:
    name, area = slots.get("name"), slots.get("area")
    default_area, one_at_home = widen(slots, default_area, one_at_home)  # "every light", "everywhere"
    device_class = slots.get("device_class")
    noun = noun_for(domains, device_class)
    none = f"There are no {pluralize(noun)}" if plural else f"There is no {noun}"
    if name:
        want = normalize_name(str(name))
        found = [d for d in devices if want in (normalize_name(n) for n in spoken_names(d))]
        if not found:
            return _Scope([], f"I don't know a device called “{name}”.")
        if area:
            found = [d for d in found if in_room(d, area)]
            if not found and want.removesuffix("s") in GENERIC_NAMES and slots.get("name_domain") in domains:
                rest = {k: v for k, v in slots.items() if k not in ("name", "name_domain")}  # "the bedroom lamp"
                return _resolve(rest, devices, {slots["name_domain"]}, default_area=default_area,
                                one_at_home=one_at_home, verb=verb, plural=plural)
            if not found:
                return _Scope([], f"There is no {name} in the {area}.")
        fitting = [d for d in found if domain_of(d) in domains]
        if not fitting:
            return _Scope([], f"The {label(found[0])} can't {verb}.")
        if len(fitting) > 1 and slots.get("name_domain"):
            fitting = [d for d in fitting if domain_of(d) == slots["name_domain"]] or fitting
        if len(fitting) > 1 and default_area:
            fitting = [d for d in fitting if in_room(d, default_area)] or fitting
        if len(fitting) > 1:
            return _Scope([], f"More than one device is called “{name}”: which one do you mean, "
                              f"{join_or([f'the one in the {d.room}' for d in fitting])}?",
                          tuple(d.id for d in fitting))
        return _Scope(fitting)
    candidates = [d for d in devices if domain_of(d) in domains and class_matches(d, device_class)]
    if not area and default_area:  # the room the owner is in, if it has any; else the whole home
        here = [d for d in candidates if in_room(d, default_area)]
        if here:
            return _Scope(here)
    if area:
        here = [d for d in candidates if in_room(d, area)]
        if not here:
            return _Scope([], f"{none} in the {area}.")
        return _Scope(here)
    if not candidates:
        return _Scope([], f"{none} in the house.")
    if one_at_home and len(candidates) > 1:
        return _Scope([], f"Which {noun} do you mean: {join_or(distinct_labels(candidates))}?",
                      tuple(d.id for d in candidates))
    return _Scope(candidates)


def _check_value(command: str, args: dict[str, Any], what: str, unit: str = "%") -> tuple[dict, str | None]:
    """Validate args against the vocabulary; on a bad value return a polite problem naming the range."""
    try:
        return validate(command, args), None
    except InvalidArgument:
        arg = COMMANDS[command].args[0]
        value = next(iter(args.values()))
        shown = f"{value:g}" if isinstance(value, int | float) else str(value)
        sep = " " if unit.startswith("°") else ""
        return {}, (f"The {what} can go from {arg.low:g}{sep}{unit} to {arg.high:g}{sep}{unit}, "
                    f"so I can't set it to {shown}{sep}{unit}.")


def _capable(devices: list[Device], command: str) -> list[Device]:
    cap = COMMANDS[command].capability
    return [d for d in devices if cap in d.capabilities]


def _steps_for(intent: str, slots: dict[str, Any], scope: _Scope, command: str, args: dict[str, Any],
               verb: str) -> Plan:
    if scope.problem:
        return _unresolved(intent, slots, scope)
    able = _capable(scope.devices, command)
    if not able:
        who = join_or([label(d) for d in scope.devices])
        return Plan(intent, problem=f"The {who} can't {verb}.", slots=slots)
    return Plan(intent, steps=tuple(Step(d.id, command, dict(args)) for d in able), slots=slots)


def _act(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None,
         domains: set[str], command: str, args: dict[str, Any], verb: str, *, one_at_home: bool = True,
         checked: str | None = None, unit: str = "%") -> Plan:
    """Check the value (when `checked` names it), resolve the targets and emit one step per capable one."""
    if checked:
        args, problem = _check_value(command, args, checked, unit)
        if problem:
            return Plan(intent, problem=problem, slots=slots)
    scope = _resolve(slots, devices, domains, default_area=default_area, one_at_home=one_at_home, verb=verb)
    return _steps_for(intent, slots, scope, command, args, verb)


# ---- intent handlers ---------------------------------------------------------------------------
Handler = Callable[[str, dict[str, Any], list[Device], str | None], Plan]


def _power_command(device: Device, on: bool, hvac_mode: str | None = None) -> tuple[str, dict] | None:
    """On/off in the device's own terms: lock/unlock, open/close, play/pause, an HVAC mode, or power."""
    caps = device.capabilities
    if device.kind == Kind.LOCK or ("lock" in caps and "power" not in caps):
        return ("lock" if on else "unlock", {}) if "lock" in caps else None
    if "cover" in caps and "power" not in caps:
        return ("open" if on else "close", {})
    if "climate" in caps and (device.kind == Kind.CLIMATE or "power" not in caps):
        return ("set_hvac_mode", {"mode": (hvac_mode or "auto") if on else "off"})
    if "power" in caps:
        return ("turn_on" if on else "turn_off", {})
    if "media" in caps:
        return ("play" if on else "pause", {})
    return None


def _turn(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """Switch on/off by name, area + domain, device class, or the whole home. Across the whole home
    the safe direction (off, lock, close) applies to every device; the other asks which one."""
    on = intent == "HassTurnOn"
    domain = slots.get("domain")
    if slots.get("everything") or not (domain or slots.get("name") or slots.get("device_class")):
        return everything(intent, slots, devices, default_area)  # never unlocks or opens (claw.intents.scope)
    domains = {domain} if domain else SWITCHABLE
    verb = "be switched " + ("on" if on else "off")
    one_at_home = on != (domain == "lock")
    if slots.get("response") == "light_all" or slots.get("all"):  # "all the lights": not just this room's
        default_area, one_at_home = None, False
    scope = _resolve(slots, devices, domains, default_area=default_area, one_at_home=one_at_home, verb=verb)
    if scope.problem:
        return _unresolved(intent, slots, scope)
    commands = [(d, _power_command(d, on, slots.get("hvac_mode"))) for d in scope.devices]
    steps = [Step(d.id, cmd[0], cmd[1]) for d, cmd in commands if cmd is not None]
    if not steps:
        return Plan(intent, problem=f"The {join_or([label(d) for d in scope.devices])} can't {verb}.",
                    slots=slots)
    return Plan(intent, steps=tuple(steps), slots=slots)


def _light_set(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    act = (intent, slots, devices, default_area, {"light"})
    if "brightness" in slots:
        return _act(*act, "set_brightness", {"brightness": slots["brightness"]}, "be dimmed",
                    one_at_home=False, checked="brightness")
    if "color" in slots:
        rgb = COLORS.get(str(slots["color"]).lower())
        if rgb is None:
            return Plan(intent, problem=f"I don't know the colour {slots['color']}.", slots=slots)
        return _act(*act, "set_color", {"rgb": list(rgb)}, "change colour", one_at_home=False)
    if "temperature" in slots:  # colour temperature in kelvin: approximated as an RGB white
        return _act(*act, "set_color", {"rgb": kelvin_to_rgb(slots["temperature"])}, "change colour",
                    one_at_home=False)
    return Plan(intent, problem="I'm not sure what to set the light to.", slots=slots)


def _climate_set(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    return _act(intent, slots, devices, default_area, {"climate"}, "set_temperature",
                {"temperature": slots.get("temperature")}, "set a temperature", checked="temperature",
                unit="°C")


def _climate_get(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """Thermostats by name, in the area, or all of them. An area without a thermostat falls back to
    temperature-capable sensors there; with neither, a problem that names where the thermostats are
    (the reading of another room's thermostat is not passed off as this room's)."""
    scope = _resolve(slots, devices, {"climate"}, default_area=default_area, one_at_home=False,
                     verb="report a temperature")
    if scope.problem and slots.get("area") and not slots.get("name"):
        sensors = [d for d in devices if d.kind == Kind.SENSOR and in_room(d, slots["area"])]
        if sensors:
            scope = _Scope(sensors)
        else:
            elsewhere = [d for d in devices if domain_of(d) == "climate"]
            hint = (f" The only thermostat is the {label(elsewhere[0])}." if len(elsewhere) == 1 else
                    f" There are thermostats: {join_or([label(d) for d in elsewhere])}." if elsewhere else "")
            return Plan(intent, problem=f"There is no thermostat in the {slots['area']}.{hint}", slots=slots)
    if scope.problem:
        return _unresolved(intent, slots, scope)
    return Plan(intent, query=Query(tuple(d.id for d in scope.devices), "temperature"), slots=slots)


def _get_state(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    domain = slots.get("domain")
    domains = {domain} if domain else set(DOMAIN_BY_KIND.values())
    # "are any lights on" asks about the whole home; "what's playing" first about the owner's room
    scope = _resolve(slots, devices, domains, default_area=None if slots.get("state") else default_area,
                     one_at_home=False, verb="report its state", plural=bool(slots.get("state")))
    if scope.problem:
        return _unresolved(intent, slots, scope)
    state = slots.get("state")
    mode = str(slots.get("response") or ("one_yesno" if state and slots.get("name") else "one"))
    if mode not in ("one", "one_yesno", "any", "all", "which", "how_many"):
        mode = "one"
    return Plan(intent, query=Query(tuple(d.id for d in scope.devices), "state",
                                    expect=str(state) if state else None, mode=mode), slots=slots)


# intent: (command, args, what it can't do, ask which speaker when the whole home is in scope)
_MEDIA: dict[str, tuple[str, dict[str, Any], str, bool]] = {
    "HassMediaPause": ("pause", {}, "pause", False),  # pausing or muting every speaker is harmless
    "HassMediaUnpause": ("play", {}, "resume playback", True),
    "HassMediaNext": ("next", {}, "skip tracks", True),
    "HassMediaPrevious": ("previous", {}, "go back a track", True),
    "HassMediaPlayerMute": ("set_mute", {"muted": True}, "be muted", False),
    "HassMediaPlayerUnmute": ("set_mute", {"muted": False}, "be unmuted", True),
}


def _media(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    command, args, verb, ask = _MEDIA[intent]
    return _act(intent, slots, devices, default_area, {"media_player"}, command, args, verb, one_at_home=ask)


def _volume(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    level = slots.get("volume_level", slots.get("volume"))
    return _act(intent, slots, devices, default_area, {"media_player"}, "set_volume", {"volume": level},
                "change volume", checked="volume")


def _relative(quantity: str, domain: str, command: str, verb: str) -> Handler:
    """A handler for "louder", "a bit brighter", "warmer": a query for the targets' states, which
    claw.intents.relative turns into absolute steps; the step from claw.intents.values (`<quantity>_step`
    up/down or a number, `step_size`). Lights in several rooms all step, unless the sentence named no
    room (`one`); a speaker or thermostat is asked for when several could be meant."""
    def handler(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
        change = step_delta(quantity, slots.get(f"{quantity}_step", "up"), slots.get("step_size"))
        slots = {**slots, DELTA_SLOTS[quantity]: change}
        found = _act(intent, slots, devices, default_area, {domain}, command, {}, verb,
                     one_at_home=domain != "light" or bool(slots.get("one")))
        if found.problem:
            return found
        return Plan(intent, query=Query(tuple(s.device_id for s in found.steps), f"{quantity}_relative"),
                    slots=slots)
    return handler


_volume_relative = _relative("volume", "media_player", "set_volume", "change volume")


def _search_play(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    favorite = clean_search(str(slots.get("search_query") or ""), typed=bool(slots.get("media_class")))
    slots = {**slots, "favorite": favorite}
    if not favorite:
        return Plan(intent, problem="Which favourite should I play?", slots=slots)
    return _act(intent, slots, devices, default_area, {"media_player"}, "play_favorite",
                {"favorite": favorite}, "play music")


def _position(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    return _act(intent, slots, devices, default_area, {"cover"}, "set_position",
                {"position": slots.get("position")}, "be set to a position", checked="position")


def _memory(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    op = {"ClawRemember": "remember", "ClawRecall": "recall", "ClawForget": "forget"}[intent]
    text = " ".join(str(slots.get("fact") or slots.get("topic") or "").split()).strip(" .!?")
    if op != "recall" and not text:
        return Plan(intent, problem=f"What should I {op}?", slots=slots)
    return Plan(intent, memory=MemoryOp(op, text), slots=slots)


_brightness_relative = _relative("brightness", "light", "set_brightness", "change brightness")
_temperature_relative = _relative("temperature", "climate", "set_temperature", "set a temperature")


def _again(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """"turn it off", "a bit more", "and the kitchen too" with no recent command of this sender's to refer
    to (claw.intents.recent fills them in when there is one): a question, nothing is done."""
    return Plan(intent, problem=unreferred(slots), slots={**slots, "unreferred": True})  # an LLM may know


def _plain(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    return Plan(intent, slots=slots)


HANDLERS: dict[str, Handler] = {
    "HassTurnOn": _turn, "HassTurnOff": _turn, "HassLightSet": _light_set,
    "HassClimateSetTemperature": _climate_set, "HassClimateGetTemperature": _climate_get,
    "HassGetState": _get_state, "HassMediaPause": _media, "HassMediaUnpause": _media,
    "HassMediaNext": _media, "HassMediaPrevious": _media, "HassSetVolume": _volume,
    "HassSetVolumeRelative": _volume_relative, "HassMediaPlayerMute": _media, "HassMediaPlayerUnmute": _media,
    "HassMediaSearchAndPlay": _search_play, "HassSetPosition": _position, "HassNevermind": _plain,
    "HassRespond": _plain, "ClawThanks": _plain, "ClawLightStep": _brightness_relative,
    "ClawTemperatureStep": _temperature_relative, "ClawAgain": _again,
    "ClawRemember": _memory, "ClawRecall": _memory, "ClawForget": _memory,
    **QUESTION_HANDLERS,  # ClawQuestion, ClawHelp (claw.intents.questions)
    **TIMER_HANDLERS,  # HA's timer intents (claw.intents.timers, carried out by claw.agent.timers)
    **ROUTINE_HANDLERS,  # routines and scenes by chat (claw.intents.routines, carried out by claw.agent.routines)
    "ClawCamera": camera_plan,  # snapshots and camera events (claw.intents.cameras, claw.agent.cameras)
    "ClawDiscover": discovery_plan,  # scan, add, ignore (claw.intents.discovery, claw.discovery.chat)
    **LEARN_HANDLERS,  # learning an unknown device (claw.intents.learn, carried out by claw.learn.chat)
    "ClawCameraRule": camera_rule_plan,  # camera rules by chat (claw.intents.camera_rules, claw.agent.camera_rules)
}


def plan(intent_name: str, slots: dict[str, Any], devices: list[Device],
         default_area: str | None = None) -> Plan:
    """Map a recognised intent and its slots onto vocabulary steps, a state query or a memory op.

    Slots follow Home Assistant's sentences (name, area, domain, device_class, brightness, color,
    temperature, position, volume_level, volume_step, search_query, state, response) plus the claw's
    fact/topic and `name_domain` (the domain the matched name was tagged with). Without name or area the
    whole home is in scope: queries cover every matching device, a change that would hit several
    devices asks which one (except switching off, pausing and muting, which apply to all).
    """
    handler = HANDLERS.get(intent_name)
    slots = {k: v for k, v in slots.items() if v is not None and v != ""}
    if "scope_floor" in slots:  # "turn off the lights downstairs": rooms carry no floor
        return Plan(intent_name, problem=floor_problem(slots["scope_floor"], devices), slots=slots)
    if handler is None:
        return Plan(intent_name, problem="I understood that, but I can't do it on my own yet.", slots=slots)
    try:
        return handler(intent_name, slots, devices, default_area)
    except (DeviceError, ValueError, TypeError) as exc:  # a slot of an unexpected shape
        log.warning("could not map %s %s: %s", intent_name, slots, exc)
        return Plan(intent_name, problem="I understood that, but something in it did not make sense to me.",
                    slots=slots)
