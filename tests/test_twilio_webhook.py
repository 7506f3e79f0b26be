"""Twilio webhooks: signatures (SHA-1 and SHA-256), malformed requests, dedupe, senders, pairing, limits, status."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from claw.channels.access import APPROVED_NOTICE, handle_pairing_command
from claw.channels.base import LocalChannel
from claw.channels.whatsapp.inlet import WhatsAppInlet, whatsapp_inlet
from claw.channels.whatsapp.webhook import TWIML_EMPTY, TwilioWebhooks, twilio_router
from claw.config import TwilioSettings
from claw.events import OutboundMessage
from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.conftest import make_settings

TOKEN = "0123456789abcdef0123456789abcdef"
SHARED_KEY = "shared-key-secret-5f2c9e"
PUBLIC = "https://claw.example.test"
OWNER = "+15551230001"
OWNER_WA = f"whatsapp:{OWNER}"
STRANGER_WA = "whatsapp:+15557654321"
SHA256_HEADER = "key=webhooks_sharedkey_01hzexample,algorithm=HMAC_SHA256"


def twilio_settings(**overrides: Any) -> TwilioSettings:
    return TwilioSettings(**{"account_sid": "AC" + "a1" * 16, "auth_token": TOKEN,
                             "from_number": "whatsapp:+14155238886", "public_url": PUBLIC, "owners": [OWNER],
                             "api_base": "http://127.0.0.1:9", **overrides})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def inlet_of(claw: Claw) -> WhatsAppInlet:
    """The webhook's dependencies, taken from a claw as claw.web.app does (through the channel table)."""
    return whatsapp_inlet(claw.settings.twilio, submit=claw.agent.submit, store=claw.store, notifier=claw.notifier,
                          note_status=claw.outbox.note_status)


@asynccontextmanager
async def webhook_claw(home: SimHome, tmp_path: Path, *, shared_keys: list[str] | None = None,
                       clock: Clock | None = None, **tw: Any) -> AsyncIterator[tuple[Claw, httpx.AsyncClient]]:
    """A started claw whose 'whatsapp' channel records instead of calling Twilio, and a client on the router."""
    claw = Claw(make_settings(tmp_path, device_timeout=2.0, twilio=twilio_settings(**tw)), devices=home.devices)
    claw.add_channel(LocalChannel("whatsapp", max_length=1600))  # never the real REST client in these tests
    await claw.start()
    app = FastAPI()
    inlet = inlet_of(claw)
    hooks = TwilioWebhooks(inlet, shared_keys, clock=clock or Clock())
    app.include_router(twilio_router(inlet, hooks=hooks))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                                     timeout=10) as client:
            yield claw, client
    finally:
        await claw.stop()


@pytest.fixture
async def wa(home: SimHome, tmp_path: Path) -> AsyncIterator[tuple[Claw, httpx.AsyncClient]]:
    async with webhook_claw(home, tmp_path) as pair:
        yield pair


_sids = iter(range(1, 1_000_000))


def new_sid(prefix: str = "SM") -> str:
    return f"{prefix}{next(_sids):032x}"


def message(text: str, sender: str = OWNER_WA, sid: str | None = None, **extra: str) -> dict[str, str]:
    return {"AccountSid": "AC" + "a1" * 16, "ApiVersion": "2010-04-01", "Body": text, "From": sender,
            "To": "whatsapp:+14155238886", "MessageSid": sid or new_sid(), "SmsMessageSid": sid or "",
            "NumMedia": "0", "NumSegments": "1", "ProfileName": "Sam", "WaId": sender.split("+")[-1], **extra}


def sign(path: str, params: dict[str, str], *, token: str = TOKEN, base: str = PUBLIC,
         algorithm: str | None = None) -> str:
    return RequestValidator(token).compute_signature(base + path, params, algorithm)


async def post(client: httpx.AsyncClient, params: dict[str, str], path: str = "/twilio/whatsapp",
               **sign_kw: Any) -> httpx.Response:
    return await client.post(path, data=params, headers={"X-Twilio-Signature": sign(path, params, **sign_kw)})


