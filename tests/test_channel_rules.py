"""The channel rules: a channel hands the agent one submit (standing decided at its access check), never holds the
runtime, and every notice reaches the outbox through the Notifier; the channel table builds the channels."""

from __future__ import annotations

import ast
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from claw.channels.access import code_reply
from claw.channels.base import Inbound, LocalChannel
from claw.channels.notify import Notifier
from claw.channels.registry import CHANNELS, build_channels, channel_routes, media_for
from claw.channels.whatsapp.inlet import WhatsAppInlet, whatsapp_inlet
from claw.channels.whatsapp.send import WhatsAppChannel
from claw.channels.whatsapp.webhook import TwilioWebhooks, held_note, twilio_router
from claw.events import InboundMessage, OutboundMessage
from memory.store import Store
from tests.conftest import make_settings
from tests.test_twilio_webhook import OWNER_WA, STRANGER_WA, Clock, assert_twiml, message, post, twilio_settings

REPO = Path(__file__).resolve().parents[1]
GUEST_WA = "whatsapp:+15559870000"


@dataclass
class Agent:
    """A stand-in for the agent's submit: stores the message as the real one does and records it."""

    store: Store
    submitted: list[InboundMessage] = field(default_factory=list)

    def submit(self, msg: InboundMessage) -> tuple[int, bool]:
        self.submitted.append(msg)
        return self.store.inbox_add(msg)


@dataclass
class Outbox:
    """The dispatcher's two hooks the inlet may use: wake (through the Notifier) and early statuses."""

    wakes: int = 0
    early: list[tuple[str, str, str | None]] = field(default_factory=list)

    def wake(self) -> None:
        self.wakes += 1

    def note_status(self, sid: str, status: str, error: str | None) -> None:
        self.early.append((sid, status, error))


@dataclass
class Rig:
    store: Store
    agent: Agent
    outbox: Outbox
    notifier: Notifier
    hooks: TwilioWebhooks
    client: httpx.AsyncClient
    writers: list[str]  # the module of every caller of Store.outbox_add


