"""`claw routines …`: add (options, words, a JSON spec), list, show, pause, resume, delete, run, history, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claw.cli import app
from memory.store import Store

runner = CliRunner()
DEVICES = """\
- {id: 'serial:L1', name: kitchen light, kind: light, room: kitchen, capabilities: [power, brightness],
   driver: http, address: '127.0.0.1:9', adapter: claw-sim-light}
- {id: 'serial:D1', name: front door, kind: lock, room: hallway, capabilities: [lock], driver: http,
   address: '127.0.0.1:9', adapter: claw-sim-lock}
"""


@pytest.fixture(autouse=True)
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    devices = tmp_path / "devices.yaml"
    devices.write_text(DEVICES, encoding="utf-8")
    monkeypatch.setenv("CLAW_DEVICES_FILE", str(devices))
    monkeypatch.setenv("CLAW_ROUTINES__TIMEZONE", "Europe/London")


def claw(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["routines", *args], input=input)
    return result.exit_code, result.output


def db(tmp_path: Path) -> Store:
    return Store(tmp_path / "data" / "claw.db")


def test_add_list_show_pause_resume_delete(tmp_path: Path) -> None:
    code, out = claw("add", "morning", "--at", "07:00", "--weekdays", "--step", "kitchen light:turn_on",
                     "--step", "say:Good morning")
    assert code == 0, out
    assert out.startswith("added “morning” (#1): every weekday at 07:00 (Europe/London), turn on the kitchen "
                          "light and tell you “Good morning”. Next: ")
    assert len(re.findall(r"\w{3} \d+ \w{3}( \d{4})? 07:00 (GMT|BST)", out)) == 3, out  # the next three times
    code, out = claw("list")
    assert code == 0 and "#1" in out and "morning" in out and "every weekday at 07:00" in out and "next " in out
    code, out = claw("show", "MORNING")
    assert code == 0 and "If I am down at that time, I run it when I am back within 10 minutes" in out
    assert claw("pause", "1") == (0, "paused “morning”\n")
    assert "paused" in claw("list")[1]
    code, out = claw("resume", "#1")
    assert code == 0 and out.startswith("resumed “morning”")
    assert claw("delete", "morning") == (0, "deleted “morning”\n")
    assert claw("list") == (0, "no routines yet (see `claw routines add --help`)\n")
    assert claw("show", "morning")[0] == 2


def test_add_with_words_and_options(tmp_path: Path) -> None:
    code, out = claw("add", "plants", "--when", "every 2h", "--step", "say:water the plants", "--missed", "always")
    assert code == 0 and "every 2 hours" in out and "however late" in out
    code, out = claw("add", "nightcap", "--once", "in 20m", "--step", "kitchen light:set_brightness brightness=20",
                     "--grace", "1m")
    assert code == 0 and "once, on" in out and "set the kitchen light to 20%" in out and "within 1 minute" in out
    with db(tmp_path) as store:
        rows = {r["name"]: r for r in store.routines_all()}
    assert rows["plants"]["missed"] == "always"
    assert rows["nightcap"]["steps"] == [{"kind": "device", "device": "serial:L1", "command": "set_brightness",
                                          "args": {"brightness": 20}, "confirmed": False}]
    assert rows["nightcap"]["grace"] == 60


def test_add_from_a_json_spec(tmp_path: Path) -> None:
    spec = {"name": "evening", "trigger": {"kind": "daily", "at": "18:30", "days": ["sat", "sun"]},
            "steps": [{"device": "kitchen light", "command": "turn_on"}, {"wait": "10m"},
                      {"prompt": "what's the temperature in the hallway?"}], "tz": "America/New_York"}
    path = tmp_path / "evening.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    code, out = claw("add", "--json", str(path))
    assert code == 0, out
    assert "every weekend day at 18:30 (America/New_York)" in out and "wait 10 minutes" in out
    code, out = claw("add", "again", "--json", "-", input=json.dumps({**spec, "name": "ignored"}))
    assert code == 0 and out.startswith("added “again” (#2)")
    assert claw("add", "--json", "-", input="[1, 2]")[0] == 2


def test_a_risky_step_needs_yes(tmp_path: Path) -> None:
    code, out = claw("add", "door", "--at", "08:00", "--step", "front door:unlock")
    assert code == 2 and "not added: it would unlock the front door, a risky step; confirm it with --yes" in out
    assert claw("list")[1].startswith("no routines")
    code, out = claw("add", "door", "--at", "08:00", "--step", "front door:unlock", "--yes")
    assert code == 0 and "Confirmed to run unattended: unlock the front door." in out
    with db(tmp_path) as store:
        [row] = store.routines_all()
    assert row["steps"][0]["confirmed"] is True


@pytest.mark.parametrize(("args", "error"), [
    (["x", "--step", "say:hi"], "say when, once"),
    (["x", "--at", "07:00", "--every", "1h", "--step", "say:hi"], "say when, once"),
    (["x", "--every", "1h", "--weekdays", "--step", "say:hi"], "go with --at"),
    (["x", "--at", "07:00", "--step", "toaster:turn_on"], "I don't know a device called “toaster”"),
    (["x", "--at", "07:00", "--step", "front door:set_brightness brightness=3"], "cannot set brightness"),
    (["x", "--at", "07:00"], "1 to 50 steps"),
    (["x", "--sunset", "--step", "say:hi"], "latitude and longitude"),
    (["x", "--at", "07:00", "--step", "say:hi", "--missed", "sometimes"], "missed must be one of"),
    (["x", "--at", "07:00", "--step", "say:hi", "--tz", "Atlantis/Capital"], "unknown time zone"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], error: str) -> None:
    code, out = claw("add", *args)
    assert code == 2, out
    assert out.startswith("error: ") and error in out and len(out.strip().splitlines()) == 1


def test_run_without_a_running_claw_is_queued_and_history_shows_it(tmp_path: Path) -> None:
    assert claw("add", "morning", "--at", "07:00", "--step", "say:hi")[0] == 0
    code, out = claw("run", "morning")
    assert code == 0 and "no claw is running" in out
    code, out = claw("history")
    assert code == 0 and "“morning” (by hand): queued" in out
    assert claw("history", "nosuch")[0] == 2


def test_sunrise_with_a_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAW_ROUTINES__LATITUDE", "69.65")
    monkeypatch.setenv("CLAW_ROUTINES__LONGITUDE", "18.96")
    monkeypatch.setenv("CLAW_ROUTINES__TIMEZONE", "Europe/Oslo")
    code, out = claw("add", "dawn", "--sunrise", "--offset", "-15m", "--step", "kitchen light:turn_on")
    assert code == 0 and "15 minutes before sunrise every day (Europe/Oslo)" in out


def test_the_location_is_both_or_neither(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAW_ROUTINES__LATITUDE", "51.5")
    code, out = claw("list")
    assert code == 2 and "latitude and longitude" in out