def inbox(claw: Claw) -> list[dict[str, Any]]:
    return [claw.store.inbox_get(r["id"]) for r in claw.store.db.query("SELECT id FROM inbox ORDER BY id")]


def outbox(claw: Claw, recipient: str | None = None) -> list[dict[str, Any]]:
    rows = [claw.store.outbox_get(r["id"]) for r in claw.store.db.query("SELECT id FROM outbox ORDER BY id")]
    return [r for r in rows if recipient is None or r["recipient"] == recipient]


def turns(claw: Claw) -> int:
    return claw.store.db.execute("SELECT COUNT(*) FROM turns WHERE role = 'user'").fetchone()[0]


def assert_twiml(r: httpx.Response) -> None:
    assert r.status_code == 200, r.text
    assert r.text == TWIML_EMPTY
    assert r.headers["content-type"].startswith("text/xml")


# signatures --------------------------------------------------------------------------------------
async def test_signed_message_is_stored_with_its_sid_and_answered_with_empty_twiml(wa: Any) -> None:
    claw, client = wa
    params = message("hello there")
    assert_twiml(await post(client, params))
    await claw.agent.idle()
    [row] = inbox(claw)
    assert (row["channel"], row["sender"], row["text"], row["external_id"]) == (
        "whatsapp", OWNER_WA, "hello there", params["MessageSid"])
    assert row["status"] == "done"


def _tampered(kind: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """(request path, form sent, headers) for one way of getting the signature wrong."""
    params = message("turn on the kitchen light")
    path = "/twilio/whatsapp"
    good = sign(path, params)
    if kind == "wrong token":
        return path, params, {"X-Twilio-Signature": sign(path, params, token="f" * 32)}
    if kind == "changed field":
        return path, {**params, "Body": "unlock the front door"}, {"X-Twilio-Signature": good}
    if kind == "changed sender":
        return path, {**params, "From": "whatsapp:+15550000000"}, {"X-Twilio-Signature": good}
    if kind == "added field":
        return path, {**params, "MediaUrl0": "http://127.0.0.1:9/x"}, {"X-Twilio-Signature": good}
    if kind == "missing header":
        return path, params, {}
    if kind == "empty header":
        return path, params, {"X-Twilio-Signature": ""}
    if kind == "other path":
        return path, params, {"X-Twilio-Signature": sign("/twilio/status", params)}
    if kind == "other host":
        return path, params, {"X-Twilio-Signature": sign(path, params, base="https://evil.example.test")}
    if kind == "http instead of https":
        return path, params, {"X-Twilio-Signature": sign(path, params, base="http://claw.example.test")}
    if kind == "missing query string":
        return path, params, {"X-Twilio-Signature": sign(path + "?route=home", params)}
    if kind == "added query string":
        return path + "?route=home", params, {"X-Twilio-Signature": good}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["wrong token", "changed field", "changed sender", "added field", "missing header",
                                  "empty header", "other path", "other host", "http instead of https",
                                  "missing query string", "added query string"])
async def test_bad_signatures_are_403_and_reach_nothing(wa: Any, home: SimHome, kind: str) -> None:
    claw, client = wa
    path, params, headers = _tampered(kind)
    r = await client.post(path, data=params, headers=headers)
    assert r.status_code == 403, r.text
    assert PUBLIC not in r.text and "signature" not in r.text  # the details go to the log only
    await claw.agent.idle()
    assert inbox(claw) == [] and outbox(claw) == []
    assert home.physical_commands() == 0


async def test_the_query_string_is_part_of_the_signed_url(wa: Any) -> None:
    claw, client = wa
    params = message("hello")
    r = await client.post("/twilio/whatsapp?route=home&x=%20y", data=params,
                          headers={"X-Twilio-Signature": sign("/twilio/whatsapp?route=home&x=%20y", params)})
    assert_twiml(r)
    await claw.agent.idle()
    assert [row["external_id"] for row in inbox(claw)] == [params["MessageSid"]]


