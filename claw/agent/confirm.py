"""Answering a YES or NO: the sender's pending confirmation, a YES turn resumed after a crash, expired notices."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from claw.agent.actuator import Actuator, Outcome, TurnContext
from claw.agent.policy import is_no, is_yes
from claw.agent.recovery import resumed_confirmation
from claw.agent.wording import outcome_reply, with_prompt
from claw.events import TurnResult, Voice
from claw.intents.types import Plan, Step
from claw.permissions import may
from claw.replies import conversation as replies_flow
from claw.replies import local as replies
from claw.soul.manager import SoulManager
from devices.registry import Registry
from memory.store import Store

EXPIRED_NOTICE = 3600.0  # a YES/NO within this long after a request expired is told so

Steps = list[tuple[str, str, dict[str, Any]]]
KindAnswer = Callable[[TurnContext, dict[str, Any], Voice], Awaitable[TurnResult]]


class Confirmations:
    """Settles the confirmations stored for a sender (by `ctx.sender`) when that sender says YES or NO."""

    def __init__(self, store: Store, registry: Registry, soul: SoulManager, actuator: Actuator) -> None:
        self.store = store
        self.registry = registry
        self.soul = soul
        self.actuator = actuator
        # other capabilities' confirmations by payload kind (routines: "run the missed one now?", "create it?")
        self.kinds: dict[str, KindAnswer] = {}
        self.declines: dict[str, Callable[[dict[str, Any], str], None]] = {}  # what a NO also does, by kind

    async def answer(self, ctx: TurnContext, voice: Voice) -> TurnResult | None:
        """The turn's result when its text is a YES or NO that this module answers; None to go on."""
        pending = self.store.confirmation_pending(ctx.sender, time.time())  # marks the sender's expired ones
        if not (is_yes(ctx.text) or is_no(ctx.text)):
            return None
        if pending:
            return await self._answer(ctx, pending, voice)
        latest = self.store.confirmation_latest(ctx.sender)
        if is_yes(ctx.text) and resumed_confirmation(latest, self.store.audit_for_inbox(ctx.inbox_id)):
            return await self._resume(ctx, latest or {}, voice)  # this YES turn, cut off by a crash
        if latest and latest["status"] == "expired" and time.time() - latest["expires_at"] < EXPIRED_NOTICE:
            return TurnResult(reply=replies_flow.expired_reply(latest["summary"], voice), tier="confirm")
        if is_yes(ctx.text):  # a YES only ever answers a stored confirmation; never guess what it meant
            return TurnResult(reply=replies_flow.nothing_pending_reply(voice), tier="intent")
        return None  # a NO with nothing to decline is an ordinary sentence

    async def _answer(self, ctx: TurnContext, pending: dict[str, Any], voice: Voice) -> TurnResult:
        if is_no(ctx.text):
            self.store.confirmation_resolve(pending["id"], "declined")
            if pending["payload"].get("kind") in self.declines:  # e.g. a learned adapter's draft: rejected
                self.declines[pending["payload"]["kind"]](pending["payload"], ctx.sender)
            return TurnResult(reply=replies_flow.declined_reply(pending["summary"], voice), tier="confirm")
        kind = pending["payload"].get("kind")
        if not may(ctx.standing, "soul" if kind == "soul" else "confirm_risky"):  # the owner's YES only
            return TurnResult(reply=replies.problem_reply(f"Only the owner can {pending['summary']}.", voice),
                              tier="confirm")
        if not self.store.confirmation_resolve(pending["id"], "confirmed"):
            return TurnResult(reply=replies.problem_reply("That request has already expired.", voice),
                              tier="confirm")
        payload = pending["payload"]
        if kind in self.kinds:
            return await self.kinds[kind](ctx, payload, voice)
        if payload.get("kind") == "soul":
            self.soul.write(payload["new_text"], "chat")
            return TurnResult(reply=replies_flow.soul_applied_reply(self.soul.current().voice), tier="confirm")
        steps: Steps = [(d, c, a) for d, c, a in payload.get("steps", [])]
        outcome = await self.actuator.run(ctx, steps, confirmed=True)
        return TurnResult(reply=self._worded(steps, outcome, voice), tier="confirm", actions=tuple(ctx.actions))

    async def _resume(self, ctx: TurnContext, confirmed: dict[str, Any], voice: Voice) -> TurnResult:
        """A YES turn resumed after a crash: its confirmation was used already, so run its steps through the
        ledger again (done steps are not repeated; interrupted ones are settled from the device's state)."""
        steps: Steps = [(d, c, a) for d, c, a in confirmed["payload"].get("steps", [])]
        outcome = await self.actuator.run(ctx, steps, confirmed=True, voice=voice)
        reply = self._worded(steps, outcome, voice)
        prompt = self.actuator.close_confirmation(ctx, voice)
        return TurnResult(reply=with_prompt(reply, prompt), tier="confirm", actions=tuple(ctx.actions))

    def _worded(self, steps: Steps, outcome: Outcome, voice: Voice) -> str:
        devices = {d.id: d for d in self.registry.all()}
        plan = Plan(intent="confirmed", steps=tuple(Step(d, c, a) for d, c, a in steps))
        return outcome_reply(plan, outcome, devices, voice)
