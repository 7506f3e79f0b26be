"""A simulated Philips Hue v1 bridge: /api/config, link-button pairing at POST /api, lights under /api/<username>."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from devices.sim.vendor_base import VendorSim, payload

SEARCH_TARGET = "urn:schemas-upnp-org:device:basic:1"  # what the bridge answers SSDP searches as
LINK_SECONDS = 30.0  # a pressed link button lets apps register for 30 s, as on the real bridge
# What a light of each v1 `type` has beyond on/bri: which state keys, and its model (real Hue models)
LIGHT_TYPES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "Extended color light": (("hue", "sat", "xy", "ct", "colormode"), "LCT015", "Hue color lamp"),
    "Color light": (("hue", "sat", "xy", "colormode"), "LLC020", "Hue Go"),
    "Color temperature light": (("ct", "colormode"), "LTW001", "Hue white ambiance lamp"),
    "Dimmable light": ((), "LWB010", "Hue white lamp"),
}
_COLOUR_KEYS = ("hue", "sat", "xy", "ct", "colormode")


def _error(kind: int, address: str, description: str) -> list[dict[str, Any]]:
    return [{"error": {"type": kind, "address": address, "description": description}}]


def _is_xy(value: Any) -> bool:
    """A CIE xy pair as the bridge takes it: two numbers, each 0-1."""
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in value))


class SimHue(VendorSim):
    """Hue bridge v1 REST. Errors come as HTTP 200 with a list of {"error": {type, address, description}}, as
    the bridge sends them (type 1 unauthorized user, 3 resource not available, 6 parameter not available,
    7 invalid value, 101 link button not pressed, 201 not modifiable while off). Colour lights take and report
    CIE `xy` (4 decimals; colormode becomes "xy"); `light_types` makes some lights "Dimmable light" (no colour
    state; xy is error 6) or another v1 type. `press_link_button()` (or POST /control/linkbutton, the
    simulator's own endpoint) stands for pressing the round button on the bridge."""

    MODEL = "Philips hue bridge"
    FIRMWARE = "1961135030"
    VENDOR = "hue"
    SSDP_TARGET = SEARCH_TARGET
    SERVICE_TYPE = "_hue._tcp.local."
    ALSO_HTTP = False

    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str | None = None,
                 state: dict[str, Any] | None = None, serial: str | None = None,
                 lights: list[str] | None = None, ssdp: bool = True,
                 light_types: dict[str, str] | None = None) -> None:
        self._light_names = list(lights or ["Hue color lamp 1", "Hue color lamp 2"])
        self._light_types = dict(light_types or {})  # light name -> v1 type; "Extended color light" if not given
        unknown = sorted(set(self._light_types.values()) - set(LIGHT_TYPES))
        if unknown:
            raise ValueError(f"unknown Hue light type(s) {', '.join(unknown)}; known: {', '.join(LIGHT_TYPES)}")
        super().__init__(host=host, port=port, name=name, state=state, serial=serial)
        self.ssdp_wanted = ssdp
        self.users: dict[str, str] = {}  # username -> devicetype
        self.link_until = 0.0
        self.refusals = 0  # registrations refused because the button was not pressed

    @property
    def DEFAULTS(self) -> dict[str, Any]:  # type: ignore[override]  # noqa: N802 - the base's name
        lights = {}
        for i, name in enumerate(self._light_names, start=1):
            light = payload("hue", "light")
            digest = hashlib.sha1(f"{name}/{i}".encode()).hexdigest()
            light.update(name=name, uniqueid="00:17:88:01:" + ":".join(digest[j:j + 2] for j in range(0, 8, 2))
                         + "-0b")
            kind = self._light_types.get(name, "Extended color light")
            keys, model, product = LIGHT_TYPES[kind]
            light.update(type=kind, modelid=model, productname=product)
            for key in set(_COLOUR_KEYS) - set(keys):  # a white lamp reports no colour state at all
                light["state"].pop(key, None)
            if "xy" not in keys:
                light["capabilities"]["control"].pop("colorgamuttype", None)
            if "ct" not in keys:
                light["capabilities"]["control"].pop("ct", None)
            lights[str(i)] = light
        return {"lights": lights}

    @property
    def bridge_id(self) -> str:
        return (self.mac_hex[:6] + "fffe" + self.mac_hex[6:]).upper()

    @property
    def txt(self) -> dict[str, str]:
        return {"bridgeid": self.bridge_id.lower(), "modelid": "BSB002"}

    @property
    def config(self) -> dict[str, Any]:
        config = payload("hue", "config")
        mac = ":".join(self.mac_hex[i:i + 2] for i in range(0, 12, 2))
        config.update(name=self.name, mac=mac, bridgeid=self.bridge_id, swversion=self.FIRMWARE)
        return config

    def _checks(self, initial: bool) -> dict[str, Callable[[Any], Any]]:
        return {"lights": lambda v: v}

    def ssdp_headers(self) -> dict[str, str]:
        """The bridge's SSDP answer, with its id in a header of its own."""
        return {"LOCATION": f"http://{self.address}/description.xml", "SERVER": "Hue/1.0 UPnP/1.0 IpBridge/1.61.0",
                "hue-bridgeid": self.bridge_id,
                "USN": f"uuid:2f402f80-da50-11e1-9b23-{self.mac_hex}::{SEARCH_TARGET}"}

    def press_link_button(self) -> None:
        with self._lock:
            self.link_until = time.monotonic() + LINK_SECONDS

    def light(self, channel: str) -> dict[str, Any]:
        """A snapshot of one light's `state` object."""
        with self._lock:
            return json.loads(json.dumps(self._state["lights"][channel]["state"]))

    def _register(self, body: bytes) -> list[dict[str, Any]]:
        try:
            request = json.loads(body or b"null")
        except ValueError:
            return _error(2, "", "body contains invalid json")
        devicetype = request.get("devicetype") if isinstance(request, dict) else None
        if not isinstance(devicetype, str) or not 0 < len(devicetype) <= 40:
            return _error(5, "/", "invalid/missing parameters in body")
        if time.monotonic() > self.link_until:
            self.refusals += 1
            return payload("hue", "link_button_not_pressed")
        username = secrets.token_hex(20)
        self.users[username] = devicetype
        self.commands.append(("POST /api", {"devicetype": devicetype}))
        return [{"success": {"username": username}}]

    def _set_state(self, channel: str, body: bytes) -> list[dict[str, Any]]:
        try:
            changes = json.loads(body or b"null")
        except ValueError:
            return _error(2, f"/lights/{channel}/state", "body contains invalid json")
        if not isinstance(changes, dict) or not changes:
            return _error(5, f"/lights/{channel}/state", "invalid/missing parameters in body")
        light = self._state["lights"][channel]["state"]
        results: list[dict[str, Any]] = []
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            address = f"/lights/{channel}/state/{key}"
            if key == "on" and isinstance(value, bool):
                clean[key] = value
            elif key == "bri" and isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 254:
                clean[key] = value
            elif key == "xy" and "xy" in light and _is_xy(value):
                value = clean[key] = [round(float(v), 4) for v in value]
            elif key in ("on", "bri") or (key == "xy" and "xy" in light):
                results += _error(7, address, f"invalid value, {json.dumps(value)}, for parameter, {key}")
                continue
            else:  # includes xy on a white lamp, which has no colour
                results += _error(6, address, f"parameter, {key}, not available")
                continue
            results.append({"success": {address: value}})
        if not light["on"] and clean.get("on") is not True:  # an off light takes nothing but "on"
            for key in [k for k in clean if k != "on"]:
                results = [r for r in results if "success" not in r or not str(next(iter(r["success"]))).endswith(
                    f"/{key}")] + _error(201, f"/lights/{channel}/state/{key}",
                                         f"parameter, {key}, is not modifiable. Device is set to off.")
                clean.pop(key)
        if "xy" in clean:
            clean["colormode"] = "xy"
        light.update(clean)
        self.commands.append((f"PUT /lights/{channel}/state", changes))
        return results

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts == ["control", "linkbutton"] and method == "POST":  # the simulator's own button
            self.link_until = time.monotonic() + LINK_SECONDS
            return 200, {"pressed": True, "seconds": LINK_SECONDS}
        if not parts or parts[0] != "api":
            return 404, {"error": "not found"}
        if parts == ["api"] and method == "POST":
            return 200, self._register(body)
        if len(parts) == 2 and parts[1] == "config" and method == "GET":
            return 200, self.config
        if len(parts) < 2:
            return 200, _error(4, "/", f"method, {method}, not available for resource, /")
        if parts[1] not in self.users:
            return 200, _error(1, "/" + "/".join(parts[2:]), "unauthorized user")
        rest = parts[2:]
        lights = self._state["lights"]
        if rest == ["config"] and method == "GET":
            return 200, {**self.config, "whitelist": {u: {"name": d} for u, d in self.users.items()}}
        if rest == ["lights"] and method == "GET":
            return 200, lights
        if len(rest) >= 2 and rest[0] == "lights" and rest[1] not in lights:
            return 200, _error(3, f"/lights/{rest[1]}", f"resource, /lights/{rest[1]}, not available")
        if len(rest) == 2 and rest[0] == "lights" and method == "GET":
            return 200, lights[rest[1]]
        if len(rest) == 3 and rest[0] == "lights" and rest[2] == "state" and method == "PUT":
            return 200, self._set_state(rest[1], body)
        return 200, _error(4, "/" + "/".join(rest), f"method, {method}, not available for resource")
