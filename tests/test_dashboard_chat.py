"""The dashboard's Chat page over HTTP: every channel's messages with the tier that answered, the tools the model
called (a scripted OpenAI-compatible server on loopback) and the device actions from the audit ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from claw.config import LLMSettings
from claw.events import InboundMessage
from claw.web.app import create_app
from devices.sim.home import SimHome
from tests.conftest import running_claw
from tests.fakes.openai_server import ScriptedOpenAI, call, calls, reply

BASE = "http://127.0.0.1:8000"


async def test_chat_page_shows_tier_tools_and_actions_of_every_channel(home: SimHome, tmp_path: Path,
                                                                       scripted: ScriptedOpenAI) -> None:
    llm = LLMSettings(base_url=scripted.base_url, model="scripted-model")
    async with running_claw(home, tmp_path, llm=llm) as claw:
        scripted.push(calls(call("control_device", {"device": "kitchen light", "command": "turn_on"})),
                      reply("The kitchen is lit for dinner."))
        owner = claw.settings.owner
        llm_turn = await asyncio.wait_for(claw.agent.ask(InboundMessage("console", owner, "make the kitchen cosy",
                                                                        standing="owner")), 20)
        local = await asyncio.wait_for(claw.agent.ask(InboundMessage("web", owner, "turn on the bedroom light",
                                                                     standing="owner")), 20)
        assert (llm_turn.tier, local.tier) == ("llm", "intent")
        app = create_app(claw, manage_lifecycle=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=10) as client:
            r = await client.post("/auth/login", json={"token": claw.settings.web_token()}, headers={"Origin": BASE})
            assert r.status_code == 204
            page = (await client.get("/chat")).text
            web_only = (await client.get("/chat", params={"channel": "web"})).text
    llm_part = page.split(f'data-reply-to="{llm_turn.inbox_id}"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "The kitchen is lit for dinner." in llm_part
    assert "tier: <b class=\"tier\">llm</b>" in llm_part and "tools: control_device" in llm_part
    assert "turn_on kitchen light (done)" in llm_part
    local_part = page.split(f'data-reply-to="{local.inbox_id}"', 1)[1].split("</div>\n</div>", 1)[0]
    assert "tier: <b class=\"tier\">intent</b>" in local_part and "tools:" not in local_part
    assert "turn_on bedroom light (done)" in local_part
    assert "make the kitchen cosy" in page and "make the kitchen cosy" not in web_only  # the channel filter
    assert "turn on the bedroom light" in web_only
