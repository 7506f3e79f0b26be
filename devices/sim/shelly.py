"""A simulated Shelly Gen2 relay (Plus 1PM): RPC over HTTP with Shelly's documented payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from devices.sim.http_devices import _check_bool
from devices.sim.vendor_base import VendorSim, payload

_BOOL = {"true": True, "false": False}


def bool_param(value: Any) -> Any:
    """An RPC parameter as a bool when it is one ("true"/"false" in a query string); else unchanged."""
    return _BOOL.get(value, value) if isinstance(value, str) else value


def number_param(value: Any) -> float | None:
    """An RPC parameter as a number ("40" in a query string); None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class SimShelly(VendorSim):
    """Shelly Gen2: GET /shelly; /rpc/<Method>?params (GET) or POST /rpc with {"id","method","params"}.
    Methods: Shelly.GetDeviceInfo, Switch.GetStatus, Switch.Set, Switch.Toggle (switch id 0 only).
    Other profiles (shelly_light.py, shelly_cover.py) change COMPONENT, the payloads and `_component`."""

    MODEL = "Shelly Plus 1PM"
    FIRMWARE = "1.0.8"
    VENDOR = "shelly"
    SERVICE_TYPE = "_shelly._tcp.local."
    COMPONENT = "Switch"
    APP = "Plus1PM"
    ID_PREFIX = "shellyplus1pm"
    INFO_PAYLOAD = "device_info"
    STATE_PAYLOAD = "switch_status"

    @property
    def device_id(self) -> str:
        return f"{self.ID_PREFIX}-{self.mac_hex}"

    @property
    def txt(self) -> dict[str, str]:
        return {"gen": "2", "app": self.APP, "ver": self.FIRMWARE}

    @property
    def info(self) -> dict[str, Any]:
        info = payload("shelly", self.INFO_PAYLOAD)
        info.update(id=self.device_id, mac=self.mac_hex.upper(), name=self.name, ver=self.FIRMWARE)
        return info

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        return {"output": lambda v: _check_bool("output", v)}

    def _update(self, clean: dict[str, Any]) -> None:
        self._state.update(clean)
        self._state["source"] = "HTTP_in"
        self._state["apower"] = 23.5 if self._state["output"] else 0.0

    def _call(self, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        if method == "Shelly.GetDeviceInfo":
            return 200, self.info
        component, _, verb = method.partition(".")
        if component != self.COMPONENT:
            return 404, {"code": 404, "message": f"No handler for {method}"}
        if params.get("id", 0) not in (0, "0"):
            return 400, {"code": -105, "message": f"Argument 'id', value {params.get('id')} not found!"}
        return self._component(verb, params)

    def _component(self, verb: str, params: dict[str, Any]) -> tuple[int, Any]:
        """<COMPONENT>.<verb> for component id 0 (the id is checked already)."""
        if verb == "GetStatus":
            return 200, self._state
        if verb in ("Set", "Toggle"):
            was_on = self._state["output"]
            on = bool_param(params.get("on")) if verb == "Set" else not was_on
            if not isinstance(on, bool):
                return 400, {"code": -103, "message": "Invalid argument 'on': expected boolean"}
            self.change({"output": on}, record=f"RPC {self.COMPONENT}.{verb}")
            return 200, {"was_on": was_on}
        return 404, {"code": 404, "message": f"No handler for {self.COMPONENT}.{verb}"}

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path == "/shelly" and method == "GET":
            return 200, self.info
        if path == "/rpc" and method == "POST":
            try:
                frame = json.loads(body or b"null")
            except ValueError:
                return 400, {"code": -32700, "message": "parse error"}
            if not isinstance(frame, dict) or not isinstance(frame.get("method"), str):
                return 400, {"code": -32600, "message": "invalid request"}
            status, result = self._call(frame["method"], dict(frame.get("params") or {}))
            key = "result" if status == 200 else "error"
            return 200, {"id": frame.get("id"), "src": self.device_id, key: result}
        if path.startswith("/rpc/"):
            params: dict[str, Any] = dict(query)
            if method == "POST" and body:
                try:
                    params.update(json.loads(body))
                except (ValueError, TypeError):
                    return 400, {"code": -32700, "message": "parse error"}
            return self._call(path.removeprefix("/rpc/"), params)
        return 404, {"code": 404, "message": "Not Found"}
