"""Whether a device's normalised state shows the effect of a vocabulary command (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Commands that set a state outright: sending one twice leaves the device as sending it once, and the
# state then shows whether it happened. next/previous/play_favorite move through a queue: neither holds.
IDEMPOTENT = frozenset({
    "turn_on", "turn_off", "set_brightness", "set_color", "play", "pause", "stop", "set_volume", "set_mute",
    "set_temperature", "set_hvac_mode", "open", "close", "set_position", "lock", "unlock",
})

_Check = Callable[[dict[str, Any], dict[str, Any]], bool | None]


def _near(key: str, arg: str, tolerance: float) -> _Check:
    def check(state: dict[str, Any], args: dict[str, Any]) -> bool | None:
        value = state.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        return abs(float(value) - float(args[arg])) <= tolerance
    return check


def _equal(key: str, want: Callable[[dict[str, Any]], Any]) -> _Check:
    def check(state: dict[str, Any], args: dict[str, Any]) -> bool | None:
        if key not in state or state[key] is None:
            return None
        return bool(state[key] == want(args))
    return check


def _power(on: bool) -> _Check:
    """Lights and thermostats report `power`; a speaker's on/off is its playback (Sonos: play/pause)."""
    def check(state: dict[str, Any], args: dict[str, Any]) -> bool | None:
        if isinstance(state.get("power"), bool):
            return state["power"] is on
        playback = state.get("playback")
        if isinstance(playback, str):
            return (playback == "playing") is on
        return None
    return check


def _playback(*accepted: str) -> _Check:
    def check(state: dict[str, Any], args: dict[str, Any]) -> bool | None:
        playback = state.get("playback")
        return playback in accepted if isinstance(playback, str) else None
    return check


def _position(low: float, high: float) -> _Check:
    def check(state: dict[str, Any], args: dict[str, Any]) -> bool | None:
        value = state.get("position")
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        return low <= value <= high
    return check


_CHECKS: dict[str, _Check] = {
    "turn_on": _power(True),
    "turn_off": _power(False),
    "set_brightness": _near("brightness", "brightness", 1),
    "set_color": _equal("rgb", lambda a: list(a["rgb"])),
    "play": _playback("playing"),
    "pause": _playback("paused", "stopped"),  # pausing what is not playing leaves it stopped
    "stop": _playback("stopped", "paused"),
    "set_volume": _near("volume", "volume", 1),
    "set_mute": _equal("muted", lambda a: bool(a["muted"])),
    "set_temperature": _near("target_temperature", "temperature", 0.05),
    "set_hvac_mode": _equal("hvac_mode", lambda a: a["mode"]),
    "open": _position(99, 100),
    "close": _position(0, 1),
    "set_position": _near("position", "position", 1),
    "lock": _equal("locked", lambda a: True),
    "unlock": _equal("locked", lambda a: False),
}


def checkable(command: str) -> bool:
    """Whether the command's effect can be read back from a state at all."""
    return command in _CHECKS


def shows_effect(command: str, args: dict[str, Any], state: dict[str, Any] | None) -> bool | None:
    """True when `state` shows that `command` with validated `args` took effect, False when it shows it did
    not, None when it cannot tell (no state, the device unavailable, a key the device lacks, or a command
    such as next/previous/play_favorite whose effect a state does not reveal)."""
    check = _CHECKS.get(command)
    if check is None or not state or state.get("available") is False:
        return None
    try:
        return check(state, args)
    except (KeyError, TypeError, ValueError):
        return None
