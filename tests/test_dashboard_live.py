"""The dashboard's live states: a command from any path reaches open pages at once, pages that show no device
read none, Home's HTML carries what the claw already knows (inert), and reading stops after the last page."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from claw.events import InboundMessage
from claw.runtime import Claw
from claw.web.app import create_app
from claw.web.dashboard.live import Live
from devices.sim.home import SimHome
from tests.conftest import running_claw
from tests.test_web_auth import BASE, device_id, sign_in


async def device_events(stream: AsyncIterator[str], until: Any, timeout: float) -> list[dict[str, Any]]:
    """Device messages from an SSE stream until one satisfies `until` (TimeoutError otherwise)."""
    seen: list[dict[str, Any]] = []

    async def read() -> None:
        async for message in stream:
            if message.startswith("event: device"):
                seen.append(json.loads(message.split("data: ", 1)[1]))
                if until(seen[-1]):
                    return

    await asyncio.wait_for(read(), timeout)
    return seen


@pytest.fixture
async def slow_claw(home: SimHome, tmp_path: Path) -> AsyncIterator[Claw]:
    """A claw whose live view reads each device only every 30 s: a change seen sooner came from a command."""
    async with running_claw(home, tmp_path, web={"live_poll_seconds": 30.0}) as c:
        yield c


async def test_a_command_from_chat_reaches_an_open_home_page_without_waiting_for_a_poll(
        slow_claw: Claw, home: SimHome) -> None:
    home.reset()
    light = device_id(home, "kitchen light")
    live: Live = create_app(slow_claw, manage_lifecycle=False).state.live
    assert live.poll == 30.0
    stream = live.stream(devices=True)
    # the first read of every device when the page opens; the next poll would be 30 s later
    await device_events(stream, lambda d: d["id"] == light and d["state"]["power"] is False, 10)
    reply = await slow_claw.agent.ask(InboundMessage("console", "console", "turn on the kitchen light",
                                                     standing="owner"))
    assert home.sim("kitchen light").state["on"] is True, reply
    seen = await device_events(stream, lambda d: d["id"] == light, 10)
    assert seen[-1]["state"]["power"] is True
    live.close()


@pytest.fixture
def reads(claw: Claw, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The id of every device state the claw reads from now on (the real reads, counted)."""
    seen: list[str] = []
    real = claw.registry.state

    async def counted(device_id: str) -> dict[str, Any]:
        seen.append(device_id)
        return await real(device_id)

    monkeypatch.setattr(claw.registry, "state", counted)
    return seen


async def test_pages_without_devices_read_none_and_reading_stops_after_the_last_page(
        claw: Claw, reads: list[str]) -> None:
    live = Live(claw, poll=0.05, linger=0.3)
    chat_page = live.stream(devices=False)  # Chat and Cameras: new messages and camera events only
    assert await asyncio.wait_for(anext(chat_page), 5) == ": connected\n\n"
    await asyncio.sleep(0.5)
    assert reads == [] and set(live._tasks) == {"store"}
    home_page = live.stream(devices=True)
    await device_events(home_page, lambda d: True, 10)
    await asyncio.sleep(0.3)
    assert {d.id for d in claw.registry.all()} <= set(reads)
    await home_page.aclose()  # the Home page closes; the chat page stays open
    await asyncio.sleep(1.0)  # past the linger
    assert all(live._tasks[d.id].done() for d in claw.registry.all()) and not live._tasks["store"].done()
    count = len(reads)
    await asyncio.sleep(0.3)
    assert len(reads) == count
    await chat_page.aclose()
    live.close()


async def test_home_carries_what_the_claw_knows_as_inert_data(claw: Claw, home: SimHome) -> None:
    """Device text (a track title) is untrusted: in the page's JSON block it cannot close the script element."""
    speaker = device_id(home, "Kitchen")
    evil = "</script><script>alert(1)</script><!--"
    claw.registry.note(speaker, {"available": True, "playback": "playing", "volume": 20, "title": evil})
    app = create_app(claw, manage_lifecycle=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, timeout=10) as client:
        await sign_in(client, claw)
        html = (await client.get("/home")).text
    block = html.split('<script type="application/json" id="states">', 1)[1].split("</script>", 1)[0]
    assert json.loads(block)[speaker]["title"] == evil
    assert evil not in html and "<script>alert" not in html


async def test_a_live_view_reads_a_sonos_player_at_most_twice_a_second(
        claw: Claw, home: SimHome, reads: list[str]) -> None:
    """Four SOAP calls a read: the Sonos driver asks for 0.5 s between reads; the lights have no such floor."""
    speaker, light = device_id(home, "Kitchen"), device_id(home, "kitchen light")
    assert claw.registry.read_floor(speaker) == 0.5 and claw.registry.read_floor(light) == 0.0
    live = Live(claw, poll=0.05, linger=0.0)
    page = live.stream(devices=True)
    while await asyncio.wait_for(anext(page), 5) != ": connected\n\n":
        pass
    await asyncio.sleep(1.2)
    await page.aclose()
    live.close()
    assert 1 <= reads.count(speaker) <= 4, reads.count(speaker)  # at 0.05 s it would be read ~20 times


def test_hue_lights_ask_for_a_second_between_reads() -> None:
    """The bridge serves all its lights (about ten requests a second): their adapters ask for 1 s."""
    from devices.drivers.base import min_read_seconds
    from devices.drivers.http import HttpDriver
    from devices.models import Device, Kind

    driver = HttpDriver()
    def lamp(adapter: str) -> Device:
        return Device(id=f"x:{adapter}", name="lamp", kind=Kind.LIGHT, room=None, capabilities=frozenset({"power"}),
                      driver="http", address="127.0.0.1:1",
                      adapter=adapter)

    assert min_read_seconds(driver, lamp("hue-light")) == min_read_seconds(driver, lamp("hue-color-light")) == 1.0
    assert min_read_seconds(driver, lamp("wled")) == 0.0 and min_read_seconds(driver, lamp("nope")) == 0.0
    assert min_read_seconds(object(), lamp("hue-light")) == 0.0  # type: ignore[arg-type] - a driver without it
