"""`claw demo` finds its simulated vendor devices itself: one pass on loopback, the Hue bridge paired, all driven."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from claw.demo_lan import discover_demo
from claw.events import InboundMessage
from claw.runtime import Claw
from devices.drivers import build_drivers
from devices.drivers.http import HttpDriver
from devices.sim.lan import SimLan
from devices.sim.venstar import SimVenstar
from tests.conftest import make_settings


@asynccontextmanager
async def started_lan() -> AsyncIterator[SimLan]:
    """The simulated LAN on the test's own event loop (its mDNS announcer must run where the scan runs)."""
    lan = SimLan.load()
    try:
        await lan.start()
    except OSError as exc:  # pragma: no cover - a machine without loopback multicast
        pytest.skip(f"cannot announce on loopback: {exc}")
    try:
        yield lan
    finally:
        await lan.stop()


async def test_the_demo_finds_pairs_and_drives_its_vendor_devices(tmp_path: Path) -> None:
    async with started_lan() as lan:
        await _found_paired_and_driven(lan, tmp_path)


async def _found_paired_and_driven(lan: SimLan, tmp_path: Path) -> None:
    drivers = build_drivers(2.0)
    http = drivers["http"]
    assert isinstance(http, HttpDriver)
    known = list(lan.home.devices)
    found = await discover_demo(lan, http, known)

    by_name = {d.name: d for d in found.added}
    assert set(by_name) == {"desk strip", "heater plug", "porch dimmer", "hall dimmer", "office blind",
                            "reading lamp", "sofa lamp", "upstairs thermostat"}
    assert by_name["desk strip"].adapter == "wled" and by_name["desk strip"].room == "office"
    assert by_name["reading lamp"].adapter == "hue-color-light" and by_name["reading lamp"].room == "living room"
    assert by_name["upstairs thermostat"].adapter == "venstar-colortouch"
    assert not {d.id for d in found.added} & {d.id for d in known}  # the home file's devices are not doubled
    assert len(known) + len(found.added) >= 12
    assert any("pressed the simulated button itself" in n for n in found.notes)
    assert found.notes[0].startswith("discovery on 127.0.0.1")
    bridge_id = by_name["reading lamp"].attrs["paired_with"]
    assert http.credentials.get(bridge_id) in lan.vendors["hue bridge"].users  # type: ignore[attr-defined]
    assert all(http.credentials.get(bridge_id) not in n for n in found.notes)

    # then the owner talks to the demo: the discovered devices are driven like any other
    settings = make_settings(tmp_path, device_timeout=2.0)
    claw = Claw(settings, devices=known + found.added, drivers=drivers)
    await claw.start()
    try:
        for text in ("turn on the desk strip", "turn on the reading lamp", "close the office blind"):
            result = await asyncio.wait_for(
                claw.agent.ask(InboundMessage("console", settings.owner, text, standing="owner")), 20)
            assert result.reply, text
    finally:
        await claw.stop()
    assert lan.vendors["desk strip"].state["on"] is True
    assert lan.vendors["hue bridge"].light("1")["on"] is True  # type: ignore[attr-defined]
    assert lan.vendors["office blind"].state["current_pos"] == 0
    thermostat = lan.vendors["upstairs thermostat"]
    assert isinstance(thermostat, SimVenstar) and thermostat.commands == []  # nothing else was touched
