"""Drivers: one per protocol family, each translating library errors into devices.errors; the name → factory table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devices.drivers.base import Driver


@dataclass(frozen=True)
class DriverOptions:
    """What every driver factory is given: `timeout` bounds one device call (the claw's device_timeout)."""

    timeout: float = 5.0


# Each factory imports its driver module only when called: a claw that needs one protocol does not pay for the
# libraries of the others at import time.
def _sonos(options: DriverOptions) -> Driver:
    from devices.drivers.sonos import SonosDriver

    return SonosDriver()  # soco's own SOAP bound (5 s), not options.timeout: unchanged from before the table


def _http(options: DriverOptions) -> Driver:
    from devices.drivers.http import HttpDriver

    return HttpDriver(timeout=options.timeout)


# A device's `driver` field names one of these. A new protocol: its module here and one line in this table.
DRIVERS: dict[str, Callable[[DriverOptions], Driver]] = {
    "sonos": _sonos,
    "http": _http,
}


def build_drivers(timeout: float) -> dict[str, Driver]:
    """One driver of every known kind, each bounding a device call to `timeout` seconds where it can."""
    options = DriverOptions(timeout=timeout)
    return {name: make(options) for name, make in DRIVERS.items()}
