"""WhatsApp sending with the real twilio Client against a loopback fake of Twilio: replies, splitting, retries,
permanent errors, the 24-hour window, signed status callbacks, outbound media links and inbound media fetching."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from twilio.request_validator import RequestValidator

from claw.channels.media import MediaStore, media_router, media_store_for
from claw.channels.outbox import OutboxDispatcher, split_text
from claw.channels.whatsapp.client import LoopbackTwilioHttpClient, RefusedHost, check_api_base, make_twilio_client
from claw.channels.whatsapp.send import HOLD_REASON, WhatsAppChannel, channel_error, status_from_callback
from claw.config import TwilioSettings
from claw.errors import ConfigError
from claw.events import InboundMessage, OutboundMessage
from memory.store import Store
from tests.conftest import make_settings
from tests.fakes.twilio_server import FakeTwilio

OWNER = "whatsapp:+15551230001"
FRIEND = "whatsapp:+15551230002"
PUBLIC = "https://claw.example.net"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 5000


class CallbackSink(BaseHTTPRequestHandler):
    """Stands in for the claw's /twilio/status route on loopback: records what Twilio posts."""

    posts: list[dict[str, Any]]

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.posts.append({"path": self.path, "form": dict(parse_qsl(body, keep_blank_values=True)),
                           "signature": self.headers.get("X-Twilio-Signature")})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as f:
        yield f


