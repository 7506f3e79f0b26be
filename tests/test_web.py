"""The web API: token auth, chat through the agent into the simulators, devices, the chat page, bad input, defaults."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from claw.config import Settings, WebSettings
from claw.runtime import Claw
from claw.web.app import create_app
from devices.sim.home import SimHome
from tests.conftest import make_settings


@pytest.fixture
def app(claw: Claw) -> FastAPI:
    return create_app(claw, manage_lifecycle=False)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000",
                                 timeout=10) as c:
        yield c


def auth(claw: Claw) -> dict[str, str]:
    return {"Authorization": f"Bearer {claw.settings.web_token()}"}


def device_id(home: SimHome, name: str) -> str:
    return next(d.id for d in home.devices if d.name == name)


async def test_chat_without_or_with_wrong_token_is_401_and_changes_nothing(
        client: httpx.AsyncClient, claw: Claw, home: SimHome) -> None:
    body = {"text": "turn on the kitchen light"}
    attempts = [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Bearer "},
                {"Authorization": f"Bearer {claw.settings.web_token()}x"}]
    for headers in attempts:
        r = await client.post("/api/chat", json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
    # auth is checked before the body, so a stranger learns nothing from validation errors
    r = await client.post("/api/chat", json={}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    for path in ("/api/devices", "/api/history", f"/api/devices/{device_id(home, 'kitchen light')}/state"):
        assert (await client.get(path)).status_code == 401, path
    await claw.agent.idle()
    assert home.sim("kitchen light").commands == []
    assert home.physical_commands() == 0
    assert claw.store.inbox_get(1) is None  # nothing reached the inbox


async def test_chat_with_token_turns_the_light_on(client: httpx.AsyncClient, claw: Claw, home: SimHome) -> None:
    light = home.sim("kitchen light")
    assert light.state["on"] is False
    r = await client.post("/api/chat", json={"text": "turn on the kitchen light"}, headers=auth(claw))
    assert r.status_code == 200, r.text
    data = r.json()
    assert set(data) == {"reply", "tier", "actions", "states", "media"}
    assert data["media"] == []  # a device command carries no picture
    assert data["tier"] == "intent"
    assert "kitchen light" in data["reply"]
    light_id = device_id(home, "kitchen light")
    assert data["actions"] == [{"device": light_id, "name": "kitchen light", "room": "kitchen", "capability": "power",
                                "command": "turn_on", "args": {}}]
    assert data["states"][light_id]["power"] is True
    assert light.state["on"] is True
    assert len(light.commands) == 1
    assert home.physical_commands() == 1


async def test_chat_reads_state_without_acting(client: httpx.AsyncClient, claw: Claw, home: SimHome) -> None:
    r = await client.post("/api/chat", json={"text": "what's the temperature in the hallway"}, headers=auth(claw))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["actions"] == []
    assert "19" in data["reply"]
    assert device_id(home, "hallway thermostat") in data["states"]
    assert home.physical_commands() == 0


async def test_health_needs_no_auth(client: httpx.AsyncClient, home: SimHome) -> None:
    r = await client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"ok": True, "devices": len(home.devices), "llm": False}


async def test_devices_lists_the_home(client: httpx.AsyncClient, claw: Claw, home: SimHome) -> None:
    r = await client.get("/api/devices", headers=auth(claw))
    assert r.status_code == 200
    listed = {d["id"]: d for d in r.json()}
    assert set(listed) == {d.id for d in home.devices}
    assert {d["name"] for d in listed.values()} == {d.name for d in home.devices}
    light = listed[device_id(home, "kitchen light")]
    assert (light["room"], light["kind"]) == ("kitchen", "light")
    assert "power" in light["capabilities"]


async def test_device_state_and_unknown_device(client: httpx.AsyncClient, claw: Claw, home: SimHome) -> None:
    home.sim("kitchen light").change({"on": True, "brightness": 40})
    r = await client.get(f"/api/devices/{device_id(home, 'kitchen light')}/state", headers=auth(claw))
    assert r.status_code == 200
    assert (r.json()["power"], r.json()["brightness"]) == (True, 40)
    r = await client.get("/api/devices/serial:NOPE/state", headers=auth(claw))
    assert r.status_code == 404


async def test_history_records_the_turn(client: httpx.AsyncClient, claw: Claw) -> None:
    r = await client.post("/api/chat", json={"text": "turn off the bedroom light"}, headers=auth(claw))
    assert r.status_code == 200
    r = await client.get("/api/history", headers=auth(claw))
    assert r.status_code == 200
    assert [(t["role"], t["content"]) for t in r.json()][0] == ("user", "turn off the bedroom light")


async def test_root_serves_the_sign_in_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<html" in page.lower() and "/static/login.js" in page  # trades #token for a cookie (test_web_auth)
    script = await client.get("/static/login.js")
    assert script.status_code == 200 and "/auth/login" in script.text and "replaceState" in script.text


async def test_malformed_chat_body_is_422(client: httpx.AsyncClient, claw: Claw, home: SimHome) -> None:
    headers = auth(claw)
    bodies = {"missing text": {"message": "hi"}, "empty": {"text": ""}, "too long": {"text": "a" * 5000},
              "wrong type": {"text": {"nested": 1}}, "array": ["turn on the kitchen light"], "null": None}
    for kind, body in bodies.items():
        r = await client.post("/api/chat", json=body, headers=headers)
        assert r.status_code == 422, (kind, r.text)
        assert "detail" in r.json()
    for raw in (b"turn on the kitchen light", b"{\"text\": ", b"\xff\xfe"):
        r = await client.post("/api/chat", content=raw, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 422, (raw, r.text)
    await claw.agent.idle()
    assert claw.store.inbox_get(1) is None  # nothing reached the inbox
    assert home.physical_commands() == 0


def test_token_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    path = settings.data_dir / "web_token"
    assert not path.exists()
    token = settings.web_token()
    assert len(token) >= 24
    assert path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert make_settings(tmp_path).web_token() == token  # a later start reuses it
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_app_uses_the_generated_token(claw: Claw) -> None:
    token_file = claw.settings.data_dir / "web_token"
    app = create_app(claw, manage_lifecycle=False)
    assert token_file.exists()
    token = token_file.read_text().strip()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as c:
        assert (await c.get("/api/devices", headers={"Authorization": f"Bearer {token}"})).status_code == 200


def test_configured_token_writes_no_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, web=WebSettings(token="configured-token"))
    assert settings.web_token() == "configured-token"
    assert not (settings.data_dir / "web_token").exists()
    assert "configured-token" not in repr(settings)


def test_default_bind_host_is_loopback() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.web.host == "127.0.0.1"
    assert WebSettings().host == "127.0.0.1"
