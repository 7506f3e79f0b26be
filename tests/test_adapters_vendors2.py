"""Shelly Gen2 light and cover, Hue v1 (with link-button pairing) and Venstar adapters driving their simulators."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from devices.adapters.color_xy import xy_to_rgb
from devices.adapters.credentials import CredentialStore
from devices.adapters.pairing import PairingTimeout, check_hub, describe_pairing, pair_hub
from devices.adapters.spec import builtin_specs, command_refusal, load_spec, spec_matches
from devices.discovery import ssdp
from devices.discovery.matching import Found, device_for, mac_from_usn, match_answers, probe_plan
from devices.discovery.probe import probe, probe_client
from devices.drivers.http import HttpDriver
from devices.errors import AdapterSpecError, DeviceError, DeviceUnavailable, InvalidArgument
from devices.models import Kind
from devices.registry import Registry
from devices.sim.hue import SimHue
from devices.sim.shelly_cover import SimShellyCover
from devices.sim.shelly_light import SimShellyLight
from devices.sim.vendor_base import VendorSim, payload
from devices.sim.venstar import SEARCH_TARGET, SimVenstar

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
def driver() -> HttpDriver:
    return HttpDriver()


@pytest.fixture
async def registry(driver: HttpDriver) -> AsyncIterator[Registry]:
    reg = Registry(drivers={"http": driver}, timeout=1.0)
    yield reg
    await reg.close()


async def fingerprint(address: str, identity: dict[str, str] | None = None) -> Found:
    """Probe the host with every spec's matcher, as discovery does; `identity` is what an announcement gave."""
    async with probe_client() as client:
        record = await probe(client, address, probe_plan(SPECS))
    name, found_identity = match_answers(SPECS, record.answers)
    assert name is not None, record.entries
    return Found(address, identity={**(identity or {}), **found_identity}, adapter=name)


async def added(registry: Registry, found: Found, room: str = "office") -> str:
    device = device_for(found, SPECS[found.adapter or ""], room=room)
    registry.add(device)
    return device.id


# Shelly Gen2 light and cover -----------------------------------------------------------------------------------
async def test_shelly_light_on_dim_off(sim: Callable[..., Any], registry: Registry) -> None:
    dimmer = sim(SimShellyLight, name="Hall dimmer")
    found = await fingerprint(dimmer.address)
    assert found.adapter == "shelly-gen2-light"  # not the generic Gen2 switch, which fits gen: 2 as well
    dev_id = await added(registry, found, room="hall")
    dev = registry.get(dev_id)
    assert dev.kind == Kind.LIGHT and dev.capabilities == {"power", "brightness"} and dev.name == "Hall dimmer"
    assert dev.attrs["model"] == "SNDM-0013US"
    assert await registry.state(dev_id) == {"power": False, "brightness": 50, "available": True}

    await registry.execute(dev_id, "set_brightness", {"brightness": 35})
    assert dimmer.state["output"] is True and dimmer.state["brightness"] == 35
    assert await registry.state(dev_id) == {"power": True, "brightness": 35, "available": True}
    await registry.execute(dev_id, "turn_off")
    assert dimmer.state["output"] is False and dimmer.state["brightness"] == 35
    assert (await registry.state(dev_id))["power"] is False
    assert [body for _, body in dimmer.commands] == [{"output": True, "brightness": 35}, {"output": False}]


async def test_shelly_cover_open_close_and_position(sim: Callable[..., Any], registry: Registry) -> None:
    roller = sim(SimShellyCover, name="Office blind", state={"current_pos": 60})
    found = await fingerprint(roller.address)
    assert found.adapter == "shelly-gen2-cover"
    dev_id = await added(registry, found)
    assert registry.get(dev_id).kind == Kind.COVER
    assert await registry.state(dev_id) == {"position": 60, "available": True}

    await registry.execute(dev_id, "set_position", {"position": 25})
    assert roller.state["current_pos"] == 25 and roller.state["state"] == "stopped"
    assert roller.state["last_direction"] == "close"
    await registry.execute(dev_id, "open")
    assert roller.state["current_pos"] == 100 and roller.state["state"] == "open"
    assert (await registry.state(dev_id))["position"] == 100
    await registry.execute(dev_id, "close")
    assert roller.state["state"] == "closed" and (await registry.state(dev_id))["position"] == 0
    assert [c for c, _ in roller.commands] == ["RPC Cover.GoToPosition", "RPC Cover.Open", "RPC Cover.Close"]
    with pytest.raises(DeviceError):
        await registry.execute(dev_id, "turn_on")
    assert roller.state["current_pos"] == 0


