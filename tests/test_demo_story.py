"""Issue 9's demo story, end to end in a real `claw demo` process: scan, learn the pool controller with the
demo's scripted draft (no LLM configured), approve, and set the pool through the learned adapter with one YES."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from claw.cli import app
from devices.sim.home import random_loopback_base
from tests.test_cli_running import serving

runner = CliRunner()


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./claw.toml or ./.env of the developer


class Chat:
    """The web chat of a running demo, as the owner (the link `claw demo` printed)."""

    def __init__(self, url: str) -> None:
        self.base, token = url.split("/#token=")
        self.headers = {"Authorization": f"Bearer {token}"}

    def say(self, text: str) -> str:
        answer = httpx.post(self.base + "/api/chat", json={"text": text}, headers=self.headers, timeout=60,
                            trust_env=False)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["reply"])

    def device(self, name: str) -> dict[str, Any]:
        devices = httpx.get(self.base + "/api/devices", headers=self.headers, trust_env=False).json()
        return next(d for d in devices if d["name"] == name)


def pool_status(address: str) -> dict[str, Any]:
    """What the pool simulator itself says (its own HTTP API, not the claw's idea of it)."""
    return dict(httpx.get(f"http://{address}/api/v1/status", timeout=5, trust_env=False).json()["pool"])


def test_scan_learn_approve_and_set_the_pool_in_a_running_demo(tmp_path: Path) -> None:
    sim_ip = random_loopback_base()  # not 127.0.0.2: another demo on this machine may hold its Sonos port
    lan = sim_ip.rsplit(".", 1)[0] + "."
    with serving(tmp_path, "demo", "--port", "0", "--no-console", "--sim-ip", sim_ip) as url:
        chat = Chat(url)
        for _ in range(3):  # one pass listens 1.5 s: on a loaded machine mDNS answers can come late; scan again
            scanned = chat.say("scan my network")
            if "“Pool Controller”" in scanned:
                break
        assert scanned.startswith("I scanned 127.0.0.1 "), scanned  # the demo looks on loopback only
        pool_line = next((line for line in scanned.splitlines() if "“Pool Controller”" in line), "")
        assert "(no adapter yet)" in pool_line and f"at {lan}" in pool_line, scanned
        assert "say “learn the pool controller”" in scanned
        assert f"To also sweep {lan}0/24 with nmap" in scanned  # the demo's own LAN, never the real network
        assert all(f" at {lan}" in line for line in scanned.splitlines() if line.startswith("#")), scanned

        learned = chat.say("learn the pool controller")
        assert "No language model is configured, so I used the demo's built-in draft" in learned, learned
        match = re.search(r"Every request it would send \(to http://(\S+) only\):", learned)
        assert match and match.group(1).startswith(lan), learned
        pool = match.group(1)
        for request in ("GET /api/v1/status", "POST /api/v1/pool/setpoint", "GET /api/v1/system"):
            assert f"- {request}" in learned, learned
        assert "Reply YES" in learned and "add “pool”" in learned

        approved = chat.say("yes")
        assert "is approved and “pool” is added" in approved, approved
        assert chat.device("pool")["address"] == pool

        before = pool_status(pool)["setpoint_c"]
        asked = chat.say("set the pool to 28 degrees")
        # one question names both reasons: the learned adapter's first write, and 28 above hvac_max (26)
        assert "newly learned adapter poolpilot" in asked and "outside the safe range 16–26 °C" in asked, asked
        assert "Reply YES" in asked
        assert pool_status(pool)["setpoint_c"] == before != 28  # nothing sent before the YES

        done = chat.say("yes")
        assert "28" in done and "pool" in done, done
        assert pool_status(pool)["setpoint_c"] == 28  # one YES was enough
        assert chat.device("pool")["attrs"]["adapter_trusted"] is True
        assert chat.say("yes").startswith("There's nothing waiting for your YES")

    # a restarted demo follows the learned pool by its identity to wherever its simulator listens now
    with serving(tmp_path, "demo", "--port", "0", "--no-console", "--sim-ip", sim_ip) as url:
        chat = Chat(url)
        moved = chat.device("pool")
        for _ in range(3):  # both start passes missed it (a loaded machine): a scan follows it by identity too
            if moved["address"] != pool:
                break
            chat.say("scan my network")
            moved = chat.device("pool")
        assert moved["address"] != pool and moved["address"].startswith(lan) and moved["adapter"] == "poolpilot"
        reply = chat.say("set the pool to 25 degrees")  # trusted now, inside the safe range: no question
        assert "YES" not in reply, reply
        assert pool_status(moved["address"])["setpoint_c"] == 25


def test_the_demo_keeps_its_simulators_on_loopback() -> None:
    for bad, why in (("192.168.1.2", "is not a loopback address"), ("pool", "is not an IPv4 address")):
        result = runner.invoke(app, ["demo", "--no-console", "--sim-ip", bad])
        assert result.exit_code == 2 and why in result.stderr, result.output


def test_claw_discover_demo_lists_the_pool_as_unknown_with_how_to_learn_it() -> None:
    result = runner.invoke(app, ["discover", "--demo", "--timeout", "2"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines() if line[:1].isdigit() and "127." in line]
    hosts = {row[1].rsplit(":", 1)[0] for row in rows if row[1] != "-"}
    assert len(hosts) <= 3, hosts  # only this demo's own LAN (its /24), not other processes' simulators
    unknown = [row for row in rows if row[-3:] == ["unknown", "mdns,probe", "new"]]
    assert len(unknown) == 1, result.stdout  # the pool controller, the only gadget no shipped spec matches
    assert "unknown devices need an adapter: ask the claw to learn one (“learn the pool controller”)" in result.stdout
