"""Crash durability: a `claw run` process SIGKILLed mid-turn resumes the turn on restart, acting and answering once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devices.sim.home import SimHome
from memory.store import Store
from tests.fakes.openai_server import ScriptedOpenAI, call, calls, hang, hang_once_then, reply

REPO = Path(__file__).resolve().parents[1]
TOKEN = "durability-test-token"
API_KEY = "sk-durability-SECRET-4f9c2a"
FINAL = "Kitchen light is on."

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             procs: tuple[subprocess.Popen[bytes], ...] = (), logs: Path | None = None) -> Any:
    """Poll until predicate() is truthy; fail with the claw's log if a process died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"claw exited ({proc.returncode}) while waiting for {what}:\n{read_logs(logs)}")
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}:\n{read_logs(logs)}")


def read_logs(logs: Path | None) -> str:
    if logs is None:
        return ""
    return "\n".join(p.read_text(errors="replace") for p in sorted(logs.glob("*.log")))


class ClawProcesses:
    """Starts `claw run` subprocesses against one data dir and kills every one of them at the end."""

    def __init__(self, tmp_path: Path, home: SimHome, llm: ScriptedOpenAI) -> None:
        self.tmp_path = tmp_path
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        devices_file = tmp_path / "devices.yaml"
        devices_file.write_text(yaml.safe_dump([d.to_dict() for d in home.devices]), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAW_")}
        env.update({
            "CLAW_DATA_DIR": str(tmp_path / "data"),
            "CLAW_CONFIG": str(tmp_path / "none.toml"),
            "CLAW_DEVICES_FILE": str(devices_file),
            "CLAW_LLM__BASE_URL": llm.base_url,
            "CLAW_LLM__MODEL": "scripted",
            "CLAW_LLM__API_KEY": API_KEY,
            "CLAW_WEB__TOKEN": TOKEN,
            "CLAW_LOG_LEVEL": "DEBUG",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        })
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def db_path(self) -> Path:
        return self.tmp_path / "data" / "claw.db"

    def start(self) -> tuple[subprocess.Popen[bytes], str]:
        """Start `claw run` on a free port and wait until /api/health answers; returns (process, base URL)."""
        port = free_port()
        n = len(self.procs)
        with open(self.logs / f"run{n}.out.log", "wb") as out, open(self.logs / f"run{n}.err.log", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "claw.cli", "run", "--port", str(port)],
                                    cwd=self.tmp_path, env=self.env, stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 30, "/api/health", (proc,), self.logs)
        return proc, url

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@contextmanager
def post_in_background(url: str, text: str) -> Iterator[dict[str, Any]]:
    """POST /api/chat from a thread (the answer never comes: the server gets killed); joined on exit."""
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            outcome["response"] = httpx.post(f"{url}/api/chat", json={"text": text}, timeout=30,
                                             headers={"Authorization": f"Bearer {TOKEN}"})
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=post, name="chat-post")
    thread.start()
    try:
        yield outcome
    finally:
        thread.join(timeout=35)


def last_role(request: dict[str, Any]) -> str:
    messages = request.get("messages") or [{}]
    return str(messages[-1].get("role"))


def pending_row(db_path: Path, text: str) -> dict[str, Any]:
    with Store(db_path) as store:
        rows = [r for r in store.inbox_pending() if r["text"] == text]
    assert len(rows) == 1, f"expected one unfinished inbox row for {text!r}, got {rows}"
    return rows[0]


def row_status(db_path: Path, inbox_id: int) -> str | None:
    with Store(db_path) as store:
        row = store.inbox_get(inbox_id)
    return None if row is None else str(row["status"])


def replies_sent(db_path: Path, inbox_id: int) -> bool:
    """The turn is done and every reply of it left through the outbox dispatcher."""
    with Store(db_path) as store:
        rows = store.outbox_for_inbox(inbox_id)
    return bool(rows) and all(r["status"] in ("sent", "delivered") for r in rows)


@pytest.fixture
def llm() -> Iterator[ScriptedOpenAI]:
    server = ScriptedOpenAI(model="scripted").start()
    yield server
    server.stop()


