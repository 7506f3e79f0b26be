"""nmap sweep: a /24 LAN of network namespaces with 10 simulated devices found and matched; refusals; no nmap."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claw.cli import app
from devices.discovery import sweep as sweep_mod
from devices.discovery.matching import DiscoveryError
from devices.discovery.scan import ScanResult, scan
from devices.discovery.subnets import SweepRefused, check_subnets, default_subnet
from devices.discovery.sweep import NmapMissing, nmap_arguments, plan_sweep, probe_targets
from devices.sim.netns import NetnsLan, netns_inode, netns_unavailable
from devices.sim.shelly import SimShelly
from devices.sim.tasmota import SimTasmota
from devices.sim.vendor_base import VendorSim
from devices.sim.wled import SimWled

KINDS: list[tuple[type[VendorSim], str]] = [(SimWled, "wled"), (SimShelly, "shelly-gen2-switch"),
                                            (SimTasmota, "tasmota")]
LAN = [ipaddress.IPv4Interface("10.77.0.1/24"), ipaddress.IPv4Interface("127.0.0.1/8"),
       ipaddress.IPv4Interface("198.51.100.7/24")]


# pure rules ----------------------------------------------------------------------------------------------
def test_a_subnet_on_a_configured_private_interface_is_accepted() -> None:
    nets = check_subnets(["10.77.0.0/24", "10.77.0.128/25", "10.77.0.0/24"], ["10.77.0.1"], LAN)
    assert [str(n) for n in nets] == ["10.77.0.0/24", "10.77.0.128/25"]
    assert [str(n) for n in check_subnets(["127.0.0.0/24"], ["127.0.0.1"], LAN)] == ["127.0.0.0/24"]


@pytest.mark.parametrize(("subnet", "interfaces", "why"), [
    ("10.77.0.0/21", ["10.77.0.1"], "at most a /22"),
    ("10.0.0.0/8", ["10.77.0.1"], "at most a /22"),
    ("10.78.0.0/24", ["10.77.0.1"], "not on a configured interface"),
    ("10.77.0.0/24", ["127.0.0.1"], "not on a configured interface"),  # on this machine, but not configured
    ("10.77.0.0/24", ["10.99.0.1"], "not on a configured interface"),  # configured, but no such interface
    ("198.51.100.0/24", ["198.51.100.7"], "public address space"),
    ("not-a-net", ["10.77.0.1"], "not an IPv4 subnet"),
])
def test_a_sweep_is_refused(subnet: str, interfaces: list[str], why: str) -> None:
    with pytest.raises(SweepRefused, match=why):
        check_subnets([subnet], interfaces, LAN)


def test_public_space_needs_an_explicit_allowance_and_stays_on_its_interface() -> None:
    assert [str(n) for n in check_subnets(["198.51.100.0/24"], ["198.51.100.7"], LAN, allow_public=True)] == [
        "198.51.100.0/24"]
    with pytest.raises(SweepRefused, match="not on a configured interface"):
        check_subnets(["8.8.8.0/24"], ["198.51.100.7"], LAN, allow_public=True)


def test_the_default_sweep_is_the_interfaces_slash_24_or_its_narrower_network() -> None:
    assert str(default_subnet("127.0.0.1", LAN)) == "127.0.0.0/24"
    assert str(default_subnet("10.1.2.3", [ipaddress.IPv4Interface("10.1.2.3/26")])) == "10.1.2.0/26"
    assert str(default_subnet("192.168.1.20", [])) == "192.168.1.0/24"


def test_nmap_arguments_are_bounded_and_unprivileged_without_root() -> None:
    root = nmap_arguments([8080, 80], as_root=True, host_timeout=5)
    user = nmap_arguments([8080, 80, 443, 1400], as_root=False)
    assert root.split()[0] == "-sS" and "-PS80,8080" in root.split() and "-p 80,8080" in root
    assert "--host-timeout 5s" in root and "-T4" in root and "-n" in root.split()
    assert user.split()[:2] == ["-sT", "--unprivileged"] and "-sS" not in user
    assert "-PS80,443" in user.split() and "-p 80,443,1400,8080" in user
    assert "-PS1400" in nmap_arguments([1400, 1401], as_root=False).split()


def test_probe_targets_skip_https_when_the_host_speaks_plain_http() -> None:
    assert probe_targets({"10.0.0.9": [443], "10.0.0.10": [80, 443, 8080], "10.0.0.2": [1400]}) == [
        "10.0.0.2:1400", "10.0.0.9:443", "10.0.0.10:80", "10.0.0.10:8080"]


# nmap missing ----------------------------------------------------------------------------------------
@pytest.fixture
def path_without_nmap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH holds only `ip` (to list interfaces), so nmap cannot be found."""
    ip = shutil.which("ip")
    if ip is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    (tmp_path / "ip").symlink_to(ip)
    monkeypatch.setenv("PATH", str(tmp_path))