@pytest.fixture
def writers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Who writes outbox rows: the calling module of each Store.outbox_add."""
    callers: list[str] = []
    original = Store.outbox_add

    def spy(self: Store, msg: OutboundMessage) -> int:
        callers.append(sys._getframe(1).f_globals["__name__"])
        return original(self, msg)

    monkeypatch.setattr(Store, "outbox_add", spy)
    yield callers


@asynccontextmanager
async def rig(writers: list[str], **tw: Any) -> AsyncIterator[Rig]:
    """The webhook handler built by hand, with no Claw anywhere: a real Store and Notifier, a recording submit."""
    store = Store.memory()
    agent, outbox = Agent(store), Outbox()
    notifier = Notifier(store, {"whatsapp": LocalChannel("whatsapp", max_length=1600)}, max_messages=4,
                        owner_route=("whatsapp", OWNER_WA), wake=outbox.wake)
    inlet = whatsapp_inlet(twilio_settings(**tw), submit=agent.submit, store=store, notifier=notifier,
                           note_status=outbox.note_status)
    hooks = TwilioWebhooks(inlet, clock=Clock())
    app = FastAPI()
    app.include_router(twilio_router(inlet, hooks=hooks))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1",
                                     timeout=10) as client:
            yield Rig(store, agent, outbox, notifier, hooks, client, writers)
    finally:
        store.close()


def outbox_rows(store: Store) -> list[dict[str, Any]]:
    return [store.outbox_get(r["id"]) for r in store.db.query("SELECT id FROM outbox ORDER BY id")]


def inbox_rows(store: Store) -> list[dict[str, Any]]:
    return [store.inbox_get(r["id"]) for r in store.db.query("SELECT id FROM inbox ORDER BY id")]


# one submit, standing decided at the access check ---------------------------------------------------
async def test_owner_and_guest_messages_are_one_submit_each_with_their_standing(writers: list[str]) -> None:
    async with rig(writers) as r:
        r.store.sender_set("whatsapp", GUEST_WA, "allowed")  # paired earlier
        assert_twiml(await post(r.client, message("turn on the kitchen light", sender="whatsapp:+1 555 123 0001")))
        [mine] = r.agent.submitted
        assert (mine.channel, mine.sender, mine.standing) == ("whatsapp", OWNER_WA, "owner")  # canonical address
        assert_twiml(await post(r.client, message("hello", sender=GUEST_WA)))
        assert [(m.sender, m.text, m.standing) for m in r.agent.submitted] == [
            (OWNER_WA, "turn on the kitchen light", "owner"), (GUEST_WA, "hello", "guest")]
        assert [row["standing"] for row in inbox_rows(r.store)] == ["owner", "guest"]
        assert outbox_rows(r.store) == [] and writers == []


async def test_a_stranger_never_reaches_submit_and_its_pairing_code_goes_through_the_notifier(
        writers: list[str]) -> None:
    async with rig(writers, pairing=True) as r:
        for text in ("hi, it's Alex", "hello?"):
            assert_twiml(await post(r.client, message(text, sender=STRANGER_WA)))
        assert r.agent.submitted == []
        denied = inbox_rows(r.store)
        assert [(row["status"], row["error"]) for row in denied] == [("denied", "unknown sender"),
                                                                     ("denied", "sender awaiting approval")]
        [notice] = outbox_rows(r.store)  # one code per pairing window
        code = r.store.sender_get("whatsapp", STRANGER_WA)["code"]
        assert (notice["channel"], notice["recipient"], notice["text"], notice["inbox_id"]) == (
            "whatsapp", STRANGER_WA, code_reply(code, 600.0), denied[0]["id"])
        assert writers == ["claw.channels.notify"]  # the Notifier wrote it, nothing beside it
        assert r.outbox.wakes == 1


async def test_rate_limit_body_cap_and_held_notes_are_notifier_notices(writers: list[str]) -> None:
    async with rig(writers, rate_limit_per_minute=2, max_body_chars=50) as r:
        held = r.store.outbox_add(OutboundMessage("whatsapp", OWNER_WA, "alert", proactive=True))
        r.store.outbox_hold(held, "outside the window")
        writers.clear()
        assert_twiml(await post(r.client, message("x" * 51)))  # too long: a notice, no turn
        assert_twiml(await post(r.client, message("turn on the lamp")))  # accepted: releases the held alert
        assert_twiml(await post(r.client, message("and the fan")))  # over 2 a minute: a notice, no turn
        assert [m.text for m in r.agent.submitted] == ["turn on the lamp"]
        rows = [row for row in outbox_rows(r.store) if row["id"] != held]
        assert [row["text"][:30] for row in rows] == ["That message is too long for m", held_note(1)[:30],
                                                      "You're writing faster than I c"]
        accepted = next(row for row in inbox_rows(r.store) if row["status"] != "denied")
        assert rows[1]["inbox_id"] == accepted["id"]
        assert writers == ["claw.channels.notify"] * 3
        assert r.store.outbox_get(held)["status"] == "pending"


async def test_early_delivery_status_goes_to_the_dispatcher_hook(writers: list[str]) -> None:
    async with rig(writers) as r:
        params = {"MessageSid": "SM" + "ab" * 16, "MessageStatus": "delivered", "AccountSid": "AC" + "a1" * 16}
        response = await post(r.client, params, path="/twilio/status")
        assert response.status_code == 204
        assert r.outbox.early == [("SM" + "ab" * 16, "delivered", None)]


def test_the_handler_holds_its_inlet_only() -> None:
    assert {f.name for f in fields(WhatsAppInlet)} == {"submit", "store", "notifier", "settings", "note_status",
                                                       "owners"}
    store = Store.memory()
    try:
        inlet = whatsapp_inlet(twilio_settings(owners=["+1 555 123 0001", "junk"]), submit=Agent(store).submit,
                               store=store, notifier=Notifier(store, {}, max_messages=1, owner_route=("web", "o")),
                               note_status=Outbox().note_status)
        assert inlet.owners == {OWNER_WA}
        hooks = TwilioWebhooks(inlet)
        assert not any(type(v).__module__.startswith("claw.runtime") for v in vars(hooks).values())
    finally:
        store.close()


# the rules, read from the source --------------------------------------------------------------------
def _calls_and_imports(path: Path) -> tuple[set[str], set[str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    imports = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imports |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return calls, imports


def test_no_channel_imports_the_runtime_even_for_types_and_only_the_notifier_writes_notices() -> None:
    writers, holders = [], []
    for path in sorted((REPO / "claw").rglob("*.py")):
        calls, imports = _calls_and_imports(path)
        name = path.relative_to(REPO).as_posix()
        if "outbox_add" in calls and name != "claw/channels/notify.py":
            writers.append(name)
        if name.startswith("claw/channels/") and any(i.startswith("claw.runtime") for i in imports):
            holders.append(name)
    assert writers == []
    assert holders == []


# the channel table ------------------------------------------------------------------------------------
def test_the_channel_table_builds_whatsapp_only_when_configured(tmp_path: Path) -> None:
    assert [k.name for k in CHANNELS] == ["whatsapp"]
    store = Store.memory()
    try:
        off = make_settings(tmp_path)
        assert build_channels(off, store, None) == [] and media_for(off) is None
        on = make_settings(tmp_path, twilio=twilio_settings())
        media = media_for(on)
        assert media is not None and media.root == tmp_path / "data" / "media"
        [channel] = build_channels(on, store, media)
        assert isinstance(channel, WhatsAppChannel) and channel.media is media
        channel.close()
        notifier = Notifier(store, {}, max_messages=1, owner_route=("web", "o"))
        inbound = Inbound(submit=Agent(store).submit, store=store, notifier=notifier,
                          note_status=Outbox().note_status)
        assert channel_routes(off, inbound) == []
        [router] = channel_routes(on, inbound)
        assert sorted(route.path for route in router.routes) == ["/twilio/status", "/twilio/whatsapp"]
    finally:
        store.close()
