"""Simulated HTTP devices driven through the registry, the HttpDriver and the shipped adapter specs."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devices.adapters.spec import (
    AdapterSpec,
    builtin_specs,
    extract_state,
    load_spec,
    render_request,
    spec_matches,
    spec_to_dict,
)
from devices.drivers.http import HttpDriver, http_device_from_info, untrusted_text
from devices.errors import (
    AdapterSpecError,
    DeviceTimeout,
    DeviceUnavailable,
    InvalidArgument,
    UnsupportedCommand,
)
from devices.models import Kind
from devices.registry import Registry
from devices.sim.http_devices import SimGarage, SimHttpDevice, SimLight, SimLock, SimShade, SimThermostat

Starter = Callable[..., Any]


@pytest.fixture
def sim() -> Iterator[Starter]:
    """Start simulated devices; every one is stopped (and its threads joined) after the test."""
    started: list[SimHttpDevice] = []

    def start(cls: type[SimHttpDevice], **kwargs: Any) -> Any:
        device = cls(**kwargs).start()
        started.append(device)
        return device

    yield start
    for device in started:
        device.stop()


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    reg = Registry(drivers={"http": HttpDriver()}, timeout=1.0)
    yield reg
    await reg.close()


async def add(registry: Registry, device: SimHttpDevice, spec: str, room: str = "hall") -> str:
    dev = await http_device_from_info(device.address, spec, room)
    registry.add(dev)
    return dev.id


# each device through the driver ------------------------------------------------------------------------
async def test_light_power_brightness_colour(sim: Starter, registry: Registry) -> None:
    light = sim(SimLight, name="Kitchen Light")
    dev_id = await add(registry, light, "claw-sim-light", "kitchen")
    dev = registry.get(dev_id)
    assert dev_id == f"serial:{light.serial}" and dev.name == "Kitchen Light" and dev.kind == Kind.LIGHT
    assert dev.capabilities == {"power", "brightness", "color"} and dev.attrs["mac"] == light.mac

    await registry.execute(dev_id, "set_brightness", {"brightness": "40"})
    await registry.execute(dev_id, "set_color", {"rgb": [255, 64, 0]})
    assert light.state == {"on": True, "brightness": 40, "rgb": [255, 64, 0]}
    assert await registry.state(dev_id) == {"power": True, "brightness": 40, "rgb": [255, 64, 0],
                                            "available": True}
    await registry.execute(dev_id, "turn_off")
    assert light.state["on"] is False and (await registry.state(dev_id))["power"] is False
    assert [body for _, body in light.commands] == [
        {"on": True, "brightness": 40}, {"on": True, "rgb": [255, 64, 0]}, {"on": False}]


async def test_thermostat_mode_target_and_drift(sim: Starter, registry: Registry) -> None:
    thermo = sim(SimThermostat, name="Hall Thermostat", drift_rate=600.0,  # 10 °C per second
                 state={"temperature": 18.0, "humidity": 52})
    dev_id = await add(registry, thermo, "claw-sim-thermostat")
    state = await registry.state(dev_id)
    assert state["hvac_mode"] == "off" and state["power"] is False
    assert state["current_temperature"] == 18.0 and state["humidity"] == 52.0  # off: no drift

    await registry.execute(dev_id, "set_temperature", {"temperature": 24})
    await registry.execute(dev_id, "set_hvac_mode", {"mode": "heat"})
    assert thermo.state["mode"] == "heat" and thermo.state["target"] == 24.0
    await asyncio.sleep(0.15)
    state = await registry.state(dev_id)
    assert state["power"] is True and state["target_temperature"] == 24.0
    assert 18.0 < state["current_temperature"] <= 24.0

    thermo.drift_rate = 1e6  # reaches the target at once and stops there
    assert (await registry.state(dev_id))["current_temperature"] == 24.0
    await registry.execute(dev_id, "set_temperature", {"temperature": 20})  # heat does not cool
    assert thermo.state["sensors"]["temperature"] == 24.0
    await registry.execute(dev_id, "turn_on")  # documented choice: auto
    assert (await registry.state(dev_id))["current_temperature"] == 20.0
    await registry.execute(dev_id, "turn_off")
    assert thermo.state["mode"] == "off" and (await registry.state(dev_id))["hvac_mode"] == "off"


async def test_shade_lock_and_garage(sim: Starter, registry: Registry) -> None:
    shade, lock, garage = sim(SimShade, name="Blind"), sim(SimLock, name="Front Door"), sim(SimGarage)
    shade_id = await add(registry, shade, "claw-sim-shade")
    lock_id = await add(registry, lock, "claw-sim-lock")
    garage_id = await add(registry, garage, "claw-sim-garage")
    assert registry.get(garage_id).kind == Kind.GARAGE and registry.get(garage_id).capabilities == {"cover"}

    await registry.execute(shade_id, "open")
    assert shade.state["position"] == 100
    await registry.execute(shade_id, "set_position", {"position": 30})
    assert shade.state["position"] == 30 and (await registry.state(shade_id))["position"] == 30
    await registry.execute(shade_id, "close")
    assert (await registry.state(shade_id))["position"] == 0

    assert (await registry.state(lock_id))["locked"] is True
    await registry.execute(lock_id, "unlock")
    assert lock.state["locked"] is False and (await registry.state(lock_id))["locked"] is False
    await registry.execute(lock_id, "lock")
    assert lock.state["locked"] is True

    await registry.execute(garage_id, "open")
    assert garage.state == {"door": "open"} and (await registry.state(garage_id))["position"] == 100
    await registry.execute(garage_id, "close")
    assert garage.state == {"door": "closed"} and (await registry.state(garage_id))["position"] == 0
    assert len(garage.commands) == 2 and len(lock.commands) == 2 and len(shade.commands) == 3


# refusals and failures ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("cls", "spec", "command", "args", "error"), [
    (SimLight, "claw-sim-light", "set_brightness", {"brightness": 150}, InvalidArgument),
    (SimLight, "claw-sim-light", "set_color", {"rgb": [300, 0, 0]}, InvalidArgument),
    (SimLight, "claw-sim-light", "set_brightness", {}, InvalidArgument),
    (SimShade, "claw-sim-shade", "set_position", {"position": -5}, InvalidArgument),
    (SimThermostat, "claw-sim-thermostat", "set_temperature", {"temperature": 50}, InvalidArgument),
    (SimThermostat, "claw-sim-thermostat", "set_hvac_mode", {"mode": "dry"}, InvalidArgument),
    (SimLock, "claw-sim-lock", "set_brightness", {"brightness": 10}, UnsupportedCommand),
])
async def test_bad_arguments_never_reach_the_device(sim: Starter, registry: Registry, cls: type, spec: str,
                                                    command: str, args: dict[str, Any], error: type) -> None:
    device = sim(cls)
    dev_id = await add(registry, device, spec)
    before = device.state
    with pytest.raises(error):
        await registry.execute(dev_id, command, args)
    assert device.commands == [] and device.state == before


async def test_device_refusal_is_invalid_argument(sim: Starter, registry: Registry) -> None:
    thermo = sim(SimThermostat)  # the vocabulary allows 35 °C, this device only up to 32
    dev_id = await add(registry, thermo, "claw-sim-thermostat")
    with pytest.raises(InvalidArgument, match="target must be a number between 7 and 32"):
        await registry.execute(dev_id, "set_temperature", {"temperature": 35})
    assert thermo.commands == [] and thermo.state["target"] == 20.0


async def test_hanging_device_times_out_without_blocking_others(sim: Starter, registry: Registry) -> None:
    stuck, fine = sim(SimLight, name="Stuck"), sim(SimLight, name="Fine")
    stuck_id = await add(registry, stuck, "claw-sim-light")
    fine_id = await add(registry, fine, "claw-sim-light")
    stuck.hang = True
    hung = asyncio.create_task(registry.execute(stuck_id, "turn_on"))
    await asyncio.sleep(0)  # let it send
    await registry.execute(fine_id, "turn_on")
    assert fine.state["on"] is True and not hung.done()
    with pytest.raises(DeviceTimeout, match="Stuck did not answer within 1 s"):
        await hung
    assert stuck.commands == [] and stuck.state["on"] is False


async def test_stopped_device_is_unavailable(sim: Starter, registry: Registry) -> None:
    lock = sim(SimLock, name="Back Door")
    dev_id = await add(registry, lock, "claw-sim-lock")
    lock.stop()
    with pytest.raises(DeviceUnavailable, match="Back Door is not reachable") as err:
        await registry.execute(dev_id, "unlock")
    assert not isinstance(err.value, DeviceTimeout)
    assert (await registry.states([dev_id]))[dev_id]["available"] is False
    lock.start()  # same address again
    assert (await registry.state(dev_id))["locked"] is True


async def test_adapter_that_does_not_fit_is_unavailable(sim: Starter) -> None:
    light = sim(SimLight)
    spec = load_spec({**_raw_spec(), "state": {"path": "/api/nope", "extract": {"power": {"path": "on"}}}})
    driver = HttpDriver({spec.name: spec})
    try:
        dev = await http_device_from_info(light.address, spec.name, None, specs=driver.specs)
        with pytest.raises(DeviceUnavailable, match=r"HTTP 404.*no such endpoint /api/nope"):
            await driver.state(dev)
        with pytest.raises(DeviceUnavailable, match="no usable adapter"):
            await driver.state(dataclasses.replace(dev, adapter="missing"))
    finally:
        await driver.close()


async def test_simulator_answers_bad_requests_with_json_400(sim: Starter) -> None:
    shade = sim(SimShade)
    async with httpx.AsyncClient(trust_env=False) as client:
        for body in ({"position": 101}, {"speed": 3}, {"action": "open", "position": 4}, []):
            resp = await client.post(f"http://{shade.address}/api/state", json=body)
            assert resp.status_code == 400 and resp.json()["error"]
    assert shade.commands == [] and shade.state == {"position": 0}


# specs ---------------------------------------------------------------------------------------------------
def _raw_spec() -> dict[str, Any]:
    return {
        "name": "test-light", "version": 1, "description": "a light for tests", "kind": "light",
        "capabilities": ["power", "brightness"],
        "state": [{"path": "/api/state", "extract": {"power": {"path": "on"}}}],
        "commands": {
            "turn_on": {"method": "POST", "path": "/api/state", "json": {"on": True}},
            "set_brightness": {"method": "POST", "path": "/api/state",
                               "json": {"brightness": "{brightness}"}},
        },
    }


def _with(path: str, value: Any) -> dict[str, Any]:
    spec = copy.deepcopy(_raw_spec())
    *parents, last = path.split(".")
    node = spec
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return spec


_DELETE = object()
_GOOD_YAML = "name: y\nversion: 1\ndescription: d\nkind: lock\ncapabilities: [lock]\n"

GARBAGE: list[tuple[str, Any, str]] = [
    ("not a mapping", "- a\n- list\n", "not a mapping"),
    ("yaml syntax", "name: [unclosed\nversion: 1\n", "not valid YAML"),
    ("yaml alias", _GOOD_YAML + "state: &s {path: /a, extract: {locked: {path: l}}}\nx: *s\n", "aliases"),
    ("duplicate key", _GOOD_YAML + "kind: light\n", "duplicate key"),
    ("unknown command", _with("commands.dance", {"path": "/x"}), "commands.dance: unknown command"),
    ("undeclared capability", _with("capabilities", ["power"]), "needs capability brightness"),
    ("placeholder not an arg", _with("commands.set_brightness.json", {"bri": "{level}"}),
     "placeholder {level} is not an argument of set_brightness"),
    ("absolute url", _with("commands.turn_on.path", "http://evil.example/x"), "must start with a single '/'"),
    ("other host", _with("commands.turn_on.path", "//evil.example/x"), "commands.turn_on.path"),
    ("bad method", _with("commands.turn_on.method", "DELETE"), "commands.turn_on.method"),
    ("unknown state key", _with("state.0.extract", {"colour": {"path": "c"}}), "unknown state key(s) colour"),
    ("wrong version type", _with("version", "one"), "version"),
    ("wrong capabilities type", _with("capabilities", "power"), "capabilities"),
    ("unknown kind", _with("kind", "toaster"), "kind"),
    ("missing kind", _with("kind", _DELETE), "kind: required field is missing"),
    ("missing state", _with("state", _DELETE), "state: required field is missing"),
    ("extra field", _with("script", "rm -rf /"), "script: unknown field"),
    ("get with body", _with("commands.turn_on.method", "GET"), "GET request cannot have a json"),
    ("capability without command", _with("capabilities", ["power", "brightness", "lock"]),
     "lock is declared but no command"),
    ("placeholder in state", _with("state.0.path", "/api/{brightness}"), "state requests take no args"),
]


@pytest.mark.parametrize(("source", "message"), [g[1:] for g in GARBAGE], ids=[g[0] for g in GARBAGE])
def test_garbage_specs_are_refused_clearly(source: Any, message: str) -> None:
    with pytest.raises(AdapterSpecError) as err:
        load_spec(source)
    assert message in str(err.value)
    if isinstance(source, dict):
        assert "adapter spec 'test-light'" in str(err.value)


def test_builtin_specs_load_and_match_their_simulators() -> None:
    specs = builtin_specs()
    sims = {"claw-sim-light": SimLight, "claw-sim-thermostat": SimThermostat, "claw-sim-shade": SimShade,
            "claw-sim-lock": SimLock, "claw-sim-garage": SimGarage}
    assert set(sims) <= set(specs)  # real-vendor specs: tests/test_adapters_real.py
    for name, cls in sims.items():
        assert spec_matches(specs[name], {"/api/info": cls().info})
        assert not spec_matches(specs[name], {"/api/info": {"model": "Something Else"}})
        assert load_spec(json.loads(json.dumps(spec_to_dict(specs[name])))) == specs[name]
    path = Path(__file__).parents[1] / "devices" / "adapters" / "claw-sim-light.yaml"
    assert load_spec(path) == load_spec(str(path)) == specs["claw-sim-light"]
    assert load_spec(json.dumps(_raw_spec())).name == "test-light"


def test_render_request_placeholders_and_transforms() -> None:
    spec: AdapterSpec = load_spec("""