# Venstar ---------------------------------------------------------------------------------------------------------
async def test_venstar_found_over_ssdp_and_driven(sim: Callable[..., Any], registry: Registry) -> None:
    stat = sim(SimVenstar, name="Upstairs", state={"spacetemp": 19.5})
    answers = [a for a in await ssdp.search("127.0.0.1", [SEARCH_TARGET], 1.0) if a.address == stat.address]
    assert len(answers) == 1 and answers[0].st == SEARCH_TARGET
    mac = mac_from_usn(answers[0].usn)
    assert mac is not None and mac.replace(":", "") == stat.mac_hex
    found = await fingerprint(stat.address, {"mac": mac})
    assert found.adapter == "venstar-colortouch" and found.identity["model"] == "COLORTOUCH"
    dev_id = await added(registry, found, room="landing")
    assert dev_id == f"mac:{mac}" and registry.get(dev_id).kind == Kind.CLIMATE
    assert await registry.state(dev_id) == {"hvac_mode": "heat", "power": True, "target_temperature": 20.5,
                                            "current_temperature": 19.5, "humidity": 45.0, "available": True}

    await registry.execute(dev_id, "set_temperature", {"temperature": 21.5})
    assert stat.state["heattemp"] == 21.5
    await registry.execute(dev_id, "set_hvac_mode", {"mode": "cool"})
    assert stat.state["mode"] == 2
    state = await registry.state(dev_id)
    assert state["hvac_mode"] == "cool" and state["target_temperature"] == 24.0  # cooling: cooltemp
    await registry.execute(dev_id, "turn_off")
    assert stat.state["mode"] == 0 and (await registry.state(dev_id))["power"] is False
    assert [body for _, body in stat.commands] == [{"heattemp": 21.5, "cooltemp": 24.0}, {"mode": 2}, {"mode": 0}]

    # the thermostat answers HTTP 200 with {"error": true, "reason": ...}: the claw says so, nothing changed
    stat.change({"cooltemp": 22.5}, record="test")
    with pytest.raises(InvalidArgument, match="refused to turn on.*cooltemp must be at least 2"):
        await registry.execute(dev_id, "turn_on")
    assert stat.state["mode"] == 0


# Hue -------------------------------------------------------------------------------------------------------------
async def test_hue_bridge_pairs_after_the_link_button_and_its_lights_are_driven(
        sim: Callable[..., Any], registry: Registry, driver: HttpDriver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bridge = sim(SimHue, name="Hue bridge", lights=["reading lamp", "sofa lamp"],
                 light_types={"sofa lamp": "Dimmable light"})
    found = await fingerprint(bridge.address)
    assert found.adapter == "hue-bridge" and found.device_id == f"serial:{bridge.bridge_id}"
    with pytest.raises(ValueError, match="pair it"):
        device_for(found, SPECS["hue-bridge"])  # a hub is not driven itself

    prompts: list[str] = []

    async def owner_presses(text: str) -> None:  # the owner reads the prompt, walks over, presses the button
        prompts.append(text)
        await asyncio.sleep(0.2)
        bridge.press_link_button()

    hub_id = found.device_id or ""
    paired = await pair_hub(SPECS["hue-bridge"], SPECS, bridge.address, hub_id, wait=5, retry=0.1,
                            prompt=owner_presses, room="lounge")
    assert len(prompts) == 1 and "link button" in prompts[0] and "link button not pressed" in prompts[0]
    assert paired.attempts >= 2 and paired.credential in bridge.users
    assert [d.name for d in paired.devices] == ["reading lamp", "sofa lamp"]
    lamp = paired.devices[0]
    assert lamp.adapter == "hue-color-light" and lamp.address == bridge.address and lamp.room == "lounge"
    assert lamp.capabilities == {"power", "brightness", "color"}
    assert lamp.attrs == {"channel": "1", "paired_with": hub_id, "model": "LCT015"}
    white = paired.devices[1]  # a "Dimmable light": no colour
    assert white.adapter == "hue-light" and white.capabilities == {"power", "brightness"}
    assert white.attrs["model"] == "LWB010"
    assert lamp.id == f"uuid:{bridge.state['lights']['1']['uniqueid']}"

    driver.credentials.set(hub_id, paired.credential)
    registry.extend(paired.devices)
    assert await registry.state(white.id) == {"power": False, "brightness": 100, "available": True}
    state = await registry.state(lamp.id)
    assert state.pop("rgb") == xy_to_rgb(bridge.light("1")["xy"])
    assert state == {"power": False, "brightness": 100, "available": True}
    await registry.execute(lamp.id, "set_brightness", {"brightness": 50})
    assert bridge.light("1")["on"] is True and bridge.light("1")["bri"] == 128  # 1-254 on the bridge
    assert bridge.light("2")["on"] is False  # the other light is left alone
    state = await registry.state(lamp.id)
    assert state["power"] is True and state["brightness"] == 50
    await registry.execute(paired.devices[1].id, "turn_on")
    await registry.execute(lamp.id, "turn_off")
    assert bridge.light("1")["on"] is False and bridge.light("2")["on"] is True
    assert (await registry.state(lamp.id))["power"] is False

    # the username is a secret: never in the claw's logs, reprs or what the owner is told (httpx logs URLs at
    # INFO, which the claw's logging setup silences: claw.cli.common.setup_logging; the simulated bridge's own
    # access log is the device's side)
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore",
                                                                                     "devices.sim")))
    shown = ours + repr(paired) + repr(driver.credentials) + describe_pairing(paired) + "".join(prompts)
    assert paired.credential not in shown and "<credential>" in ours

    # a light the bridge no longer has: its error object (HTTP 200) fails the command
    with bridge._lock:
        del bridge._state["lights"]["2"]
    with pytest.raises(InvalidArgument, match="resource, /lights/2, not available"):
        await registry.execute(paired.devices[1].id, "turn_off")


