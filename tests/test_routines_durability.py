"""Routines across real crashes: `claw run` SIGKILLed at the moment a routine fires and in the middle of a run
runs the slot exactly once after a restart, with no step repeated; `claw routines run` drives the running claw."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from claw.config import SafetySettings
from claw.routines.clock import SystemClock
from claw.routines.service import Routines
from devices.sim.home import SimHome
from memory.store import Store
from tests.test_durability import REPO, free_port, read_logs, wait_for

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

ZONE = "Europe/London"


class Claws:
    """`claw run` processes on one data dir (no LLM); every one is killed at the end."""

    def __init__(self, tmp_path: Path, home: SimHome) -> None:
        self.tmp_path = tmp_path
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        devices_file = tmp_path / "devices.yaml"
        devices_file.write_text(yaml.safe_dump([d.to_dict() for d in home.devices]), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAW_")}
        env.update({"CLAW_DATA_DIR": str(tmp_path / "data"), "CLAW_CONFIG": str(tmp_path / "none.toml"),
                    "CLAW_DEVICES_FILE": str(devices_file), "CLAW_WEB__TOKEN": "routines-test-token",
                    "CLAW_ROUTINES__TIMEZONE": ZONE, "CLAW_LOG_LEVEL": "DEBUG",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))})
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.db_path = tmp_path / "data" / "claw.db"
        self.db_path.parent.mkdir(parents=True)

    def start(self) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        with open(self.logs / f"run{n}.out.log", "wb") as out, open(self.logs / f"run{n}.err.log", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "claw.cli", "run", "--port", str(free_port())],
                                    cwd=self.tmp_path, env=self.env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "claw.cli", *args], cwd=self.tmp_path, env=self.env,
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def claws(home: SimHome, tmp_path: Path) -> Iterator[Claws]:
    c = Claws(tmp_path, home)
    try:
        yield c
    finally:
        c.kill_all()


def add_routine(claws: Claws, home: SimHome, name: str, when: str, steps: list[Any]) -> int:
    with Store(claws.db_path) as store:
        routines = Routines(store, zone_name=ZONE, location=None, safety=SafetySettings(), devices=lambda: home.devices,
                            clock=SystemClock())
        return routines.create({"name": name, "when": when, "steps": steps}).id


def ledger(claws: Claws, routine_id: int) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    with Store(claws.db_path) as store:
        runs = store.runs_recent(routine_id, limit=50)
        return runs, [store.steps_of(int(r["id"])) for r in runs]


def said(claws: Claws, text: str) -> int:
    with Store(claws.db_path) as store:
        return sum(1 for r in store.db.query("SELECT text FROM outbox") if r["text"] == text)


def in_a_moment(seconds: float) -> str:
    return "once " + (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


def run_done(claws: Claws, routine_id: int) -> bool:
    runs, _ = ledger(claws, routine_id)
    return bool(runs) and runs[0]["status"] == "done"


def assert_exactly_once(claws: Claws, home: SimHome, routine_id: int, lights: list[str], message: str) -> None:
    runs, steps = ledger(claws, routine_id)
    assert [(r["status"]) for r in runs] == ["done"], runs
    assert [s["status"] for s in steps[0]] == ["done"] * len(steps[0])
    for light in lights:
        assert len(home.sim(light).commands) == 1, f"{light}: {home.sim(light).commands}"
        assert home.sim(light).state["on"] is True
    assert said(claws, message) == 1


def test_sigkill_at_the_moment_of_firing_runs_the_slot_once(claws: Claws, home: SimHome) -> None:
    """Killed right after the slot entered the ledger, before any device step: the restart resumes that run."""
    routine_id = add_routine(claws, home, "fire", in_a_moment(4), [
        {"wait": "2s"}, "kitchen light:turn_on", "hallway light:turn_on", {"say": "fire: done"}])
    proc = claws.start()
    wait_for(lambda: ledger(claws, routine_id)[0], 30, "the slot in the ledger", (proc,), claws.logs)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    runs, steps = ledger(claws, routine_id)
    assert [r["status"] for r in runs] == ["running"] and all(s["status"] == "started" for s in steps[0])
    assert home.physical_commands() == 0

    proc2 = claws.start()
    wait_for(lambda: run_done(claws, routine_id), 30, "the resumed run", (proc2,), claws.logs)
    assert_exactly_once(claws, home, routine_id, ["kitchen light", "hallway light"], "fire: done")
    assert "resuming routine run" in read_logs(claws.logs)


def test_sigkill_mid_run_resumes_without_repeating_a_done_step(claws: Claws, home: SimHome) -> None:
    routine_id = add_routine(claws, home, "mid", in_a_moment(3), [
        "kitchen light:turn_on", {"say": "mid: half way"}, {"wait": "3s"}, "hallway light:turn_on",
        {"say": "mid: done"}])
    proc = claws.start()

    def halfway() -> bool:
        _, steps = ledger(claws, routine_id)
        return bool(steps) and len(steps[0]) >= 3
    wait_for(halfway, 30, "the run to reach its wait step", (proc,), claws.logs)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(home.sim("kitchen light").commands) == 1 and home.sim("hallway light").commands == []

    proc2 = claws.start()
    wait_for(lambda: run_done(claws, routine_id), 30, "the resumed run", (proc2,), claws.logs)
    assert_exactly_once(claws, home, routine_id, ["kitchen light", "hallway light"], "mid: done")
    assert said(claws, "mid: half way") == 1
    # a third start changes nothing: the slot is done
    proc2.kill()
    proc2.wait(timeout=10)
    proc3 = claws.start()
    wait_for(lambda: "claw ready" in (claws.logs / "run2.out.log").read_text(), 30, "the third start", (proc3,),
             claws.logs)
    time.sleep(1.5)  # more than the scheduler's poll
    assert ledger(claws, routine_id)[0][0]["status"] == "done" and len(ledger(claws, routine_id)[0]) == 1
    assert len(home.sim("kitchen light").commands) == 1 and said(claws, "mid: done") == 1


def test_claw_routines_run_drives_the_running_claw(claws: Claws, home: SimHome) -> None:
    routine_id = add_routine(claws, home, "by hand", "weekdays 07:00", ["bedroom light:turn_on"])
    proc = claws.start()
    wait_for(lambda: "claw ready" in (claws.logs / "run0.out.log").read_text(), 30, "the claw", (proc,),
             claws.logs)
    result = claws.cli("routines", "run", "by hand", "--wait", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "“by hand” (by hand): done" in result.stdout
    assert home.sim("bedroom light").state["on"] is True and len(home.sim("bedroom light").commands) == 1
    runs, _ = ledger(claws, routine_id)
    assert [(r["kind"], r["status"]) for r in runs] == [("manual", "done")]