@pytest.mark.usefixtures("path_without_nmap")
async def test_a_missing_nmap_is_a_clear_error_before_anything_is_sent() -> None:
    with pytest.raises(NmapMissing, match="nmap is not installed.*apt-get install nmap"):
        await plan_sweep(["127.0.0.0/24"], ["127.0.0.1"])
    with pytest.raises(NmapMissing):
        await scan(["127.0.0.1"], timeout=0.2, sweep_subnets=["127.0.0.0/24"])


@pytest.mark.usefixtures("path_without_nmap")
def test_claw_discover_says_nmap_is_missing() -> None:
    result = CliRunner().invoke(app, ["discover", "--interface", "127.0.0.1", "--sweep", "127.0.0.0/24", "--yes"])
    assert result.exit_code == 2 and "nmap is not installed" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_claw_discover_refuses_without_asking_and_a_subnet_without_sweep() -> None:
    result = CliRunner().invoke(app, ["discover", "--interface", "127.0.0.1", "--sweep", "10.0.0.0/16"])
    assert result.exit_code == 2 and "at most a /22" in result.output
    result = CliRunner().invoke(app, ["discover", "10.0.0.0/24"])
    assert result.exit_code == 2 and "only with --sweep" in result.output
    if shutil.which("nmap"):  # the check passes; nobody can be asked, so no sweep
        result = CliRunner().invoke(app, ["discover", "--interface", "127.0.0.1", "--sweep", "127.0.0.0/24"])
        assert result.exit_code == 2 and "add --yes" in result.output


# the namespace LAN ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lan() -> Iterator[NetnsLan]:
    reason = netns_unavailable()
    if reason:
        pytest.skip(f"network namespaces unavailable: {reason}")
    if shutil.which("nmap") is None:
        pytest.skip("nmap is not installed (.ci/run installs it with apt-get)")
    made = NetnsLan(hosts_count=10)
    made.create()
    try:
        for i, host in enumerate(made.hosts):
            kind, _ = KINDS[i % len(KINDS)]
            made.serve(host, kind(host=host.address, port=8080 if i % 4 == 0 else 80, name=f"device {i}",
                                  serial=f"SWEEP{made.tag}{i}"))
        yield made
    finally:
        made.close()
        assert not any(made.tag in n for n in os.listdir("/run/netns")), "namespaces left behind"


def expected(lan: NetnsLan) -> dict[str, tuple[str, str]]:
    """address -> (adapter, mac) for every simulator on the namespace LAN."""
    out = {}
    for i, sim in enumerate(lan.sims()):
        mac = ":".join(sim.mac_hex[j:j + 2] for j in range(0, 12, 2))
        out[sim.address] = (KINDS[i % len(KINDS)][1], mac)
    return out


def test_the_sweep_finds_the_ten_hosts_and_their_adapters_match(lan: NetnsLan) -> None:
    assert netns_inode() != netns_inode(lan.scanner)  # the test itself stays in the host's namespace

    def in_scanner() -> ScanResult:
        assert netns_inode() == netns_inode(lan.scanner)
        return asyncio.run(scan([lan.scanner_address], timeout=0.5, sonos=False, sweep_subnets=[lan.subnet]))

    result = lan.in_scanner(in_scanner)
    assert result.sweep_error is None and result.swept is not None
    assert result.swept.live == [h.address for h in lan.hosts]
    want = expected(lan)
    assert sorted(result.swept.targets) == sorted(want)
    got = {f.address: (f.adapter, f.identity.get("mac")) for f in result.found}
    assert got == want
    assert all({"nmap", "probe"} <= f.via for f in result.found)
    assert all(result.records[a].answers for a in want)  # the probe records are kept for learning


