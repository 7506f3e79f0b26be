"""Discovered devices into the registry: identity, statuses, add and drive, IP change, ignore list, suspects."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claw.cli import app
from claw.discovery.service import Discovery, DiscoveryRefused, ScanReport
from claw.discovery.settings import DiscoverySettings
from claw.events import InboundMessage
from claw.runtime import Claw
from devices.adapters.spec import builtin_specs
from devices.discovery.reconcile import Sighting
from devices.drivers.http import HttpDriver
from devices.models import Device
from devices.registry import Registry
from devices.sim.home import random_loopback_base
from devices.sim.shelly import SimShelly
from devices.sim.tasmota import SimTasmota
from devices.sim.wled import SimWled
from memory.store import Store
from tests.conftest import make_settings
from tests.lan_thread import LanThread


def subnet(base: str) -> str:
    return base.rsplit(".", 1)[0] + ".0/24"


def settings_for(base: str) -> DiscoverySettings:
    return DiscoverySettings(interfaces=["127.0.0.1"], subnets=[subnet(base)], timeout=0.3)


def by_address(report: ScanReport) -> dict[str, Sighting]:
    return {s.address: s for s in report.sightings}


def mac(sim: Any) -> str:
    return "mac:" + ":".join(sim.mac_hex[i:i + 2] for i in range(0, 12, 2))


@pytest.fixture
def base() -> str:
    return random_loopback_base()


@pytest.fixture
def sims(base: str) -> Iterator[dict[str, Any]]:
    """Three vendor devices on one random loopback /24 (found with --target, not announced)."""
    started = {"wled": SimWled(host=base, name="desk strip").start(),
               "tasmota": SimTasmota(host=base, name="porch dimmer").start(),
               "shelly": SimShelly(host=base, name="heater plug").start()}
    yield started
    for sim in started.values():
        sim.stop()


def service(store: Store, base: str, registry: Registry | None = None, devices: list[Device] | None = None
            ) -> Discovery:
    return Discovery(store, settings_for(base), registry=registry,
                     devices=registry.all if registry is not None else lambda: list(devices or []))


async def scan_targets(svc: Discovery, *sims: Any) -> ScanReport:
    return await svc.scan(targets=[s.address for s in sims])


# ----------------------------------------------------------------------------------- the simulated LAN




@pytest.fixture(scope="module")
def lan() -> Iterator[LanThread]:
    with LanThread(wled="kitchen light") as running:  # a rogue WLED announcing the home's "kitchen light" name
        yield running


async def test_scan_of_the_simulated_lan_binds_known_identities_and_flags_a_name_thief(
        lan: LanThread, store: Store) -> None:
    home = lan.lan.home
    svc = Discovery(store, DiscoverySettings(interfaces=["127.0.0.1"], subnets=[subnet(home.ip_base)]),
                    devices=lambda: list(home.devices), household_id=lan.lan.household_id)
    report = await svc.scan(timeout=2.0)
    seen = by_address(report)
    for device in home.devices:  # every device of the home is found by its identity, already added
        s = seen[device.address]
        assert (s.status, s.identity, s.device_name) == ("added", device.id, device.name)
        assert s.moved_from is None
    for name, sim in lan.lan.vendors.items():
        s = seen[sim.address]
        if name == "Pool Controller":  # the unknown gadget: no adapter, so no identity to bind
            assert s.status == "new" and s.adapter is None
            continue
        kind = "serial" if name == "hue bridge" else "mac"  # a Hue bridge is known by its bridge id
        assert s.status == "new" and s.adapter is not None and s.identity is not None
        assert s.identity == mac(sim) if kind == "mac" else s.identity.startswith("serial:")
        assert store.discovered_get(s.identity)["id_kind"] == kind
    rogue = seen[lan.wled.address]  # announces the kitchen light's name with its own MAC
    assert rogue.status == "suspect" and "kitchen light" in rogue.reason
    assert any("SUSPECT" in n and lan.wled.address in n for n in report.notices())
    kitchen = next(d for d in home.devices if d.name == "kitchen light")
    assert seen[kitchen.address].status == "added"  # the real one is untouched
    with pytest.raises(DiscoveryRefused, match="SUSPECT"):
        svc.add(str(rogue.index), "another light")
    assert [r["idx"] for r in store.discovered_last_scan()] == list(range(1, len(report.sightings) + 1))


# ----------------------------------------------------------------------------------- add and drive


def test_cli_add_then_a_claw_drives_it(sims: dict[str, Any], base: str, tmp_path: Path) -> None:
    config = Path(str(tmp_path / "no-such-claw.toml"))  # CLAW_CONFIG of the isolated environment
    config.write_text(f'[discovery]\ninterfaces = ["127.0.0.1"]\nsubnets = ["{subnet(base)}"]\n')
    wled, tasmota = sims["wled"], sims["tasmota"]
    scanned = CliRunner().invoke(app, ["discover", "--timeout", "0.3", "--target", wled.address,
                                       "--target", tasmota.address])
    assert scanned.exit_code == 0, scanned.output
    assert "scanning on 127.0.0.1 (configured)" in scanned.output
    row = next(line for line in scanned.output.splitlines() if wled.address in line)
    assert mac(wled) in row and row.rstrip().endswith("new") and "wled" in row
    number = row.split()[0]
    added = CliRunner().invoke(app, ["discover", "--add", number, "--name", "desk light", "--room", "office"])
    assert added.exit_code == 0, added.output
    assert f"added desk light ({mac(wled)}, wled at {wled.address}, in office)" in added.output
    again = CliRunner().invoke(app, ["discover", "--add", number, "--name", "other"])
    assert again.exit_code == 2 and "already in the registry as desk light" in again.output
    listed = CliRunner().invoke(app, ["discover", "--timeout", "0.3", "--target", wled.address])
    assert "added as desk light" in next(line for line in listed.output.splitlines() if wled.address in line)

    async def drive() -> None:
        claw = Claw(make_settings(tmp_path, device_timeout=2.0))
        await claw.start()
        try:
            device = claw.registry.get(mac(wled))
            assert (device.name, device.room, device.adapter) == ("desk light", "office", "wled")
            said = await claw.agent.ask(InboundMessage("console", "owner", "turn on the desk light",
                                                       standing="owner"))
            assert wled.state["on"] is True, said.reply
            await claw.agent.ask(InboundMessage("console", "owner", "set the desk light to 40%", standing="owner"))
            assert wled.state["bri"] == 102
            assert (await claw.registry.state(device.id))["brightness"] == 40
        finally:
            await claw.stop()

    asyncio.run(drive())


# ----------------------------------------------------------------------------------- identity over time


async def test_an_ip_change_is_followed_by_identity(sims: dict[str, Any], base: str, store: Store) -> None:
    reg = Registry(drivers={"http": HttpDriver(builtin_specs(), timeout=2.0)}, timeout=2.0)
    svc = service(store, base, reg)
    old = sims["wled"]
    try:
        report = await scan_targets(svc, old)
        device = svc.add(str(by_address(report)[old.address].index), "desk light", "office")
        assert reg.get(device.id).address == old.address
        old.stop()  # the strip comes back from DHCP with another address, same MAC
        moved_host = base.rsplit(".", 1)[0] + ".77"
        new = SimWled(host=moved_host, name="desk strip", serial=old.serial).start()
        sims["moved"] = new
        assert mac(new) == device.id
        report = await scan_targets(svc, new)
        s = by_address(report)[new.address]
        assert (s.status, s.moved_from, s.device_id) == ("added", old.address, device.id)
        assert any("moved from" in n and new.address in n for n in report.notices())
        assert reg.get(device.id).address == new.address
        assert store.device_get(device.id)["address"] == new.address
        await reg.execute(device.id, "turn_on")
        assert new.state["on"] is True
        assert not any("devices_file" in n for n in report.notices())
        store.device_upsert(store.device_get(device.id) or {}, source="devices_file")  # as if listed there
        reg.add(Device.from_dict({**(store.device_get(device.id) or {}), "address": old.address}))
        report = await scan_targets(svc, new)
        assert any("listed in devices_file" in n for n in report.notices())
    finally:
        await reg.close()


async def test_the_ignore_list_survives_a_restart(sims: dict[str, Any], base: str, tmp_path: Path) -> None:
    path = tmp_path / "claw.db"
    tasmota, wled = sims["tasmota"], sims["wled"]
    store = Store(path)
    try:
        svc = service(store, base)
        await scan_targets(svc, tasmota, wled)
        ignored = svc.ignore(mac(tasmota))
        assert ignored["status"] == "ignored"
        with pytest.raises(DiscoveryRefused, match="ignore list"):
            svc.add(mac(tasmota), "porch")
    finally:
        store.close()
    store = Store(path)
    try:
        svc = service(store, base)
        report = await scan_targets(svc, tasmota, wled)
        assert by_address(report)[tasmota.address].status == "ignored"
        assert by_address(report)[wled.address].status == "new"
        svc.unignore("tasmota")  # by the words of what it is
        report = await scan_targets(svc, tasmota)
        assert by_address(report)[tasmota.address].status == "new"
    finally:
        store.close()


async def test_a_stolen_identity_is_suspect_and_never_merged(sims: dict[str, Any], base: str, store: Store) -> None:
    reg = Registry(drivers={"http": HttpDriver(builtin_specs(), timeout=2.0)}, timeout=2.0)
    svc = service(store, base, reg)
    wled = sims["wled"]
    prefix = base.rsplit(".", 1)[0]
    fake_tasmota = SimTasmota(host=f"{prefix}.91", name="desk light", serial=wled.serial).start()  # same MAC
    twin = SimWled(host=f"{prefix}.92", name="desk strip", serial=wled.serial).start()  # same MAC, same kind
    thief = SimWled(host=f"{prefix}.93", name="desk light").start()  # the added name, its own MAC
    try:
        report = await scan_targets(svc, wled)
        device = svc.add(str(by_address(report)[wled.address].index), "desk light", "office")
        report = await scan_targets(svc, wled, fake_tasmota, twin, thief)
        seen = by_address(report)
        assert seen[wled.address].status == "added" and seen[wled.address].moved_from is None
        assert seen[fake_tasmota.address].status == "suspect"
        assert "claims the identity of desk light" in seen[fake_tasmota.address].reason
        assert seen[twin.address].status == "suspect" and wled.address in seen[twin.address].reason
        assert seen[thief.address].status == "suspect" and "“desk light”" in seen[thief.address].reason
        assert reg.get(device.id).address == wled.address  # never merged into the known device
        assert store.device_get(device.id)["address"] == wled.address
        assert len(report.suspects) == 3 and sum("SUSPECT" in n for n in report.notices()) == 3
        stored = store.discovered_get(f"{device.id}@{twin.address}")
        assert stored is not None and stored["status"] == "suspect"
        with pytest.raises(DiscoveryRefused, match="SUSPECT"):
            svc.add(str(seen[thief.address].index), "second light")
        svc.ignore(str(seen[twin.address].index))  # the owner silences one: it stays ignored
        report = await scan_targets(svc, wled, twin)
        assert by_address(report)[twin.address].status == "ignored"
        assert reg.get(device.id).address == wled.address
    finally:
        for sim in (fake_tasmota, twin, thief):
            sim.stop()
        await reg.close()


async def test_add_refusals_name_taken_unknown_and_ambiguous(sims: dict[str, Any], base: str, store: Store) -> None:
    existing = Device(id="serial:X1", name="desk light", kind="light", room="office",  # type: ignore[arg-type]
                      capabilities=frozenset({"power"}), driver="http", address="127.0.0.1:1", adapter="wled")
    svc = service(store, base, devices=[existing])
    shelf = SimWled(host=base, name="shelf strip").start()
    try:
        report = await scan_targets(svc, shelf, *sims.values())
    finally:
        shelf.stop()
    wled = by_address(report)[sims["wled"].address]
    with pytest.raises(DiscoveryRefused, match="already a device called “desk light”"):
        svc.add(str(wled.index), "Desk Light")
    with pytest.raises(DiscoveryRefused, match="no discovered device"):
        svc.add("the toaster", "toaster")
    with pytest.raises(DiscoveryRefused, match="could be 2 devices"):
        svc.add("the WLED", "x")
    device = svc.add("the desk strip", None, "Office")  # its own announced name, the registry's room spelling
    assert (device.name, device.room, device.id) == ("desk strip", "office", mac(sims["wled"]))
    assert store.device_get(device.id)["source"] == "discovered"


# ----------------------------------------------------------------------------------- pure reconciliation


def found(address: str, adapter: str | None, **identity: str) -> Any:
    from devices.discovery.matching import Found

    return Found(address, identity=dict(identity), adapter=adapter, what=adapter or "unknown")


def test_reconcile_rules_without_a_network() -> None:
    from devices.discovery.reconcile import reconcile

    speaker = Device(id="sonos:RINCON_A", name="Living Room", kind="speaker", room="living room",  # type: ignore[arg-type]
                     capabilities=frozenset({"media"}), driver="sonos", address="10.0.0.2:1400")
    lamp = Device(id="mac:02:00:00:00:00:01", name="desk light", kind="light", room="office",  # type: ignore[arg-type]
                  capabilities=frozenset({"power"}), driver="http", address="10.0.0.3:80", adapter="wled")
    pair = found("10.0.0.9:1400", "sonos", uuid="RINCON_B", name="Living Room")  # a stereo pair's other half
    nameless = found("10.0.0.7:80", None, name="desk light")  # no identity, a known name
    sightings = reconcile([pair, nameless, found("10.0.0.3:80", "wled", mac="02:00:00:00:00:01")], {},
                          [speaker, lamp])
    status = {s.address: s for s in sightings}
    assert status["10.0.0.9:1400"].status == "new"  # Sonos rooms share names by design
    assert status["10.0.0.7:80"].status == "suspect" and "no identity" in status["10.0.0.7:80"].reason
    assert status["10.0.0.7:80"].key == "addr:10.0.0.7:80"
    assert status["10.0.0.3:80"].status == "added" and status["10.0.0.3:80"].moved_from is None
    # a suspect stays suspect once it stops claiming, until the owner clears it; ignored beats everything
    rows = {"addr:10.0.0.7:80": {"status": "suspect", "note": "claimed a name"},
            "mac:02:00:00:00:00:09": {"status": "ignored"}}
    later = reconcile([found("10.0.0.7:80", None), found("10.0.0.8:80", "wled", mac="02:00:00:00:00:09")], rows,
                      [lamp])
    assert [(s.status, s.reason) for s in later] == [("ignored", ""), ("suspect", "claimed a name")]
