"""Base of the simulated real-vendor devices (WLED, Shelly, Hue, Venstar, Tasmota): documented payloads, identity,
mDNS card."""

from __future__ import annotations

import copy
import functools
import hashlib
from importlib import resources
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import yaml

from devices.sim.http_devices import SimHttpDevice
from devices.sim.ssdp_responder import SsdpResponder


@functools.cache
def _payloads() -> dict[str, Any]:
    text = resources.files("devices.sim").joinpath("vendor_payloads.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def payload(vendor: str, name: str) -> Any:
    """A fresh copy of a documented payload from devices/sim/vendor_payloads.yaml."""
    return copy.deepcopy(_payloads()[vendor][name])


class VendorSim(SimHttpDevice):
    """A loopback device speaking a vendor's real HTTP API. Subclasses implement `route`; `state` is the
    device's own state object (e.g. WLED's /json/state) and `commands` logs every state-changing request."""

    VENDOR: ClassVar[str] = ""
    SERVICE_TYPE: ClassVar[str] = "_http._tcp.local."
    ANNOUNCES_MDNS: ClassVar[bool] = True  # False: the real device uses SSDP only (Venstar)
    ALSO_HTTP: ClassVar[bool] = True  # also announced as a plain _http._tcp (not the Hue bridge)
    STATE_PAYLOAD: ClassVar[str] = ""  # the documented payload the state starts as (unless DEFAULTS is overridden)
    SSDP_TARGET: ClassVar[str] = ""  # the search target the real device answers SSDP for ("" = no SSDP)

    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str | None = None,
                 state: dict[str, Any] | None = None, serial: str | None = None) -> None:
        super().__init__(host=host, port=port, name=name, state=state, serial=serial)
        self.mac_hex = hashlib.sha1(self.serial.encode()).hexdigest()[:10]
        self.mac_hex = "02" + self.mac_hex  # locally administered, 12 hex digits, same as self.mac
        self.unavailable_paths: set[str] = set()
        self.ssdp_wanted = bool(self.SSDP_TARGET)  # a test may turn the SSDP answer off before start()
        self._ssdp: SsdpResponder | None = None

    def ssdp_headers(self) -> dict[str, str]:
        """The headers of the device's SSDP answer besides ST (LOCATION, USN, SERVER, vendor extras)."""
        return {}

    def start(self) -> VendorSim:
        super().start()
        if self.ssdp_wanted and self._ssdp is None:  # silent while hung, like the HTTP side
            self._ssdp = SsdpResponder(self.SSDP_TARGET, self.host, self.ssdp_headers,
                                       silent=lambda: self.hang).start()
        return self

    def stop(self) -> None:
        if self._ssdp is not None:
            self._ssdp.stop()
            self._ssdp = None
        super().stop()

    @property
    def DEFAULTS(self) -> dict[str, Any]:  # type: ignore[override]  # noqa: N802 - the base's name
        """A fresh copy of this vendor's documented `STATE_PAYLOAD` from vendor_payloads.yaml ({} without one)."""
        return payload(self.VENDOR, self.STATE_PAYLOAD) if self.STATE_PAYLOAD else {}

    @property
    def txt(self) -> dict[str, str]:
        """The TXT properties the device announces over mDNS."""
        return {}

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            return self.route(method, parts.path, query, body)

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        raise NotImplementedError