async def test_sha256_shared_key_signatures(home: SimHome, tmp_path: Path) -> None:
    path = "/twilio/whatsapp"
    async with webhook_claw(home, tmp_path, shared_keys=["old-rotated-key", SHARED_KEY]) as (claw, client):
        params = message("hello")
        sig = sign(path, params, token=SHARED_KEY, algorithm="HMAC_SHA256")
        r = await client.post(path, data=params, headers={"X-Twilio-Signature": sig,
                                                          "X-Twilio-Webhooks-Signature-Settings": SHA256_HEADER})
        assert_twiml(r)
        bad = [
            ({"X-Twilio-Signature": sig}, message("no settings header")),  # then it is SHA-1 with the auth token
            ({"X-Twilio-Signature": sign(path, message("x", sid="SM" + "1" * 32), token=TOKEN,
                                         algorithm="HMAC_SHA256"),
              "X-Twilio-Webhooks-Signature-Settings": SHA256_HEADER}, message("x", sid="SM" + "1" * 32)),
            ({"X-Twilio-Signature": sign(path, message("y", sid="SM" + "2" * 32), token=SHARED_KEY),
              "X-Twilio-Webhooks-Signature-Settings": SHA256_HEADER}, message("y", sid="SM" + "2" * 32)),
            ({"X-Twilio-Signature": sign(path, message("z", sid="SM" + "3" * 32), token=SHARED_KEY,
                                         algorithm="HMAC_SHA256"),
              "X-Twilio-Webhooks-Signature-Settings": "key=k,algorithm=HMAC_MD5"}, message("z", sid="SM" + "3" * 32)),
        ]
        for headers, form in bad:
            r = await client.post(path, data=form, headers=headers)
            assert r.status_code == 403, (headers, r.text)
        await claw.agent.idle()
        assert [row["external_id"] for row in inbox(claw)] == [params["MessageSid"]]
    # no shared key configured: a SharedKey-signed request cannot be verified and is refused
    async with webhook_claw(home, tmp_path / "nokey") as (claw, client):
        r = await client.post(path, data=params, headers={"X-Twilio-Signature": sig,
                                                          "X-Twilio-Webhooks-Signature-Settings": SHA256_HEADER})
        assert r.status_code == 403
        assert inbox(claw) == []


async def test_json_body_is_verified_by_body_sha256_and_then_refused(wa: Any) -> None:
    claw, client = wa
    body = json.dumps({"MessageSid": new_sid(), "From": OWNER_WA, "Body": "hi"})
    path = f"/twilio/whatsapp?bodySHA256={hashlib.sha256(body.encode()).hexdigest()}"
    sig = RequestValidator(TOKEN).compute_signature(PUBLIC + path, {})
    headers = {"X-Twilio-Signature": sig, "Content-Type": "application/json"}
    assert (await client.post(path, content=body, headers=headers)).status_code == 400  # authentic, unsupported
    tampered = body.replace("hi", "unlock the front door")
    assert (await client.post(path, content=tampered, headers=headers)).status_code == 403
    assert inbox(claw) == []


# malformed ---------------------------------------------------------------------------------------
def _malformed(kind: str) -> tuple[str | bytes | dict[str, str], dict[str, str]]:
    path = "/twilio/whatsapp"
    form = message("hello")
    if kind == "text/plain":
        content = "Body=hello"
        return content, {"Content-Type": "text/plain", "X-Twilio-Signature": sign(path, {})}
    if kind == "latin-1 charset":
        return "Body=hello", {"Content-Type": "application/x-www-form-urlencoded; charset=latin-1",
                              "X-Twilio-Signature": "x"}
    drop = {"no From": "From", "no MessageSid": "MessageSid", "no Body": "Body"}
    if kind in drop:
        form.pop(drop[kind])
        return form, {"X-Twilio-Signature": sign(path, form)}
    if kind == "bad MessageSid":
        form["MessageSid"] = "not-a-sid"
    elif kind == "absurd NumMedia":
        form["NumMedia"] = "99"
    elif kind == "media count without URL":
        form["NumMedia"] = "1"
    elif kind == "non-UTF-8 body":
        raw = "&".join(f"{k}={v}" for k, v in form.items() if k != "Body") + "&Body=caf%E9"
        return raw.encode(), {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "sig"}
    elif kind == "raw 8-bit bytes":
        return b"Body=caf\xc3\xa9", {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "s"}
    elif kind == "absurd size":
        return b"Body=" + b"a" * 2_000_000, {"Content-Type": "application/x-www-form-urlencoded",
                                              "X-Twilio-Signature": "sig"}
    elif kind == "From twice":
        raw = "From=whatsapp%3A%2B15551230002&" + str(httpx.QueryParams(form))
        sig = RequestValidator(TOKEN).compute_signature(PUBLIC + path,
                                                        ImmutableMultiDict(httpx.QueryParams(raw).multi_items()))
        return raw.encode(), {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig}
    else:
        raise AssertionError(kind)
    return form, {"X-Twilio-Signature": sign(path, form)}