async def test_hue_pairing_gives_up_when_nobody_presses(sim: Callable[..., Any]) -> None:
    bridge = sim(SimHue, name="Hue bridge")
    prompts: list[str] = []
    with pytest.raises(PairingTimeout, match="press the round link button.*link button not pressed"):
        await pair_hub(SPECS["hue-bridge"], SPECS, bridge.address, "serial:x", wait=0.5, retry=0.1,
                       prompt=prompts.append)
    assert len(prompts) == 1 and bridge.users == {}


async def test_a_light_of_an_unpaired_bridge_is_unavailable(sim: Callable[..., Any], registry: Registry,
                                                            driver: HttpDriver) -> None:
    bridge = sim(SimHue, name="Hue bridge")
    bridge.press_link_button()
    paired = await pair_hub(SPECS["hue-bridge"], SPECS, bridge.address, "serial:hub", wait=1)
    registry.extend(paired.devices)  # ... but the credential was never stored
    with pytest.raises(DeviceUnavailable, match="not paired"):
        await registry.state(paired.devices[0].id)
    driver.credentials.set("serial:hub", "not-the-username")  # a wrong one: the bridge refuses it
    with pytest.raises(InvalidArgument, match="unauthorized user"):
        await registry.execute(paired.devices[0].id, "turn_on")
    with pytest.raises(DeviceUnavailable, match="refused the read of /api/<credential>/lights/1: .unauthorized"):
        await registry.state(paired.devices[0].id)
    assert bridge.light("1")["on"] is False


def test_credential_store_file_is_private(tmp_path: Any) -> None:
    path = tmp_path / "creds.json"
    store = CredentialStore(path)
    store.set("serial:hub", "s3cret-username")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert CredentialStore(path).get("serial:hub") == "s3cret-username"
    assert "s3cret" not in repr(store) and "s3cret" not in str(store)
    assert store.delete("serial:hub") and CredentialStore(path).get("serial:hub") is None


# matchers and the schema -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "vendor", "name", "path"), [
    ("shelly-gen2-light", "shelly", "light_device_info", "/shelly"),
    ("shelly-gen2-cover", "shelly", "cover_device_info", "/shelly"),
    ("shelly-gen2-switch", "shelly", "device_info", "/shelly"),
    ("hue-bridge", "hue", "config", "/api/config"),
    ("venstar-colortouch", "venstar", "root", "/"),
])
def test_each_documented_payload_matches_its_own_spec_first(spec: str, vendor: str, name: str, path: str) -> None:
    from devices.discovery.matching import probe_key

    doc = payload(vendor, name)
    assert spec_matches(SPECS[spec], {path: doc})
    assert match_answers(SPECS, {probe_key(path, None): doc})[0] == spec


def test_hue_error_objects_are_refusals() -> None:
    spec = SPECS["hue-light"]
    assert command_refusal(spec, "turn_on", [{"success": {"/lights/1/state/on": True}}]) is None
    assert command_refusal(spec, "turn_on", payload("hue", "unauthorized_user")) == "unauthorized user"
    assert command_refusal(SPECS["venstar-colortouch"], "turn_off", {"success": True}) is None
    assert check_hub(SPECS["hue-bridge"], SPECS) is SPECS["hue-light"]


def _spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "test-hub-light", "version": 1, "description": "a test", "kind": "light",
        "capabilities": ["power"], "needs": ["credential", "channel"],
        "state": [{"path": "/api/{credential}/lights/{channel}", "extract": {"power": {"path": "on"}}}],
        "commands": {"turn_on": {"method": "PUT", "path": "/api/{credential}/lights/{channel}",
                                 "json": {"on": True}}}}
    base.update(changes)
    return base


