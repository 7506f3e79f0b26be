"""The nmap sweep by chat: "scan my network" shows the range and asks a YES first when nmap is allowed; says how
to allow it when not; a missing nmap or a refused range is a clear reply; guests are refused; a real sweep of a
network-namespace LAN through the chat path."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from claw.events import InboundMessage, TurnResult
from claw.runtime import Claw
from devices.sim.netns import NetnsLan, netns_inode, netns_unavailable
from devices.sim.shelly import SimShelly
from devices.sim.tasmota import SimTasmota
from devices.sim.vendor_base import VendorSim
from devices.sim.wled import SimWled
from tests.conftest import make_settings

KINDS: list[tuple[type[VendorSim], str]] = [(SimWled, "wled"), (SimShelly, "shelly-gen2-switch"),
                                            (SimTasmota, "tasmota")]


async def say(claw: Claw, text: str, standing: str = "owner") -> TurnResult:
    return await claw.agent.ask(InboundMessage("web", claw.settings.owner, text,
                                               standing=standing))  # type: ignore[arg-type]


def claw_with(tmp_path: Path, **discovery: Any) -> Claw:
    return Claw(make_settings(tmp_path, device_timeout=2.0,
                              discovery={"interfaces": ["127.0.0.1"], "timeout": 0.5, **discovery}))


@pytest_asyncio.fixture
async def loopback_claw(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Claw]:
    claw = claw_with(tmp_path, **getattr(request, "param", {}))
    await claw.start()
    try:
        yield claw
    finally:
        await claw.stop()


@pytest.fixture
def path_without_nmap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH holds only `ip` (to list interfaces), so nmap cannot be found."""
    ip = shutil.which("ip")
    if ip is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    (tmp_path / "ip").symlink_to(ip)
    monkeypatch.setenv("PATH", str(tmp_path))


async def nothing_waits(claw: Claw) -> None:
    assert (await say(claw, "yes")).reply.startswith("There's nothing waiting for your YES")


async def test_without_nmap_allowed_the_scan_listens_only_and_says_how_to_sweep(loopback_claw: Claw) -> None:
    reply = (await say(loopback_claw, "scan my network")).reply
    assert reply.startswith("I scanned 127.0.0.1 in "), reply
    assert "That was mDNS and SSDP only" in reply and "set nmap = true under [discovery]" in reply
    await nothing_waits(loopback_claw)


@pytest.mark.usefixtures("path_without_nmap")
@pytest.mark.parametrize("loopback_claw", [{"nmap": True}], indirect=True)
async def test_nmap_allowed_but_missing_is_a_clear_reply_and_no_question(loopback_claw: Claw) -> None:
    reply = (await say(loopback_claw, "scan my network")).reply
    assert reply.startswith("I scanned 127.0.0.1 in "), reply  # mDNS and SSDP still ran
    assert "I did not sweep with nmap: nmap is not installed" in reply and "apt-get install nmap" in reply
    await nothing_waits(loopback_claw)


@pytest.mark.parametrize("loopback_claw", [{"nmap": True, "subnets": ["10.78.0.0/24"]}], indirect=True)
async def test_a_range_off_the_interfaces_is_refused_before_asking(loopback_claw: Claw) -> None:
    if shutil.which("nmap") is None:
        pytest.skip("nmap is not installed")
    reply = (await say(loopback_claw, "scan my network")).reply
    assert "I did not sweep with nmap: 10.78.0.0/24 is not on a configured interface" in reply, reply
    await nothing_waits(loopback_claw)


@pytest.mark.parametrize("loopback_claw", [{"nmap": True}], indirect=True)
async def test_the_owner_is_shown_the_range_and_a_no_sweeps_nothing(loopback_claw: Claw) -> None:
    if shutil.which("nmap") is None:
        pytest.skip("nmap is not installed")
    guest = (await say(loopback_claw, "scan my network", standing="guest")).reply
    assert guest.startswith("Sorry, only the owner can scan the network"), guest
    asked = (await say(loopback_claw, "scan my network")).reply
    # no subnets configured: the interface's /24, shown before anything is sent
    assert asked.startswith("Just checking: sweep 127.0.0.0/24 (256 addresses) from 127.0.0.1 with nmap"), asked
    assert "Reply YES" in asked
    assert loopback_claw.store.discovered_all() == []  # nothing scanned before the answer
    declined = (await say(loopback_claw, "no")).reply
    assert "cancelled: sweep 127.0.0.0/24" in declined, declined
    assert loopback_claw.store.discovered_all() == []
    await nothing_waits(loopback_claw)


# a real sweep of a namespace LAN, through the chat ---------------------------------------------------------
@pytest.fixture(scope="module")
def lan() -> Iterator[NetnsLan]:
    reason = netns_unavailable()
    if reason:
        pytest.skip(f"network namespaces unavailable: {reason}")
    if shutil.which("nmap") is None:
        pytest.skip("nmap is not installed (.ci/run installs it with apt-get)")
    made = NetnsLan(hosts_count=4)
    made.create()
    try:
        for i, host in enumerate(made.hosts):
            kind, _ = KINDS[i % len(KINDS)]
            made.serve(host, kind(host=host.address, port=80, name=f"device {i}", serial=f"CHAT{made.tag}{i}"))
        yield made
    finally:
        made.close()
        assert not any(made.tag in n for n in os.listdir("/run/netns")), "namespaces left behind"


def test_yes_sweeps_the_namespace_lan_and_lists_what_answered(lan: NetnsLan, tmp_path: Path) -> None:
    async def conversation() -> tuple[str, str, list[dict[str, Any]]]:
        assert netns_inode() == netns_inode(lan.scanner)
        claw = Claw(make_settings(tmp_path, device_timeout=2.0, discovery={
            "interfaces": [lan.scanner_address], "subnets": [lan.subnet], "nmap": True, "timeout": 0.5}))
        await claw.start()
        try:
            asked = (await say(claw, "scan my network")).reply
            done = (await say(claw, "yes")).reply
            return asked, done, claw.store.discovered_all()
        finally:
            await claw.stop()

    asked, done, rows = lan.in_scanner(lambda: asyncio.run(conversation()))
    assert asked.startswith(f"Just checking: sweep {lan.subnet} (256 addresses) from {lan.scanner_address} "
                            "with nmap"), asked
    assert f"nmap swept {lan.subnet} in " in done and f"{len(lan.hosts)} open device port(s) probed" in done, done
    want = {f"{h.address}:80": KINDS[i % len(KINDS)][1] for i, h in enumerate(lan.hosts)}
    for address, adapter in want.items():
        assert f"at {address} ({adapter})" in done, done
    assert {r["address"]: r["adapter"] for r in rows} == want