@pytest.mark.parametrize("kind", ["text/plain", "latin-1 charset", "no From", "no MessageSid", "no Body",
                                  "bad MessageSid", "absurd NumMedia", "media count without URL",
                                  "non-UTF-8 body", "raw 8-bit bytes", "absurd size", "From twice"])
async def test_malformed_requests_are_400_and_reach_nothing(wa: Any, home: SimHome, kind: str) -> None:
    claw, client = wa
    payload, headers = _malformed(kind)
    if isinstance(payload, dict):
        r = await client.post("/twilio/whatsapp", data=payload, headers=headers)
    else:
        r = await client.post("/twilio/whatsapp", content=payload, headers=headers)
    assert r.status_code == 400, r.text
    await claw.agent.idle()
    assert inbox(claw) == [] and outbox(claw) == []
    assert home.physical_commands() == 0


# exactly once, and the real effect -------------------------------------------------------------------
async def test_owner_turns_on_the_kitchen_light_once_despite_200_retries(wa: Any, home: SimHome) -> None:
    claw, client = wa
    light = home.sim("kitchen light")
    assert light.state["on"] is False
    params = message("turn on the kitchen light")
    for _ in range(200):
        assert_twiml(await post(client, params))
    await claw.agent.idle()
    [row] = inbox(claw)
    assert (row["external_id"], row["status"]) == (params["MessageSid"], "done")
    assert turns(claw) == 1
    assert light.state["on"] is True
    assert len(light.commands) == 1 and home.physical_commands() == 1
    [reply] = outbox(claw, OWNER_WA)
    assert reply["channel"] == "whatsapp" and "kitchen light" in reply["text"]


async def test_non_image_media_is_stored_with_its_type(wa: Any) -> None:
    claw, client = wa
    url = "http://127.0.0.1:9/2010-04-01/Accounts/AC/Messages/MM/Media/ME1"
    params = message("", sid=new_sid("MM"), NumMedia="1", MediaUrl0=url, MediaContentType0="audio/ogg")
    assert_twiml(await post(client, params))
    await claw.agent.idle()
    [row] = inbox(claw)
    assert (row["media"], row["media_types"]) == ([url], ["audio/ogg"])


# senders -----------------------------------------------------------------------------------------
async def test_unknown_sender_is_stored_denied_and_gets_nothing_without_pairing(wa: Any, home: SimHome) -> None:
    claw, client = wa
    assert_twiml(await post(client, message("turn on the kitchen light", sender=STRANGER_WA)))
    assert_twiml(await post(client, message("turn on the kitchen light", sender=f"SMS:{OWNER}")))
    assert_twiml(await post(client, message("turn on the kitchen light", sender=OWNER)))  # SMS, not WhatsApp
    await claw.agent.idle()
    rows = inbox(claw)
    assert [r["status"] for r in rows] == ["denied"] * 3
    assert rows[0]["sender"] == STRANGER_WA
    assert turns(claw) == 0 and outbox(claw) == []
    assert home.sim("kitchen light").state["on"] is False and home.physical_commands() == 0


