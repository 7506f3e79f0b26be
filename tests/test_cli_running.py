"""`claw token` and `claw devices` against a running claw: `claw demo` (with --demo) and `claw run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from claw.cli import app
from tests.test_cli import claw_env

runner = CliRunner()
PORCH = "devices:\n  - {type: light, name: porch light, room: porch}\n"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./claw.toml or ./.env of the developer


@contextmanager
def serving(tmp_path: Path, *args: str, **env: str) -> Iterator[str]:
    """A real `claw ...` process (same data dir and config as the in-process CLI) until it listens; yields the
    chat URL it printed, and stops it with SIGINT (like Ctrl-C) on exit."""
    proc = subprocess.Popen([sys.executable, "-m", "claw.cli", *args], cwd=tmp_path, env=claw_env(tmp_path, **env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("claw ready"):
            proc.kill()
            pytest.fail(f"{args} did not start: {line}{proc.communicate(timeout=10)}")
        yield line.split(": ", 1)[1].strip()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def test_token_and_devices_reach_a_running_demo(tmp_path: Path) -> None:
    home = tmp_path / "home.yaml"
    home.write_text(PORCH, encoding="utf-8")  # HTTP devices only: port 0, no fixed Sonos address to collide on
    with serving(tmp_path, "demo", "--home", str(home), "--port", "0", "--no-console") as url:
        assert ":8000/" not in url  # --port 0: the URL must come from the running demo, not the config
        result = runner.invoke(app, ["token", "--demo"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == url
        plain = runner.invoke(app, ["token"])  # no `claw run` running: the running demo's link, which works
        assert plain.stdout.strip() == url and "claw demo" in plain.stderr
        base, token = url.split("/#token=")
        answer = httpx.get(base + "/api/devices", headers={"Authorization": f"Bearer {token}"}, trust_env=False)
        assert answer.status_code == 200 and "porch light" in answer.text  # the printed link is accepted

        result = runner.invoke(app, ["devices", "--demo"])
        assert result.exit_code == 0, result.output
        assert "porch light" in result.output and "porch " in result.output and result.stderr == ""
        assert "no devices" in runner.invoke(app, ["devices"]).output  # the real data dir knows none
    assert not (tmp_path / "data" / "demo" / "listening").exists()
    after = runner.invoke(app, ["token", "--demo"]).output.strip()
    assert after == "http://127.0.0.1:8000/" + url.split("/", 3)[3]  # same token, the configured port again
    result = runner.invoke(app, ["devices", "--demo"])  # no demo running: the demo's store
    assert result.exit_code == 0 and "porch light" in result.output and result.stderr == ""


def test_devices_asks_the_running_claw_and_its_devices_file_is_authoritative(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    devices = tmp_path / "devices.yaml"
    lines = ["- {id: 'serial:P1', name: porch light, kind: light, room: porch, capabilities: [power], driver: http,"
             " adapter: claw-sim-light, address: '127.0.0.1:9'}",
             "- {id: 'serial:S1', name: shed light, kind: light, room: shed, capabilities: [power], driver: http,"
             " adapter: claw-sim-light, address: '127.0.0.1:10'}"]
    devices.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("CLAW_DEVICES_FILE", str(devices))
    with serving(tmp_path, "run", "--port", "0", CLAW_DEVICES_FILE=str(devices)):
        devices.write_text(lines[0] + "\n", encoding="utf-8")  # the shed light is gone from the file...
        listed = runner.invoke(app, ["devices"]).output
        assert "shed light" in listed and listed.count("porch light") == 1  # ...but the running claw has it
    listed = runner.invoke(app, ["devices"]).output  # stopped: the store, with the file authoritative
    assert "shed light" not in listed and listed.count("serial:P1") == 1, listed


def test_devices_falls_back_to_the_store_when_the_running_claw_does_not_answer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "listening").write_text(json.dumps({"host": "127.0.0.1", "port": 9, "pid": os.getpid()}))  # alive
    result = runner.invoke(app, ["devices"])
    assert result.exit_code == 0, result.output
    assert "no devices yet" in result.stdout
    assert result.stderr.startswith("note: the claw at http://127.0.0.1:9/api/devices did not answer")
