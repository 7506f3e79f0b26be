"""The live device inventory and the single boundary through which every device command passes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from devices.commands import COMMANDS, validate
from devices.drivers.base import Driver
from devices.errors import DeviceError, DeviceNotFound, DeviceTimeout, DeviceUnavailable, UnsupportedCommand
from devices.models import Device, Kind

log = logging.getLogger(__name__)


def normalize_name(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("'s", "s").split())


class Registry:
    """Devices by stable id; rediscovery with the same id updates the entry, never duplicates it."""

    def __init__(self, drivers: dict[str, Driver], timeout: float = 5.0) -> None:
        self._drivers = drivers
        self._devices: dict[str, Device] = {}
        self.timeout = timeout
        self._listeners: list[Callable[[], None]] = []

    # inventory -------------------------------------------------------------------------------
    def add(self, device: Device) -> None:
        if device.driver not in self._drivers:
            raise DeviceError(f"no driver {device.driver!r} for {device.name}")
        self._devices[device.id] = device
        for listener in self._listeners:
            listener()

    def extend(self, devices: Iterable[Device]) -> None:
        for device in devices:
            self.add(device)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

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

    # I/O ------------------------------------------------------------------------------------
    def _driver(self, device: Device) -> Driver:
        return self._drivers[device.driver]

    async def execute(self, device_id: str, command: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate and run a command within the timeout; returns the validated args."""
        device = self.get(device_id)
        clean = validate(command, args)
        capability = COMMANDS[command].capability
        if capability not in device.capabilities:
            raise UnsupportedCommand(f"{device.name} cannot {command.replace('_', ' ')}")
        await self._io(device, self._driver(device).execute(device, command, clean))
        return clean

    async def state(self, device_id: str) -> dict[str, Any]:
        device = self.get(device_id)
        return await self._io(device, self._driver(device).state(device))

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
