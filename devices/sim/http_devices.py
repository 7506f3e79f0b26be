"""Simulated HTTP/JSON devices (light, thermostat, shade, lock, garage), each on its own loopback server."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from devices.sim.loopback_http import LoopbackHTTPServer, LoopbackServed, SimRequestHandler

__all__ = ["BadValue", "LoopbackHTTPServer", "RawReply", "SimGarage", "SimHttpDevice", "SimLight", "SimLock",
           "SimShade", "SimThermostat"]

log = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class RawReply:
    """A non-JSON answer a simulator may return from `handle` (an HTML page, a redirect with its headers)."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


class BadValue(ValueError):
    """A request asked for a value the device does not accept (answered with HTTP 400)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_int(field: str, value: Any, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise BadValue(f"{field} must be an integer between {low} and {high}")
    return value


def _check_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValue(f"{field} must be true or false")
    return value


class SimHttpDevice(LoopbackServed):
    """Base of the simulated devices: identity, a thread-safe state, a command log and the HTTP server.

    API: `GET /api/info`, `GET /api/state`, `POST /api/state` with a JSON object of fields to change
    (400 with `{"error": ...}` for a bad value or unknown field; nothing changes then).
    """

    MODEL: ClassVar[str] = "ClawSim Device"
    FIRMWARE: ClassVar[str] = "1.4.2"
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str | None = None,
                 state: dict[str, Any] | None = None, serial: str | None = None) -> None:
        self.host = host
        self.name = name or self.MODEL
        digest = hashlib.sha1(f"{self.MODEL}/{self.name}".encode()).hexdigest()
        self.serial = serial or f"CS{digest[:10].upper()}"
        mac_digest = hashlib.sha1(self.serial.encode()).hexdigest()
        self.mac = "02:" + ":".join(mac_digest[i:i + 2] for i in range(0, 10, 2))  # locally administered
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.hang = False
        self._init_serving(port)
        self._lock = threading.RLock()
        self._state: dict[str, Any] = json.loads(json.dumps(self.DEFAULTS))
        if state:
            self._apply(dict(state), initial=True)

    # identity and state -------------------------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        return {"model": self.MODEL, "serial": self.serial, "mac": self.mac, "name": self.name,
                "firmware": self.FIRMWARE}

    @property
    def state(self) -> dict[str, Any]:
        """A snapshot of the device state, as `GET /api/state` reports it."""
        with self._lock:
            return json.loads(json.dumps(self._report()))

    def _report(self) -> dict[str, Any]:
        return self._state

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        """Field -> validator returning the clean value (raises BadValue); `initial` adds read-only fields."""
        raise NotImplementedError

    def _update(self, clean: dict[str, Any]) -> None:
        self._state.update(clean)

    def _apply(self, changes: dict[str, Any], initial: bool = False) -> None:
        """Validate every change, then apply them all (or none); raises BadValue."""
        checks = self._checks(initial)
        unknown = sorted(set(changes) - set(checks))
        if unknown:
            raise BadValue(f"unknown field(s): {', '.join(unknown)}; known: {', '.join(checks)}")
        self._update({key: checks[key](value) for key, value in changes.items()})

    def reset(self, state: dict[str, Any] | None = None) -> None:
        """Back to the defaults plus `state` (as at construction), with an empty command log; not hung."""
        with self._lock:
            self._state = json.loads(json.dumps(self.DEFAULTS))
            if state:
                self._apply(dict(state), initial=True)
            self.commands.clear()
            self.hang = False

    def change(self, changes: dict[str, Any], *, record: str = "POST /api/state") -> None:
        """Change the state as a request would; the change is logged in `commands`."""
        with self._lock:
            self._apply(dict(changes))
            self.commands.append((record, dict(changes)))

    # server --------------------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # request handling ------------------------------------------------------------------------------
    def _wait_while_hanging(self) -> bool:
        """Block while `hang` is set; True if the request must be dropped (the device is stopping)."""
        while self.hang:
            if self._stopping.wait(0.02):
                return True
        return self._stopping.is_set()

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        path = path.split("?", 1)[0]
        if path == "/api/info" and method == "GET":
            return 200, self.info
        if path != "/api/state":
            return 404, {"error": f"no such endpoint {path}"}
        if method == "GET":
            return 200, self.state
        if method != "POST":
            return 405, {"error": f"{method} not allowed"}
        try:
            changes = json.loads(body or b"null")
        except ValueError:
            return 400, {"error": "body is not valid JSON"}
        if not isinstance(changes, dict) or not changes:
            return 400, {"error": "body must be a JSON object of fields to change"}
        try:
            self.change(changes)
        except BadValue as exc:
            return 400, {"error": str(exc)}
        return 200, self.state


def _handler_for(device: SimHttpDevice) -> type[BaseHTTPRequestHandler]:
    class Handler(SimRequestHandler):
        server_version = f"{device.MODEL.replace(' ', '')}/{device.FIRMWARE}"
        protocol_version = "HTTP/1.1"  # keep-alive, as real Shelly / WLED / Hue devices do
        sim_name = device.name
        sim_log = log

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, _MAX_BODY)) if length else b""
            if length > _MAX_BODY:  # the rest of the body is still unread: this connection cannot go on
                self.close_connection = True
            if device._wait_while_hanging():
                self.close_connection = True
                return
            status, payload = device.handle(method, self.path, body)
            raw = payload if isinstance(payload, RawReply) else RawReply(json.dumps(payload).encode(),
                                                                           "application/json")
            self.reply(status, raw.body, raw.content_type, raw.headers)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_PUT(self) -> None:  # noqa: N802
            self._serve("PUT")

    return Handler


class SimLight(SimHttpDevice):
    """A colour light: `{"on": bool, "brightness": 0-100, "rgb": [r, g, b]}`."""

    MODEL = "ClawSim Light"
    DEFAULTS = {"on": False, "brightness": 100, "rgb": [255, 255, 255]}

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        return {"on": lambda v: _check_bool("on", v),
                "brightness": lambda v: _check_int("brightness", v, 0, 100),
                "rgb": _check_rgb}


def _check_rgb(value: Any) -> list[int]:
    if not isinstance(value, list) or len(value) != 3 or not all(_is_int(v) and 0 <= v <= 255 for v in value):
        raise BadValue("rgb must be a list of three integers between 0 and 255")
    return list(value)


class SimThermostat(SimHttpDevice):
    """A thermostat: `{"mode", "target", "sensors": {"temperature", "humidity"}}`.

    The measured temperature moves toward the target at `drift_rate` °C per minute (computed lazily from
    elapsed time): `heat` only warms, `cool` only cools, `auto` does both, `off` holds it. The device
    accepts targets from 7 to 32 °C, narrower than the vocabulary's 5-35 (so a valid command can get a 400).
    Temperature and humidity can be set only in the initial state.
    """

    MODEL = "ClawSim Thermostat"
    MODES = ("off", "heat", "cool", "auto")
    MIN_TARGET, MAX_TARGET = 7.0, 32.0
    DEFAULTS = {"mode": "off", "target": 20.0, "temperature": 18.0, "humidity": 45}

    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str | None = None,
                 state: dict[str, Any] | None = None, serial: str | None = None,
                 drift_rate: float = 0.5) -> None:
        self.drift_rate = drift_rate
        self._since = time.monotonic()
        super().__init__(host, port, name, state, serial)

    def _drift(self) -> None:
        now = time.monotonic()
        elapsed_min, self._since = (now - self._since) / 60.0, now
        mode, target, current = self._state["mode"], self._state["target"], self._state["temperature"]
        step = self.drift_rate * elapsed_min
        if mode in ("heat", "auto") and current < target:
            self._state["temperature"] = min(target, current + step)
        elif mode in ("cool", "auto") and current > target:
            self._state["temperature"] = max(target, current - step)

    def _report(self) -> dict[str, Any]:
        self._drift()
        s = self._state
        return {"mode": s["mode"], "target": s["target"],
                "sensors": {"temperature": round(s["temperature"], 2), "humidity": s["humidity"]}}

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        def target(v: Any) -> float:
            if not _is_number(v) or not self.MIN_TARGET <= v <= self.MAX_TARGET:
                raise BadValue(f"target must be a number between {self.MIN_TARGET:g} and {self.MAX_TARGET:g}")
            return float(v)

        def mode(v: Any) -> str:
            if v not in self.MODES:
                raise BadValue(f"mode must be one of {', '.join(self.MODES)}")
            return str(v)

        def temperature(v: Any) -> float:
            if not _is_number(v):
                raise BadValue("temperature must be a number")
            return float(v)

        checks: dict[str, Callable[[Any], Any]] = {"mode": mode, "target": target}
        if initial:
            checks.update(temperature=temperature, humidity=lambda v: _check_int("humidity", v, 0, 100))
        return checks

    def _update(self, clean: dict[str, Any]) -> None:
        self._drift()  # the time before this change ran under the old mode and target
        self._state.update(clean)


class SimShade(SimHttpDevice):
    """A window shade: `{"position": 0-100 (percent open)}`; also takes `{"action": "open" | "close"}`."""

    MODEL = "ClawSim Shade"
    DEFAULTS = {"position": 0}

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        def action(v: Any) -> int:
            if v not in ("open", "close"):
                raise BadValue("action must be open or close")
            return 100 if v == "open" else 0

        return {"position": lambda v: _check_int("position", v, 0, 100), "action": action}

    def _update(self, clean: dict[str, Any]) -> None:
        if "action" in clean and "position" in clean:
            raise BadValue("give either action or position, not both")
        self._state["position"] = clean.get("position", clean.get("action", self._state["position"]))


class SimLock(SimHttpDevice):
    """A door lock: `{"locked": bool, "battery": 0-100}` (battery is read-only)."""

    MODEL = "ClawSim Lock"
    DEFAULTS = {"locked": True, "battery": 87}

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        checks: dict[str, Callable[[Any], Any]] = {"locked": lambda v: _check_bool("locked", v)}
        if initial:
            checks["battery"] = lambda v: _check_int("battery", v, 0, 100)
        return checks


class SimGarage(SimHttpDevice):
    """A garage door opener: `{"door": "open" | "closed"}`."""

    MODEL = "ClawSim Garage"
    DEFAULTS = {"door": "closed"}

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        def door(v: Any) -> str:
            if v not in ("open", "closed"):
                raise BadValue("door must be open or closed")
            return str(v)

        return {"door": door}
