"""`claw doctor` and `claw pair`: the settings checks, the signed probe against a real uvicorn, the CLI output."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from fastapi import FastAPI, Response
from typer.testing import CliRunner

from claw.channels.access import APPROVED_NOTICE, issue_code
from claw.channels.base import Inbound
from claw.channels.registry import channel_routes
from claw.channels.whatsapp.doctor import config_checks, probe_webhook, run_checks, webhook_urls
from claw.cli.doctor import doctor_command
from claw.cli.pair import pair_app
from claw.config import Settings, TwilioSettings, WebSettings
from claw.runtime import Claw
from memory.store import Store
from tests.conftest import make_settings

TOKEN = "0123456789abcdef0123456789abcdef"
SID = "AC" + "0123456789abcdef" * 2
PUBLIC = "https://claw.example.test"
GOOD = {"account_sid": SID, "auth_token": TOKEN, "from_number": "whatsapp:+14155238886", "public_url": PUBLIC,
        "owners": ["+15551230001"]}


def settings_with(tmp_path: Path, port: int = 8000, **twilio: Any) -> Settings:
    return make_settings(tmp_path, twilio=TwilioSettings(**{**GOOD, **twilio}),
                         web=WebSettings(host="127.0.0.1", port=port))


def statuses(settings: Settings) -> dict[str, str]:
    return {c.name: c.status for c in config_checks(settings)}


# the settings table ------------------------------------------------------------------------------
def test_a_good_configuration_passes_every_check(tmp_path: Path) -> None:
    checks = config_checks(settings_with(tmp_path))
    assert {c.status for c in checks} == {"ok"}, checks
    assert [c.name for c in checks] == ["twilio settings", "account_sid", "auth_token", "from_number", "owners",
                                        "public_url", "24-hour window", "pairing"]
    assert all(TOKEN not in c.message and TOKEN[4:20] not in c.message for c in checks)


@pytest.mark.parametrize(("change", "name", "status"), [
    ({"account_sid": "SK" + "0" * 32}, "account_sid", "fail"),
    ({"account_sid": "AC123"}, "account_sid", "fail"),
    ({"auth_token": "not-a-token-" + TOKEN}, "auth_token", "fail"),
    ({"auth_token": TOKEN.upper()}, "auth_token", "fail"),
    ({"from_number": "+14155238886"}, "from_number", "fail"),
    ({"from_number": "whatsapp:14155238886"}, "from_number", "fail"),
    ({"owners": []}, "owners", "fail"),
    ({"owners": ["+15551230001", "5551230002"]}, "owners", "fail"),
    ({"public_url": "http://claw.example.test"}, "public_url", "warn"),
    ({"public_url": "https://localhost:8000"}, "public_url", "fail"),
    ({"public_url": "https://127.0.0.1"}, "public_url", "fail"),
    ({"public_url": "https://192.168.1.20"}, "public_url", "fail"),
    ({"public_url": "https://claw.local"}, "public_url", "fail"),
    ({"public_url": "https://claw.example.test/claw"}, "public_url", "warn"),
    ({"public_url": "https://claw.example.test/?x=1"}, "public_url", "fail"),
    ({"public_url": "ftp://claw.example.test"}, "public_url", "fail"),
    ({"window_policy": "template"}, "template_content_sid", "fail"),
    ({"window_policy": "template", "template_content_sid": "HX123"}, "template_content_sid", "fail"),
    ({"window_policy": "template", "template_content_sid": "HX" + "ab" * 16}, "template_content_sid", "ok"),
    ({"api_base": "http://127.0.0.1:9"}, "api_base", "warn"),
    ({"account_sid": None}, "twilio settings", "fail"),
])
def test_each_bad_setting_is_reported(tmp_path: Path, change: dict[str, Any], name: str, status: str) -> None:
    found = statuses(settings_with(tmp_path, **change))
    assert found[name] == status, found
    others = {k: v for k, v in found.items() if k not in (name, "twilio settings", "account_sid")}
    assert set(others.values()) <= {"ok"}, found


def test_no_twilio_settings_at_all_is_one_failure_with_a_fix(tmp_path: Path) -> None:
    [check] = config_checks(make_settings(tmp_path))
    assert (check.name, check.status) == ("twilio settings", "fail")
    assert check.fix and "CLAW_TWILIO__AUTH_TOKEN" in check.fix


def test_webhook_urls_are_built_from_the_public_url(tmp_path: Path) -> None:
    assert webhook_urls(settings_with(tmp_path, public_url=PUBLIC + "/")) == {
        "incoming": PUBLIC + "/twilio/whatsapp", "status": PUBLIC + "/twilio/status"}
    assert webhook_urls(make_settings(tmp_path)) is None


# the probe against a real server ----------------------------------------------------------------
@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[int]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def router_app(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, Claw]]:
    claw = Claw(settings_with(tmp_path / "server"))
    app = FastAPI()
    inbound = Inbound(submit=claw.agent.submit, store=claw.store, notifier=claw.notifier,
                      note_status=claw.outbox.note_status)
    [router] = channel_routes(claw.settings, inbound)  # the WhatsApp webhooks, as claw.web.app includes them
    app.include_router(router)
    yield app, claw
    claw.store.close()


async def test_probe_of_the_running_webhook_is_ok_and_stores_nothing(router_app: Any, tmp_path: Path) -> None:
    app, claw = router_app
    async with serving(app) as port:
        checks = await run_checks(settings_with(tmp_path, port=port))
    probe = checks[-1]
    assert (probe.name, probe.status) == ("webhook (local)", "ok"), probe
    assert f"127.0.0.1:{port}/twilio/whatsapp" in probe.message
    assert claw.store.inbox_get(1) is None


async def test_probe_with_another_token_or_public_url_is_refused(router_app: Any, tmp_path: Path) -> None:
    app, _ = router_app
    async with serving(app) as port:
        wrong_token = await probe_webhook(settings_with(tmp_path, port=port, auth_token="f" * 32), "http://127.0.0.1:"
                                          f"{port}")
        wrong_url = await probe_webhook(settings_with(tmp_path, port=port, public_url="https://other.example.test"),
                                        f"http://127.0.0.1:{port}")
    for check in (wrong_token, wrong_url):
        assert check.status == "fail" and "403" in check.message and check.fix


async def test_probe_reports_no_server_no_route_and_a_stranger(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    down = await probe_webhook(settings_with(tmp_path), f"http://127.0.0.1:{closed_port}", timeout=2)
    assert down.status == "fail" and "no answer" in down.message and "claw run" in (down.fix or "")
    other = FastAPI()

    @other.post("/twilio/whatsapp")
    async def imposter() -> Response:
        return Response("ok")

    async with serving(FastAPI()) as empty_port, serving(other) as other_port:
        missing = await probe_webhook(settings_with(tmp_path), f"http://127.0.0.1:{empty_port}")
        imposter_check = await probe_webhook(settings_with(tmp_path), f"http://127.0.0.1:{other_port}")
    assert missing.status == "fail" and "404" in missing.message
    assert imposter_check.status == "warn"


# the commands ------------------------------------------------------------------------------------
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("doctor")(doctor_command)
    app.add_typer(pair_app, name="pair")
    return app


def twilio_env(**overrides: str) -> dict[str, str]:
    env = {"CLAW_TWILIO__ACCOUNT_SID": SID, "CLAW_TWILIO__AUTH_TOKEN": TOKEN,
           "CLAW_TWILIO__FROM_NUMBER": "whatsapp:+14155238886", "CLAW_TWILIO__PUBLIC_URL": PUBLIC,
           "CLAW_TWILIO__OWNERS": '["+15551230001"]'}
    env.update(overrides)
    return env


def test_doctor_command_prints_the_urls_and_never_the_token() -> None:
    result = CliRunner().invoke(cli(), ["doctor", "--no-local"], env=twilio_env())
    assert result.exit_code == 0, result.output
    assert f"When a message comes in:  {PUBLIC}/twilio/whatsapp" in result.output
    assert f"Status callback URL:      {PUBLIC}/twilio/status" in result.output
    assert TOKEN not in result.output and TOKEN[8:24] not in result.output
    bad = CliRunner().invoke(cli(), ["doctor", "--no-local"],
                             env=twilio_env(CLAW_TWILIO__AUTH_TOKEN="x" + TOKEN, CLAW_TWILIO__OWNERS="[]"))
    assert bad.exit_code == 1
    assert "[FAIL] auth_token" in bad.output and "[FAIL] owners" in bad.output and "fix:" in bad.output
    assert TOKEN not in bad.output


def test_doctor_command_reports_a_broken_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "claw.toml"
    config.write_text('[twilio]\nauth_token = "' + TOKEN + '"\nrate_limit_per_minute = "lots"\n', encoding="utf-8")
    monkeypatch.setenv("CLAW_CONFIG", str(config))
    result = CliRunner().invoke(cli(), ["doctor", "--no-local"])
    assert result.exit_code == 1 and "[FAIL] config" in result.output
    assert TOKEN not in result.output


def test_pair_list_approve_and_deny_from_the_command_line(tmp_path: Path) -> None:
    store = Store(tmp_path / "data" / "claw.db")  # the data dir the autouse fixture points CLAW_DATA_DIR at
    alex = issue_code(store, "whatsapp", "whatsapp:+15557654321", 600)
    bo = issue_code(store, "whatsapp", "whatsapp:+447700900123", 600)
    store.close()
    runner = CliRunner()
    listing = runner.invoke(cli(), ["pair", "list"])
    assert listing.exit_code == 0 and alex in listing.output and "+15557654321" in listing.output
    assert runner.invoke(cli(), ["pair", "approve", alex]).exit_code == 0
    assert runner.invoke(cli(), ["pair", "deny", bo]).exit_code == 0
    unknown = runner.invoke(cli(), ["pair", "approve", "000000" if alex != "000000" else "000001"])
    assert unknown.exit_code == 1
    store = Store(tmp_path / "data" / "claw.db")
    try:
        assert store.sender_get("whatsapp", "whatsapp:+15557654321")["status"] == "allowed"
        assert store.sender_get("whatsapp", "whatsapp:+447700900123")["status"] == "denied"
        # the approved number is told (through a Notifier, for the running claw's outbox); the denied one is not
        told = store.outbox_due(float("inf"))
        assert [(r["channel"], r["recipient"], r["text"]) for r in told] == [
            ("whatsapp", "whatsapp:+15557654321", APPROVED_NOTICE)]
    finally:
        store.close()
