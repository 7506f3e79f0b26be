"""No-op awareness, pure: which steps of a plan a device's current state already satisfies, and what it will be after.

Each vocabulary command (devices.commands.COMMANDS) that sets a state outright has a target state, read from
the normalised state keys the drivers report (devices.drivers.base.Driver): power, brightness, rgb,
playback, volume, muted, target_temperature, hvac_mode, position, locked. A step whose device already shows
that target is not sent: the reply says so, and a risky step asks no confirmation. A state that cannot tell
(no state, `available` False, a key the device lacks) is never taken for "already": the step runs as before.
next/previous/play_favorite move through a queue and are never a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from claw.intents.types import Step
from devices.models import Device, Kind

State = Mapping[str, Any]
_Check = Callable[[State, Mapping[str, Any]], bool | None]

# Kinds whose "already" is never taken from a remembered state, only from one read this turn: a wrong
# "the front door is already locked" or "the heater is already off" is the one mistake that matters.
FRESH_KINDS = frozenset({Kind.LOCK, Kind.GARAGE, Kind.HEATER})


def _number(state: State, key: str) -> float | None:
    value = state.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _is(key: str, want: Callable[[Mapping[str, Any]], Any]) -> _Check:
    def check(state: State, args: Mapping[str, Any]) -> bool | None:
        value = state.get(key)
        return None if value is None else value == want(args)
    return check


def _near(key: str, arg: str, tolerance: float) -> _Check:
    def check(state: State, args: Mapping[str, Any]) -> bool | None:
        value = _number(state, key)
        return None if value is None else abs(value - float(args[arg])) <= tolerance
    return check


def _lit(check: _Check) -> _Check:
    """A light's brightness or colour is only "already" so while the light is on (setting it switches it on)."""
    def lit(state: State, args: Mapping[str, Any]) -> bool | None:
        if state.get("power") is False:
            return False
        return check(state, args)
    return lit


def _power(on: bool) -> _Check:
    """Lights and thermostats report `power`; a speaker's on/off is its playback (play / pause)."""
    def check(state: State, args: Mapping[str, Any]) -> bool | None:
        if isinstance(state.get("power"), bool):
            return state["power"] is on
        return _playing(on)(state, args)
    return check


def _playing(playing: bool) -> _Check:
    def check(state: State, args: Mapping[str, Any]) -> bool | None:
        playback = state.get("playback")
        return (playback == "playing") is playing if isinstance(playback, str) else None
    return check


def _position(low: float, high: float) -> _Check:
    def check(state: State, args: Mapping[str, Any]) -> bool | None:
        value = _number(state, "position")
        return None if value is None else low <= value <= high
    return check


CHECKS: dict[str, _Check] = {
    "turn_on": _power(True),
    "turn_off": _power(False),
    "set_brightness": _lit(_near("brightness", "brightness", 0)),
    "set_color": _lit(_is("rgb", lambda a: list(a["rgb"]))),
    "play": _playing(True),
    "pause": _playing(False),  # a stopped speaker is not playing either: nothing to pause
    "stop": _playing(False),
    "set_volume": _near("volume", "volume", 0),
    "set_mute": _is("muted", lambda a: bool(a["muted"])),
    "set_temperature": _near("target_temperature", "temperature", 0.05),
    "set_hvac_mode": _is("hvac_mode", lambda a: a["mode"]),
    "open": _position(100, 100),
    "close": _position(0, 0),
    "set_position": _near("position", "position", 0),
    "lock": _is("locked", lambda a: True),
    "unlock": _is("locked", lambda a: False),
}

# What a successful command leaves in the state (the keys it sets); a command missing here leaves the
# device's state unknown afterwards (next, previous, play_favorite).
_AFTER: dict[str, Callable[[State, Mapping[str, Any]], dict[str, Any]]] = {
    "turn_on": lambda s, a: {"power": True} if "power" in s else {"playback": "playing"},
    "turn_off": lambda s, a: {"power": False} if "power" in s else {"playback": "paused"},
    "set_brightness": lambda s, a: {"brightness": a["brightness"], "power": True},
    "set_color": lambda s, a: {"rgb": list(a["rgb"]), "power": True},
    "play": lambda s, a: {"playback": "playing"},
    "pause": lambda s, a: {"playback": "paused"} if s.get("playback") == "playing" else {},
    "stop": lambda s, a: {"playback": "stopped"},
    "set_volume": lambda s, a: {"volume": a["volume"]},
    "set_mute": lambda s, a: {"muted": bool(a["muted"])},
    "set_temperature": lambda s, a: {"target_temperature": float(a["temperature"])},
    "set_hvac_mode": lambda s, a: {"hvac_mode": a["mode"], **({"power": a["mode"] != "off"} if "power" in s else {})},
    "open": lambda s, a: {"position": 100},
    "close": lambda s, a: {"position": 0},
    "set_position": lambda s, a: {"position": a["position"]},
    "lock": lambda s, a: {"locked": True},
    "unlock": lambda s, a: {"locked": False},
}


def readable(state: State | None) -> bool:
    return bool(state) and state.get("available", True) is not False  # type: ignore[union-attr]


def checkable(command: str) -> bool:
    """Whether a step with this command can be a no-op at all (worth reading the device for)."""
    return command in CHECKS


def satisfied(command: str, args: Mapping[str, Any], state: State | None, *, any_mode_is_on: bool = False
              ) -> bool | None:
    """True when `state` already shows the command's target, False when it shows otherwise, None when it
    cannot tell. `any_mode_is_on`: "turn on the thermostat" without a mode is satisfied by any mode but off."""
    check = CHECKS.get(command)
    if check is None or state is None or not readable(state):
        return None
    if any_mode_is_on and command == "set_hvac_mode" and args.get("mode") != "off":
        mode = state.get("hvac_mode")
        return None if not isinstance(mode, str) else mode != "off"
    try:
        return check(state, args)
    except (KeyError, TypeError, ValueError):
        return None


def after(command: str, args: Mapping[str, Any], state: State | None) -> dict[str, Any] | None:
    """The state a successful command is expected to leave, from the state before it; None when unknown."""
    change = _AFTER.get(command)
    if change is None or state is None or not readable(state):
        return None
    try:
        return {**state, **change(state, args)}
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Split:
    """A plan's steps parted: those to send, and those the devices already show (in the plan's order)."""

    run: tuple[Step, ...]
    already: tuple[Step, ...]


def split(steps: Iterable[Step], states: Mapping[str, State], *, any_mode_is_on: bool = False) -> Split:
    """Part the steps by the devices' states (by device id). Steps run in order, so each later step on the
    same device is judged against the state the earlier ones are expected to leave (unknown after a
    command whose effect a state does not show: then every later step on that device runs)."""
    current: dict[str, State | None] = dict(states)
    run: list[Step] = []
    already: list[Step] = []
    for step in steps:
        state = current.get(step.device_id)
        if satisfied(step.command, step.args, state, any_mode_is_on=any_mode_is_on) is True:
            already.append(step)
            continue
        run.append(step)
        current[step.device_id] = after(step.command, step.args, state)
    return Split(tuple(run), tuple(already))


def needs_fresh(device: Device) -> bool:
    """Whether only a state read this turn may say that this device is already as asked (see FRESH_KINDS)."""
    return device.kind in FRESH_KINDS
