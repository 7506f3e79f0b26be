"""Dashboard auth rules over HTTP: token -> cookie exchange, cookie flags, CSRF and Origin checks, the bind
warning, and controls that go through the actuator's policy and audit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from claw.runtime import Claw
from claw.web.app import create_app
from claw.web.auth import COOKIE, bind_warning
from devices.sim.home import SimHome

BASE = "http://127.0.0.1:8000"
PAGES = ["/home", "/chat", "/status", "/activity", "/soul", "/memory", "/routines", "/cameras"]


@pytest.fixture
async def client(claw: Claw) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(claw, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=10) as c:
        yield c


async def sign_in(client: httpx.AsyncClient, claw: Claw) -> str:
    """Sign in as the page's script does; returns the CSRF token of the session (from the home page)."""
    r = await client.post("/auth/login", json={"token": claw.settings.web_token()}, headers={"Origin": BASE})
    assert r.status_code == 204, r.text
    page = (await client.get("/home")).text
    return page.split('name="csrf" content="', 1)[1].split('"', 1)[0]


def device_id(home: SimHome, name: str) -> str:
    return next(d.id for d in home.devices if d.name == name)


async def test_pages_need_a_session_and_the_sign_in_page_holds_no_token(client: httpx.AsyncClient,
                                                                        claw: Claw) -> None:
    for path in PAGES:
        r = await client.get(path)
        assert (r.status_code, r.headers.get("location")) == (303, "/"), path
    for path in ("/events", "/cameras/event/1/snapshot.jpg"):
        assert (await client.get(path)).status_code == 401, path
    r = await client.get("/")
    assert r.status_code == 200 and "/static/login.js" in r.text
    assert claw.settings.web_token() not in r.text
    assert "set-cookie" not in r.headers