def test_the_unprivileged_sweep_finds_the_same_hosts(lan: NetnsLan, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root nmap gets connect() scan and ping arguments; they must work with the real nmap too."""
    monkeypatch.setattr(sweep_mod, "privileged", lambda: False)

    def unprivileged() -> sweep_mod.SweepResult:
        return asyncio.run(sweep_mod.sweep([lan.subnet], [lan.scanner_address]))

    result = lan.in_scanner(unprivileged)
    assert "-sT --unprivileged" in result.command_line and "-sS" not in result.command_line
    assert [h for h in result.live if h != lan.scanner_address] == [h.address for h in lan.hosts]
    assert sorted(result.targets) == sorted(expected(lan))


def test_a_subnet_beyond_the_scanners_interface_is_refused_in_the_namespace(lan: NetnsLan) -> None:
    def sweep_other() -> None:
        asyncio.run(plan_sweep(["10.78.0.0/24"], [lan.scanner_address]))

    with pytest.raises(SweepRefused, match="not on a configured interface"):
        lan.in_scanner(sweep_other)


async def test_the_namespace_subnet_is_refused_from_the_hosts_own_namespace(lan: NetnsLan) -> None:
    """Outside the scanner's namespace its address is not an interface here: the sweep never starts."""
    if any(str(i.ip) == lan.scanner_address for i in sweep_mod.local_interfaces()):
        pytest.skip(f"this machine itself has {lan.scanner_address}")
    with pytest.raises(SweepRefused, match="not on a configured interface"):
        await scan([lan.scanner_address], timeout=0.2, sweep_subnets=[lan.subnet])


def test_claw_discover_sweep_shows_asks_and_sweeps(lan: NetnsLan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("claw.cli.discover_sweep.interactive", lambda: True)
    args = ["discover", "--interface", lan.scanner_address, "--timeout", "0.3", "--sweep", lan.subnet]
    declined = lan.in_scanner(lambda: CliRunner().invoke(app, args, input="n\n"))
    assert declined.exit_code == 1, declined.output
    assert f"nmap sweep of {lan.subnet} (256 addresses)" in declined.output and "Sweep it now?" in declined.output
    assert "not swept" in declined.output and "ADDRESS" not in declined.output
    swept = lan.in_scanner(lambda: CliRunner().invoke(app, args, input="y\n"))
    assert swept.exit_code == 0, swept.output
    assert f"nmap: 10 host(s) up in {lan.subnet}, 10 open device port(s)" in swept.output
    for address, (adapter, _) in expected(lan).items():
        row = next(line for line in swept.output.splitlines() if address in line.split())
        assert adapter in row.split() and "nmap,probe" in row


def test_a_device_on_port_80_can_be_probed() -> None:
    """Real devices answer on port 80, which httpx leaves out of its URLs: the probe must still accept it."""
    from devices.discovery.probe import ProbeError, _url

    assert str(_url("10.77.0.5:80", "/json/info")) == "http://10.77.0.5/json/info"
    with pytest.raises(ProbeError):
        _url("10.77.0.5:80", "//10.77.0.6/json")


# nmap failing while it runs ---------------------------------------------------------------------------
def fake_nmap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan_part: str) -> None:
    """An `nmap` on PATH (with `ip`) that answers `-V` like nmap and then misbehaves on the scan itself."""
    ip = shutil.which("ip")
    if ip is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    (tmp_path / "ip").symlink_to(ip)
    script = tmp_path / "nmap"
    script.write_text('#!/bin/sh\nif [ "$1" = "-V" ]; then echo "Nmap version 7.93 ( https://nmap.org )"; exit 0; fi\n'
                      + scan_part + "\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))


async def test_an_nmap_that_overruns_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nmap(tmp_path, monkeypatch, f"exec {shutil.which('sleep')} 20")
    plan = await plan_sweep(["127.0.0.0/24"], ["127.0.0.1"], timeout=1)
    started = asyncio.get_running_loop().time()
    with pytest.raises(DiscoveryError, match="longer than 1 s and was stopped"):
        await sweep_mod.run_sweep(plan)
    assert asyncio.get_running_loop().time() - started < 5


async def test_a_failing_nmap_is_reported_and_the_rest_of_the_scan_stands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_nmap(tmp_path, monkeypatch, 'echo "Failed to open device eth9" >&2; exit 1')
    with SimTasmota(name="sweep porch").start() as dimmer:
        result = await scan(["127.0.0.1"], timeout=0.2, sonos=False, targets=[dimmer.address],
                            sweep_subnets=["127.0.0.0/24"])
    assert result.swept is None and result.sweep_error is not None
    assert result.sweep_error == "nmap failed: Failed to open device eth9"
    assert [(f.address, f.adapter) for f in result.found] == [(dimmer.address, "tasmota")]
