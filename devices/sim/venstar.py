"""A simulated Venstar ColorTouch thermostat: the local API (GET /, /query/info, /query/sensors, POST /control)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from devices.sim.http_devices import BadValue
from devices.sim.vendor_base import VendorSim, payload

SEARCH_TARGET = "venstar:thermostat:ecp"

MODES = {0: "off", 1: "heat", 2: "cool", 3: "auto"}


def _mode(value: Any) -> int:
    if isinstance(value, bool) or value not in MODES:
        raise BadValue("mode is 0 (off), 1 (heat), 2 (cool) or 3 (auto)")
    return int(value)


def _fan(value: Any) -> int:
    if isinstance(value, bool) or value not in (0, 1):
        raise BadValue("fan is 0 (auto) or 1 (on)")
    return int(value)


def _temp(field: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 2.0 <= value <= 37.0:
            raise BadValue(f"{field} must be between 2 and 37")
        return round(float(value) * 2) / 2  # Celsius setpoints go in half degrees
    return check


class SimVenstar(VendorSim):
    """ColorTouch T7900 set to Celsius (tempunits 1). POST /control takes form fields mode, fan, heattemp,
    cooltemp and answers {"success": true}, or HTTP 200 with {"error": true, "reason": ...} when it refuses
    (e.g. setpoints closer than setpointdelta, out of range). A setpoint given alone keeps the other one; the
    pair must keep heattemp <= cooltemp - setpointdelta in every mode (the ColorTouch never lets its heating
    and cooling setpoints come closer), checked when a setpoint changes or the mode becomes auto. The room
    temperature and humidity are the simulator's own (`temperature`, `humidity` in `state`)."""

    MODEL = "COLORTOUCH"
    FIRMWARE = "6.93"
    VENDOR = "venstar"
    SSDP_TARGET = SEARCH_TARGET
    STATE_PAYLOAD = "info"
    ANNOUNCES_MDNS = False  # the real thermostat answers SSDP searches only

    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str | None = None,
                 state: dict[str, Any] | None = None, serial: str | None = None, ssdp: bool = True) -> None:
        super().__init__(host=host, port=port, name=name, state=state, serial=serial)
        self.ssdp_wanted = ssdp

    @property
    def usn(self) -> str:
        """The USN the thermostat answers SSDP with: its MAC, name and type (Venstar's discovery protocol)."""
        mac = ":".join(self.mac_hex[i:i + 2] for i in range(0, 12, 2))
        return f"ecp:{mac}:name:{self.name.replace(':', ' ')}:type:residential"

    def ssdp_headers(self) -> dict[str, str]:
        return {"LOCATION": f"http://{self.address}/", "USN": self.usn,
                "SERVER": f"Venstar ColorTouch/{self.FIRMWARE}"}

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        checks: dict[str, Callable[[Any], Any]] = {
            "mode": _mode, "heattemp": _temp("heattemp"), "cooltemp": _temp("cooltemp"),
            "fan": _fan}
        if initial:
            checks.update(spacetemp=_temp("spacetemp"), hum=lambda v: int(v), name=str)
        return checks

    @property
    def info(self) -> dict[str, Any]:
        """The /query/info answer."""
        return {**self._state, "name": self.name}

    def sensors(self) -> dict[str, Any]:
        sensors = payload("venstar", "sensors")
        sensors["sensors"][0].update(temp=self._state["spacetemp"], hum=self._state["hum"])
        return sensors

    def _control(self, body: bytes) -> dict[str, Any]:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        known = {"mode", "fan", "heattemp", "cooltemp"}
        if not form or set(form) - known:
            return {"error": True, "reason": f"unknown or missing parameters; known: {', '.join(sorted(known))}"}
        changes: dict[str, Any] = {}
        try:
            for key, value in form.items():
                changes[key] = int(value) if key in ("mode", "fan") else float(value)
        except ValueError:
            return {"error": True, "reason": "parameters must be numbers"}
        heat = changes.get("heattemp", self._state["heattemp"])
        cool = changes.get("cooltemp", self._state["cooltemp"])
        touched = "heattemp" in changes or "cooltemp" in changes or changes.get("mode") == 3
        if touched and cool - heat < self._state["setpointdelta"]:
            return {"error": True, "reason": f"cooltemp must be at least {self._state['setpointdelta']:g} "
                                             f"above heattemp (heattemp {heat:g}, cooltemp {cool:g})"}
        try:
            self.change(changes, record="POST /control")
        except BadValue as exc:
            return {"error": True, "reason": str(exc)}
        return {"success": True}

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/":
            return 200, payload("venstar", "root")
        if method == "GET" and path == "/query/info":
            return 200, self.info
        if method == "GET" and path == "/query/sensors":
            return 200, self.sensors()
        if method == "POST" and path == "/control":
            return 200, self._control(body)
        return 404, {"error": True, "reason": "not found"}