name: test-bulb
version: 2
description: a bulb that counts brightness to 255 and wants colour channels apart
kind: light
capabilities: [power, brightness, color, climate]
state: {path: /s, extract: {power: {path: on}}}
commands:
  turn_on: {method: put, path: /s, query: {on: yes}}
  set_brightness:
    path: /light/{brightness}
    json: {bri: "{brightness}", label: "at {brightness}%"}
    transform: {brightness: {scale: {device: [0, 255]}}}
  set_color: {path: /c, form: {r: "{rgb.0}", b: "{rgb.2}"}}
  set_hvac_mode: {path: /m, json: {m: "{mode}"}, transform: {mode: {map: {heat: 1, "off": 0}}}}
""")
    assert render_request(spec, "turn_on", {}).params == {"on": "yes"}  # YAML 1.2: yes is a string
    req = render_request(spec, "set_brightness", {"brightness": 50})
    assert (req.method, req.path, req.json) == ("POST", "/light/128", {"bri": 128, "label": "at 128%"})
    assert render_request(spec, "set_color", {"rgb": [1, 2, 3]}).data == {"r": 1, "b": 3}
    assert render_request(spec, "set_hvac_mode", {"mode": "heat"}).json == {"m": 1}
    with pytest.raises(InvalidArgument, match="takes heat, off"):
        render_request(spec, "set_hvac_mode", {"mode": "cool"})
    with pytest.raises(InvalidArgument):
        render_request(spec, "set_brightness", {"brightness": 101})
    with pytest.raises(UnsupportedCommand):
        render_request(spec, "set_temperature", {"temperature": 20})


def test_extract_state_maps_scales_and_reports_misfits() -> None:
    spec = load_spec({
        "name": "t", "version": 1, "description": "d", "kind": "cover", "capabilities": ["sensor"],
        "state": [
            {"path": "/a", "extract": {
                "position": {"path": "door.state", "map": {"OPEN": 100, "CLOSED": 0}},
                "brightness": {"path": "lights.1.bri", "scale": {"device": [0, 255]}}}},
            {"path": "/b", "extract": {"rgb": {"path": "hex"}, "power": {"path": "$"}}},
        ],
    })
    responses = {"/a": {"door": {"state": "open"}, "lights": [{}, {"bri": 255}]}, "/b": {"hex": "#ff8000"}}
    assert extract_state(spec, responses) == {"position": 100, "brightness": 100, "rgb": [255, 128, 0]}
    with pytest.raises(AdapterSpecError, match="state power from /b"):
        extract_state(spec, responses, strict=True)


def test_untrusted_text_is_one_short_printable_line() -> None:
    text = untrusted_text("bad\x00 value\n\x1b[31m" + "x" * 500, limit=40)
    assert len(text) == 40 and "\n" not in text and "\x1b" not in text and text.endswith("…")


def test_sim_state_is_thread_safe_snapshot() -> None:
    light = SimLight(state={"brightness": 10})
    snap = light.state
    snap["rgb"][0] = 0
    assert light.state["rgb"] == [255, 255, 255] and light.state["brightness"] == 10
    light.stop()  # stopping a device that never started is a no-op
