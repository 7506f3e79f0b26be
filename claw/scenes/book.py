"""The scene book: saving a scene (from the devices' current state, or from commands), reading it for the routines'
Runner (claw.routines.runner.Scenes) and for the risk listing at a routine's creation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from claw.errors import ClawError
from devices.commands import Capability, validate
from devices.errors import DeviceError
from devices.models import Device
from devices.registry import Registry
from memory.store import Store

DeviceCall = tuple[str, str, dict[str, Any]]
MAX_NAME = 60


class SceneError(ClawError):
    """The root of the scenes' errors; the message is safe to show to the owner."""


def snapshot_calls(device: Device, state: Mapping[str, Any]) -> list[DeviceCall]:
    """The commands that bring `device` back to `state` (pure): power, brightness, position, lock, setpoint,
    volume. Unknown or unavailable state gives no command."""
    if not state or state.get("available") is False:
        return []
    caps = device.capabilities
    calls: list[DeviceCall] = []
    if Capability.LOCK in caps and "locked" in state:
        return [(device.id, "lock" if state["locked"] else "unlock", {})]
    if Capability.COVER in caps and state.get("position") is not None:
        return [(device.id, "set_position", {"position": int(state["position"])})]
    if Capability.CLIMATE in caps and state.get("target_temperature") is not None:
        if state.get("power") is False or state.get("hvac_mode") == "off":
            return [(device.id, "turn_off", {})]
        return [(device.id, "set_temperature", {"temperature": float(state["target_temperature"])})]
    if Capability.MEDIA in caps:
        if state.get("volume") is not None:
            calls.append((device.id, "set_volume", {"volume": int(state["volume"])}))
        if state.get("playback") == "playing":  # a quiet speaker is left as it is
            calls.append((device.id, "play", {}))
        return calls
    if Capability.POWER in caps and "power" in state:
        if not state["power"]:
            return [(device.id, "turn_off", {})]
        calls.append((device.id, "turn_on", {}))
        if Capability.BRIGHTNESS in caps and state.get("brightness") is not None:
            calls.append((device.id, "set_brightness", {"brightness": int(state["brightness"])}))
    return calls


def clean_name(name: str) -> str:
    """A scene's name as stored: words, no surrounding quotes or punctuation; SceneError if unusable."""
    text = " ".join(name.replace("“", " ").replace("”", " ").replace('"', " ").split()).strip(" .,!?'")
    if not text or len(text) > MAX_NAME or text.isdigit():
        raise SceneError(f"a scene needs a name of 1 to {MAX_NAME} characters")
    return text


def stored_calls(store: Store, name: str) -> list[DeviceCall]:
    """A stored scene's device commands, in order; SceneError when there is no such scene."""
    row = store.scene_get(name)
    if row is None:
        raise SceneError(f"there is no scene called “{name}”")
    return [(str(d), str(c), dict(a or {})) for d, c, a in row["calls"]]


class SceneBook:
    """Scenes over the store; `steps` is the routines Runner's Scenes protocol."""

    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry

    def names(self) -> list[str]:
        return [str(r["name"]) for r in self.store.scenes_all()]

    def find(self, text: str) -> str | None:
        """The stored scene a message names exactly ("good night", "Movie night!"), else None."""
        want = " ".join(text.lower().split()).strip(" .,!?'\"“”")
        for prefix in ("the ", "scene "):
            want = want.removeprefix(prefix)
        want = want.removesuffix(" scene").removesuffix(" please").strip()
        if not want:
            return None
        return next((n for n in self.names() if n.lower() == want), None)

    def calls(self, name: str) -> list[DeviceCall]:
        return stored_calls(self.store, name)

    async def steps(self, name: str) -> list[DeviceCall]:
        """The Runner's Scenes protocol; a missing scene is a routine error (the step fails, saying so)."""
        from claw.routines.model import RoutineError

        try:
            return self.calls(name)
        except SceneError as exc:
            raise RoutineError(str(exc)) from None

    def save(self, name: str, calls: Iterable[DeviceCall], source: str = "chat") -> str:
        """Store the scene (replacing one of that name) after checking each command; returns the name."""
        name = clean_name(name)
        known = {d.id for d in self.registry.all()}
        rows: list[list[Any]] = []
        for device_id, command, args in calls:
            if device_id not in known:
                raise SceneError(f"I don't know the device {device_id}")
            try:
                rows.append([device_id, command, validate(command, dict(args))])
            except DeviceError as exc:
                raise SceneError(str(exc)) from None
        if not rows:
            raise SceneError("that scene would do nothing")
        self.store.scene_save(name, rows, source)
        return name

    async def capture(self, devices: list[Device]) -> list[DeviceCall]:
        """The commands that bring these devices back to how they are now (read from the devices)."""
        states = await self.registry.states([d.id for d in devices])
        return [call for d in devices for call in snapshot_calls(d, states.get(d.id) or {})]

    def delete(self, name: str) -> bool:
        return self.store.scene_delete(name)
