"""Trust boundaries: lone surrogates, tool arguments nested too deeply, input caps, Host checks, no open API
schema, and WhatsApp delivery reports missed while the claw was down."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from claw.agent.llm import _assistant_message, parse_reply
from claw.agent.loop import Agent
from claw.agent.tools.schema import TOO_DEEP, call_tool, format_result, make_tool, parse_arguments
from claw.channels.console import console_loop
from claw.channels.notify import Notifier
from claw.cli import app as cli_app
from claw.config import LLMSettings, WebSettings
from claw.events import InboundMessage, OutboundMessage, TurnResult
from claw.runtime import Claw
from claw.web.app import create_app
from devices.sim.home import SimHome
from memory.store import Store
from tests.conftest import make_settings, running_claw
from tests.fakes.openai_server import ScriptedOpenAI, call, calls, reply
from tests.fakes.twilio_server import FakeTwilio
from tests.test_cli import claw_proc
from tests.test_whatsapp_send import twilio_settings

OWNER_WA = "whatsapp:+15551230001"
runner = CliRunner()


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def deep_json(depth: int) -> str:
    return '{"device": ' + "[" * depth + "]" * depth + "}"


@pytest.fixture
def home(shared_home: SimHome) -> SimHome:
    shared_home.reset()
    return shared_home


def web_client(claw: Claw, host: str = "127.0.0.1:8000") -> httpx.AsyncClient:
    app = create_app(claw, manage_lifecycle=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}", timeout=10)


def auth(claw: Claw) -> dict[str, str]:
    return {"Authorization": f"Bearer {claw.settings.web_token()}", "Content-Type": "application/json"}


# ------------------------------------------------------------------------------------ lone surrogates


async def test_surrogate_in_web_chat_is_cleaned_and_answered(claw: Claw) -> None:
    async with web_client(claw) as client:
        r = await client.post("/api/chat", content=b'{"text": "hi \\ud800 there"}', headers=auth(claw))
        assert r.status_code == 200, r.text
        assert r.json()["reply"].strip()
        # an input echoed in a validation error is no 500 either
        r = await client.post("/api/chat", content=b'{"text": {"\\udfff": 1}}', headers=auth(claw))
        assert r.status_code == 422 and "detail" in r.json()
    row = claw.store.inbox_get(1)
    assert row is not None and row["text"] == "hi \ufffd there" and row["status"] == "done"
    assert claw.store.inbox_get(2) is None
    assert claw.store.turns_recent(claw.settings.owner)[0]["content"] == "hi \ufffd there"


async def test_inbound_message_is_cleaned_once_for_every_channel(claw: Claw) -> None:
    msg = InboundMessage("console", "owner\udcff", "lamp \ud800 on", external_id="x\udc80")
    assert (msg.sender, msg.text, msg.external_id) == ("owner\ufffd", "lamp \ufffd on", "x\ufffd")
    assert InboundMessage("web", "o", "\ud83d\ude00").text == "\U0001f600"  # a split pair is joined, not lost
    hi = InboundMessage("console", "owner", "hi \ud800", standing="owner")
    result = await asyncio.wait_for(claw.agent.ask(hi), 10)
    assert result.tier != "error" and result.reply.strip()
    assert claw.store.inbox_get(result.inbox_id)["text"] == "hi \ufffd"  # type: ignore[index]


def test_claw_ask_with_a_surrogate_answers_without_a_traceback(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./.env of the developer
    result = runner.invoke(cli_app, ["ask", "hi \ud800 there"])
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 0
    assert len(result.output.strip().splitlines()) == 1
    proc = claw_proc(tmp_path, "ask", "hi \udcff there")  # argv bytes b"\xff": not UTF-8
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stdout.strip().splitlines()) == 1


async def test_console_takes_bad_bytes_and_refuses_an_over_long_line(
        claw: Claw, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    lines = b"hi \xff there\n" + b"x" * 100_000 + b"\nquit\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines), encoding="utf-8"))
    started = time.perf_counter()
    await asyncio.wait_for(console_loop(claw.channels["console"], claw.agent.submit,  # type: ignore[arg-type]
                                        name=claw.soul.current().voice.name, sender=claw.settings.owner,
                                        max_chars=claw.settings.max_input_chars), 10)
    took = time.perf_counter() - started
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 3, out  # ready, the reply to "hi", the refusal
    assert "100,000 characters" in out[2] and "4,000" in out[2] and "Nothing was done" in out[2]
    assert claw.store.inbox_get(1)["text"] == "hi \ufffd there"  # type: ignore[index]
    assert claw.store.inbox_get(2) is None  # the long line never became a turn, nor did its pieces
    assert took < 3, took


# ---------------------------------------------------------------------------------------- input caps


def test_claw_ask_over_the_cap_is_refused_before_anything_starts(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "capped"
    monkeypatch.setenv("CLAW_DATA_DIR", str(data))
    started = time.perf_counter()
    result = runner.invoke(cli_app, ["ask", "x" * 100_000])
    assert time.perf_counter() - started < 2
    assert result.exit_code == 2
    assert result.output.strip() == ("error: That message is 100,000 characters long; the limit is 4,000 "
                                     "(max_input_chars). Nothing was done.")
    assert not (data / "claw.db").exists()
    monkeypatch.setenv("CLAW_MAX_INPUT_CHARS", "10")
    assert runner.invoke(cli_app, ["ask", "x" * 11]).exit_code == 2
    assert not (data / "claw.db").exists()


async def test_web_chat_uses_the_same_configurable_cap(home: SimHome, tmp_path: Path) -> None:
    async with running_claw(home, tmp_path, max_input_chars=20) as claw, web_client(claw) as client:
        r = await client.post("/api/chat", json={"text": "x" * 21}, headers=auth(claw))
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "string_too_long"
        assert claw.store.inbox_get(1) is None
        r = await client.post("/api/chat", json={"text": "turn on the kitchen"}, headers=auth(claw))
        assert r.status_code == 200


# ------------------------------------------------------------------------------ deeply nested arguments


@pytest.fixture
async def llm_claw(home: SimHome, tmp_path: Path, scripted: ScriptedOpenAI) -> AsyncIterator[Claw]:
    async with running_claw(home, tmp_path, llm=LLMSettings(base_url=scripted.base_url, model="m")) as c:
        yield c


@pytest.mark.parametrize("depth", [100, 5000])
async def test_deeply_nested_tool_arguments_get_an_error_and_the_turn_completes(
        depth: int, llm_claw: Claw, scripted: ScriptedOpenAI, home: SimHome) -> None:
    scripted.push(calls(call("control_device", deep_json(depth), id="call_deep")),
                  reply("Sorry, I could not do that."))
    result = await asyncio.wait_for(llm_claw.agent.ask(InboundMessage("console", "owner", "make it cosy",
                                                                                 standing="owner")), 20)
    assert (result.tier, result.reply) == ("llm", "Sorry, I could not do that.")
    second = scripted.requests[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["arguments"] == "{}"
    assert second[-1] == {"role": "tool", "tool_call_id": "call_deep", "content": f"error: {TOO_DEEP}"}
    assert home.physical_commands() == 0


def test_parse_reply_bounds_argument_objects_and_the_echo_drops_them() -> None:
    response = {"choices": [{"message": {"content": "a \ud800", "tool_calls": [
        {"id": "c1", "function": {"name": "get_state", "arguments": {"device": nested(5000)}}},
        {"id": "c2", "function": {"name": "get_state", "arguments": {"device": "lamp"}}}]}}]}
    parsed = parse_reply(response, 1)
    assert parsed.content == "a \ufffd"
    assert parse_arguments(parsed.calls[0]["arguments"]) == ({}, TOO_DEEP)
    assert parse_arguments(parsed.calls[1]["arguments"]) == ({"device": "lamp"}, None)
    echoed = _assistant_message(parsed)["tool_calls"]
    assert [c["function"]["arguments"] for c in echoed] == ["{}", '{"device": "lamp"}']


async def test_deep_arguments_and_results_never_raise() -> None:
    assert parse_arguments({"a": nested(40)}) == ({}, TOO_DEEP)
    assert parse_arguments(json.dumps({"a": nested(31)}))[1] is None  # 32 levels with the object: fine
    assert parse_arguments(json.dumps({"a": nested(32)})) == ({}, TOO_DEEP)

    def echo(data: Any = None) -> Any:
        return nested(5000)

    tool = make_tool(echo, risk="read")
    assert await call_tool(tool, deep_json(5000).replace("device", "data")) == f"error: {TOO_DEEP}"
    assert "nested too deeply" in await call_tool(tool, "{}")
    assert "nested too deeply" in format_result({"x": nested(5000)})


# ------------------------------------------------------------------------------------- web exposure


async def test_openapi_and_docs_are_not_served(claw: Claw) -> None:
    async with web_client(claw) as client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await client.get(path)).status_code == 404, path
            assert (await client.get(path, headers=auth(claw))).status_code == 404, path


OTHER_HOSTS = ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "127.0.0.1:evil",
               "localhost@evil.example", ""]
LOOPBACK_HOSTS = ["127.0.0.1", "127.0.0.1:8000", "localhost:1234", "LOCALHOST", "[::1]:8000", "[::1]", "localhost."]


async def test_only_loopback_host_headers_are_answered(claw: Claw) -> None:
    async with web_client(claw) as client:
        for host in OTHER_HOSTS:  # a DNS-rebinding page: its own name, resolving to 127.0.0.1
            for path in ("/", "/api/health", "/api/devices"):
                r = await client.get(path, headers={"Host": host, **auth(claw)})
                assert r.status_code == 400, (host, path, r.text)
            r = await client.post("/api/chat", json={"text": "turn on the kitchen light"},
                                  headers={"Host": host, **auth(claw)})
            assert r.status_code == 400, host
        for host in LOOPBACK_HOSTS:
            assert (await client.get("/api/health", headers={"Host": host})).status_code == 200, host
            assert (await client.get("/", headers={"Host": host})).status_code == 200, host
    assert claw.store.inbox_get(1) is None


async def test_public_url_host_configured_names_and_wildcard(home: SimHome, tmp_path: Path) -> None:
    twilio_public = {"public_url": "https://claw.example.net"}
    web = WebSettings(allowed_hosts=["127.0.0.1", "claw.lan"])
    async with running_claw(home, tmp_path, twilio=twilio_public, web=web) as claw, web_client(claw) as client:
        for host in ("claw.example.net", "claw.example.net:443", "claw.lan:8000", "127.0.0.1"):
            assert (await client.get("/api/health", headers={"Host": host})).status_code == 200, host
        for host in ("localhost", "example.net", "evil.example"):  # localhost is not in this list
            assert (await client.get("/api/health", headers={"Host": host})).status_code == 400, host
    async with running_claw(home, tmp_path / "any", web=WebSettings(allowed_hosts=["*"])) as claw, \
            web_client(claw, "anything.example") as client:
        assert (await client.get("/api/health")).status_code == 200


# ----------------------------------------------------------------- WhatsApp delivery reports missed


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as f:
        yield f


async def send_while_callbacks_are_lost(fake: FakeTwilio, tmp_path: Path) -> tuple[int, str]:
    """A claw sends one reply; its status callbacks cannot reach it (no route to the public URL), as if it
    were down. Returns the outbox id and the message SID, the row left at 'sent' and backdated 2 minutes."""
    claw = Claw(make_settings(tmp_path, twilio=twilio_settings(fake)))
    oid = claw.store.outbox_add(OutboundMessage(channel="whatsapp", recipient=OWNER_WA, text="The lamp is on."))
    await claw.start()
    try:
        deadline = time.monotonic() + 10
        while (claw.store.outbox_get(oid) or {}).get("status") != "sent" and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert await asyncio.to_thread(fake.wait_settled)
        row = claw.store.outbox_get(oid)
        assert row is not None and row["status"] == "sent", row
        claw.store._write("UPDATE outbox SET updated_at = ? WHERE id = ?", (time.time() - 120, oid))
    finally:
        await claw.stop()
    assert fake.callbacks and all(c["status"] is None for c in fake.callbacks)  # none reached a claw
    return oid, str(row["external_id"])


@pytest.mark.parametrize(("outcome", "code", "expected"), [(["queued", "sent", "delivered"], None, "delivered"),
                                                            (["queued", "sent", "undelivered"], 63024, "failed")])
async def test_start_fetches_the_status_of_messages_left_at_sent(
        outcome: list[str], code: int | None, expected: str, fake: FakeTwilio, tmp_path: Path) -> None:
    fake.outcome(OWNER_WA, outcome, error_code=code)
    oid, sid = await send_while_callbacks_are_lost(fake, tmp_path)
    claw = Claw(make_settings(tmp_path, twilio=twilio_settings(fake)))
    await claw.start()
    try:
        deadline = time.monotonic() + 10
        while claw.store.outbox_get(oid)["status"] == "sent" and time.monotonic() < deadline:  # type: ignore[index]
            await asyncio.sleep(0.02)
        row = claw.store.outbox_get(oid)
        assert row is not None and row["status"] == expected
        if code:
            assert str(code) in row["error"]
    finally:
        await claw.stop()
    fetched = [a for a in fake.attempts if a["method"] == "GET"]
    assert [a["path"] for a in fetched] == [f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json"]


async def test_status_check_skips_recent_rows_and_survives_twilio_down(
        fake: FakeTwilio, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    oid, _ = await send_while_callbacks_are_lost(fake, tmp_path)
    fake.down()
    claw = Claw(make_settings(tmp_path, twilio=twilio_settings(fake)))
    with caplog.at_level(logging.WARNING, logger="claw.channels.whatsapp.send"):
        started = time.perf_counter()
        await claw.start()
        assert time.perf_counter() - started < 1  # the check runs in the background
        await asyncio.sleep(0.5)
        assert claw.store.outbox_get(oid)["status"] == "sent"  # type: ignore[index]
        await claw.stop()
    assert any("Twilio unreachable" in r.getMessage() for r in caplog.records)
    fake.up()
    claw = Claw(make_settings(tmp_path, twilio=twilio_settings(fake)))
    claw.store._write("UPDATE outbox SET updated_at = ? WHERE id = ?", (time.time(), oid))  # just sent
    await claw.start()
    await asyncio.sleep(0.3)
    assert claw.store.outbox_get(oid)["status"] == "sent"  # type: ignore[index]
    await claw.stop()
    assert not [a for a in fake.attempts if a["method"] == "GET"]  # too recent to ask about


async def test_a_reply_with_a_lone_surrogate_is_stored_and_answered(store: Store) -> None:
    """Device or model text with a lone surrogate in the reply must not break the turn's finish."""
    class Handler:
        settings = make_settings(Path("/nonexistent"))

        async def handle(self, row: dict) -> TurnResult:
            return TurnResult(reply="state: \ud800 odd", tier="intent")

    agent = Agent(store, Handler(), Notifier(store, {}, max_messages=4, owner_route=("web", "owner")))  # type: ignore[arg-type]
    result = await agent.ask(InboundMessage(channel="web", sender="owner", text="hi"))
    assert result.reply == "state: \ufffd odd"
    assert [r["text"] for r in store.outbox_for_inbox(result.inbox_id or 0)] == ["state: \ufffd odd"]
