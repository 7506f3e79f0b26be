"""Which physical actions are risky and need the owner's confirmation; pure rules, enforced by the agent."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from claw.config import SafetySettings
from devices.models import Device, Kind

_YES = re.compile(r"^\s*(y|yes|yep|yeah|ok|okay|confirm|confirmed|do it|go ahead|sure)\b[\s.!]*$", re.I)
_NO = re.compile(r"^\s*(n|no|nope|cancel|stop|don'?t|abort|never ?mind)\b[\s.!]*$", re.I)


@dataclass(frozen=True)
class Risk:
    """Why an action needs confirmation, phrased as what will happen ("unlock the front door")."""

    what: str
    reason: str


def assess(device: Device, command: str, args: dict[str, Any], safety: SafetySettings) -> Risk | None:
    """The risk of one command on one device, or None when it may run without asking."""
    name = device.name
    if device.attrs.get("adapter_trusted") is False:  # learned by the claw: its first write needs a YES
        first = f"the first command through the newly learned adapter {device.adapter or ''}".rstrip()
        attrs = {k: v for k, v in device.attrs.items() if k != "adapter_trusted"}
        other = assess(replace(device, attrs=attrs), command, args, safety)  # one YES, told every reason
        return Risk(other.what if other else _phrase(device, command, args),
                    f"{first}; {other.reason}" if other else first)
    if device.kind == Kind.LOCK and command == "unlock":
        return Risk(f"unlock the {name}", "unlocking a door")
    if device.kind == Kind.GARAGE and command in ("open", "close", "set_position"):
        verb = {"open": "open", "close": "close"}.get(command, "move")
        return Risk(f"{verb} the {name}", "moving a garage door")
    if device.kind == Kind.HEATER and command in ("turn_on", "set_temperature"):
        return Risk(f"switch on the {name}", "running a heater")
    if command == "set_temperature":
        t = float(args["temperature"])
        if not safety.hvac_min <= t <= safety.hvac_max:
            return Risk(f"set the {name} to {t:g} °C",
                        f"outside the safe range {safety.hvac_min:g}–{safety.hvac_max:g} °C")
    return None


_PHRASES = {
    "turn_on": "turn on the {name}", "turn_off": "turn off the {name}",
    "set_brightness": "set the {name} to {brightness}%", "set_color": "set the colour of the {name} to {rgb}",
    "play": "play the {name}", "pause": "pause the {name}", "stop": "stop the {name}",
    "next": "skip to the next track on the {name}", "previous": "go back a track on the {name}",
    "set_volume": "set the {name} volume to {volume}%", "set_mute": "{mute} the {name}",
    "play_favorite": "play {favorite} on the {name}", "set_temperature": "set the {name} to {temperature} °C",
    "set_hvac_mode": "set the {name} to {mode} mode", "open": "open the {name}", "close": "close the {name}",
    "set_position": "set the {name} to {position}% open", "lock": "lock the {name}", "unlock": "unlock the {name}",
}


def describe(device: Device, command: str, args: dict[str, Any], safety: SafetySettings) -> str:
    """What one command will do, as the owner is asked to confirm it: the risk's own words when risky."""
    risk = assess(device, command, args, safety)
    if risk is not None:
        return risk.what
    return _phrase(device, command, args)


def _phrase(device: Device, command: str, args: dict[str, Any]) -> str:
    fields = {k: f"{v:g}" if isinstance(v, float) else v for k, v in args.items()}
    fields.update(name=device.name, mute="mute" if args.get("muted") else "unmute")
    try:
        return _PHRASES[command].format(**fields)
    except (KeyError, IndexError):
        return f"{command.replace('_', ' ')} on the {device.name}"


def join_actions(whats: list[str]) -> str:
    """"A", "A and B", "A, B and C"."""
    if len(whats) <= 1:
        return "".join(whats)
    return ", ".join(whats[:-1]) + " and " + whats[-1]


def is_yes(text: str) -> bool:
    return bool(_YES.match(text))


def is_no(text: str) -> bool:
    return bool(_NO.match(text))