def test_sigkill_after_the_action_resumes_without_acting_twice(home: SimHome, llm: ScriptedOpenAI,
                                                               tmp_path: Path) -> None:
    light = home.sim("kitchen light")
    assert light.state["on"] is False
    release = threading.Event()
    hanging = threading.Event()
    tool_answers = 0
    lock = threading.Lock()

    def script(request: dict[str, Any]) -> dict[str, Any]:
        nonlocal tool_answers
        role = last_role(request)
        if role == "user":
            return calls(call("control_device", {"device": "kitchen light", "command": "turn_on"}))
        if role == "tool":
            with lock:
                tool_answers += 1
                first = tool_answers == 1
            if first:
                hanging.set()
                return hang(None, release, then=reply(FINAL))
            return reply(FINAL)
        return reply(f"unexpected last message role {role!r}")

    llm.script = [script]
    claws = ClawProcesses(tmp_path, home, llm)
    text = "make the kitchen nice"
    try:
        proc, url = claws.start()
        with post_in_background(url, text) as outcome:
            wait_for(lambda: len(light.commands) == 1 and hanging.is_set(), 20,
                     "the light command and the hanging LLM request", (proc,), claws.logs)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        assert "response" not in outcome, "the killed claw must not have answered"

        row = pending_row(claws.db_path, text)
        inbox_id = int(row["id"])
        assert row["channel"] == "web"
        with Store(claws.db_path) as store:
            assert store.outbox_for_inbox(inbox_id) == []
            ledger = store.audit_for_inbox(inbox_id)
        assert [(a["command"], a["status"]) for a in ledger] == [("turn_on", "done")]
        assert light.state["on"] is True

        proc2, _ = claws.start()
        wait_for(lambda: row_status(claws.db_path, inbox_id) == "done", 20, "the resumed turn", (proc2,),
                 claws.logs)
        wait_for(lambda: replies_sent(claws.db_path, inbox_id), 10, "the reply to leave the outbox", (proc2,),
                 claws.logs)

        assert len(light.commands) == 1, f"the light was commanded again: {light.commands}"
        assert home.physical_commands() == 1
        assert light.state["on"] is True
        with Store(claws.db_path) as store:
            replies = store.outbox_for_inbox(inbox_id)
            ledger = store.audit_for_inbox(inbox_id)
            assert store.inbox_pending() == []
        assert [r["text"] for r in replies] == [FINAL]
        assert len(ledger) == 1
        assert (ledger[0]["command"], ledger[0]["status"]) == ("turn_on", "done")
        light_id = next(d.id for d in home.devices if d.name == "kitchen light")
        assert ledger[0]["device_id"] == light_id
        # the restarted claw asked the model again (user -> tool call -> tool result -> answer)
        assert sum(1 for r in llm.requests if last_role(r) == "tool") == 2
    finally:
        claws.kill_all()
    assert API_KEY not in read_logs(claws.logs)


def test_sigkill_before_any_answer_replies_once_after_restart(home: SimHome, llm: ScriptedOpenAI,
                                                              tmp_path: Path) -> None:
    answered = "Good evening! Nothing needed changing."
    script, release, hanging = hang_once_then(reply(answered))
    llm.script = [script]
    claws = ClawProcesses(tmp_path, home, llm)
    text = "say good evening to everyone"
    try:
        proc, url = claws.start()
        with post_in_background(url, text) as outcome:
            wait_for(hanging.is_set, 20, "the first LLM request", (proc,), claws.logs)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        assert "response" not in outcome

        inbox_id = int(pending_row(claws.db_path, text)["id"])
        proc2, _ = claws.start()
        wait_for(lambda: row_status(claws.db_path, inbox_id) == "done", 20, "the resumed turn", (proc2,),
                 claws.logs)
        wait_for(lambda: replies_sent(claws.db_path, inbox_id), 10, "the reply to leave the outbox", (proc2,),
                 claws.logs)
        with Store(claws.db_path) as store:
            replies = store.outbox_for_inbox(inbox_id)
            assert store.inbox_pending() == []
            assert store.audit_for_inbox(inbox_id) == []
        assert [r["text"] for r in replies] == [answered]
        assert home.physical_commands() == 0
        assert len(llm.requests) == 2
    finally:
        claws.kill_all()
    assert API_KEY not in read_logs(claws.logs)
