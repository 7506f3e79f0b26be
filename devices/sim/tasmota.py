"""A simulated Tasmota dimmer: `GET /cm?cmnd=...` (Power, Dimmer, Status) with Tasmota's JSON answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devices.sim.http_devices import BadValue, _check_int
from devices.sim.vendor_base import VendorSim, payload

_ON, _OFF = {"on", "1", "true"}, {"off", "0", "false"}


def _power(value: Any) -> str:
    if value not in ("ON", "OFF"):
        raise BadValue("POWER is ON or OFF")
    return str(value)


class SimTasmota(VendorSim):
    """Tasmota: commands in `cmnd` (case-insensitive, one space before the value); state is StatusSTS."""

    MODEL = "Tasmota"
    FIRMWARE = "13.2.0(tasmota)"
    VENDOR = "tasmota"
    STATE_PAYLOAD = "status_sts"

    @property
    def topic(self) -> str:
        return f"tasmota_{self.mac_hex[-6:].upper()}"

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        return {"POWER": _power, "Dimmer": lambda v: _check_int("Dimmer", v, 0, 100)}

    def status0(self) -> dict[str, Any]:
        status = payload("tasmota", "status")
        status.update(DeviceName=self.name, FriendlyName=[self.name], Topic=self.topic,
                      Power=int(self._state["POWER"] == "ON"))
        net = payload("tasmota", "status_net")
        mac = ":".join(self.mac_hex[i:i + 2] for i in range(0, 12, 2)).upper()
        net.update(Hostname=f"{self.topic.replace('_', '-')}-{self.mac_hex[-4:]}", IPAddress=self.host, Mac=mac)
        return {"Status": status, "StatusPRM": {"Baudrate": 115200, "GroupTopic": "tasmotas", "BootCount": 12},
                "StatusFWR": payload("tasmota", "status_fwr"), "StatusNET": net,
                "StatusSTS": dict(self._state)}

    def command(self, cmnd: str) -> dict[str, Any]:
        name, _, arg = cmnd.strip().partition(" ")
        name, arg = name.lower(), arg.strip().lower()
        if name in ("power", "power1"):
            if arg:
                now = self._state["POWER"]
                new = "ON" if arg in _ON or (arg == "toggle" and now == "OFF") else "OFF"
                if arg not in _ON | _OFF | {"toggle"}:
                    return {"Command": "Error"}
                self.change({"POWER": new}, record=f"cmnd {cmnd}")
            return {"POWER": self._state["POWER"]}
        if name == "dimmer":
            if arg:
                if not arg.lstrip("-").isdigit():
                    return {"Command": "Error"}
                self.change({"Dimmer": max(0, min(100, int(arg))), "POWER": "ON"}, record=f"cmnd {cmnd}")
            return {"POWER": self._state["POWER"], "Dimmer": self._state["Dimmer"]}
        if name == "status":
            if arg in ("0", ""):
                return self.status0() if arg == "0" else {"Status": self.status0()["Status"]}
            if arg == "11":
                return {"StatusSTS": dict(self._state)}
            if arg == "5":
                return {"StatusNET": self.status0()["StatusNET"]}
        return {"Command": "Unknown"}

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path == "/cm" and method in ("GET", "POST"):
            if "cmnd" not in query:
                return 200, {"Command": "Unknown"}
            return 200, self.command(query["cmnd"])
        return 404, {"WARNING": "Page not found"}
