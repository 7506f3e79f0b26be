"""Learning in conversation (owner-only): "learn the pool controller", the summary, and the owner's answer."""

from __future__ import annotations

import logging
import time
from typing import Any

from claw.agent.actuator import TurnContext
from claw.events import TurnResult, Voice
from claw.intents.types import Plan
from claw.learn.service import DEMO_NOTE, LearnError, LearnService, Proposal
from claw.replies.conversation import confirm_prompt
from devices.errors import DeviceError

log = logging.getLogger(__name__)

LEARN_KIND = "adapter_learn"


class LearnChat:
    """Carries out ClawLearn plans. The YES that approves is the code's own confirmation (payload kind
    adapter_learn, answered through claw.agent.confirm): it names the stored draft version, never model text."""

    def __init__(self, service: LearnService, *, ttl: float) -> None:
        self.service = service
        self.store = service.store
        self.ttl = ttl

    def kinds(self) -> dict[str, Any]:
        """The confirmation kinds answered here, for Confirmations.kinds."""
        return {LEARN_KIND: self.answer}

    def declines(self) -> dict[str, Any]:
        """What a NO to those kinds also does, for Confirmations.declines."""
        return {LEARN_KIND: self.declined}

    async def run(self, ctx: TurnContext, plan: Plan, voice: Voice) -> TurnResult:
        if not ctx.is_owner:
            return TurnResult(reply="Only the owner can teach me new devices.", tier="intent")
        if plan.problem:
            return TurnResult(reply=plan.problem, tier="intent")
        topic = plan.slots.get("topic")
        if topic in ("approve", "reject"):
            return await self._decide(ctx, topic == "approve", voice)
        return await self.learn(ctx, str(plan.slots.get("learn_target") or ""), voice)

    async def learn(self, ctx: TurnContext, words: str, voice: Voice) -> TurnResult:
        lead = ""
        try:
            if self.service.last_scan is None:  # none yet in this process: scan the configured interfaces
                result = await self.service.scan()
                lead = (f"I scanned the network first: {len(result.found)} device(s), "
                        f"{len(self.service.unknown())} without an adapter.")
            found = self.service.resolve(words)
            proposal = await self.service.learn(found, words)
        except LearnError as exc:
            return TurnResult(reply="\n".join(p for p in (lead, str(exc)) if p), tier="intent")
        except DeviceError as exc:
            return TurnResult(reply="\n".join(p for p in (lead, f"Scanning failed: {exc}") if p), tier="intent")
        return TurnResult(reply="\n".join(p for p in (lead, self.offer(ctx, proposal, voice)) if p), tier="intent")

    def offer(self, ctx: TurnContext, proposal: Proposal, voice: Voice) -> str:
        """Hold the code's own confirmation for a stored draft (chat and the dashboard's Learn both come
        here); returns the owner's summary with the prompt."""
        spec, device = proposal.draft.spec, proposal.device
        what = (f"approve the adapter “{spec.name}” v{proposal.version} and add “{device.name}” "
                f"({device.address})")
        payload = {"kind": LEARN_KIND, "name": spec.name, "version": proposal.version, "device": device.to_dict()}
        self.store.confirmation_add(ctx.confirm_as, what, payload, time.time() + self.ttl)
        how = DEMO_NOTE if proposal.demo else (
            f"I explored it with {len(proposal.exploration.sent())} read-only requests and the language model "
            f"drafted this in {proposal.calls} call(s); I checked it against what the device answered.")
        reply = [how, proposal.summary,
                 f"Its first command will still ask for your YES. {confirm_prompt(what, '', self.ttl, voice)}"]
        return "\n".join(reply)

    async def answer(self, ctx: TurnContext, payload: dict[str, Any], voice: Voice) -> TurnResult:
        """The owner's YES (or "approve"): the stored draft version is approved and the device added."""
        try:
            device = self.service.approve(str(payload["name"]), int(payload["version"]), dict(payload["device"]),
                                          ctx.sender)
        except (LearnError, DeviceError, KeyError, ValueError) as exc:
            return TurnResult(reply=f"I could not approve it: {exc}", tier="confirm")
        return TurnResult(reply=f"Done: adapter “{payload['name']}” v{payload['version']} is approved and "
                                f"“{device.name}” is added. Its first command will ask for your YES.",
                          tier="confirm")

    def declined(self, payload: dict[str, Any], by: str) -> None:
        self.service.reject(str(payload.get("name")), int(payload.get("version") or 0), by)

    async def _decide(self, ctx: TurnContext, approve: bool, voice: Voice) -> TurnResult:
        pending = self.store.confirmation_pending(ctx.confirm_as, time.time())
        if pending is None or pending["payload"].get("kind") != LEARN_KIND:
            return TurnResult(reply="No adapter is waiting for your approval.", tier="intent")
        if not self.store.confirmation_resolve(pending["id"], "confirmed" if approve else "declined"):
            return TurnResult(reply="That request has already expired.", tier="intent")
        if approve:
            return await self.answer(ctx, pending["payload"], voice)
        self.declined(pending["payload"], ctx.sender)
        return TurnResult(reply=f"Rejected: nothing was added ({pending['summary']} was declined).", tier="intent")
