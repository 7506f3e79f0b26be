"""Pure wording for steps a device already satisfied: "The garage door is already closed." (claw.intents.noop)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from claw.events import Voice
from claw.intents.types import Step
from claw.intents.vocab import COLORS, label, pluralize
from devices.models import Device, Kind

LISTED = 4  # more devices than this in one clause are counted, not named

_NOUNS = {Kind.LIGHT: "light", Kind.SPEAKER: "speaker", Kind.LOCK: "lock", Kind.COVER: "cover",
          Kind.GARAGE: "garage door", Kind.CLIMATE: "thermostat", Kind.HEATER: "heater", Kind.SWITCH: "switch"}


def _num(value: Any) -> str:
    try:
        return f"{round(float(value), 1):g}"
    except (TypeError, ValueError):
        return str(value)


def _color(rgb: Any) -> str:
    found = [name for name, value in COLORS.items() if list(value) == list(rgb or ())]
    return found[0] if found else "that colour"


def _position(value: Any) -> str:
    pos = round(float(value))
    return "closed" if pos <= 0 else "open" if pos >= 100 else f"{pos}% open"


def state_words(step: Step, device: Device | None, state: Mapping[str, Any] | None = None) -> tuple[str, bool]:
    """What the device already is for this step ("on", "at 40%", "closed"), and whether it is said in the
    negative ("isn't playing", "isn't muted": True) rather than after "already"."""
    args, command = step.args, step.command
    speaker = device is not None and device.kind == Kind.SPEAKER
    if command == "turn_on":
        return ("playing" if speaker else "on"), False
    if command in ("turn_off", "pause", "stop") and (speaker or command != "turn_off"):
        return "playing", True
    if command == "set_mute" and not args.get("muted"):
        return "muted", True
    mode = str(args.get("mode", ""))
    if command == "set_hvac_mode" and mode != "off":
        have = str((state or {}).get("hvac_mode") or mode)
        return (f"in {mode} mode" if have == mode else f"on ({have} mode)"), False
    words: dict[str, str] = {
        "turn_off": "off", "play": "playing", "set_mute": "muted", "set_hvac_mode": "off",
        "set_brightness": f"at {_num(args.get('brightness'))}%", "set_volume": f"at volume {_num(args.get('volume'))}%",
        "set_temperature": f"set to {_num(args.get('temperature'))} °C", "open": "open", "close": "closed",
        "lock": "locked", "unlock": "unlocked",
    }
    if command == "set_color":
        return _color(args.get("rgb")), False
    if command == "set_position":
        return _position(args.get("position", 0)), False
    return words.get(command, "as asked"), False


def _names(devices: list[Device]) -> str:
    names = [label(d) for d in devices]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _counted(devices: list[Device]) -> str:
    kinds = {d.kind for d in devices}
    noun = _NOUNS.get(next(iter(kinds)), "device") if len(kinds) == 1 else "device"
    return f"all {len(devices)} {pluralize(noun)}"


def already_reply(steps: Sequence[Step], devices: Mapping[str, Device], voice: Voice, *, acted: bool = False,
                  states: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """One sentence per distinct state: "The kitchen light and bedroom light are already off.", "The kitchen
    light is already on and at 40%." With `acted` (other steps of the same plan ran), a long list is only
    counted: "6 others are already off."."""
    said: dict[str, tuple[Device, list[str], list[str]]] = {}  # device id: (device, already ..., isn't ...)
    for step in steps:
        device = devices.get(step.device_id)
        if device is None:
            continue
        words, negative = state_words(step, device, (states or {}).get(step.device_id))
        entry = said.setdefault(device.id, (device, [], []))
        bucket = entry[2] if negative else entry[1]
        if words not in bucket:
            bucket.append(words)
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Device]] = {}
    for device, positive, negative in said.values():
        groups.setdefault((tuple(positive), tuple(negative)), []).append(device)
    sentences = []
    for (positive, negative), found in groups.items():
        many = len(found) > 1
        if len(found) > LISTED:
            who = f"{len(found)} others" if acted else _counted(found).capitalize()
        else:
            who = f"The {_names(found)}"
        if positive:
            sentences.append(f"{who} {'are' if many else 'is'} already {' and '.join(positive)}.")
            who = "They" if many else "It"
        if negative:
            verb = ("are not" if many else "is not") if voice.formal else ("aren't" if many else "isn't")
            sentences.append(f"{who} {verb} {' or '.join(negative)}.")
    return " ".join(sentences)
