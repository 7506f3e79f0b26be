"""The settler: re-reads devices whose command had an unknown outcome and tells the owner how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from claw.agent.recovery import SETTLE_DELAYS, Settle, effect_phrase, next_check_delay, settle_verdict
from claw.channels.notify import SYSTEM, Notifier
from claw.events import Voice
from claw.replies import conversation as replies_flow
from devices.effects import shows_effect
from devices.errors import DeviceError
from devices.registry import Registry
from memory.store import Store

log = logging.getLogger(__name__)

_STATUS = {Settle.DONE: "done", Settle.FAILED: "failed"}  # anything else stays 'unknown', settled


class Settler:
    """Background task: each audit row left 'unknown' by a finished turn (the owner was told "it may still …")
    is checked against its device's state after each of `delays`, then closed as done / failed (or still
    unknown, when the device never answers or its state cannot show it) with one proactive follow-up to
    the turn's channel and sender, enqueued in the same transaction."""

    def __init__(self, store: Store, registry: Registry, notifier: Notifier, *, voice: Callable[[], Voice] = Voice,
                 delays: Sequence[float] = SETTLE_DELAYS,
                 poll_seconds: float = 0.5, batch: int = 20) -> None:
        self.store = store
        self.registry = registry
        self.voice = voice
        self.notifier = notifier
        self.delays = tuple(delays)
        self.poll_seconds = poll_seconds
        self.batch = batch

    async def run(self, stop: asyncio.Event) -> None:
        """Settle due rows until `stop` is set; a stop cancels the reads in flight (they change nothing)."""
        while not stop.is_set():
            work = asyncio.ensure_future(self.settle_once())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not work.done():
                work.cancel()
            try:
                await work
            except asyncio.CancelledError:
                if not stop.is_set():
                    raise
            except Exception:  # the settler must outlive any one bad row
                log.exception("settling unknown actions failed")
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_seconds)

    async def settle_once(self) -> int:
        """Check every due row once; returns how many were settled (the owner told) now."""
        rows = self.store.audit_to_settle(time.time(), self.batch)
        if not rows:
            return 0
        settled = await asyncio.gather(*(self._check(row) for row in rows))
        return sum(settled)

    async def _check(self, row: dict[str, Any]) -> bool:
        key, command, args = row["key"], row["command"], row["args"] or {}
        name = str(row["device_id"])
        state: dict[str, Any] | None = None
        try:
            device = self.registry.get(row["device_id"])
            name = device.name
            state = await self.registry.state(device.id)
        except DeviceError as exc:
            log.info("settling %s: cannot read %s: %s", key, row["device_id"], exc)
        checks, absent = int(row.get("checks") or 0), int(row.get("absent") or 0)
        verdict = settle_verdict(command, args, state, checks, absent, len(self.delays))
        if verdict is Settle.RETRY:
            missing = shows_effect(command, args, state) is False
            self.store.audit_checked(key, missing, time.time() + next_check_delay(checks + 1, self.delays))
            return False
        text = replies_flow.settled_reply(verdict.value, name, effect_phrase(command, args), self.voice())
        notify = None
        # a routine's command has no inbox row: it was on the system channel (claw.routines.runner)
        channel = row.get("channel") or (SYSTEM if str(row.get("sender") or "").startswith("routine:") else None)
        if channel and row.get("sender"):  # routed like any message (system → the owner), one part
            _, parts = self.notifier.prepare(channel, row["sender"], text, proactive=True)
            notify = parts[0] if parts else None
        error = None if verdict is Settle.DONE else f"settled after {checks + 1} check(s): {verdict.value}"
        done = self.store.audit_settle(key, _STATUS.get(verdict, "unknown"), error, notify)
        log.info("settled %s (%s on %s): %s", key, command, row["device_id"], verdict.value)
        if done and notify is not None:
            self.notifier.wake()
        return done
