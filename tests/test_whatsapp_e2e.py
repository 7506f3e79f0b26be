"""WhatsApp end to end: signed webhook -> inbox -> turn -> device -> outbox -> real twilio Client -> FakeTwilio ->
signed status callbacks back into the app; outages, SIGKILL, media both ways and the 24-hour window."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

import claw.channels.media
from claw.channels.whatsapp.webhook import held_note
from claw.config import LLMSettings
from claw.events import OutboundMessage
from devices.sim.home import SimHome
from tests.fakes.openai_server import ScriptedOpenAI, hang_once_then, reply
from tests.fakes.twilio_server import FakeTwilio
from tests.test_durability import read_logs, wait_for
from tests.test_twilio_webhook import inbox, new_sid, turns
from tests.whatsapp_helpers import (
    FRIEND_WA,
    OWNER_WA,
    PUBLIC,
    SANDBOX,
    LoopbackGuard,
    WhatsAppProcesses,
    code_in,
    inbound_form,
    live_claw,
    outbox_rows,
    tiny_jpeg,
    until,
    wrote_hours_ago,
)

JPEG = tiny_jpeg()


@pytest.fixture(autouse=True)
def guard(monkeypatch: pytest.MonkeyPatch) -> LoopbackGuard:
    """Nothing in this process may look up or connect to anything but loopback."""
    return LoopbackGuard().install(monkeypatch)


@pytest.fixture
def home(shared_home: SimHome) -> SimHome:
    shared_home.reset()
    return shared_home


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as f:
        yield f


@pytest.fixture
def llm() -> Iterator[ScriptedOpenAI]:
    server = ScriptedOpenAI(model="scripted").start()
    yield server
    server.stop()


# ---------------------------------------------------------------------------------- exactly once


async def test_200_retries_of_one_message_make_one_turn_one_action_one_delivered_reply(
        home: SimHome, tmp_path: Path, fake: FakeTwilio, guard: LoopbackGuard) -> None:
    light = home.sim("kitchen light")
    async with live_claw(home, tmp_path, fake) as live:
        params = inbound_form(fake, "turn on the kitchen light", sid=new_sid())
        answers = await asyncio.gather(*(live.post(params) for _ in range(200)))
        assert {(r.status_code, r.text.count("<Response></Response>")) for r in answers} == {(200, 1)}
        await live.settled()
        [row] = inbox(live.claw)
        assert (row["external_id"], row["status"]) == (params["MessageSid"], "done")
        assert turns(live.claw) == 1
        assert light.state["on"] is True and len(light.commands) == 1 and home.physical_commands() == 1
        [out] = live.rows()
        [msg] = live.received()
        assert (msg["To"], msg["From"], msg["Body"]) == (OWNER_WA, SANDBOX, out["text"])
        assert "kitchen light" in msg["Body"] and msg["sid"] == out["external_id"]
        assert out["status"] == "read"  # queued, sent, delivered, read: each a signed callback the app accepted
        assert [c["params"]["MessageStatus"] for c in fake.callbacks] == ["queued", "sent", "delivered", "read"]
        assert {c["target"] for c in fake.callbacks} == {f"{live.url}/twilio/status"}
        assert await live.claw.outbox.drain_once() == 0  # nothing left to send
    assert len(fake.messages) == 1 and guard.refused == []


# -------------------------------------------------------------------------------------- outage


async def test_twilio_down_then_up_every_reply_delivered_once_in_order_per_sender(
        home: SimHome, tmp_path: Path, fake: FakeTwilio) -> None:
    async with live_claw(home, tmp_path, fake, pairing=True) as live:
        # a second number asks for access and the owner approves it from chat, all through Twilio
        await live.say("hi, it's Alex", sender=FRIEND_WA)
        [code_msg] = await until(lambda: live.received(FRIEND_WA), "the pairing code")
        await live.say(f"approve {code_in(code_msg['Body'])}")
        await live.settled()
        assert [m["Body"] for m in live.received(OWNER_WA)] == ["Approved +15551230002: they can talk to me now."]
        before = len(fake.messages)

        await asyncio.to_thread(fake.down)
        said = [("turn on the kitchen light", OWNER_WA), ("turn on the bedroom light", FRIEND_WA),
                ("dim the living room lamp to 30%", OWNER_WA), ("what's the temperature in the hallway?", FRIEND_WA),
                ("turn off the kitchen light", OWNER_WA)]
        sids = [(await live.say(text, sender=who))["MessageSid"] for text, who in said]
        await live.claw.agent.idle()
        rows = {r["external_id"]: r for r in inbox(live.claw)}
        assert [rows[s]["status"] for s in sids] == ["done"] * 5
        replies = [r for r in live.rows() if r["inbox_id"] in {rows[s]["id"] for s in sids}]
        assert len(replies) == 5
        heads = {who: min(r["id"] for r in replies if r["recipient"] == who) for who in (OWNER_WA, FRIEND_WA)}

        def retrying() -> bool:
            now = {r["id"]: r for r in live.rows()}
            return all(now[i]["attempts"] >= 2 for i in heads.values())

        await until(retrying, "retries while Twilio is down")
        for row in (live.claw.store.outbox_get(r["id"]) for r in replies):
            assert row["status"] == "pending", row  # nothing lost, nothing given up
            if row["id"] in heads.values():
                assert row["error"].startswith("Twilio unreachable")
            else:
                assert row["attempts"] == 0  # nothing overtakes the waiting head of its sender's queue
        assert len(fake.messages) == before

        await asyncio.to_thread(fake.up)
        live.claw.outbox.wake()
        await live.settled()
        new = fake.messages[before:]
        assert len(new) == 5 and len({m["sid"] for m in new}) == 5
        for who in (OWNER_WA, FRIEND_WA):
            expected = [live.claw.store.outbox_get(r["id"]) for r in replies if r["recipient"] == who]
            got = [m for m in new if m["To"] == who]
            assert [m["Body"] for m in got] == [r["text"] for r in expected]
            assert [m["sid"] for m in got] == [r["external_id"] for r in expected]
        assert [m["Body"] for m in new if m["To"] == OWNER_WA] == [
            "Done — kitchen light is on.", "Done — living room lamp is at 30%.", "Done — kitchen light is off."]
        assert home.sim("bedroom light").state["on"] is True
        assert len(home.sim("kitchen light").commands) == 2


# ------------------------------------------------------------------------------------- SIGKILL


def _finished_with_pending_reply(claws: WhatsAppProcesses, sid: str) -> dict[str, Any] | None:
    with claws.store() as store:
        row = next((r for r in store.db.query("SELECT id, status FROM inbox WHERE external_id = ?", [sid])), None)
        if row is None or row["status"] != "done":
            return None
        replies = store.outbox_for_inbox(row["id"])
        return replies[0] if replies and replies[0]["status"] == "pending" else None


def _reply_delivered(claws: WhatsAppProcesses, sid: str) -> list[dict[str, Any]] | None:
    with claws.store() as store:
        row = next((r for r in store.db.query("SELECT id FROM inbox WHERE external_id = ?", [sid])), None)
        replies = store.outbox_for_inbox(row["id"]) if row else []
    return replies if replies and all(r["status"] == "read" for r in replies) else None


def test_sigkill_after_storing_before_replying_sends_the_reply_once(
        home: SimHome, llm: ScriptedOpenAI, fake: FakeTwilio, tmp_path: Path) -> None:
    light = home.sim("kitchen light")
    fake.down()  # Twilio unreachable: the reply waits in the outbox
    claws = WhatsAppProcesses(tmp_path, home, llm, fake)
    params = inbound_form(fake, "turn on the kitchen light", sid=new_sid())
    try:
        proc, url = claws.start()
        r = claws.post(url, params)
        assert r.status_code == 200 and "<Response></Response>" in r.text
        pending = wait_for(lambda: _finished_with_pending_reply(claws, params["MessageSid"]), 10,
                           "the turn to finish with its reply pending", (proc,), claws.logs)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert fake.messages == [] and len(light.commands) == 1 and light.state["on"] is True

        fake.up()
        proc2, _ = claws.start()
        [sent] = wait_for(lambda: _reply_delivered(claws, params["MessageSid"]), 15,
                          "the reply to be sent and read after the restart", (proc2,), claws.logs)
        [msg] = fake.messages
        assert (msg["To"], msg["From"], msg["Body"]) == (OWNER_WA, SANDBOX, pending["text"])
        assert sent["id"] == pending["id"] and sent["external_id"] == msg["sid"]
        assert "kitchen light" in msg["Body"]
        assert len(light.commands) == 1 and home.physical_commands() == 1
        assert llm.requests == []  # the local tier answered
        with claws.store() as store:
            assert store.inbox_pending() == []
    finally:
        claws.kill_all()
    assert fake.auth_token not in read_logs(claws.logs)


def test_sigkill_during_the_turn_replies_once_after_restart(
        home: SimHome, llm: ScriptedOpenAI, fake: FakeTwilio, tmp_path: Path) -> None:
    answered = "Good evening, everyone!"
    script, release, hanging = hang_once_then(reply(answered))
    llm.script = [script]
    claws = WhatsAppProcesses(tmp_path, home, llm, fake)
    params = inbound_form(fake, "say good evening to everyone", sid=new_sid())  # not a local-tier sentence
    try:
        proc, url = claws.start()
        assert claws.post(url, params).status_code == 200
        wait_for(hanging.is_set, 10, "the LLM request of the turn", (proc,), claws.logs)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        with claws.store() as store:
            [row] = store.inbox_pending()
            assert row["external_id"] == params["MessageSid"] and store.outbox_for_inbox(row["id"]) == []
        assert fake.messages == []

        proc2, _ = claws.start()
        wait_for(lambda: _reply_delivered(claws, params["MessageSid"]), 15, "the resumed turn's reply", (proc2,),
                 claws.logs)
        assert [(m["To"], m["Body"]) for m in fake.messages] == [(OWNER_WA, answered)]
        assert len(llm.requests) == 2 and home.physical_commands() == 0
    finally:
        release.set()
        claws.kill_all()


# ---------------------------------------------------------------------------------- inbound media


def _media(fake: FakeTwilio, content: bytes, ctype: str) -> dict[str, str]:
    name = f"Accounts/{fake.account_sid}/Messages/{new_sid('MM')}/Media/{new_sid('ME')}"
    return {"NumMedia": "1", "MediaUrl0": fake.add_media(name, content, ctype), "MediaContentType0": ctype}


async def test_an_image_goes_to_the_vision_model_as_a_data_uri(
        home: SimHome, tmp_path: Path, fake: FakeTwilio, llm: ScriptedOpenAI) -> None:
    llm.script = [reply("A small grey square: nothing to worry about.")]
    vision = LLMSettings(base_url=llm.base_url, model="scripted", vision=True)
    async with live_claw(home, tmp_path, fake, llm=vision, media_max_bytes=4096) as live:
        params = await live.say("what is this?", sid=new_sid("MM"), **_media(fake, JPEG, "image/jpeg"))
        await live.settled()
        [request] = llm.requests
        content = request["messages"][-1]["content"]
        assert content[0] == {"type": "text", "text": "what is this?"}
        assert content[1] == {"type": "image_url",
                              "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()}}
        assert [m["Body"] for m in live.received()] == ["A small grey square: nothing to worry about."]
        # fetched with the account's credentials, then from the media CDN without them
        paths = [(r["path"], r["authorization"]) for r in fake.media_requests]
        assert paths[0] == (urlsplit(params["MediaUrl0"]).path, True)
        assert len(paths) == 2 and paths[1][0].startswith("/cdn/") and paths[1][1] is False
        [stored] = [p for p in (tmp_path / "data" / "media").iterdir() if not p.name.startswith(".")]
        assert stored.read_bytes() == JPEG


async def test_without_vision_the_reply_says_it_cannot_look_at_images(
        home: SimHome, tmp_path: Path, fake: FakeTwilio, llm: ScriptedOpenAI) -> None:
    async with live_claw(home, tmp_path, fake, llm=LLMSettings(base_url=llm.base_url, model="scripted")) as live:
        await live.say("", sid=new_sid("MM"), **_media(fake, JPEG, "image/jpeg"))
        await live.say("turn on the kitchen light", sid=new_sid("MM"), **_media(fake, JPEG, "image/jpeg"))
        await live.settled()
        first, second = (m["Body"] for m in live.received())
        assert "can't look at images" in first and "llm.vision" in first
        assert second.startswith("Done — kitchen light is on.") and "can't look at images" in second
        assert llm.requests == [] and home.sim("kitchen light").state["on"] is True


async def test_audio_oversized_and_foreign_attachments_are_skipped_with_a_note(
        home: SimHome, tmp_path: Path, fake: FakeTwilio, llm: ScriptedOpenAI, guard: LoopbackGuard) -> None:
    llm.script = [reply("I looked.")]
    vision = LLMSettings(base_url=llm.base_url, model="scripted", vision=True)
    big = tiny_jpeg(b"x" * 6000)
    async with live_claw(home, tmp_path, fake, llm=vision, media_max_bytes=4096) as live:
        audio = _media(fake, b"OggS\x00\x02" + bytes(200), "audio/ogg")
        await live.say("", sid=new_sid("MM"), **audio)
        await live.say("and this?", sid=new_sid("MM"), **_media(fake, big, "image/jpeg"))
        account = f"/2010-04-01/Accounts/{fake.account_sid}/Messages/MM1/Media/ME1"
        foreign = {"NumMedia": "2", "MediaUrl0": f"https://api.twilio.com{account}", "MediaContentType0": "image/jpeg",
                   "MediaUrl1": f"http://10.11.12.13{account}", "MediaContentType1": "image/png"}
        await live.say("", sid=new_sid("MM"), **foreign)
        await live.settled()
        voice_note, oversized, elsewhere = (m["Body"] for m in live.received())
        assert "attachment 1 (audio/ogg) is not an image" in voice_note
        assert "larger than 4096 bytes" in oversized
        assert elsewhere.count("not a Twilio media URL of this account") == 2
        [asked] = llm.requests  # "and this?" went on to the model as text alone: no image reached it
        assert asked["messages"][-1]["content"] == "and this?"
        fetched = [r["path"] for r in fake.media_requests]
        assert urlsplit(audio["MediaUrl0"]).path not in fetched  # skipped by type, never downloaded
        assert len(fetched) == 2 and fetched[1].startswith("/cdn/")  # only the big image, until the cap
    assert guard.refused == []  # not even a lookup of a real host
    assert [p for p in (tmp_path / "data" / "media").iterdir() if not p.name.startswith(".")] == []


# --------------------------------------------------------------------------------- outbound media


@pytest.mark.parametrize("proactive", [False, True], ids=["reply", "proactive"])
async def test_outbound_image_is_a_signed_link_served_until_it_expires(
        home: SimHome, tmp_path: Path, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch, proactive: bool) -> None:
    snapshot = tmp_path / "porch.jpg"
    snapshot.write_bytes(JPEG)
    async with live_claw(home, tmp_path, fake) as live:
        wrote_hours_ago(live.claw.store, 1)
        live.claw.store.outbox_add(OutboundMessage("whatsapp", OWNER_WA, "Someone at the porch.",
                                                   media=(str(snapshot),), proactive=proactive))
        live.claw.outbox.wake()
        await live.settled()
        [msg] = live.received()
        assert msg["Body"] == "Someone at the porch." and msg["sid"].startswith("MM")
        [url] = msg["MediaUrl"]
        assert url.startswith(f"{PUBLIC}/media/")
        local = live.url + url.removeprefix(PUBLIC)
        got = await live.http.get(local)
        assert got.status_code == 200 and got.content == JPEG and got.headers["content-type"] == "image/jpeg"
        parts = urlsplit(local)
        query = dict(parse_qsl(parts.query))
        for bad in ({**query, "sig": query["sig"][:-1] + ("0" if query["sig"][-1] != "0" else "1")},
                    {**query, "exp": str(int(query["exp"]) + 1)}, {"exp": query["exp"]}):
            assert (await live.http.get(f"{parts.path}?{urlencode(bad)}")).status_code == 403
        later = claw.channels.media.time.time() + live.claw.settings.twilio.media_url_seconds + 60
        monkeypatch.setattr(claw.channels.media, "time", types.SimpleNamespace(time=lambda: later))
        assert (await live.http.get(local)).status_code == 403  # the very link Twilio got, once expired


# -------------------------------------------------------------------------------- 24-hour window


async def test_alert_outside_the_window_is_held_then_sent_with_an_explanation(
        home: SimHome, tmp_path: Path, fake: FakeTwilio) -> None:
    async with live_claw(home, tmp_path, fake) as live:
        wrote_hours_ago(live.claw.store, 25)
        alert = "Motion at the front door."
        alert_id = live.claw.store.outbox_add(OutboundMessage("whatsapp", OWNER_WA, alert, proactive=True))
        live.claw.outbox.wake()
        await until(lambda: live.claw.store.outbox_get(alert_id)["status"] == "held", "the alert to be held")
        assert "24-hour window" in live.claw.store.outbox_get(alert_id)["error"]
        assert fake.attempts == [] and fake.messages == []
        await live.say("what's the temperature in the hallway?")
        await live.settled()
        bodies = [m["Body"] for m in live.received()]
        assert bodies[:2] == [alert, held_note(1)] and len(bodies) == 3
        assert "held that message" in bodies[1] and "24 hours" in bodies[1]
        assert "hallway thermostat" in bodies[2]
        assert [r["status"] for r in outbox_rows(live.claw.store)] == ["read"] * 3


async def test_alert_outside_the_window_goes_out_as_the_template(
        home: SimHome, tmp_path: Path, fake: FakeTwilio) -> None:
    template = "HX" + "ab" * 16
    async with live_claw(home, tmp_path, fake, window_policy="template", template_content_sid=template) as live:
        fake.outside_window.add(OWNER_WA)  # Twilio would refuse a free-form body with 63016
        wrote_hours_ago(live.claw.store, 25)
        live.claw.store.outbox_add(OutboundMessage("whatsapp", OWNER_WA, "Garage door open\nsince 20:00.",
                                                   proactive=True))
        live.claw.outbox.wake()
        await live.settled()
        [msg] = live.received()
        assert (msg["ContentSid"], msg["Body"]) == (template, None)
        assert json.loads(msg["ContentVariables"]) == {"1": "Garage door open since 20:00."}
        assert [r["status"] for r in live.rows()] == ["read"]


def test_the_loopback_guard_refuses_other_hosts(guard: LoopbackGuard) -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("api.twilio.com", 443)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("10.255.255.1", 9))
    assert guard.refused == ["api.twilio.com", "10.255.255.1"]
    socket.getaddrinfo("127.0.0.1", 9)
    assert guard.allowed("::1") and guard.allowed("localhost") and not guard.allowed("127.example.net")
