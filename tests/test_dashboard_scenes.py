"""Scenes on the dashboard's Home page: a harmless scene runs at once through the agent (as if its name were
said in the web chat), a scene's risky step waits for the page's Confirm, and unknown names are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from claw.runtime import Claw
from claw.web.app import create_app
from devices.sim.home import SimHome
from tests.test_web_auth import BASE, device_id, sign_in


@pytest.fixture
async def client(claw: Claw) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(claw, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=10) as c:
        yield c


async def test_a_scene_runs_from_home_and_a_risky_one_waits_for_confirm(client: httpx.AsyncClient, claw: Claw,
                                                                         home: SimHome) -> None:
    home.reset()
    light, door = device_id(home, "kitchen light"), device_id(home, "front door")
    claw.scenes.save("dinner time", [(light, "turn_on", {}), (light, "set_brightness", {"brightness": 40})])
    claw.scenes.save("welcome home", [(light, "turn_on", {}), (door, "unlock", {})])
    headers = {"Origin": BASE, "X-CSRF-Token": await sign_in(client, claw)}
    page = (await client.get("/home")).text
    assert 'data-scene="dinner time"' in page and 'data-scene="welcome home"' in page
    r = await client.post("/home/scene", json={"name": "dinner time"}, headers=headers)
    assert r.status_code == 200 and r.json()["ok"] is True and "dinner time" in r.json()["reply"]
    assert home.sim("kitchen light").state["on"] is True and home.sim("kitchen light").state["brightness"] == 40
    assert {a["command"] for a in claw.store.audit_recent()} == {"turn_on", "set_brightness"}
    # as in chat, the harmless steps run now and the risky one is held with the code's own prompt
    home.sim("kitchen light").change({"on": False})
    r = await client.post("/home/scene", json={"name": "welcome home"}, headers=headers)
    confirm = r.json()["confirm"]
    assert "unlock" in confirm["prompt"].lower() and home.sim("front door").state["locked"] is True
    assert home.sim("front door").commands == [] and home.sim("kitchen light").state["on"] is True
    r = await client.post("/home/answer", json={"id": confirm["id"], "yes": True}, headers=headers)
    assert r.json()["ok"] is True and home.sim("front door").state["locked"] is False
    # the web chat shows both, as if typed
    texts = [m["text"] for m in claw.store.conversation(10, channel="web")]
    assert "dinner time" in texts and "welcome home" in texts


async def test_unknown_or_forged_scene_requests_are_refused(client: httpx.AsyncClient, claw: Claw,
                                                            home: SimHome) -> None:
    light = device_id(home, "kitchen light")
    claw.scenes.save("dinner time", [(light, "turn_on", {})])
    csrf = await sign_in(client, claw)
    r = await client.post("/home/scene", json={"name": "unlock the front door"},
                          headers={"Origin": BASE, "X-CSRF-Token": csrf})
    assert r.status_code == 404  # only a stored scene's exact name: never free text through this door
    r = await client.post("/home/scene", json={"name": "dinner time"}, headers={"Origin": "http://evil.example",
                                                                               "X-CSRF-Token": csrf})
    assert r.status_code == 403
    assert home.sim("kitchen light").commands == [] and claw.store.conversation(10, channel="web") == []
