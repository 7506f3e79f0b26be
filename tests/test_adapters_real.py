"""The shipped WLED, Shelly Gen2 and Tasmota adapters driving their simulators through the registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from devices.adapters.spec import builtin_specs, extract_state, spec_matches
from devices.discovery.matching import Found, device_for, match_answers, probe_plan
from devices.discovery.probe import probe, probe_client
from devices.drivers.http import HttpDriver
from devices.errors import DeviceError
from devices.models import Kind
from devices.registry import Registry
from devices.sim.shelly import SimShelly
from devices.sim.tasmota import SimTasmota
from devices.sim.vendor_base import VendorSim, payload
from devices.sim.wled import SimWled

SPECS = builtin_specs()


@pytest.fixture
def sim() -> Iterator[Callable[..., Any]]:
    started: list[VendorSim] = []

    def start(cls: type[VendorSim], **kwargs: Any) -> Any:
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


async def fingerprinted(registry: Registry, sim: VendorSim, room: str = "office") -> str:
    """Fingerprint the simulator with the discovery probes (every spec's matcher), add what matched."""
    async with probe_client() as client:
        record = await probe(client, sim.address, probe_plan(SPECS))
    name, identity = match_answers(SPECS, record.answers)
    assert name is not None, record.entries
    device = device_for(Found(sim.address, identity=identity), SPECS[name], room=room)
    registry.add(device)
    return device.id


async def test_wled_power_brightness_colour(sim: Callable[..., Any], registry: Registry) -> None:
    strip = sim(SimWled, name="Desk strip")
    dev_id = await fingerprinted(registry, strip)
    dev = registry.get(dev_id)
    assert dev.adapter == "wled" and dev.kind == Kind.LIGHT and dev.name == "Desk strip"
    assert dev_id == "mac:" + ":".join(strip.mac_hex[i:i + 2] for i in range(0, 12, 2))

    await registry.execute(dev_id, "set_brightness", {"brightness": 40})
    assert strip.state["on"] is True and strip.state["bri"] == 102  # 40 % of 255
    await registry.execute(dev_id, "set_color", {"rgb": [255, 64, 0]})
    assert strip.state["seg"][0]["col"][0] == [255, 64, 0]
    assert strip.state["seg"][0]["col"][1] == [0, 0, 0]  # the other colour slots are left alone
    assert await registry.state(dev_id) == {"power": True, "brightness": 40, "rgb": [255, 64, 0],
                                            "available": True}
    await registry.execute(dev_id, "turn_off")
    assert strip.state["on"] is False and (await registry.state(dev_id))["power"] is False
    assert [body for _, body in strip.commands] == [
        {"on": True, "bri": 102}, {"on": True, "seg": [{"id": 0, "col": [[255, 64, 0]]}]}, {"on": False}]


async def test_shelly_switch_on_off(sim: Callable[..., Any], registry: Registry) -> None:
    plug = sim(SimShelly, name="Heater plug")
    dev_id = await fingerprinted(registry, plug)
    dev = registry.get(dev_id)
    assert dev.adapter == "shelly-gen2-switch" and dev.kind == Kind.SWITCH and dev.capabilities == {"power"}
    assert dev.attrs["model"] == "SNSW-001P16EU" and dev.attrs["firmware"] == "1.0.8"
    assert (await registry.state(dev_id))["power"] is False

    await registry.execute(dev_id, "turn_on")
    assert plug.state["output"] is True and plug.state["apower"] > 0
    assert (await registry.state(dev_id))["power"] is True
    await registry.execute(dev_id, "turn_off")
    assert plug.state["output"] is False and (await registry.state(dev_id))["power"] is False
    assert [c for c, _ in plug.commands] == ["RPC Switch.Set", "RPC Switch.Set"]
    with pytest.raises(DeviceError):
        await registry.execute(dev_id, "set_brightness", {"brightness": 10})
    assert plug.state["output"] is False


async def test_tasmota_power_and_dimmer(sim: Callable[..., Any], registry: Registry) -> None:
    dimmer = sim(SimTasmota, name="Porch dimmer")
    dev_id = await fingerprinted(registry, dimmer, room="porch")
    assert registry.get(dev_id).adapter == "tasmota" and registry.get(dev_id).name == "Porch dimmer"

    await registry.execute(dev_id, "set_brightness", {"brightness": 30})
    assert dimmer.state["Dimmer"] == 30 and dimmer.state["POWER"] == "ON"
    assert await registry.state(dev_id) == {"power": True, "brightness": 30, "available": True}
    await registry.execute(dev_id, "turn_off")
    assert dimmer.state["POWER"] == "OFF" and dimmer.state["Dimmer"] == 30
    await registry.execute(dev_id, "turn_on")
    assert (await registry.state(dev_id))["power"] is True
    assert [c for c, _ in dimmer.commands] == ["cmnd Dimmer 30", "cmnd Power Off", "cmnd Power On"]


@pytest.mark.parametrize(("spec", "vendor", "name", "path"), [
    ("wled", "wled", "info", "/json/info"),
    ("shelly-gen2-switch", "shelly", "device_info", "/shelly"),
])
def test_matchers_fit_the_documented_payloads_only(spec: str, vendor: str, name: str, path: str) -> None:
    doc = payload(vendor, name)
    assert spec_matches(SPECS[spec], {path: doc})
    others = [s for n, s in SPECS.items() if n != spec]
    assert not any(spec_matches(s, {s.match.path: doc}) for s in others if s.match)


def test_tasmota_matcher_and_state_from_documented_payloads() -> None:
    status0 = {"Status": payload("tasmota", "status"), "StatusFWR": payload("tasmota", "status_fwr"),
               "StatusNET": payload("tasmota", "status_net"), "StatusSTS": payload("tasmota", "status_sts")}
    assert spec_matches(SPECS["tasmota"], {"/cm": status0})
    del status0["StatusNET"]
    assert not spec_matches(SPECS["tasmota"], {"/cm": status0})
    state = extract_state(SPECS["tasmota"], {"/cm": {"StatusSTS": payload("tasmota", "status_sts")}})
    assert state == {"power": False, "brightness": 100}
    wled = extract_state(SPECS["wled"], {"/json/state": payload("wled", "state")})
    assert wled == {"power": False, "brightness": 50, "rgb": [255, 160, 0]}
