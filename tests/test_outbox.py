"""The outbox dispatcher: delivery, retries with backoff, permanent failures, per-recipient order, splitting."""

from __future__ import annotations

import time
from typing import Any

import pytest

from claw.channels.base import ChannelError
from claw.channels.outbox import OutboxDispatcher, split_text
from claw.events import OutboundMessage
from memory.store import Store


class FlakyChannel:
    """A channel that fails the first `fail` sends (transient or permanent) and records what it delivered."""

    name = "test"
    max_length = 1600

    def __init__(self, fail: int = 0, permanent: bool = False) -> None:
        self.fail = fail
        self.permanent = permanent
        self.delivered: list[str] = []
        self.calls = 0

    async def send(self, row: dict[str, Any]) -> str | None:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise ChannelError("provider said no", permanent=self.permanent, code="21617" if self.permanent else None)
        self.delivered.append(row["text"])
        return f"SM{row['id']}"


def add(store: Store, text: str, recipient: str = "owner") -> int:
    return store.outbox_add(OutboundMessage(channel="test", recipient=recipient, text=text))


async def test_delivers_in_order_and_records_the_provider_id(store: Store) -> None:
    channel = FlakyChannel()
    ids = [add(store, f"m{i}") for i in range(3)]
    assert await OutboxDispatcher(store, {"test": channel}).drain_once() == 3
    assert channel.delivered == ["m0", "m1", "m2"]
    row = store.outbox_get(ids[0])
    assert row["status"] == "sent" and row["external_id"] == f"SM{ids[0]}"


async def test_transient_failure_retries_with_backoff_and_keeps_recipient_order(store: Store) -> None:
    channel = FlakyChannel(fail=1)
    first, second = add(store, "first"), add(store, "second")
    other = add(store, "to someone else", recipient="friend")
    dispatcher = OutboxDispatcher(store, {"test": channel}, base_delay=0.05)
    assert await dispatcher.drain_once() == 1  # only the other recipient's message went out
    assert channel.delivered == ["to someone else"]
    row = store.outbox_get(first)
    assert row["status"] == "pending" and row["attempts"] == 1 and row["next_attempt_at"] > time.time() - 1
    assert store.outbox_get(other)["status"] == "sent"
    assert await dispatcher.drain_once() == 0  # backoff not over: "second" must not overtake "first"
    assert store.outbox_get(second)["status"] == "pending"
    time.sleep(0.06)
    assert await dispatcher.drain_once() == 2
    assert channel.delivered == ["to someone else", "first", "second"]


async def test_backoff_grows_exponentially_and_is_capped(store: Store) -> None:
    channel = FlakyChannel(fail=10)
    oid = add(store, "x")
    dispatcher = OutboxDispatcher(store, {"test": channel}, base_delay=1.0, max_delay=4.0)
    delays = []
    for _ in range(4):
        store._write("UPDATE outbox SET next_attempt_at = 0 WHERE id = ?", (oid,))  # make it due now
        before = time.time()
        await dispatcher.drain_once()
        delays.append(round(store.outbox_get(oid)["next_attempt_at"] - before))
    assert delays == [1, 2, 4, 4]


async def test_permanent_failure_is_recorded_and_not_retried(store: Store) -> None:
    channel = FlakyChannel(fail=1, permanent=True)
    oid = add(store, "too long")
    dispatcher = OutboxDispatcher(store, {"test": channel})
    await dispatcher.drain_once()
    row = store.outbox_get(oid)
    assert row["status"] == "failed" and "provider said no" in row["error"]
    await dispatcher.drain_once()
    assert channel.calls == 1


async def test_unknown_channel_fails_clearly(store: Store) -> None:
    oid = store.outbox_add(OutboundMessage(channel="pigeon", recipient="owner", text="hi"))
    await OutboxDispatcher(store, {}).drain_once()
    row = store.outbox_get(oid)
    assert row["status"] == "failed" and "pigeon" in row["error"]


async def test_gives_up_after_max_attempts(store: Store) -> None:
    channel = FlakyChannel(fail=100)
    oid = add(store, "x")
    dispatcher = OutboxDispatcher(store, {"test": channel}, base_delay=0.0, max_attempts=3)
    for _ in range(5):
        await dispatcher.drain_once()
    assert store.outbox_get(oid)["status"] == "failed"
    assert channel.calls == 3


@pytest.mark.parametrize("limit", [20, 50, 1600])
def test_split_text_respects_the_limit_and_keeps_every_word(limit: int) -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(200)) + " " + "x" * 70
    parts = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")  # nothing lost, nothing added


def test_split_text_prefers_sentence_boundaries() -> None:
    parts = split_text("One two three. Four five six. Seven.", 20)
    assert parts == ["One two three.", "Four five six.", "Seven."]
    assert split_text("   ", 10) == []
    assert split_text("short", 10) == ["short"]