@pytest.fixture
def sink(fake: FakeTwilio) -> Iterator[type[CallbackSink]]:
    handler = type("Sink", (CallbackSink,), {"posts": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = False  # server_close() joins the handler threads
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    fake.route(PUBLIC, f"http://127.0.0.1:{server.server_address[1]}")  # a tunnel: public URL -> this box
    yield handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def media(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media", b"k" * 32)


def twilio_settings(fake: FakeTwilio, **overrides: Any) -> TwilioSettings:
    values: dict[str, Any] = {"account_sid": fake.account_sid, "auth_token": fake.auth_token,
                              "from_number": "whatsapp:+14155238886", "public_url": PUBLIC,
                              "api_base": fake.base_url, "owners": ["+15551230001"]}
    return TwilioSettings(**{**values, **overrides})


@pytest.fixture
def make_channel(fake: FakeTwilio, store: Store, media: MediaStore) -> Iterator[Any]:
    made: list[WhatsAppChannel] = []

    def build(**overrides: Any) -> WhatsAppChannel:
        channel = WhatsAppChannel(twilio_settings(fake, **overrides), store, media)
        made.append(channel)
        return channel

    yield build
    for channel in made:
        channel.close()


@pytest.fixture
def channel(make_channel: Any) -> WhatsAppChannel:
    return make_channel()


def owner_wrote(store: Store, who: str = OWNER, hours_ago: float = 0.0) -> int:
    inbox_id, _ = store.inbox_add(InboundMessage(channel="whatsapp", sender=who, text="hi",
                                                 external_id=f"SM{time.time_ns()}"))
    store._write("UPDATE inbox SET created_at = ? WHERE id = ?", (time.time() - hours_ago * 3600, inbox_id))
    return inbox_id


def enqueue(store: Store, text: str, who: str = OWNER, **kw: Any) -> int:
    return store.outbox_add(OutboundMessage(channel="whatsapp", recipient=who, text=text, **kw))


def dispatcher(store: Store, channel: WhatsAppChannel) -> OutboxDispatcher:
    return OutboxDispatcher(store, {"whatsapp": channel}, base_delay=0.0, poll_seconds=0.01)


# ------------------------------------------------------------------------------------ sending


async def test_reply_is_sent_through_the_real_client(fake: FakeTwilio, store: Store, channel: WhatsAppChannel) -> None:
    inbox_id = owner_wrote(store)
    oid = enqueue(store, "The kitchen light is on.", inbox_id=inbox_id)
    assert await dispatcher(store, channel).drain_once() == 1
    [msg] = fake.messages
    assert (msg["To"], msg["From"], msg["Body"]) == (OWNER, "whatsapp:+14155238886", "The kitchen light is on.")
    assert msg["StatusCallback"] == f"{PUBLIC}/twilio/status" and msg["MediaUrl"] == []
    row = store.outbox_get(oid)
    assert row["status"] == "sent" and row["external_id"] == msg["sid"] and msg["sid"].startswith("SM")


async def test_long_reply_is_split_and_arrives_in_order(fake: FakeTwilio, store: Store,
                                                        channel: WhatsAppChannel) -> None:
    owner_wrote(store)
    text = " ".join(f"Sentence {i} tells you something about the house." for i in range(120))
    parts = split_text(text, channel.max_length)
    assert len(parts) >= 3
    for part in parts:
        enqueue(store, part)
    assert await dispatcher(store, channel).drain_once() == len(parts)
    assert [m["Body"] for m in fake.messages] == parts
    assert all(len(m["Body"]) <= 1600 for m in fake.messages)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_transient_errors_are_retried_then_sent_once(fake: FakeTwilio, store: Store,
                                                           channel: WhatsAppChannel, status: int) -> None:
    owner_wrote(store)
    oid = enqueue(store, "hello")
    fake.fail_next(2, status=status)
    d = dispatcher(store, channel)
    for attempt in (1, 2):
        assert await d.drain_once() == 0
        row = store.outbox_get(oid)
        assert row["status"] == "pending" and row["attempts"] == attempt and f"HTTP {status}" in row["error"]
    assert await d.drain_once() == 1
    assert [a["status"] for a in fake.attempts] == [status, status, 201]
    assert len(fake.messages) == 1 and store.outbox_get(oid)["status"] == "sent"


@pytest.mark.parametrize(("text", "outside", "code"), [("x" * 1700, False, "21617"), ("late", True, "63016")],
                         ids=["body-too-long", "reply-outside-window"])
async def test_permanent_errors_fail_the_row_with_the_code_and_are_not_retried(
        fake: FakeTwilio, store: Store, channel: WhatsAppChannel, text: str, outside: bool, code: str) -> None:
    if outside:
        fake.outside_window.add(OWNER)
    oid = enqueue(store, text, inbox_id=owner_wrote(store))  # 1700 characters bypass the splitter on purpose
    d = dispatcher(store, channel)
    await d.drain_once()
    await d.drain_once()
    row = store.outbox_get(oid)
    assert row["status"] == "failed" and code in row["error"]
    assert [a["status"] for a in fake.attempts] == [400] and fake.messages == []


async def test_proactive_message_outside_the_window_is_held_until_the_owner_writes(
        fake: FakeTwilio, store: Store, channel: WhatsAppChannel) -> None:
    owner_wrote(store, hours_ago=30)
    oid = enqueue(store, "Motion at the front door.", proactive=True)
    d = dispatcher(store, channel)
    await d.drain_once()
    row = store.outbox_get(oid)
    assert row["status"] == "held" and row["error"] == HOLD_REASON and fake.attempts == []
    owner_wrote(store)
    assert store.outbox_release_held("whatsapp", OWNER) == 1
    assert await d.drain_once() == 1
    assert [m["Body"] for m in fake.messages] == ["Motion at the front door."]


async def test_proactive_message_outside_the_window_goes_out_as_a_template(
        fake: FakeTwilio, store: Store, make_channel: Any) -> None:
    template = "HX" + "a" * 32
    channel = make_channel(window_policy="template", template_content_sid=template)
    fake.outside_window.add(OWNER)  # a free-form body would be refused with 63016
    owner_wrote(store, hours_ago=25)
    oid = enqueue(store, "Garage door open\nsince 20:00.", proactive=True)
    assert await dispatcher(store, channel).drain_once() == 1
    [msg] = fake.messages
    assert msg["ContentSid"] == template and msg["Body"] is None
    assert json.loads(msg["ContentVariables"]) == {"1": "Garage door open since 20:00."}
    assert store.outbox_get(oid)["status"] == "sent"


async def test_window_boundaries(store: Store, channel: WhatsAppChannel) -> None:
    now = time.time()
    assert not channel.in_window(OWNER, now)
    owner_wrote(store, hours_ago=25)
    assert not channel.in_window(OWNER, now)
    owner_wrote(store, hours_ago=23)
    assert channel.in_window(OWNER, now)
    assert not channel.in_window(FRIEND, now)


# --------------------------------------------------------------------------------- callbacks


async def test_signed_status_callbacks_move_rows_to_read_or_failed(
        fake: FakeTwilio, sink: type[CallbackSink], store: Store, channel: WhatsAppChannel) -> None:
    owner_wrote(store)
    owner_wrote(store, FRIEND)
    fake.outcome(FRIEND, ["queued", "sent", "undelivered"], error_code=63024)
    ok, bad = enqueue(store, "to the owner"), enqueue(store, "to a friend", who=FRIEND)
    assert await dispatcher(store, channel).drain_once() == 2
    assert fake.wait_callbacks(7) and len(sink.posts) == 7
    validator = RequestValidator(fake.auth_token)
    url = f"{PUBLIC}/twilio/status"
    for post in sink.posts:
        assert post["path"] == "/twilio/status"
        assert validator.validate(url, post["form"], post["signature"])
        assert not RequestValidator("wrong-token").validate(url, post["form"], post["signature"])
        assert not validator.validate(url, {**post["form"], "MessageStatus": "read"} if
                                      post["form"]["MessageStatus"] != "read" else {}, post["signature"])
        mapped = status_from_callback(post["form"])
        assert mapped is not None
        assert store.outbox_set_status(post["form"]["MessageSid"], mapped[0], mapped[1])
    owner_statuses = [p["form"]["MessageStatus"] for p in sink.posts if p["form"]["To"] == OWNER]
    assert owner_statuses == ["queued", "sent", "delivered", "read"]
    assert store.outbox_get(ok)["status"] == "read"
    row = store.outbox_get(bad)
    assert row["status"] == "failed" and "63024" in row["error"]


async def test_a_window_failure_reported_by_callback_fails_the_row(
        fake: FakeTwilio, sink: type[CallbackSink], store: Store, channel: WhatsAppChannel) -> None:
    fake.window_error = "callback"  # Twilio may accept the request and fail it afterwards
    fake.outside_window.add(OWNER)
    oid = enqueue(store, "late", inbox_id=owner_wrote(store))
    assert await dispatcher(store, channel).drain_once() == 1
    assert fake.wait_callbacks(2) and [p["form"]["MessageStatus"] for p in sink.posts] == ["queued", "failed"]
    for post in sink.posts:
        store.outbox_set_status(post["form"]["MessageSid"], *status_from_callback(post["form"]))
    row = store.outbox_get(oid)
    assert row["status"] == "failed" and "63016" in row["error"]


def test_status_mapping() -> None:
    assert status_from_callback({"MessageStatus": "queued"}) == ("pending", None)
    assert status_from_callback({"MessageStatus": "delivered"}) == ("delivered", None)
    assert status_from_callback({"SmsStatus": "read"}) == ("read", None)
    status, error = status_from_callback({"MessageStatus": "failed", "ErrorCode": "63016"})
    assert status == "failed" and "63016" in error and "window" in error
    assert status_from_callback({"MessageStatus": "undelivered"}) == ("failed", "undelivered")
    assert status_from_callback({"MessageStatus": "received"}) is None
    assert status_from_callback({}) is None


@pytest.mark.parametrize(("status", "code", "permanent"), [
    (400, 21617, True), (400, 63016, True), (400, 21211, True), (400, 21610, True), (400, 99999, True),
    (500, 20500, False), (503, 20500, False), (429, 20429, False), (400, 63018, False), (401, 20003, False),
])
def test_error_mapping(status: int, code: int, permanent: bool) -> None:
    from twilio.base.exceptions import TwilioRestException

    error = channel_error(TwilioRestException(status, "https://api.twilio.com/x", "boom", code))
    assert error.permanent is permanent and error.code == str(code) and str(code) in str(error)


# ------------------------------------------------------------------------------------- media


async def test_outbound_media_is_a_signed_link_fetchable_only_while_valid(
        fake: FakeTwilio, store: Store, media: MediaStore, channel: WhatsAppChannel, tmp_path: Path) -> None:
    owner_wrote(store)
    stored = media.save(JPEG, "image/jpeg")
    snapshot = tmp_path / "snap.png"
    snapshot.write_bytes(PNG)
    enqueue(store, "Here is the porch.", media=(str(stored.path), str(snapshot), str(tmp_path / "gone.jpg")))
    assert await dispatcher(store, channel).drain_once() == 1
    [msg] = fake.messages
    assert msg["sid"].startswith("MM") and len(msg["MediaUrl"]) == 2  # the missing file is left out
    app = FastAPI()
    app.include_router(media_router(media))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as http:
        jpeg_url, png_url = msg["MediaUrl"]
        assert jpeg_url.startswith(f"{PUBLIC}/media/{stored.path.name}?exp=")
        got = await http.get(jpeg_url)
        assert got.status_code == 200 and got.content == JPEG and got.headers["content-type"] == "image/jpeg"
        got = await http.get(png_url)
        assert got.status_code == 200 and got.content == PNG and got.headers["content-type"] == "image/png"
        parts = urlsplit(jpeg_url)
        query = dict(parse_qsl(parts.query))
        tampered = f"{parts.path}?exp={int(query['exp']) + 3600}&sig={query['sig']}"
        assert (await http.get(tampered)).status_code == 403
        assert (await http.get(f"{parts.path}?exp={query['exp']}&sig={'0' * 64}")).status_code == 403
        assert (await http.get(parts.path)).status_code == 403
        expired = media.signed_url(PUBLIC, stored.path.name, ttl=60, now=time.time() - 3600)
        assert (await http.get(expired)).status_code == 403
        other = media.save(JPEG, "image/jpeg")
        other.path.unlink()
        assert (await http.get(media.signed_url(PUBLIC, other.path.name, 60))).status_code == 404
        assert (await http.get("/media/..%2Fmedia_secret?exp=9999999999&sig=x")).status_code == 404


def test_media_store_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    first, second = media_store_for(settings), media_store_for(settings)
    secret = settings.data_dir / "media_secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    saved = first.save(JPEG, "image/jpeg")
    url = first.signed_url(PUBLIC, saved.path.name, 60)
    query = dict(parse_qsl(urlsplit(url).query))
    assert second.verify(saved.path.name, query["exp"], query["sig"])
    assert not MediaStore(tmp_path / "m2", b"z" * 32).verify(saved.path.name, query["exp"], query["sig"])
    with pytest.raises(ValueError):
        first.path("../claw.db")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_inbound_media_fetch_caps_size_skips_non_images_and_keeps_credentials_on_twilio(
        fake: FakeTwilio, make_channel: Any, media: MediaStore, chunked: bool) -> None:
    fake.media_chunked = chunked  # without a Content-Length the cap applies while streaming
    channel = make_channel(media_max_bytes=4096)
    row = {"media": [fake.add_media("ME1", JPEG, "image/jpeg"), fake.add_media("ME2", PNG, "image/png"),
                     fake.add_media("ME3", b"%PDF-1.4", "application/pdf"), "http://127.0.0.2:9/evil.jpg",
                     fake.add_media("ME5", b"<html>not an image</html>", "image/jpeg")],
           "media_types": ["image/jpeg", "image/png", "application/pdf", "image/jpeg", "image/jpeg"]}
    result = await channel.fetch_media(row)
    [got] = result.files
    assert got.content_type == "image/jpeg" and got.size == len(JPEG) and got.path.read_bytes() == JPEG
    assert got.path.parent == media.root
    assert len(result.skipped) == 4
    assert "larger than 4096" in result.skipped[0] and "application/pdf" in result.skipped[1]
    assert "not a Twilio media URL" in result.skipped[2] and "not a JPEG" in result.skipped[3]
    requested = [r["path"] for r in fake.media_requests]
    assert "/media/ME3" not in requested  # skipped by type, never fetched
    assert all(r["authorization"] for r in fake.media_requests if r["path"].startswith("/media/"))
    assert not any(r["authorization"] for r in fake.media_requests if r["path"].startswith("/cdn/"))


async def test_inbound_media_with_bad_credentials_is_refused(fake: FakeTwilio, make_channel: Any) -> None:
    channel = make_channel(auth_token="not-the-token")
    result = await channel.fetch_media({"media": [fake.add_media("ME1", JPEG, "image/jpeg")],
                                        "media_types": ["image/jpeg"]})
    assert result.files == [] and "HTTP 401" in result.skipped[0]
    assert fake.media_requests == [{"path": "/media/ME1", "authorization": True}]


def test_media_url_policy_in_production(store: Store) -> None:
    sid = "AC" + "1" * 32
    settings = TwilioSettings(account_sid=sid, auth_token="t" * 32, from_number="whatsapp:+14155238886",
                              public_url=PUBLIC)
    channel = WhatsAppChannel(settings, store, client=object())  # type: ignore[arg-type]  # never used
    good = f"https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages/MM1/Media/ME1"
    assert channel.fetcher.credentialed_url(good)
    assert channel.fetcher.credentialed_url(good.replace("api.twilio.com", "api.dublin.ie1.twilio.com"))
    for bad in (good.replace("https", "http"), good.replace(sid, "AC" + "2" * 32),
                good.replace("api.twilio.com", "api.twilio.com.evil.net"), good.replace("api.", "u:p@api."),
                good.replace("api.twilio.com", "api.twilio.com:8443"), "https://mms.twiliocdn.com/x"):
        assert not channel.fetcher.credentialed_url(bad), bad
    assert channel.fetcher.redirect_allowed("https://mms.twiliocdn.com/AC1/abc?Expires=1")
    assert channel.fetcher.redirect_allowed("https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC1/x")
    assert not channel.fetcher.redirect_allowed("https://s3-external-1.amazonaws.com/other-bucket/x")
    assert not channel.fetcher.redirect_allowed("http://mms.twiliocdn.com/x")
    assert not channel.fetcher.redirect_allowed("https://twiliocdn.com.evil.net/x")
    channel.close()


# ------------------------------------------------------------------------- outage and client


async def test_twilio_down_then_up_delivers_everything_once_in_order(
        fake: FakeTwilio, store: Store, channel: WhatsAppChannel) -> None:
    owner_wrote(store)
    owner_wrote(store, FRIEND)
    fake.down()
    ids = [enqueue(store, f"{who[-1]}-{i}", who=who) for i in range(3) for who in (OWNER, FRIEND)]
    d = dispatcher(store, channel)
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    try:
        for _ in range(500):  # a few failed rounds while Twilio is unreachable
            if all((store.outbox_get(i)["attempts"] or 0) >= 3 for i in ids[:2]):
                break
            await asyncio.sleep(0.01)
        assert store.outbox_get(ids[0])["error"].startswith("Twilio unreachable")
        assert fake.messages == []
        fake.up()
        for _ in range(500):
            if all(store.outbox_get(i)["status"] == "sent" for i in ids):
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await task
    assert sorted(m["Body"] for m in fake.messages) == sorted(f"{w[-1]}-{i}" for i in range(3) for w in (OWNER, FRIEND))
    for who in (OWNER, FRIEND):
        assert [m["Body"] for m in fake.messages if m["To"] == who] == [f"{who[-1]}-{i}" for i in range(3)]


def test_the_rewriting_client_refuses_anything_but_twilio(fake: FakeTwilio) -> None:
    client = LoopbackTwilioHttpClient(fake.base_url)
    for url in ("https://example.com/2010-04-01/Accounts.json", "http://api.twilio.com/2010-04-01/x",
                "https://api.twilio.com.evil.net/x", "https://user:pw@api.twilio.com/x", "http://127.0.0.1:1/x"):
        with pytest.raises(RefusedHost):
            client.request("GET", url)
    assert client.rewrite("https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1.json?Page=2") == \
        f"{fake.base_url}/2010-04-01/Accounts/AC1.json?Page=2"
    assert fake.attempts == []
    for base in ("https://api.twilio.com", "http://10.0.0.1:8080", "http://127.0.0.1:1/?x=1"):
        with pytest.raises(ConfigError):
            check_api_base(base)
    client.session.close()


def test_the_real_client_with_region_and_edge_still_reaches_only_the_fake(fake: FakeTwilio) -> None:
    client = make_twilio_client(twilio_settings(fake), region="au1", edge="sydney")
    msg = client.messages.create(to=OWNER, from_="whatsapp:+14155238886", body="hi")
    assert msg.status == "queued" and fake.messages[0]["sid"] == msg.sid
    assert client.api.v2010.accounts(fake.account_sid).fetch().status == "active"
    client.http_client.session.close()


def test_media_store_prunes_old_files_only(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media", b"s" * 32)
    old, new = store.save(b"old", "image/png"), store.save(b"new", "image/png")
    os.utime(old.path, (time.time() - 40 * 86400,) * 2)
    assert store.prune(30 * 86400) == 1
    assert not old.path.exists() and new.path.read_bytes() == b"new"
