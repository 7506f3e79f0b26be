"""Dashboard sessions kept by the claw: signing out ends a session for good (a replayed cookie is refused), the
Status page lists signed-in browsers and signs out any or all, and a new web token ends every session."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from claw.config import WebSettings
from claw.runtime import Claw
from claw.web.app import create_app
from claw.web.auth import COOKIE, SESSION_SECONDS
from claw.web.dashboard.live import END
from devices.sim.home import SimHome
from tests.conftest import running_claw
from tests.test_web_auth import BASE, sign_in

EVIL_AGENT = '<script>alert("agent")</script>'


@pytest.fixture
async def app(claw: Claw) -> FastAPI:
    return create_app(claw, manage_lifecycle=False)


def browser(app: FastAPI, agent: str = "test browser") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=10,
                             headers={"User-Agent": agent})


async def test_signing_out_ends_the_session_for_good(app: FastAPI, claw: Claw) -> None:
    async with browser(app) as b:
        csrf = await sign_in(b, claw)
        cookie = b.cookies[COOKIE]
        r = await b.post("/auth/logout", data={"csrf": csrf}, headers={"Origin": BASE})
        assert r.status_code == 303 and COOKIE not in b.cookies
        b.cookies.set(COOKIE, cookie)  # the same cookie, kept by someone and sent again
        assert (await b.get("/home")).status_code == 303
        assert (await b.get("/events")).status_code == 401
        r = await b.post("/home/act", json={"device": "x", "command": "turn_on"},
                         headers={"Origin": BASE, "X-CSRF-Token": csrf})
        assert r.status_code == 401


async def test_the_status_page_lists_browsers_and_signs_out_any_or_all(app: FastAPI, claw: Claw) -> None:
    async with browser(app, "Phone Safari") as phone, browser(app, EVIL_AGENT) as laptop:
        phone_csrf = await sign_in(phone, claw)
        await sign_in(laptop, claw)
        page = (await phone.get("/status")).text
        rows = page.split('id="sessions"', 1)[1]
        assert rows.count('class="session"') == 2
        assert "Phone Safari <b>(this browser)</b>" in rows
        assert EVIL_AGENT not in page and "&lt;script&gt;" in rows  # device-like untrusted text: escaped
        laptop_id = laptop.cookies[COOKIE].split(".")[1]
        assert f'value="{laptop_id}"' in rows and laptop.cookies[COOKIE] not in page
        # refused: no CSRF token, another origin, a session that is not signed in
        for data, headers in (({"session": laptop_id}, {"Origin": BASE}),
                              ({"session": laptop_id, "csrf": phone_csrf}, {"Origin": "http://evil.example"})):
            assert (await phone.post("/auth/end", data=data, headers=headers)).status_code == 403
        r = await phone.post("/auth/end", data={"session": "nope", "csrf": phone_csrf}, headers={"Origin": BASE})
        assert r.status_code == 404
        assert (await laptop.get("/home")).status_code == 200
        r = await phone.post("/auth/end", data={"session": laptop_id, "csrf": phone_csrf}, headers={"Origin": BASE})
        assert r.status_code == 303 and r.headers["location"] == "/status#sessions"
        assert (await laptop.get("/home")).status_code == 303
        assert (await phone.get("/home")).status_code == 200
        await sign_in(laptop, claw)
        r = await phone.post("/auth/end", data={"all": "1", "csrf": phone_csrf}, headers={"Origin": BASE})
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert (await laptop.get("/home")).status_code == 303
        assert (await phone.get("/home")).status_code == 303
        assert claw.store.web_sessions_open(0) == []


async def test_a_new_web_token_ends_every_session_and_old_ones_expire(home: SimHome, tmp_path: Path) -> None:
    async with running_claw(home, tmp_path, web=WebSettings(token="first-token-0123456789")) as first:
        async with browser(create_app(first, manage_lifecycle=False)) as b:
            await sign_in(b, first)
            cookie = b.cookies[COOKIE]
            assert (await b.get("/home")).status_code == 200
    # the same data dir (the same sessions and signing key), another token
    async with running_claw(home, tmp_path, web=WebSettings(token="second-token-0123456789")) as second:
        app = create_app(second, manage_lifecycle=False)
        async with browser(app) as b:
            b.cookies.set(COOKIE, cookie)
            assert (await b.get("/home")).status_code == 303
        sessions = app.state.sessions
        old = sessions.issue("old browser", now=1000.0)
        assert not sessions.valid(old, now=1000.0 + SESSION_SECONDS)
        assert sessions.valid(old, now=1000.0 + SESSION_SECONDS - 60)
        sessions.issue("new browser")  # issuing prunes sessions that expired long ago
        assert second.store.web_session_get(sessions.session_id(old)) is None


async def test_signing_out_ends_that_sessions_open_live_streams(app: FastAPI, claw: Claw) -> None:
    live = app.state.live
    phone, laptop = live.stream(False, "phone-session"), live.stream(False, "laptop-session")
    for stream in (phone, laptop):
        while await asyncio.wait_for(anext(stream), 5) != ": connected\n\n":
            pass
    live.end_session("phone-session")
    rest = [m async for m in phone]  # it ends (a hang here fails on the test timeout) after what was queued
    assert all(m.startswith("event: ") for m in rest)
    [queue] = [q for q, owner in live._owners.items() if owner == "laptop-session"]
    assert END not in [queue.get_nowait() for _ in range(queue.qsize())]  # the other browser's stream goes on
    live.end_session(None)  # "Sign out every browser"
    assert all(m.startswith("event: ") for m in [m async for m in laptop])
    live.close()


async def test_guessing_the_token_is_slowed_down(app: FastAPI, claw: Claw) -> None:
    async with browser(app) as b:
        for _ in range(10):
            r = await b.post("/auth/login", json={"token": "guess"}, headers={"Origin": BASE})
            assert r.status_code == 401
        r = await b.post("/auth/login", json={"token": claw.settings.web_token()}, headers={"Origin": BASE})
        assert r.status_code == 429 and "set-cookie" not in r.headers
    sessions = app.state.sessions
    assert not sessions.may_try() and sessions.may_try(now=time.time() + sessions.TRIES_SECONDS + 1)