async def test_pairing_code_then_owner_approval_lets_the_next_message_through(
        home: SimHome, tmp_path: Path) -> None:
    async with webhook_claw(home, tmp_path, pairing=True) as (claw, client):
        for text in ("hi, it's Alex", "hello?", "turn on the kitchen light"):
            assert_twiml(await post(client, message(text, sender=STRANGER_WA)))
        await claw.agent.idle()
        assert [r["status"] for r in inbox(claw)] == ["denied"] * 3
        [code_msg] = outbox(claw, STRANGER_WA)  # one code per pairing window, not one per message
        code = next(word.strip(".") for word in code_msg["text"].split() if word.strip(".").isdigit())
        assert len(code) == 6 and home.physical_commands() == 0
        assert handle_pairing_command(claw.store, False, f"approve {code}", notify=claw.notifier.send) == (
            "Only the owner can approve or deny new numbers.")
        assert claw.store.sender_get("whatsapp", STRANGER_WA)["status"] == "pending"
        assert "+15557654321" in handle_pairing_command(claw.store, True, f"approve {code}",
                                                        notify=claw.notifier.send)
        assert_twiml(await post(client, message("turn on the kitchen light", sender=STRANGER_WA)))
        await claw.agent.idle()
        assert inbox(claw)[-1]["status"] == "done"
        assert home.sim("kitchen light").state["on"] is True


