"""The capability and command vocabulary shared by every driver, with pure argument validation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from devices.errors import InvalidArgument, UnsupportedCommand


class Capability(StrEnum):
    POWER = "power"
    BRIGHTNESS = "brightness"
    COLOR = "color"
    MEDIA = "media"
    CLIMATE = "climate"
    COVER = "cover"
    LOCK = "lock"
    CAMERA = "camera"
    SENSOR = "sensor"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Arg:
    """One typed argument of a command; numbers are clamped-checked against [low, high]."""

    name: str
    type: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandSpec:
    name: str
    capability: Capability
    args: tuple[Arg, ...] = ()
    description: str = ""


_C = Capability
COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("turn_on", _C.POWER, description="Switch on"),
        CommandSpec("turn_off", _C.POWER, description="Switch off"),
        CommandSpec("set_brightness", _C.BRIGHTNESS, (Arg("brightness", int, 0, 100),),
                    "Set brightness in percent (0-100)"),
        CommandSpec("set_color", _C.COLOR, (Arg("rgb", list),), "Set colour as [r, g, b], each 0-255"),
        CommandSpec("play", _C.MEDIA, description="Start or resume playback"),
        CommandSpec("pause", _C.MEDIA, description="Pause playback"),
        CommandSpec("stop", _C.MEDIA, description="Stop playback"),
        CommandSpec("next", _C.MEDIA, description="Skip to the next track"),
        CommandSpec("previous", _C.MEDIA, description="Go back to the previous track"),
        CommandSpec("set_volume", _C.MEDIA, (Arg("volume", int, 0, 100),), "Set volume in percent (0-100)"),
        CommandSpec("set_mute", _C.MEDIA, (Arg("muted", bool),), "Mute or unmute"),
        CommandSpec("play_favorite", _C.MEDIA, (Arg("favorite", str),), "Play a saved favourite by name"),
        CommandSpec("set_temperature", _C.CLIMATE, (Arg("temperature", float, 5, 35),),
                    "Set the target temperature in °C"),
        CommandSpec("set_hvac_mode", _C.CLIMATE,
                    (Arg("mode", str, choices=("off", "heat", "cool", "auto")),), "Set the HVAC mode"),
        CommandSpec("open", _C.COVER, description="Open fully"),
        CommandSpec("close", _C.COVER, description="Close fully"),
        CommandSpec("set_position", _C.COVER, (Arg("position", int, 0, 100),),
                    "Set position in percent open (0-100)"),
        CommandSpec("lock", _C.LOCK, description="Lock"),
        CommandSpec("unlock", _C.LOCK, description="Unlock"),
    )
}


def validate(command: str, args: dict[str, Any] | None) -> dict[str, Any]:
    """Check a command's arguments against the vocabulary; return them coerced, or raise InvalidArgument."""
    spec = COMMANDS.get(command)
    if spec is None:
        raise UnsupportedCommand(f"unknown command {command!r}")
    args = dict(args or {})
    out: dict[str, Any] = {}
    for arg in spec.args:
        if arg.name not in args:
            raise InvalidArgument(f"{command} needs {arg.name}")
        out[arg.name] = _coerce(command, arg, args.pop(arg.name))
    if args:
        raise InvalidArgument(f"{command} does not take {', '.join(sorted(args))}")
    return out


def _coerce(command: str, arg: Arg, value: Any) -> Any:
    try:
        if arg.type is bool:
            if isinstance(value, str):
                value = value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if arg.type is list:
            rgb = [int(v) for v in value]
            if len(rgb) != 3 or any(not 0 <= v <= 255 for v in rgb):
                raise ValueError
            return rgb
        if arg.type is int:
            value = round(float(value))
        elif arg.type is float:
            value = float(value)
        elif arg.type is str:
            value = str(value).strip()
            if not value:
                raise ValueError
    except (TypeError, ValueError):
        raise InvalidArgument(f"{arg.name} for {command} is not a valid {arg.type.__name__}: {value!r}") from None
    if arg.choices and value not in arg.choices:
        raise InvalidArgument(f"{arg.name} must be one of {', '.join(arg.choices)}, not {value!r}")
    if arg.low is not None and value < arg.low or arg.high is not None and value > arg.high:
        raise InvalidArgument(f"{arg.name} must be between {arg.low:g} and {arg.high:g}, not {value}")
    return value
