"""A simulated pool/spa controller with an undocumented JSON API that no shipped adapter spec matches."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from devices.sim.http_devices import BadValue, RawReply, _is_number
from devices.sim.vendor_base import VendorSim

_PUMP = ("on", "off")
_HEATER = ("heat", "off")


def _setpoint(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if not _is_number(value) or not low <= value <= high:
            raise BadValue(f"setpoint_c must be a number between {low:g} and {high:g}")
        return round(float(value), 1)

    return check


def _choice(field: str, allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise BadValue(f"{field} must be one of {', '.join(allowed)}")
        return str(value)

    return check


class SimPool(VendorSim):
    """"AquaLink-ish" pool/spa controller: `GET /` (a small HTML page with links), `GET /api/v1/status`,
    `GET /api/v1/system`, `POST /api/v1/{pool|spa}/setpoint` `{"setpoint_c": 28}`, `POST /api/v1/{pool|spa}/mode`
    `{"heater": "heat"|"off"}`, `POST /api/v1/pool/pump` `{"pump": "on"|"off"}`. Announced as plain
    `_http._tcp` ("Pool Controller"). `note` puts extra text in the status answer (a hostile page, in tests)."""

    MODEL = "PoolPilot 300"
    FIRMWARE = "2.7.14"
    VENDOR = "poolpilot"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str | None = None,
                 state: dict[str, Any] | None = None, serial: str | None = None) -> None:
        super().__init__(host=host, port=port, name=name or "Pool Controller", state=state, serial=serial)
        self.note: str | None = None
        self.requests: list[tuple[str, str]] = []  # every (method, path) it was sent

    @property
    def DEFAULTS(self) -> dict[str, Any]:  # type: ignore[override]  # noqa: N802 - the base's name
        return {"pool": {"water_temp_c": 26.5, "setpoint_c": 27.0, "heater": "heat", "pump": "on"},
                "spa": {"water_temp_c": 36.0, "setpoint_c": 38.0, "heater": "off", "pump": "off"}}

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        return {"pool.setpoint_c": _setpoint(10, 35), "spa.setpoint_c": _setpoint(10, 40),
                "pool.heater": _choice("heater", _HEATER), "spa.heater": _choice("heater", _HEATER),
                "pool.pump": _choice("pump", _PUMP)}

    def _update(self, clean: dict[str, Any]) -> None:
        for key, value in clean.items():
            body, field = key.split(".")
            self._state[body][field] = value

    def status(self) -> dict[str, Any]:
        pool, spa = self._state["pool"], self._state["spa"]
        out: dict[str, Any] = {
            "pool": {**pool, "heater": "heating" if pool["heater"] == "heat" and pool["water_temp_c"] <
                     pool["setpoint_c"] else ("idle" if pool["heater"] == "heat" else "off"),
                     "heater_mode": pool["heater"]},
            "spa": {**spa, "heater": "idle" if spa["heater"] == "heat" else "off", "heater_mode": spa["heater"]},
            "fw": self.FIRMWARE, "serial": self.serial, "links": {"system": "/api/v1/system"}}
        if self.note is not None:
            out["note"] = self.note
        return out

    def system(self) -> dict[str, Any]:
        mac = ":".join(self.mac_hex[i:i + 2] for i in range(0, 12, 2)).upper()
        return {"model": self.MODEL, "serial": self.serial, "mac": mac, "fw": self.FIRMWARE,
                "hostname": f"poolpilot-{self.mac_hex[-4:]}", "uptime_s": 86412}

    def page(self) -> RawReply:
        title = html.escape(self.name)
        text = (f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
                f"<p>{self.MODEL} firmware {self.FIRMWARE}</p><ul>"
                '<li><a href="/api/v1/status">Status</a></li><li><a href="/api/v1/system">System</a></li>'
                '<li><a href="/help">Help</a></li></ul>'
                '<form method="post" action="/api/v1/pool/setpoint"><input name="setpoint_c" type="number">'
                "</form></body></html>")
        return RawReply(text.encode())

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        self.requests.append((method, path))
        path = path.rstrip("/") or "/"
        if method == "GET" and path in ("/", "/index.html"):
            return 200, self.page()
        if method == "GET" and path == "/help":
            return 200, RawReply(b"<html><body><p>See the installer manual.</p><a href='/'>back</a></body></html>")
        if method == "GET" and path == "/api/v1/status":
            return 200, self.status()
        if method == "GET" and path == "/api/v1/system":
            return 200, self.system()
        parts = path.split("/")  # "", "api", "v1", body, what
        if method == "POST" and len(parts) == 5 and parts[:3] == ["", "api", "v1"] and parts[3] in ("pool", "spa"):
            which, what = parts[3], parts[4]
            try:
                data = json.loads(body or b"null")
            except ValueError:
                return 400, {"ok": False, "err": "bad json"}
            fields = {"setpoint": "setpoint_c", "mode": "heater", "pump": "pump"}
            if what not in fields or not isinstance(data, dict) or set(data) != {fields[what]}:
                return 400, {"ok": False, "err": f"expected {{\"{fields.get(what, '?')}\": ...}}"}
            try:
                self.change({f"{which}.{fields[what]}": data[fields[what]]}, record=f"POST {path}")
            except BadValue as exc:
                return 400, {"ok": False, "err": str(exc)}
            return 200, {"ok": True, which: self.status()[which]}
        return 404, {"ok": False, "err": "not found"}