async def test_owner_approves_over_whatsapp_and_the_number_is_told_through_the_notifier(
        home: SimHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with webhook_claw(home, tmp_path, pairing=True) as (claw, client):
        assert_twiml(await post(client, message("hi, it's Alex", sender=STRANGER_WA)))
        code = claw.store.sender_get("whatsapp", STRANGER_WA)["code"]
        sent: list[tuple[Any, ...]] = []
        send = claw.notifier.send
        monkeypatch.setattr(claw.notifier, "send", lambda *a, **kw: sent.append(a) or send(*a, **kw))
        assert_twiml(await post(client, message(f"approve {code}")))  # the owner, in a turn
        await claw.agent.idle()
        assert claw.store.sender_get("whatsapp", STRANGER_WA)["status"] == "allowed"
        assert sent == [("whatsapp", STRANGER_WA, APPROVED_NOTICE)]
        assert [r["text"] for r in outbox(claw, STRANGER_WA)][-1] == APPROVED_NOTICE
        assert outbox(claw, OWNER_WA)[-1]["text"].startswith("Approved +15557654321")


async def test_denied_number_gets_no_new_code(home: SimHome, tmp_path: Path) -> None:
    async with webhook_claw(home, tmp_path, pairing=True) as (claw, client):
        claw.store.sender_set("whatsapp", STRANGER_WA, "denied")
        assert_twiml(await post(client, message("let me in", sender=STRANGER_WA)))
        assert inbox(claw)[0]["status"] == "denied" and outbox(claw) == []


# limits ------------------------------------------------------------------------------------------
async def test_rate_limit_denies_later_messages_with_one_notice_a_minute(home: SimHome, tmp_path: Path) -> None:
    clock = Clock()
    async with webhook_claw(home, tmp_path, clock=clock, rate_limit_per_minute=3) as (claw, client):
        for n in range(6):
            assert_twiml(await post(client, message(f"hello {n}")))
        await claw.agent.idle()
        assert [r["status"] for r in inbox(claw)] == ["done"] * 3 + ["denied"] * 3
        notices = [r for r in outbox(claw, OWNER_WA) if "faster" in r["text"]]
        assert len(notices) == 1 and turns(claw) == 3
        clock.now += 60  # a minute later the bucket is full again
        for n in range(4):
            assert_twiml(await post(client, message(f"later {n}")))
        await claw.agent.idle()
        assert [r["status"] for r in inbox(claw)][6:] == ["done"] * 3 + ["denied"]
        assert len([r for r in outbox(claw, OWNER_WA) if "faster" in r["text"]]) == 2


async def test_oversized_body_gets_a_polite_notice_and_no_turn(home: SimHome, tmp_path: Path) -> None:
    async with webhook_claw(home, tmp_path, max_body_chars=50) as (claw, client):
        params = message("turn on the kitchen light " + "please " * 10)
        assert_twiml(await post(client, params))
        assert_twiml(await post(client, params))  # a retry: no second notice
        await claw.agent.idle()
        [row] = inbox(claw)
        assert row["status"] == "denied" and turns(claw) == 0
        [notice] = outbox(claw, OWNER_WA)
        assert "too long" in notice["text"] and "50" in notice["text"]
        assert home.physical_commands() == 0


# held messages and status callbacks ----------------------------------------------------------------
async def test_owner_message_releases_held_messages_with_an_explanation(wa: Any) -> None:
    claw, client = wa
    ids = [claw.store.outbox_add(OutboundMessage("whatsapp", OWNER_WA, f"alert {n}", proactive=True))
           for n in range(2)]
    for i in ids:
        claw.store.outbox_hold(i, "outside the window")
    assert_twiml(await post(client, message("hello")))
    await claw.agent.idle()
    assert claw.store.outbox_held("whatsapp", OWNER_WA) == []
    texts = [r["text"] for r in outbox(claw, OWNER_WA)]
    assert texts[:2] == ["alert 0", "alert 1"]
    assert any("held those 2 messages" in t and "24 hours" in t for t in texts)


async def test_status_callback_updates_the_outbox(wa: Any) -> None:
    claw, client = wa
    out_id = claw.store.outbox_add(OutboundMessage("whatsapp", OWNER_WA, "hi"))
    sid = new_sid()
    claw.store.outbox_mark_sent(out_id, sid)
    form = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC" + "a1" * 16}
    r = await post(client, form, path="/twilio/status")
    assert r.status_code in (200, 204)
    assert claw.store.outbox_get(out_id)["status"] == "delivered"
    r = await client.post("/twilio/status", data={**form, "MessageStatus": "failed"})  # unsigned
    assert r.status_code == 403 and claw.store.outbox_get(out_id)["status"] == "delivered"
    r = await post(client, {**form, "MessageStatus": "read"}, path="/twilio/status")
    assert claw.store.outbox_get(out_id)["status"] == "read"
    r = await post(client, {**form, "MessageSid": new_sid()}, path="/twilio/status")  # unknown sid
    assert r.status_code in (200, 204)
    out2 = claw.store.outbox_add(OutboundMessage("whatsapp", OWNER_WA, "later"))
    sid2 = new_sid()
    claw.store.outbox_mark_sent(out2, sid2)
    await post(client, {"MessageSid": sid2, "MessageStatus": "undelivered", "ErrorCode": "63016"},
               path="/twilio/status")
    row = claw.store.outbox_get(out2)
    assert row["status"] == "failed" and "63016" in row["error"]
    assert (await post(client, {"MessageSid": sid2}, path="/twilio/status")).status_code == 400


async def test_signed_doctor_probe_is_acknowledged_and_not_stored(wa: Any) -> None:
    claw, client = wa
    params = message("claw doctor probe")
    r = await client.post("/twilio/whatsapp", data=params,
                          headers={"X-Twilio-Signature": sign("/twilio/whatsapp", params), "X-Claw-Doctor": "1"})
    assert_twiml(r)
    assert r.headers["X-Claw-Doctor"] == "ok"
    r = await client.post("/twilio/whatsapp", data=params, headers={"X-Claw-Doctor": "1"})
    assert r.status_code == 403
    assert inbox(claw) == []


async def test_refusals_are_logged_with_the_checked_url_and_without_secrets(
        wa: Any, caplog: pytest.LogCaptureFixture) -> None:
    claw, client = wa
    params = message("hello")
    bad = sign("/twilio/whatsapp", params, token="f" * 32)
    with caplog.at_level("WARNING", logger="claw.channels.whatsapp.webhook"):
        assert (await client.post("/twilio/whatsapp", data=params, headers={"X-Twilio-Signature": bad})
                ).status_code == 403
        assert (await client.post("/twilio/whatsapp", data=params, headers={
            "X-Twilio-Signature": bad, "X-Twilio-Webhooks-Signature-Settings": SHA256_HEADER})).status_code == 403
    text = caplog.text
    assert f"bad HMAC_SHA1 signature for {PUBLIC}/twilio/whatsapp" in text
    assert "no webhook shared key is configured" in text and "webhooks_sharedkey_01hzexample" in text
    assert TOKEN not in text and bad not in text and "hello" not in text
