"""Tests for the SQLite memory store: migrations, pragmas, inbox/outbox, facts, ledgers, concurrency."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from claw.events import InboundMessage, OutboundMessage
from devices.models import Device, Kind
from memory import migrations
from memory.store import Store
from memory.store_knowledge import fts_match


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "memory.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store(db_path)
    yield s
    s.close()


def inbound(text: str = "turn on the lights", external_id: str | None = None, sender: str = "whatsapp:+1555",
            channel: str = "whatsapp") -> InboundMessage:
    return InboundMessage(channel=channel, sender=sender, text=text, external_id=external_id)


def reply(text: str, recipient: str = "whatsapp:+1555") -> OutboundMessage:
    return OutboundMessage(channel="whatsapp", recipient=recipient, text=text)


# migrations and pragmas ----------------------------------------------------------------------------
EXPECTED_TABLES = {"inbox", "outbox", "turns", "facts", "facts_fts", "devices", "soul_versions",
                   "confirmations", "audit"}


def test_migrations_from_empty_and_rerun_keeps_versions_and_data(db_path: Path) -> None:
    all_names = [m.name for m in migrations.migrations.pending(Database(memory=True))]  # empty db: all
    s = Store(db_path)
    assert s.schema_version() == all_names
    assert EXPECTED_TABLES <= set(s.db.table_names())
    inbox_id, _ = s.inbox_add(inbound("hello"))
    fact_id = s.fact_add("The garage code is 4711", "owner")
    s.close()

    again = Store(db_path)
    try:
        assert again.schema_version() == all_names
        assert migrations.apply(again.db) == []  # nothing left to apply
        assert again.inbox_get(inbox_id)["text"] == "hello"
        assert [f["id"] for f in again.fact_search("garage code")] == [fact_id]
        count = sqlite3.connect(db_path).execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
        assert count == len(all_names)
    finally:
        again.close()


def test_migration_bodies_are_idempotent_even_without_the_ledger(store: Store) -> None:
    for m in migrations.migrations._migrations:
        m.fn(store.db)  # a second run must not raise nor duplicate anything
    store.fact_add("the heating is off in summer", "owner")
    assert len(store.fact_search("heating")) == 1


def test_file_db_runs_in_wal_with_the_configured_pragmas(store: Store, db_path: Path) -> None:
    assert store.pragma("journal_mode") == "wal"
    assert store.pragma("synchronous") == 1  # NORMAL
    assert store.pragma("foreign_keys") == 1
    assert store.pragma("busy_timeout") >= 1000
    store.inbox_add(inbound())
    assert (db_path.parent / (db_path.name + "-wal")).exists()
    # WAL is a property of the file: a plain connection sees it too
    assert sqlite3.connect(db_path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.outbox_add(OutboundMessage("whatsapp", "x", "orphan", inbox_id=999))


# inbox / outbox -------------------------------------------------------------------------------------
def test_inbox_dedupes_on_channel_and_external_id(store: Store) -> None:
    first, created = store.inbox_add(inbound("hi", external_id="SM1"))
    assert created
    dup, created_again = store.inbox_add(inbound("hi (retried webhook)", external_id="SM1"))
    assert (dup, created_again) == (first, False)
    other_channel, created_other = store.inbox_add(inbound("hi", external_id="SM1", channel="web"))
    assert created_other and other_channel != first
    # no external id: never deduped
    a, _ = store.inbox_add(inbound("same"))
    b, _ = store.inbox_add(inbound("same"))
    assert a != b
    assert [r["id"] for r in store.inbox_pending()] == [first, other_channel, a, b]
    assert store.inbox_get(first)["text"] == "hi"


def test_inbox_row_shape_and_working(store: Store) -> None:
    msg = InboundMessage("whatsapp", "whatsapp:+1", "look", "SM9", media=("http://127.0.0.1/a.jpg",))
    inbox_id, _ = store.inbox_add(msg)
    row = store.inbox_get(inbox_id)
    assert row["media"] == ["http://127.0.0.1/a.jpg"]
    assert (row["status"], row["attempts"], row["error"]) == ("new", 0, None)
    assert isinstance(row["created_at"], float)
    store.inbox_mark_working(inbox_id)
    store.inbox_mark_working(inbox_id)
    row = store.inbox_get(inbox_id)
    assert (row["status"], row["attempts"]) == ("working", 2)
    assert [r["id"] for r in store.inbox_pending()] == [inbox_id]
    assert store.inbox_get(12345) is None


def test_inbox_finish_enqueues_replies_once(store: Store) -> None:
    inbox_id, _ = store.inbox_add(inbound(external_id="SM2"))
    store.inbox_mark_working(inbox_id)
    ids = store.inbox_finish(inbox_id, [reply("Done."), reply("Anything else?")],
                             turns=[("user", "turn on the lights"), ("assistant", "Done.")])
    assert len(ids) == 2
    assert [(t["role"], t["inbox_id"]) for t in store.turns_recent("whatsapp:+1555")] == \
        [("user", inbox_id), ("assistant", inbox_id)]
    assert store.inbox_get(inbox_id)["status"] == "done"
    assert store.inbox_pending() == []
    rows = store.outbox_for_inbox(inbox_id)
    assert [r["text"] for r in rows] == ["Done.", "Anything else?"]
    assert all(r["inbox_id"] == inbox_id and r["status"] == "pending" for r in rows)
    # a resumed turn finishing again enqueues nothing new and gets the same ids back
    assert store.inbox_finish(inbox_id, [reply("Done. (again)")], turns=[("user", "again")]) == ids
    assert len(store.outbox_for_inbox(inbox_id)) == 2
    assert len(store.turns_recent("whatsapp:+1555")) == 2


def test_inbox_finish_is_atomic(store: Store) -> None:
    inbox_id, _ = store.inbox_add(inbound())
    bad = OutboundMessage("whatsapp", None, "no recipient")  # type: ignore[arg-type]  # NOT NULL fails
    with pytest.raises(sqlite3.IntegrityError):
        store.inbox_finish(inbox_id, [reply("first reply"), bad], turns=[("user", "lost")])
    assert store.inbox_get(inbox_id)["status"] == "new"
    assert store.outbox_for_inbox(inbox_id) == []
    assert store.turns_recent("whatsapp:+1555") == []
    with pytest.raises(KeyError):
        store.inbox_finish(999, [])
    with pytest.raises(ValueError):
        store.inbox_finish(inbox_id, [], status="working")
    assert store.inbox_finish(inbox_id, [reply("sorry")], status="failed", error="boom")
    assert store.inbox_get(inbox_id)["error"] == "boom"


def test_outbox_due_retry_sent_failed(store: Store) -> None:
    a = store.outbox_add(reply("a"))
    b = store.outbox_add(OutboundMessage("web", "browser", "b", media=("snap.jpg",)))
    now = store.outbox_get(b)["next_attempt_at"] + 1
    assert [r["id"] for r in store.outbox_due(now)] == [a, b]
    assert [r["id"] for r in store.outbox_due(now, channel="web")] == [b]
    assert store.outbox_get(b)["media"] == ["snap.jpg"]
    assert store.outbox_due(now, limit=1)[0]["id"] == a

    store.outbox_mark_retry(a, "HTTP 503", next_attempt_at=now + 30)
    assert [r["id"] for r in store.outbox_due(now)] == [b]
    assert [r["id"] for r in store.outbox_due(now + 30)] == [a, b]
    row = store.outbox_get(a)
    assert (row["status"], row["attempts"], row["error"]) == ("pending", 1, "HTTP 503")

    store.outbox_mark_sent(a, external_id="SMout1")
    store.outbox_mark_failed(b, "21617 body too long")
    assert store.outbox_due(now + 1000) == []
    assert store.outbox_get(a)["status"] == "sent"
    assert store.outbox_get(a)["external_id"] == "SMout1"
    assert (store.outbox_get(b)["status"], store.outbox_get(b)["error"]) == ("failed", "21617 body too long")


def test_outbox_status_callbacks_never_go_backwards(store: Store) -> None:
    a = store.outbox_add(reply("a"))
    store.outbox_mark_sent(a, external_id="SMx")
    assert store.outbox_set_status("SMx", "delivered")
    assert store.outbox_set_status("SMx", "sent")  # late callback: known id, but no regression
    assert store.outbox_get(a)["status"] == "delivered"
    assert not store.outbox_set_status("SM-unknown", "delivered")
    with pytest.raises(ValueError):
        store.outbox_set_status("SMx", "teleported")


# turns ----------------------------------------------------------------------------------------------
def test_turns_recent_are_the_last_ones_oldest_first(store: Store) -> None:
    for i in range(6):
        store.turn_add("alice", "user" if i % 2 == 0 else "assistant", f"t{i}")
    store.turn_add("bob", "user", "not alice")
    assert [t["content"] for t in store.turns_recent("alice", limit=3)] == ["t3", "t4", "t5"]
    assert [t["content"] for t in store.turns_recent("bob")] == ["not alice"]


# facts ----------------------------------------------------------------------------------------------
def test_fact_recall_is_ranked_and_keeps_provenance(store: Store) -> None:
    dim = store.fact_add("The owner likes the living room lights dim in the evening", "owner",
                         subject="owner", sender="whatsapp:+1")
    store.fact_add("The kitchen thermostat is set to 21 degrees", "device", subject="thermostat")
    store.fact_add("A cat was seen in the garden at night", "camera", subject="garden")
    both = store.fact_add("Living room light bulbs were replaced, lights are brighter now", "agent")

    hits = store.fact_search("what do you know about the living room lights?")
    assert {h["id"] for h in hits} == {dim, both}
    assert hits[0]["rank"] <= hits[1]["rank"]
    top = store.fact_search("dim lights evening", limit=1)
    assert [h["id"] for h in top] == [dim]
    assert (top[0]["source"], top[0]["subject"], top[0]["sender"]) == ("owner", "owner", "whatsapp:+1")
    # porter stemming: "thermostats" finds "thermostat"; subject is indexed too
    assert store.fact_search("thermostats")[0]["source"] == "device"
    assert store.fact_search("garden")[0]["source"] == "camera"


def test_fact_provenance_is_validated_and_duplicates_collapse(store: Store) -> None:
    with pytest.raises(ValueError):
        store.fact_add("anything", "internet")
    with pytest.raises(ValueError):
        store.fact_add("   ", "owner")
    first = store.fact_add("Dinner is at 7", "owner")
    assert store.fact_add("dinner  is at 7", "agent") == first
    assert len(store.fact_list()) == 1
    assert store.fact_list()[0]["source"] == "owner"


HOSTILE_QUERIES = [
    "", "   ", '"', 'say "hello', "lights AND OR NOT", "NEAR(lights dim, 2)", "light*", "*", "-lights",
    "text:lights", "subject:owner OR", "((lights)", "🙂💡", "'; DROP TABLE facts; --", "^lights",
    "a the i me", "lights + {dim}", "\x00null", "x" * 5000, "NOT", "lights:*",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_never_raise(store: Store, query: str) -> None:
    store.fact_add("The owner likes the lights dim", "owner")
    hits = store.fact_search(query)
    assert isinstance(hits, list)
    assert store.fact_forget(query) in (0, 1)
    assert "facts" in store.db.table_names()


def test_sanitiser_quotes_every_token_and_drops_stop_words() -> None:
    assert fts_match("What do you know about ME?") is None
    assert fts_match('lights AND "dim" NEAR *') == '"lights" OR "dim"'
    assert fts_match("lights dim", "AND") == '"lights" AND "dim"'


def test_fact_delete_and_forget(store: Store) -> None:
    a = store.fact_add("My sister's birthday is in May", "owner")
    b = store.fact_add("Dad's birthday is in June", "owner")
    c = store.fact_add("The front door lock battery is low", "device")
    assert store.fact_forget("forget my sister's birthday") == 1  # every word must match
    assert {f["id"] for f in store.fact_list()} == {b, c}
    assert store.fact_search("sister") == []
    assert store.fact_delete(c) and not store.fact_delete(c)
    assert store.fact_forget("the") == 0
    assert [f["id"] for f in store.fact_list()] == [b]
    assert a not in {f["id"] for f in store.fact_search("birthday")}


# devices and soul -------------------------------------------------------------------------------------
def test_devices_roundtrip_and_upsert(store: Store) -> None:
    dev = Device(id="sonos:RINCON_1", name="Kitchen", kind=Kind.SPEAKER, room="kitchen",
                 capabilities=frozenset({"media", "power"}), driver="sonos", address="127.0.0.2:1400",
                 aliases=("kitchen speaker",), attrs={"model": "One", "zones": [1, 2]})
    store.device_upsert(dev.to_dict())
    moved = Device.from_dict({**dev.to_dict(), "address": "127.0.0.3:1400"})
    store.device_upsert(moved.to_dict())
    rows = store.devices_all()
    assert len(rows) == 1
    back = Device.from_dict(rows[0])
    assert back == moved and back.attrs == {"model": "One", "zones": [1, 2]}
    assert back.address == "127.0.0.3:1400" and back.aliases == ("kitchen speaker",)
    assert store.device_get("sonos:RINCON_1")["capabilities"] == ["media", "power"]
    assert store.device_delete("sonos:RINCON_1") and store.devices_all() == []


def test_soul_versions_dedupe_on_latest_sha(store: Store) -> None:
    assert store.soul_latest() is None
    v1, new1 = store.soul_version_add("# Soul\nBe kind.", "file")
    v1b, new1b = store.soul_version_add("# Soul\nBe kind.", "file")
    assert new1 and (v1b, new1b) == (v1, False)
    v2, _ = store.soul_version_add("# Soul\nBe brief. ☕", "chat")
    v3, new3 = store.soul_version_add("# Soul\nBe kind.", "rollback")  # back to v1's text: a new version
    assert new3 and v3 not in (v1, v2)
    versions = store.soul_versions()
    assert [v["id"] for v in versions] == [v3, v2, v1]
    assert versions[1]["size"] == len("# Soul\nBe brief. ☕".encode()) and versions[1]["source"] == "chat"
    assert versions[0]["sha256"] == versions[2]["sha256"]
    assert store.soul_version_get(v2)["text"].endswith("☕")
    assert store.soul_latest()["id"] == v3


# confirmations and audit -------------------------------------------------------------------------------
def test_confirmations_supersede_expire_resolve(store: Store) -> None:
    first = store.confirmation_add("alice", "unlock the front door", {"device": "lock1"}, expires_at=100.0)
    second = store.confirmation_add("alice", "open the garage", {"device": "garage1"}, expires_at=200.0)
    other = store.confirmation_add("bob", "heater on", {}, expires_at=50.0)
    assert store.confirmation_get(first)["status"] == "superseded"
    pending = store.confirmation_pending("alice", now=150.0)
    assert pending["id"] == second and pending["payload"] == {"device": "garage1"}
    assert store.confirmation_pending("bob", now=60.0) is None
    assert store.confirmation_get(other)["status"] == "expired"
    assert not store.confirmation_resolve(other, "confirmed")
    assert store.confirmation_resolve(second, "confirmed")
    assert not store.confirmation_resolve(second, "declined")
    assert store.confirmation_pending("alice", now=150.0) is None
    with pytest.raises(ValueError):
        store.confirmation_resolve(second, "maybe")


def test_audit_begin_is_an_idempotency_ledger(store: Store) -> None:
    inbox_id, _ = store.inbox_add(inbound())
    assert store.audit_begin(f"{inbox_id}:0", "lock1", "unlock", {"code": 1}, inbox_id, "alice") is None
    again = store.audit_begin(f"{inbox_id}:0", "lock1", "unlock", {"code": 1}, inbox_id, "alice")
    assert again is not None and again["status"] == "started" and again["args"] == {"code": 1}
    store.audit_finish(f"{inbox_id}:0", ok=True)
    assert store.audit_begin(f"{inbox_id}:1", "light1", "turn_on", {}, inbox_id, "alice") is None
    store.audit_finish(f"{inbox_id}:1", ok=False, error="timeout")
    assert store.audit_get(f"{inbox_id}:0")["status"] == "done"
    assert (store.audit_get(f"{inbox_id}:1")["status"], store.audit_get(f"{inbox_id}:1")["error"]) == \
        ("failed", "timeout")
    assert [r["key"] for r in store.audit_for_inbox(inbox_id)] == [f"{inbox_id}:0", f"{inbox_id}:1"]
    assert store.audit_begin("routine:7", "heater", "turn_off", {}, None, None) is None
    assert [r["key"] for r in store.audit_recent(2)] == ["routine:7", f"{inbox_id}:1"]
    assert store.audit_get("nope") is None


# durability and concurrency ------------------------------------------------------------------------------
def test_data_survives_close_and_reopen(db_path: Path) -> None:
    s = Store(db_path)
    inbox_id, _ = s.inbox_add(inbound(external_id="SMkeep"))
    s.inbox_finish(inbox_id, [reply("kept")])
    s.turn_add("alice", "user", "hello", inbox_id)
    s.soul_version_add("soul", "file")
    s.confirmation_add("alice", "x", {"a": 1}, expires_at=1e12)
    s.audit_begin("k", "d", "c", {}, inbox_id, "alice")
    s.close()
    with Store(db_path) as s2:
        assert s2.inbox_add(inbound(external_id="SMkeep")) == (inbox_id, False)
        assert [r["text"] for r in s2.outbox_for_inbox(inbox_id)] == ["kept"]
        assert s2.turns_recent("alice")[0]["content"] == "hello"
        assert s2.soul_latest()["text"] == "soul"
        assert s2.confirmation_pending("alice", now=0.0)["payload"] == {"a": 1}
        assert s2.audit_get("k")["status"] == "started"


WRITERS, PER_WRITER = 4, 50


def _hammer(store: Store, n: int, errors: list[BaseException]) -> None:
    try:
        for i in range(PER_WRITER):
            inbox_id, created = store.inbox_add(inbound(f"w{n} m{i}", external_id=f"w{n}-{i}"))
            assert created
            store.inbox_finish(inbox_id, [reply(f"r{n}-{i}")])
            store.fact_add(f"writer {n} fact {i}", "agent")
            assert store.audit_begin(f"w{n}:{i}", "dev", "cmd", {}, inbox_id, None) is None
    except BaseException as exc:  # surfaced by the test thread
        errors.append(exc)


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-thread"])
def test_concurrent_writers_lose_nothing(db_path: Path, shared: bool) -> None:
    main = Store(db_path)
    stores = [main] * WRITERS if shared else [Store(db_path) for _ in range(WRITERS)]
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_hammer, args=(stores[n], n, errors)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    try:
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        total = WRITERS * PER_WRITER
        assert main.db["inbox"].count == total
        assert main.db["outbox"].count == total
        assert main.db["audit"].count == total
        assert len(main.fact_list(limit=10_000)) == total
        assert len(main.fact_search("writer 3 fact", limit=10_000)) == total
        assert main.inbox_pending() == []
    finally:
        for s in set(stores) | {main}:
            s.close()
