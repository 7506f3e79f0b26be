"""A simulated Shelly Gen2 dimmer (Plus Wall Dimmer): the Light component over RPC, Shelly's documented payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devices.sim.http_devices import _check_bool, _check_int
from devices.sim.shelly import SimShelly, bool_param, number_param


class SimShellyLight(SimShelly):
    """Light.GetStatus -> {"id", "source", "output", "brightness" 0-100, ...}; Light.Set with `on` and/or
    `brightness` (a brightness alone leaves the output as it is, as the device does); Light.Toggle."""

    MODEL = "Shelly Plus Wall Dimmer"
    COMPONENT = "Light"
    APP = "PlusWallDimmer"
    ID_PREFIX = "shellypluswalldimmer"
    INFO_PAYLOAD = "light_device_info"
    STATE_PAYLOAD = "light_status"

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        return {"output": lambda v: _check_bool("output", v),
                "brightness": lambda v: _check_int("brightness", v, 0, 100)}

    def _update(self, clean: dict[str, Any]) -> None:
        self._state.update(clean)
        self._state["source"] = "HTTP_in"

    def _component(self, verb: str, params: dict[str, Any]) -> tuple[int, Any]:
        if verb != "Set":
            return super()._component(verb, params)
        changes: dict[str, Any] = {}
        if "on" in params:
            on = bool_param(params["on"])
            if not isinstance(on, bool):
                return 400, {"code": -103, "message": "Invalid argument 'on': expected boolean"}
            changes["output"] = on
        if "brightness" in params:
            bri = number_param(params["brightness"])
            if bri is None or not 0 <= bri <= 100:
                return 400, {"code": -103, "message": "Invalid argument 'brightness': expected number 0-100"}
            changes["brightness"] = round(bri)
        if not changes:
            return 400, {"code": -103, "message": "Missing argument 'on' or 'brightness'"}
        self.change(changes, record="RPC Light.Set")
        return 200, None