async def test_login_sets_a_strict_httponly_cookie_and_a_wrong_token_gets_none(
        client: httpx.AsyncClient, claw: Claw, caplog: pytest.LogCaptureFixture) -> None:
    token = claw.settings.web_token()
    caplog.set_level(logging.DEBUG)
    for body in ({"token": token + "x"}, {"token": ""}, {}, ["x"], {"token": 5}):
        r = await client.post("/auth/login", json=body, headers={"Origin": BASE})
        assert r.status_code == 401, body
        assert "set-cookie" not in r.headers
    r = await client.post("/auth/login", json={"token": token}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = await client.post("/auth/login", json={"token": token}, headers={"Origin": BASE})
    assert r.status_code == 204
    cookie = r.headers["set-cookie"]
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    assert token not in cookie
    assert token not in caplog.text
    for path in PAGES:
        r = await client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert token not in r.text, path
        assert "no-store" in r.headers["cache-control"]
    assert (await client.get("/")).headers["location"] == "/home"


async def test_a_forged_or_tampered_cookie_is_not_a_session(client: httpx.AsyncClient, claw: Claw) -> None:
    await sign_in(client, claw)
    good = client.cookies[COOKIE]
    issued, nonce, mac = good.split(".")
    for bad in (f"{issued}.{nonce}.{'0' * len(mac)}", f"{int(issued) - 1}.{nonce}.{mac}", "x", "", "1.2.3.4"):
        client.cookies.set(COOKIE, bad)
        assert (await client.get("/home")).status_code == 303, bad
    client.cookies.set(COOKIE, good)
    assert (await client.get("/home")).status_code == 200


async def test_state_changes_need_the_csrf_token_and_the_same_origin(
        client: httpx.AsyncClient, claw: Claw, home: SimHome) -> None:
    csrf = await sign_in(client, claw)
    light = home.sim("kitchen light")
    body = {"device": device_id(home, "kitchen light"), "command": "turn_on"}
    refused = [{"Origin": BASE}, {"Origin": BASE, "X-CSRF-Token": csrf + "0"},
               {"Origin": "http://evil.example", "X-CSRF-Token": csrf}, {"X-CSRF-Token": csrf},
               {"Origin": "null", "X-CSRF-Token": csrf}, {"Referer": "http://evil.example/x", "X-CSRF-Token": csrf}]
    for headers in refused:
        r = await client.post("/home/act", json=body, headers=headers)
        assert r.status_code == 403, headers
    r = await client.post("/chat", data={"text": "turn on the kitchen light", "csrf": csrf},
                          headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert light.commands == [] and claw.store.audit_recent() == []
    r = await client.post("/home/act", json=body, headers={"Origin": BASE, "X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and "kitchen light" in r.json()["reply"]
    assert light.state["on"] is True
    [row] = claw.store.audit_recent()
    assert row["key"].startswith("web:") and row["sender"] == claw.settings.owner and row["status"] == "done"
    # a form post (no script) carries the token as a field; the referer stands in for a missing Origin
    r = await client.post("/chat", data={"text": "turn off the kitchen light", "csrf": csrf},
                          headers={"Referer": f"{BASE}/chat"})
    assert r.status_code == 303
    assert light.state["on"] is False
    # another session's CSRF token is not this one's
    other = httpx.AsyncClient(transport=client._transport, base_url=BASE)  # noqa: SLF001
    async with other:
        other_csrf = await sign_in(other, claw)
        assert other_csrf != csrf
        r = await client.post("/home/act", json=body, headers={"Origin": BASE, "X-CSRF-Token": other_csrf})
        assert r.status_code == 403


async def test_a_risky_control_is_held_for_the_codes_own_confirmation(
        client: httpx.AsyncClient, claw: Claw, home: SimHome) -> None:
    csrf = await sign_in(client, claw)
    headers = {"Origin": BASE, "X-CSRF-Token": csrf}
    door = home.sim("front door")
    r = await client.post("/home/act", json={"device": device_id(home, "front door"), "command": "unlock"},
                          headers=headers)
    assert r.status_code == 200
    confirm = r.json()["confirm"]
    assert "unlock the front door" in confirm["prompt"].lower() and "yes" in confirm["prompt"].lower()
    assert door.commands == [] and door.state["locked"] is True
    stored = claw.store.confirmation_get(confirm["id"])
    assert stored["status"] == "pending" and stored["sender"] == claw.settings.owner
    r = await client.post("/home/answer", json={"id": confirm["id"] + 1, "yes": True}, headers=headers)
    assert r.json()["ok"] is False and door.state["locked"] is True  # not the pending one: nothing happens
    r = await client.post("/home/answer", json={"id": confirm["id"], "yes": True}, headers=headers)
    assert r.status_code == 200 and r.json()["ok"] is True
    assert door.state["locked"] is False
    assert claw.store.confirmation_get(confirm["id"])["status"] == "confirmed"
    assert [a["command"] for a in claw.store.audit_recent()] == ["unlock"]
    # a second unlock, cancelled: nothing is sent
    door.change({"locked": True})
    r = await client.post("/home/act", json={"device": device_id(home, "front door"), "command": "unlock"},
                          headers=headers)
    r = await client.post("/home/answer", json={"id": r.json()["confirm"]["id"], "yes": False}, headers=headers)
    assert r.json()["ok"] is True and door.state["locked"] is True
    assert len(claw.store.audit_recent()) == 1


async def test_bad_control_requests_are_refused_clearly(client: httpx.AsyncClient, claw: Claw,
                                                       home: SimHome) -> None:
    headers = {"Origin": BASE, "X-CSRF-Token": await sign_in(client, claw)}
    light = device_id(home, "kitchen light")
    for body in ({"device": "serial:NOPE", "command": "turn_on"}, {"device": light, "command": "explode"},
                 {"device": light, "command": "set_brightness", "args": {"brightness": 900}},
                 {"device": light, "command": "unlock"}, {"device": light}):
        r = await client.post("/home/act", json=body, headers=headers)
        assert r.status_code == 422 or (r.status_code == 200 and r.json().get("ok") is False), (body, r.text)
    assert home.physical_commands() == 0


def test_only_loopback_binds_without_a_warning() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        assert bind_warning(host) is None, host
    for host in ("0.0.0.0", "::", "192.168.1.10"):
        warning = bind_warning(host)
        assert warning is not None and host in warning and "WARNING" in warning


async def test_pages_cannot_be_framed_and_sign_out_needs_csrf(client: httpx.AsyncClient, claw: Claw) -> None:
    csrf = await sign_in(client, claw)
    r = await client.get("/home")
    assert r.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert (await client.post("/auth/logout", data={"csrf": "nope"}, headers={"Origin": BASE})).status_code == 403
    assert (await client.get("/home")).status_code == 200  # still signed in
    r = await client.post("/auth/logout", data={"csrf": csrf}, headers={"Origin": BASE})
    assert r.status_code == 303 and COOKIE not in client.cookies
    assert (await client.get("/home")).status_code == 303


async def test_open_live_streams_end_when_the_server_shuts_down(claw: Claw) -> None:
    """uvicorn waits for open responses at shutdown: an open dashboard's SSE stream must end, not hang it."""
    app = create_app(claw, manage_lifecycle=False)
    live = app.state.live
    stream = live.stream()
    first = await asyncio.wait_for(anext(stream), 5)
    assert first.startswith("event: device") or first == ": connected\n\n"
    live.close()
    rest = [m async for m in stream]  # ends (a hang here fails on the test timeout)
    assert all(m.startswith(("event: ", ": ")) for m in rest)
