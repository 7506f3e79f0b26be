"""Hue colour (rgb <-> CIE xy) and Venstar cooling (the setpoint follows the mode) against the vendor simulators."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from claw.events import InboundMessage
from claw.runtime import Claw
from devices.adapters.color_xy import ColorError, rgb_to_xy, xy_to_rgb
from devices.adapters.pairing import pair_hub
from devices.adapters.spec import builtin_specs, extract_state, load_spec, render_request
from devices.discovery.matching import Found, device_for
from devices.drivers.http import HttpDriver
from devices.errors import AdapterSpecError, DeviceUnavailable, InvalidArgument, UnsupportedCommand
from devices.models import Device
from devices.registry import Registry
from devices.sim.hue import SimHue
from devices.sim.venstar import SimVenstar
from tests.conftest import make_settings
from tests.test_adapters_vendors2 import driver, registry, sim  # noqa: F401 - fixtures

# ruff: noqa: F811 - the fixtures above are taken as arguments by name (pytest's way), not redefined

SPECS = builtin_specs()


def published_xy(rgb: tuple[int, int, int]) -> tuple[float, float]:
    """Philips' RGB -> xy steps written out again for the test (developers.meethue.com, Color conversion
    formulas): gamma correction, the Wide RGB D65 matrix, then x = X / (X + Y + Z), y = Y / (X + Y + Z)."""
    def gamma(c: float) -> float:
        return pow((c + 0.055) / 1.055, 2.4) if c > 0.04045 else c / 12.92
    red, green, blue = (gamma(c / 255.0) for c in rgb)
    x = red * 0.664511 + green * 0.154324 + blue * 0.162028
    y = red * 0.283881 + green * 0.668433 + blue * 0.047685
    z = red * 0.000088 + green * 0.072310 + blue * 0.986039
    return round(x / (x + y + z), 4), round(y / (x + y + z), 4)


async def paired_lights(bridge: SimHue, registry: Registry, driver: HttpDriver) -> list[Device]:
    bridge.press_link_button()
    paired = await pair_hub(SPECS["hue-bridge"], SPECS, bridge.address, "serial:hub", wait=2, room="lounge")
    driver.credentials.set("serial:hub", paired.credential)
    registry.extend(paired.devices)
    return paired.devices


# Hue colour --------------------------------------------------------------------------------------------------
def test_rgb_to_xy_is_philips_formula_and_reads_back() -> None:
    assert published_xy((255, 0, 0)) == (0.7006, 0.2993)  # the red corner of Philips' wide gamut
    for rgb in ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (255, 128, 0), (128, 0, 255)):
        assert tuple(rgb_to_xy(list(rgb))) == published_xy(rgb)
        assert all(abs(a - b) <= 2 for a, b in zip(xy_to_rgb(rgb_to_xy(list(rgb))), rgb, strict=True)), rgb
    dim = xy_to_rgb(rgb_to_xy([20, 100, 40]))  # xy has no brightness: it reads back at full brightness
    assert max(dim) == 255 and dim[1] > dim[2] > dim[0]
    with pytest.raises(ColorError, match="black"):
        rgb_to_xy([0, 0, 0])
    with pytest.raises(ColorError):
        xy_to_rgb([0.3, 0.0])


def test_the_colour_spec_renders_xy_and_reads_it_back() -> None:
    spec = SPECS["hue-color-light"]
    req = render_request(spec, "set_color", {"rgb": [255, 128, 0]}, {"credential": "u", "channel": "3"})
    assert req.method == "PUT" and req.path == "/api/u/lights/3/state"
    assert req.json == {"on": True, "xy": list(published_xy((255, 128, 0)))}
    with pytest.raises(InvalidArgument, match="black"):
        render_request(spec, "set_color", {"rgb": [0, 0, 0]}, {"credential": "u", "channel": "3"})
    state = extract_state(spec, {"/api/{credential}/lights/{channel}": {
        "state": {"on": True, "bri": 254, "xy": [0.7006, 0.2993], "reachable": True}}})
    assert state == {"power": True, "brightness": 100, "rgb": [255, 0, 0], "available": True}
    bad = extract_state(spec, {"/api/{credential}/lights/{channel}": {"state": {"on": True, "xy": "red"}}})
    assert "rgb" not in bad and bad["power"] is True  # a value that does not fit is left out, not guessed


@pytest.mark.parametrize("change", [
    {"transform": {"brightness": {"color": "xy"}}},
    {"state": [{"path": "/s", "extract": {"power": {"path": "on", "color": "xy"}}}]},
])
def test_colour_conversions_only_where_a_colour_is(change: dict[str, Any]) -> None:
    base: dict[str, Any] = {"name": "t", "version": 1, "description": "t", "kind": "light",
                            "capabilities": ["power", "brightness"],
                            "state": [{"path": "/s", "extract": {"power": {"path": "on"}}}],
                            "commands": {"turn_on": {"path": "/s", "json": {"on": True}},
                                         "set_brightness": {"path": "/s", "json": {"b": "{brightness}"}}}}
    assert load_spec(base)
    if "transform" in change:
        base["commands"]["set_brightness"].update(change)
    else:
        base.update(change)
    with pytest.raises(AdapterSpecError, match="colou?r"):
        load_spec(base)


async def test_set_color_on_a_hue_light_sets_the_bridges_xy(sim: Callable[..., Any], registry: Registry,
                                                            driver: HttpDriver) -> None:
    bridge = sim(SimHue, name="Hue bridge", lights=["reading lamp", "hall lamp"],
                 light_types={"hall lamp": "Dimmable light"})
    lamp, hall = await paired_lights(bridge, registry, driver)
    assert lamp.adapter == "hue-color-light" and "color" in lamp.capabilities
    assert hall.adapter == "hue-light" and "color" not in hall.capabilities
    for rgb in ((255, 0, 0), (0, 0, 255), (255, 128, 0)):
        await registry.execute(lamp.id, "set_color", {"rgb": list(rgb)})
        light = bridge.light("1")
        assert light["on"] is True and light["colormode"] == "xy"
        assert tuple(light["xy"]) == published_xy(rgb)
        state = await registry.state(lamp.id)
        assert all(abs(a - b) <= 2 for a, b in zip(state["rgb"], rgb, strict=True)), (state, rgb)
    assert bridge.light("2") == {"on": False, "bri": 254, "effect": "none", "alert": "none",
                                 "mode": "homeautomation", "reachable": True}  # untouched, and no colour
    with pytest.raises(UnsupportedCommand, match="hall lamp cannot set color"):  # a white lamp: no colour
        await registry.execute(hall.id, "set_color", {"rgb": [255, 0, 0]})
    assert bridge.light("2")["on"] is False


async def test_the_simulated_bridge_checks_xy_like_a_real_one(sim: Callable[..., Any], registry: Registry,
                                                              driver: HttpDriver) -> None:
    bridge = sim(SimHue, name="Hue bridge", lights=["lamp", "white"], light_types={"white": "Dimmable light"})
    await paired_lights(bridge, registry, driver)
    user = next(iter(bridge.users))
    async with httpx.AsyncClient(base_url=f"http://{bridge.address}/api/{user}", trust_env=False) as client:
        async def put(channel: str, body: Any) -> Any:
            resp = await client.put(f"/lights/{channel}/state", json=body)
            assert resp.status_code == 200  # the bridge reports errors in the body
            return resp.json()

        for bad in ([0.3], [0.3, 1.5], ["0.3", "0.3"], [True, 0.2], "0.3,0.3"):
            answer = await put("1", {"on": True, "xy": bad})
            assert {"success": {"/lights/1/state/on": True}} in answer
            assert [r["error"]["type"] for r in answer if "error" in r] == [7], bad
        assert bridge.light("1")["xy"] == [0.4573, 0.41] and bridge.light("1")["colormode"] == "ct"
        answer = await put("2", {"on": True, "xy": [0.3, 0.3]})
        assert answer[-1]["error"] == {"type": 6, "address": "/lights/2/state/xy",
                                       "description": "parameter, xy, not available"}
        await put("1", {"on": False})
        answer = await put("1", {"xy": [0.2, 0.3]})  # an off light takes no colour
        assert answer[0]["error"]["type"] == 201 and bridge.light("1")["xy"] == [0.4573, 0.41]
        assert await put("1", {"on": True, "xy": [0.123456, 0.3]}) == [
            {"success": {"/lights/1/state/on": True}}, {"success": {"/lights/1/state/xy": [0.1235, 0.3]}}]
        assert bridge.light("1")["colormode"] == "xy"


# Venstar: the target follows the mode ------------------------------------------------------------------------
def thermostat(stat: SimVenstar) -> Device:
    mac = ":".join(stat.mac_hex[i:i + 2] for i in range(0, 12, 2))
    found = Found(stat.address, identity={"mac": mac, "model": "COLORTOUCH"}, adapter="venstar-colortouch")
    return device_for(found, SPECS["venstar-colortouch"], name="thermostat", room="landing")


def test_the_target_is_read_from_the_setpoint_of_the_mode() -> None:
    spec = SPECS["venstar-colortouch"]
    info = {"mode": 1, "heattemp": 20.5, "cooltemp": 24.0, "spacetemp": 19.5}
    targets = {mode: extract_state(spec, {"/query/info": {**info, "mode": mode}})["target_temperature"]
               for mode in (0, 1, 2, 3)}
    assert targets == {0: 20.5, 1: 20.5, 2: 24.0, 3: 20.5}  # auto shows the heating setpoint (documented)
    assert "target_temperature" not in extract_state(spec, {"/query/info": {"heattemp": 20.5}})  # no mode
    # both setpoints go out (as the venstarcolortouch library sends them): the mode's one set, the other as read
    assert render_request(spec, "set_temperature", {"temperature": 23}, read={**info, "mode": 2}).data == {
        "cooltemp": 23.0, "heattemp": 20.5}
    assert render_request(spec, "set_temperature", {"temperature": 23}, read=info).data == {
        "heattemp": 23.0, "cooltemp": 24.0}
    with pytest.raises(AdapterSpecError, match="no plain value at cooltemp"):
        render_request(spec, "set_temperature", {"temperature": 23}, read={"mode": 1, "heattemp": 20})
    with pytest.raises(AdapterSpecError, match="reads /query/info first"):
        render_request(spec, "set_temperature", {"temperature": 23})
    with pytest.raises(AdapterSpecError, match="has no mode"):
        render_request(spec, "set_temperature", {"temperature": 23}, read={"heattemp": 20})


@pytest.mark.parametrize(("change", "message"), [
    ({"read": {"path": "/elsewhere", "by": "mode", "cases": {2: {"form": {"c": "{temperature}"}}}}},
     "not one of the state requests"),
    ({"read": {"path": "/query/info", "by": "mode", "cases": {2: {"form": {"c": "{degrees}"}}}}},
     "placeholder {degrees} is not an argument"),
    ({"read": {"path": "/query/info", "by": "mode", "cases": {}}}, "at least 1"),
    ({"read": {"path": "/query/info", "by": "a..b", "cases": {2: {"form": {"c": "1"}}}}}, "dotted JSON path"),
    ({"read": {"path": "/query/info", "by": "mode", "keep": {"temperature": "x"},
               "cases": {2: {"form": {"c": "1"}}}}}, "temperature is already an argument"),
    ({"read": {"path": "/query/info", "by": "mode", "keep": {"Bad-Name": "x"},
               "cases": {2: {"form": {"c": "1"}}}}}, "not a placeholder name"),
    ({"read": {"path": "/query/info", "by": "mode", "keep": {"cool_now": "a..b"},
               "cases": {2: {"form": {"c": "{cool_now}"}}}}}, "dotted JSON path"),
    ({"read": {"path": "/query/info", "by": "mode", "cases": {2: {"form": {"c": "{cool_now}"}}}}},
     "placeholder {cool_now} is not an argument"),
])
def test_a_read_before_write_is_checked(change: dict[str, Any], message: str) -> None:
    spec: dict[str, Any] = {"name": "t", "version": 1, "description": "t", "kind": "climate",
                            "capabilities": ["climate"],
                            "state": [{"path": "/query/info", "extract": {"hvac_mode": {"path": "mode"}}}],
                            "commands": {"set_temperature": {"path": "/control", "form": {"h": "{temperature}"}}}}
    assert load_spec(spec)
    spec["commands"]["set_temperature"].update(change)
    with pytest.raises(AdapterSpecError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_spec(spec)


async def test_set_temperature_changes_the_setpoint_of_the_mode(sim: Callable[..., Any],
                                                                registry: Registry) -> None:
    stat = sim(SimVenstar, name="Landing", ssdp=False, state={"mode": 2, "heattemp": 20.0, "cooltemp": 25.0})
    dev = thermostat(stat)
    registry.add(dev)
    await registry.execute(dev.id, "set_temperature", {"temperature": 24})
    assert stat.state["cooltemp"] == 24.0 and stat.state["heattemp"] == 20.0
    assert (await registry.state(dev.id))["target_temperature"] == 24.0
    await registry.execute(dev.id, "set_hvac_mode", {"mode": "heat"})
    await registry.execute(dev.id, "set_temperature", {"temperature": 21.5})
    assert stat.state["heattemp"] == 21.5 and stat.state["cooltemp"] == 24.0
    assert (await registry.state(dev.id))["target_temperature"] == 21.5
    assert [body for _, body in stat.commands] == [{"cooltemp": 24.0, "heattemp": 20.0}, {"mode": 1},
                                                   {"heattemp": 21.5, "cooltemp": 24.0}]

    # closer than setpointdelta (2): the thermostat refuses, with its reason; nothing changes
    with pytest.raises(InvalidArgument, match=r"refused to set temperature: .cooltemp must be at least 2 above"):
        await registry.execute(dev.id, "set_temperature", {"temperature": 23})
    await registry.execute(dev.id, "set_hvac_mode", {"mode": "cool"})
    with pytest.raises(InvalidArgument, match="cooltemp must be at least 2 above heattemp"):
        await registry.execute(dev.id, "set_temperature", {"temperature": 22.5})
    assert stat.state["heattemp"] == 21.5 and stat.state["cooltemp"] == 24.0

    # a bad argument reads nothing; a thermostat that does not answer the read is not written to
    before = len(stat.commands)
    with pytest.raises(InvalidArgument):
        await registry.execute(dev.id, "set_temperature", {"temperature": 90})
    stat.stop()
    with pytest.raises(DeviceUnavailable):
        await registry.execute(dev.id, "set_temperature", {"temperature": 24})
    assert len(stat.commands) == before


async def test_the_owner_sets_the_thermostat_in_cool_mode_by_chat(sim: Callable[..., Any],
                                                                  tmp_path: Path) -> None:
    stat = sim(SimVenstar, name="Landing", ssdp=False, state={"mode": 2, "heattemp": 20.0, "cooltemp": 26.0})
    settings = make_settings(tmp_path, device_timeout=2.0)
    claw = Claw(settings, devices=[thermostat(stat)], drivers={"http": HttpDriver(timeout=2.0)})
    await claw.start()

    async def say(text: str) -> str:
        result = await asyncio.wait_for(
            claw.agent.ask(InboundMessage("console", settings.owner, text, standing="owner")), 20)
        return result.reply

    try:
        await say("set the thermostat to 24")
        assert stat.state["cooltemp"] == 24.0 and stat.state["heattemp"] == 20.0
        stat.change({"heattemp": 23.0}, record="test")  # someone raised the heating at the wall
        reply = await say("set the thermostat to 24.5")
        assert "cooltemp must be at least 2 above heattemp" in reply, reply
        assert stat.state["cooltemp"] == 24.0
    finally:
        await claw.stop()


async def test_the_owner_colours_a_hue_lamp_by_chat(sim: Callable[..., Any], registry: Registry, driver: HttpDriver,
                                                    tmp_path: Path) -> None:
    bridge = sim(SimHue, name="Hue bridge", lights=["reading lamp"])
    lamps = await paired_lights(bridge, registry, driver)
    settings = make_settings(tmp_path, device_timeout=2.0)
    claw = Claw(settings, devices=lamps, drivers={"http": driver})
    await claw.start()
    try:
        result = await asyncio.wait_for(claw.agent.ask(InboundMessage(
            "console", settings.owner, "make the reading lamp red", standing="owner")), 20)
        assert result.reply
    finally:
        await claw.stop()
    assert bridge.light("1")["on"] is True and tuple(bridge.light("1")["xy"]) == published_xy((255, 0, 0))
