"""A simulated WLED controller: the JSON API (/json, /json/state, /json/info) with WLED's real payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from devices.sim.http_devices import BadValue, _check_bool, _check_int
from devices.sim.vendor_base import VendorSim, payload


def _colour(value: Any) -> list[int]:
    if (not isinstance(value, list) or len(value) not in (3, 4)
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)):
        raise BadValue("a colour is [r, g, b] or [r, g, b, w] with values 0-255")
    return list(value)


class SimWled(VendorSim):
    """WLED: GET /json/state and /json/info; POST /json/state with (parts of) the state object."""

    MODEL = "WLED"
    FIRMWARE = "0.14.0"
    VENDOR = "wled"
    STATE_PAYLOAD = "state"
    SERVICE_TYPE = "_wled._tcp.local."

    @property
    def txt(self) -> dict[str, str]:
        return {"mac": self.mac_hex}

    @property
    def info(self) -> dict[str, Any]:
        info = payload("wled", "info")
        info.update(name=self.name, mac=self.mac_hex, ip=self.host, ver=self.FIRMWARE)
        return info

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        return {"on": lambda v: _check_bool("on", v), "bri": lambda v: _check_int("bri", v, 0, 255),
                "transition": lambda v: _check_int("transition", v, 0, 65535), "seg": self._segments,
                "v": lambda v: _check_bool("v", v)}

    def _segments(self, value: Any) -> list[dict[str, Any]]:
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not value:
            raise BadValue("seg must be a segment object or a list of them")
        segs = json.loads(json.dumps(self._state["seg"]))
        for i, change in enumerate(value):
            if not isinstance(change, dict):
                raise BadValue("each segment must be an object")
            sid = change.get("id", i)
            if not isinstance(sid, int) or not 0 <= sid < len(segs):
                raise BadValue(f"no segment {sid}")
            if "col" in change:
                cols = change["col"]
                if not isinstance(cols, list) or not 1 <= len(cols) <= 3:
                    raise BadValue("col must list one to three colours")
                for slot, col in enumerate(cols):
                    segs[sid]["col"][slot] = _colour(col)
            if "on" in change:
                segs[sid]["on"] = _check_bool("seg.on", change["on"])
        return segs

    def _update(self, clean: dict[str, Any]) -> None:
        clean.pop("v", None)
        self._state.update(clean)

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        path = path.rstrip("/") or "/"
        if method == "GET" and path == "/json":
            return 200, {"state": self._state, "info": self.info, "effects": ["Solid"], "palettes": ["Default"]}
        if method == "GET" and path == "/json/info":
            return 200, self.info
        if path in ("/json/state", "/json") and method == "GET":
            return 200, self._state
        if path in ("/json/state", "/json") and method == "POST":
            try:
                changes = json.loads(body or b"null")
            except ValueError:
                return 400, {"error": 9}  # WLED's ERR_JSON
            if not isinstance(changes, dict):
                return 400, {"error": 9}
            try:
                self.change(changes, record=f"POST {path}")
            except BadValue as exc:
                return 400, {"error": str(exc)}
            return 200, self._state if changes.get("v") else {"success": True}
        return 404, {"error": "Not Found"}
