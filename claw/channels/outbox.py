"""The outbox dispatcher: sends stored replies through their channel, with retries and backoff."""

from __future__ import annotations

import asyncio
import logging
import re
import time

from claw.channels.base import Channel, ChannelError, ChannelHold
from memory.store import Store

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def split_text(text: str, limit: int) -> list[str]:
    """Split text into parts of at most `limit` characters, on sentence boundaries where possible."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        candidate = f"{current} {piece}" if current else piece
        if len(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, limit: int) -> list[str]:
    out: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        while len(sentence) > limit:  # one sentence longer than the limit: cut at a space, else hard
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            out.append(sentence[:cut].rstrip())
            sentence = sentence[cut:].lstrip()
        if sentence:
            out.append(sentence)
    return out


class OutboxDispatcher:
    """Drains due outbox rows in id order; retries transient failures with exponential backoff."""

    def __init__(self, store: Store, channels: dict[str, Channel], *, base_delay: float = 1.0,
                 max_delay: float = 300.0, max_attempts: int = 50, poll_seconds: float = 1.0) -> None:
        self.store = store
        self.channels = channels
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._early: dict[str, list[tuple[str, str | None, float]]] = {}  # statuses seen before the sid

    def note_status(self, external_id: str, status: str, error: str | None) -> None:
        """Keep a delivery status that arrived before its send was recorded; applied when it is."""
        now = time.monotonic()
        if len(self._early) > 1000:  # never grows without bound: drop entries older than 10 minutes
            self._early = {k: v for k, v in self._early.items() if now - v[-1][2] < 600}
        self._early.setdefault(external_id, []).append((status, error, now))

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()  # before draining: a wake() during the drain must not be lost
            try:
                await self.drain_once()
            except Exception:  # the dispatcher must outlive any one bad row
                log.exception("outbox drain failed")
            if self._wake.is_set():
                continue
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=self.poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()

    async def drain_once(self) -> int:
        """Send every due row once; returns how many were sent."""
        sent = 0
        now = time.time()
        blocked: set[tuple[str, str]] = set()  # per-recipient order: nothing overtakes a waiting row
        for row in self.store.outbox_due(float("inf"), limit=500):
            key = (row["channel"], row["recipient"])
            if key in blocked:
                continue
            if row["next_attempt_at"] > now:
                blocked.add(key)
                continue
            channel = self.channels.get(row["channel"])
            if channel is None:
                self.store.outbox_mark_failed(row["id"], f"no channel {row['channel']!r}")
                continue
            try:
                external_id = await channel.send(row)
            except ChannelHold as exc:
                log.info("outbox %s held: %s", row["id"], exc)
                self.store.outbox_hold(row["id"], str(exc))
                continue
            except ChannelError as exc:
                blocked.add(key)
                self._failed(row, str(exc), permanent=exc.permanent)
                continue
            except Exception as exc:
                blocked.add(key)
                log.exception("channel %s crashed sending outbox %s", row["channel"], row["id"])
                self._failed(row, f"{exc.__class__.__name__}: {exc}", permanent=False)
                continue
            self.store.outbox_mark_sent(row["id"], external_id)
            for status, error, _ in self._early.pop(external_id or "", []):
                self.store.outbox_set_status(external_id or "", status, error)
            sent += 1
        return sent

    def _failed(self, row: dict, error: str, *, permanent: bool) -> None:
        attempts = int(row.get("attempts") or 0) + 1
        if permanent or attempts >= self.max_attempts:
            log.warning("outbox %s failed for good: %s", row["id"], error)
            self.store.outbox_mark_failed(row["id"], error)
            return
        delay = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
        log.info("outbox %s retry in %.1fs: %s", row["id"], delay, error)
        self.store.outbox_mark_retry(row["id"], error, time.time() + delay)
