"""The Driver protocol every driver implements: execute a vocabulary command, read a normalised state."""

from __future__ import annotations

from typing import Any, Protocol

from devices.models import Device


class Driver(Protocol):
    """Async device I/O. Implementations raise only devices.errors exceptions.

    Normalised state keys (only those the device has): power (bool), brightness (int 0-100),
    rgb ([r, g, b]), playback ("playing" | "paused" | "stopped"), volume (int 0-100), muted (bool),
    title (str), hvac_mode (str), target_temperature (float), current_temperature (float), humidity (float),
    position (int 0-100), locked (bool), available (bool).
    """

    name: str

    async def execute(self, device: Device, command: str, args: dict[str, Any]) -> None:
        """Run one validated vocabulary command (see devices.commands) on the device."""
        ...

    async def state(self, device: Device) -> dict[str, Any]:
        """Read the device's current normalised state."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


def min_read_seconds(driver: Driver, device: Device) -> float:
    """The shortest time between two reads of `device` in a loop (a live view) that its driver asks for: a
    driver may define `min_read_seconds(device) -> float` (a hub shared by many devices, a device whose state
    takes several calls); 0 when it does not."""
    ask = getattr(driver, "min_read_seconds", None)
    return max(0.0, float(ask(device))) if callable(ask) else 0.0
