"""The durable agent loop: inbox rows become per-sender serialized turns whose replies enter the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from claw.agent.turn import TurnHandler
from claw.channels.notify import SYSTEM, Notifier
from claw.channels.whatsapp.numbers import is_owner
from claw.events import InboundMessage, Received, Standing, TurnResult
from memory.store import Store

log = logging.getLogger(__name__)


def legacy_standing(channel: str, sender: str, owners: Iterable[str]) -> Standing:
    """For inbox rows stored before standing was (NULL column): console and web chat are the owner
    (token-protected); on WhatsApp, the configured owner numbers; anyone else a guest."""
    return "owner" if channel in ("console", "web") or is_owner(sender, owners) else "guest"


def received(row: dict[str, Any], owners: Iterable[str]) -> Received:
    """The typed message of a stored inbox row: the one place a row becomes what a turn reads."""
    standing = row.get("standing") or legacy_standing(row["channel"], row["sender"], owners)
    msg = InboundMessage(channel=row["channel"], sender=row["sender"], text=row["text"] or "",
                         external_id=row.get("external_id"), media=tuple(row.get("media") or ()),
                         media_types=tuple(row.get("media_types") or ()), standing=standing)
    return Received(inbox_id=row["id"], message=msg)


class Agent:
    """Stores every inbound message before anything else, then runs turns one sender at a time."""

    def __init__(self, store: Store, handler: TurnHandler, notifier: Notifier) -> None:
        self.store = store
        self.handler = handler
        self.notifier = notifier
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiters: dict[int, list[asyncio.Future[TurnResult]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._people = 0  # turns of people (any channel but the system one) submitted and not finished yet
        self._no_people = asyncio.Event()
        self._no_people.set()

    # entry points ---------------------------------------------------------------------------
    def submit(self, msg: InboundMessage) -> tuple[int, bool]:
        """Store the message durably and schedule its turn; a duplicate (same external id) is a no-op."""
        inbox_id, created = self.store.inbox_add(msg)
        if created:
            self._spawn(inbox_id, msg.channel)
        return inbox_id, created

    async def ask(self, msg: InboundMessage) -> TurnResult:
        """Submit and wait for the turn's result (console, web chat, `claw ask`)."""
        future: asyncio.Future[TurnResult] = asyncio.get_running_loop().create_future()
        inbox_id, created = self.store.inbox_add(msg)
        row = self.store.inbox_get(inbox_id)
        if not created and row and row["status"] in ("done", "failed"):
            return self._stored_result(inbox_id)
        self._waiters.setdefault(inbox_id, []).append(future)
        if created:
            self._spawn(inbox_id, msg.channel)
        return await future

    def resume(self) -> int:
        """Schedule every inbox row left unfinished by a crash; returns how many."""
        rows = self.store.inbox_pending()
        for row in rows:
            log.info("resuming inbox %s from %s", row["id"], row["sender"])
            self._spawn(row["id"], row["channel"])
        return len(rows)

    async def idle(self) -> None:
        """Wait until every scheduled turn has finished (tests, benchmarks, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def people_idle(self, limit: float) -> None:
        """Wait until no person's turn is in flight, at most `limit` seconds: background work (a routine's next
        step) gives way, so a person's turn does not share the event loop with it."""
        if not self._no_people.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_people.wait(), limit)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # the loop -------------------------------------------------------------------------------
    def _spawn(self, inbox_id: int, channel: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(inbox_id), name=f"turn-{inbox_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if channel != SYSTEM:
            self._people += 1
            self._no_people.clear()
            task.add_done_callback(self._person_done)

    def _person_done(self, task: asyncio.Task[None]) -> None:
        self._people -= 1
        if self._people == 0:
            self._no_people.set()

    async def _run(self, inbox_id: int) -> None:
        row = self.store.inbox_get(inbox_id)
        if row is None:
            return
        lock = self._locks.setdefault(row["sender"], asyncio.Lock())
        async with lock:
            row = self.store.inbox_get(inbox_id)
            if row is None or row["status"] in ("done", "failed"):
                self._resolve(inbox_id, self._stored_result(inbox_id))
                return
            self.store.inbox_mark_working(inbox_id)
            try:
                result = await self.handler.handle(received(row, self.handler.settings.twilio.owners))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("turn for inbox %s crashed", inbox_id)
                result = TurnResult(reply="Sorry, something went wrong on my side while handling that. "
                                          "Nothing else was changed; please try again.", tier="error")
            result = TurnResult(reply=result.reply, tier=result.tier, actions=result.actions,
                                states=result.states, inbox_id=inbox_id, media=result.media)
            result = self._finish(row, result)
            self._resolve(inbox_id, result)

    def _finish(self, row: dict[str, Any], result: TurnResult) -> TurnResult:
        """Finish the row with its reply, through the notifier (cut to `max_reply_messages`, the last then
        ending "…(truncated)"); returns the result with the reply as sent."""
        self.store.turn_meta_set(row["id"], result.tier)  # the dashboard's chat shows which tier answered
        return replace(result, reply=self.notifier.finish_turn(row, result.reply, media=result.media))

    def _resolve(self, inbox_id: int, result: TurnResult) -> None:
        for future in self._waiters.pop(inbox_id, []):
            if not future.done():
                future.set_result(result)

    def _stored_result(self, inbox_id: int) -> TurnResult:
        rows = self.store.outbox_for_inbox(inbox_id)
        text = " ".join(r["text"] for r in rows)
        return TurnResult(reply=text, tier="stored", inbox_id=inbox_id)
