"""`claw discover`: the table on loopback, interface checks, and no unpinned discovery."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from claw.cli import app
from devices.discovery import mdns, ssdp
from devices.discovery.matching import DiscoveryError
from devices.discovery.scan import scan
from devices.sim.tasmota import SimTasmota


@pytest.fixture
def dimmer() -> Iterator[SimTasmota]:
    sim = SimTasmota(name="porch dimmer").start()
    yield sim
    sim.stop()


def test_discover_prints_the_table_for_a_target(dimmer: SimTasmota) -> None:
    result = CliRunner().invoke(app, ["discover", "--interface", "127.0.0.1", "--timeout", "0.3",
                                      "--target", dimmer.address, "--target", "192.0.2.1:80"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("#"))
    assert lines[header].split() == ["#", "ADDRESS", "IDENTITY", "WHAT", "ADAPTER", "VIA", "STATUS"]
    row = next(line for line in lines if dimmer.address in line)
    mac = ":".join(dimmer.mac_hex[i:i + 2] for i in range(0, 12, 2))
    assert f"mac:{mac}" in row and row.split()[-3:] == ["tasmota", "probe", "new"]
    assert "ignored" in result.output and "192.0.2.1:80" in result.output
    # other processes on this machine may announce on loopback too: at least the target is probed
    assert "listening on 127.0.0.1 for 0.3 s" in result.stderr and re.search(r"probing [1-9]\d* device", result.stderr)


def test_discover_refuses_a_bad_interface() -> None:
    result = CliRunner().invoke(app, ["discover", "--interface", "eth0"])
    assert result.exit_code == 2 and "not an IPv4 address" in result.output


@pytest.mark.parametrize(("args", "error"), [
    (["--name", "lamp"], "--name and --room go with --add"),
    (["--add", "1", "--ignore", "2"], "one of --add, --ignore, --unignore"),
    (["--demo", "--add", "1"], "nothing to add or ignore"),
    (["--add", "1", "--name", "lamp"], "run a scan first"),
])
def test_discover_verdicts_refused_with_one_line(args: list[str], error: str) -> None:
    result = CliRunner().invoke(app, ["discover", *args])
    assert result.exit_code == 2 and error in result.output


async def test_discovery_never_runs_unpinned() -> None:
    with pytest.raises(DiscoveryError):
        await scan([])
    with pytest.raises(DiscoveryError):
        mdns.pinned_zeroconf([])
    with pytest.raises(DiscoveryError):
        await ssdp.discover_sonos("")