@pytest.mark.parametrize(("changes", "message"), [
    ({"needs": []}, "placeholder {credential}"),
    ({"needs": ["credential"]}, "placeholder {channel}"),
    ({"commands": {"turn_on": {"path": "/x", "json": {"user": "{credential}"}}}}, "path only"),
    ({"state": [{"path": "/s", "query": {"u": "{credential}"}, "extract": {"power": {"path": "on"}}}]},
     "path only"),
    ({"needs": ["secret"]}, "needs"),
    ({"pair": {"path": "/api", "credential": "0.success.username", "prompt": "press",
               "children": {"path": "/api/{credential}/lights", "adapter": "hue-light", "identity": "uniqueid"}}},
     "a hub"),
    ({"pair": {"path": "/api/{channel}", "credential": "u", "prompt": "press"}}, "placeholders are not allowed"),
    ({"state": []}, "state: required field is missing"),
    ({"commands": {"turn_on": {"path": "/x", "error": "a..b"}}}, "dotted JSON path"),
])
def test_the_schema_keeps_device_params_and_pairing_strict(changes: dict[str, Any], message: str) -> None:
    assert load_spec(_spec())  # the base is fine
    with pytest.raises(AdapterSpecError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_spec(_spec(**changes))


def test_a_hub_children_path_takes_only_the_credential() -> None:
    hub = {"name": "hub", "version": 1, "description": "a hub", "kind": "other",
           "pair": {"path": "/api", "credential": "u", "prompt": "press",
                    "children": {"path": "/api/{credential}/{channel}", "adapter": "hue-light", "identity": "id"}}}
    with pytest.raises(AdapterSpecError, match="only \\{credential\\}"):
        load_spec(hub)
    hub["pair"]["children"]["path"] = "/api/{credential}/lights"
    assert load_spec(hub).pair is not None


# `claw pair device`: the owner's side of pairing ------------------------------------------------------------------
async def test_claw_pair_device_stores_the_secret_and_a_claw_drives_the_lights(
        sim: Callable[..., Any], tmp_path: Any) -> None:
    import threading
    import time

    from typer.testing import CliRunner

    from claw.cli import app
    from claw.runtime import Claw
    from tests.conftest import make_settings

    bridge = sim(SimHue, name="Hue bridge", lights=["reading lamp"])

    def owner() -> None:  # reads the prompt (the bridge refused once), walks over and presses the button
        for _ in range(400):
            if bridge.refusals:
                bridge.press_link_button()
                return
            time.sleep(0.05)

    presser = threading.Thread(target=owner)
    presser.start()
    result = await asyncio.to_thread(CliRunner().invoke, app, ["pair", "device", bridge.address, "--room",
                                                               "lounge", "--wait", "10"])
    presser.join()
    assert result.exit_code == 0, result.output
    username = next(iter(bridge.users))
    assert "Press the round link button on the Hue bridge" in result.output
    assert "added reading lamp" in result.output and username not in result.output
    path = tmp_path / "data" / "device_credentials.json"
    assert (path.stat().st_mode & 0o777) == 0o600 and username in path.read_text()

    claw = Claw(make_settings(tmp_path, device_timeout=2.0))  # the stored device and the stored secret
    await claw.start()
    try:
        lamp = next(d for d in claw.registry.all() if d.name == "reading lamp")
        assert lamp.room == "lounge" and lamp.adapter == "hue-color-light"
        await claw.registry.execute(lamp.id, "turn_on")
    finally:
        await claw.stop()
    assert bridge.light("1")["on"] is True


def test_claw_pair_device_refuses_what_is_not_a_hub(sim: Callable[..., Any]) -> None:
    from typer.testing import CliRunner

    from claw.cli import app

    dimmer = sim(SimShellyLight, name="Hall dimmer")
    result = CliRunner().invoke(app, ["pair", "device", dimmer.address, "--wait", "1"])
    assert result.exit_code == 1 and "not a hub the claw can pair" in result.output
    assert CliRunner().invoke(app, ["pair", "device", "example.com:80"]).exit_code == 2


async def test_the_simulated_link_button_has_a_control_endpoint(sim: Callable[..., Any]) -> None:
    import httpx

    bridge = sim(SimHue, name="Hue bridge")
    async with httpx.AsyncClient(trust_env=False) as client:
        refused = (await client.post(f"http://{bridge.address}/api", json={"devicetype": "x#y"})).json()
        assert refused == payload("hue", "link_button_not_pressed")
        pressed = await client.post(f"http://{bridge.address}/control/linkbutton")
        assert pressed.json()["pressed"] is True
    paired = await pair_hub(SPECS["hue-bridge"], SPECS, bridge.address, "serial:hub", wait=1)
    assert paired.attempts == 1 and len(paired.devices) == 2
