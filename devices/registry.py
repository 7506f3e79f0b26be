"""The live device inventory and the single boundary through which every device command passes."""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from devices.commands import COMMANDS, validate
from devices.drivers.base import Driver, min_read_seconds
from devices.errors import DeviceError, DeviceNotFound, DeviceTimeout, DeviceUnavailable, UnsupportedCommand
from devices.models import Device, Kind

log = logging.getLogger(__name__)


def normalize_name(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("'s", "s").split())


# How long a remembered state (the last one read, or the one a caller noted after a successful command) is
# handed out by `known` (the default of Registry.known_seconds). Callers use it only to decide that a command
# is still needed (README, "Performance": a stale entry can only cause one more command, as before it existed).
KNOWN_SECONDS = 5.0


@dataclass
class _Known:
    state: dict[str, Any]
    at: float  # time.monotonic() when it was read or noted


class Registry:
    """Devices by stable id; rediscovery with the same id updates the entry, never duplicates it.

    It also remembers each device's last known state for `known_seconds`: filled by every successful read and
    by `note`, dropped on any error and whenever a command is sent (a read that started before a command and
    ends after it is not remembered)."""

    def __init__(self, drivers: dict[str, Driver], timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._drivers = drivers
        self._devices: dict[str, Device] = {}
        self.timeout = timeout
        self._listeners: list[Callable[[], None]] = []
        self._command_listeners: list[Callable[[str], None]] = []
        self._clock = clock
        self._known: dict[str, _Known] = {}
        self.known_seconds = KNOWN_SECONDS  # 0: nothing remembered is handed out (bench/turns.py --no-memory)
        self._sent: dict[str, int] = {}  # commands sent per device: a read spanning one is not remembered

    # inventory -------------------------------------------------------------------------------
    def add(self, device: Device) -> None:
        if device.driver not in self._drivers:
            raise DeviceError(f"no driver {device.driver!r} for {device.name}")
        self._devices[device.id] = device
        self._known.pop(device.id, None)  # another address or driver: what was read from the old one is moot
        for listener in self._listeners:
            listener()

    def extend(self, devices: Iterable[Device]) -> None:
        for device in devices:
            self.add(device)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def off_change(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def on_command(self, listener: Callable[[str], None]) -> None:
        """Call `listener(device_id)` after every command sent to a device, whatever came of it (a live view
        reads the device again at once instead of at its next poll)."""
        self._command_listeners.append(listener)

    def off_command(self, listener: Callable[[str], None]) -> None:
        if listener in self._command_listeners:
            self._command_listeners.remove(listener)

    def all(self) -> list[Device]:
        return list(self._devices.values())

    def get(self, device_id: str) -> Device:
        try:
            return self._devices[device_id]
        except KeyError:
            raise DeviceNotFound(f"no device with id {device_id!r}") from None

    def rooms(self) -> list[str]:
        return sorted({d.room for d in self._devices.values() if d.room})

    def find(self, name: str, room: str | None = None) -> list[Device]:
        """Devices whose name or alias matches (case/space-insensitive), optionally within a room."""
        want = normalize_name(name)
        found = [d for d in self._devices.values()
                 if want in (normalize_name(n) for n in d.names()) or want == normalize_name(d.id)]
        if room is not None:
            found = [d for d in found if d.room and normalize_name(d.room) == normalize_name(room)]
        return found

    def in_room(self, room: str, kind: Kind | None = None) -> list[Device]:
        r = normalize_name(room)
        return [d for d in self._devices.values()
                if d.room and normalize_name(d.room) == r and (kind is None or d.kind == kind)]

    # last known states --------------------------------------------------------------------------
    def known(self, device_id: str) -> dict[str, Any] | None:
        """The device's last known state if at most `known_seconds` old (a copy), else None. Never a
        reason to skip a command: a caller may only use it to decide that one is still needed."""
        entry = self._known.get(device_id)
        if entry is None or self.known_seconds <= 0 or self._clock() - entry.at > self.known_seconds:
            return None
        return copy.deepcopy(entry.state)

    def note(self, device_id: str, state: dict[str, Any]) -> None:
        """Remember the state a successful command is expected to have left (the caller's prediction)."""
        if device_id in self._devices:
            self._known[device_id] = _Known(copy.deepcopy(state), self._clock())

    def forget(self, device_id: str | None = None) -> None:
        """Drop one device's last known state, or every device's."""
        if device_id is None:
            self._known.clear()
        else:
            self._known.pop(device_id, None)

    # I/O ------------------------------------------------------------------------------------
    def _driver(self, device: Device) -> Driver:
        return self._drivers[device.driver]

    def read_floor(self, device_id: str) -> float:
        """How long a loop that keeps reading this device (a live view) should wait between reads at least."""
        device = self.get(device_id)
        return min_read_seconds(self._driver(device), device)

    async def execute(self, device_id: str, command: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate and run a command within the timeout; returns the validated args."""
        device = self.get(device_id)
        clean = validate(command, args)
        capability = COMMANDS[command].capability
        if capability not in device.capabilities:
            raise UnsupportedCommand(f"{device.name} cannot {command.replace('_', ' ')}")
        self._sent[device_id] = self._sent.get(device_id, 0) + 1
        self._known.pop(device_id, None)
        try:
            await self._io(device, self._driver(device).execute(device, command, clean))
        finally:
            for listener in list(self._command_listeners):
                try:
                    listener(device_id)
                except Exception:  # a listener's bug must not turn a sent command into a failed one
                    log.exception("a command listener failed for %s", device_id)
        return clean

    async def state(self, device_id: str) -> dict[str, Any]:
        """Read the device's state now (and remember it, unless a command was sent meanwhile)."""
        device = self.get(device_id)
        sent = self._sent.get(device_id, 0)
        try:
            state = await self._io(device, self._driver(device).state(device))
        except BaseException:
            self._known.pop(device_id, None)
            raise
        if self._sent.get(device_id, 0) == sent and isinstance(state, dict) and state.get("available", True):
            self._known[device_id] = _Known(copy.deepcopy(state), self._clock())
        return state

    async def states(self, device_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(device_ids)
        results = await asyncio.gather(*(self.state(i) for i in ids), return_exceptions=True)
        out: dict[str, dict[str, Any]] = {}
        for device_id, result in zip(ids, results, strict=True):
            if isinstance(result, DeviceError):
                out[device_id] = {"available": False, "error": str(result)}
            elif isinstance(result, BaseException):
                raise result
            else:
                out[device_id] = result
        return out

    async def _io(self, device: Device, coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, self.timeout)
        except TimeoutError:  # a command may still take effect: DeviceTimeout is a DeviceOutcomeUnknown
            raise DeviceTimeout(f"{device.name} did not answer within {self.timeout:g} s") from None
        except DeviceError:
            raise
        except Exception as exc:  # a driver bug must not take the turn down
            log.exception("driver %s failed on %s", device.driver, device.id)
            raise DeviceUnavailable(f"{device.name} failed: {exc.__class__.__name__}") from exc

    async def close(self) -> None:
        for driver in self._drivers.values():
            await driver.close()
