"""What one turn does: confirmations, soul edits, the local intent tier, then the LLM tier."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from claw.agent.actuator import Actuator, Outcome, TurnContext
from claw.agent.context import build_messages
from claw.agent.policy import is_no, is_yes
from claw.agent.recovery import resumed_confirmation
from claw.agent.tools.home import home_tools
from claw.channels.access import handle_pairing_command, is_owner
from claw.channels.base import Channel
from claw.config import Settings
from claw.errors import LLMError
from claw.events import TurnResult, Voice
from claw.intents.engine import IntentEngine
from claw.intents.plan import Plan, Step
from claw.intents.relative import RELATIVE, resolve_relative
from claw.permissions import fact_scope, fact_source, may, standing_of
from claw.replies import conversation as replies_flow
from claw.replies import local as replies
from claw.soul.edit import is_soul_edit_request, propose_edit, propose_edit_with_llm
from claw.soul.manager import SoulManager
from devices.registry import Registry
from memory.store import Store

if TYPE_CHECKING:  # openai is imported only when an LLM is configured (start-up time)
    from claw.agent.llm import LLMClient

log = logging.getLogger(__name__)

EXPIRED_NOTICE = 3600.0  # a YES/NO within this long after a request expired is told so


class TurnHandler:
    """Turns one stored inbound row into a TurnResult. Owns no queueing: see claw.agent."""

    def __init__(self, *, store: Store, registry: Registry, intents: IntentEngine, soul: SoulManager,
                 llm: LLMClient | None, settings: Settings, channels: Mapping[str, Channel] | None = None) -> None:
        self.channels = channels if channels is not None else {}
        self.store = store
        self.registry = registry
        self.intents = intents
        self.soul = soul
        self.llm = llm
        self.settings = settings
        self.actuator = Actuator(store, registry, settings.safety)

    async def handle(self, row: dict[str, Any]) -> TurnResult:
        ctx = TurnContext(inbox_id=row["id"], sender=row["sender"], channel=row["channel"],
                          text=(row["text"] or "").strip(), standing=standing_of(self.is_owner(row)))
        voice = self.soul.current().voice
        if not ctx.text and not row.get("media"):
            return TurnResult(reply=replies.greeting(voice), tier="intent")
        images, media_note = await self._media(row)
        if images or media_note:
            return await self._with_media(ctx, images, media_note, voice)
        return await self._text(ctx, voice)

    async def _text(self, ctx: TurnContext, voice: Voice) -> TurnResult:
        pairing = handle_pairing_command(self.store, ctx.is_owner, ctx.text)
        if pairing is not None:
            return TurnResult(reply=pairing, tier="intent")
        pending = self.store.confirmation_pending(ctx.sender, time.time())
        if is_yes(ctx.text) or is_no(ctx.text):
            if pending:
                return await self._answer_confirmation(ctx, pending, voice)
            latest = self.store.confirmation_latest(ctx.sender)
            if is_yes(ctx.text) and resumed_confirmation(latest, self.store.audit_for_inbox(ctx.inbox_id)):
                return await self._resume_confirmed(ctx, latest or {}, voice)  # this YES turn, cut off by a crash
            if latest and latest["status"] == "expired" and time.time() - latest["expires_at"] < EXPIRED_NOTICE:
                return TurnResult(reply=replies_flow.expired_reply(latest["summary"], voice), tier="confirm")
            if is_yes(ctx.text):  # a YES only ever answers a stored confirmation; never guess what it meant
                return TurnResult(reply=replies_flow.nothing_pending_reply(voice), tier="intent")
        if is_soul_edit_request(ctx.text):
            if not may(ctx.standing, "soul"):  # a refusal, not a pending edit a guest's YES could apply
                return TurnResult(reply=replies.problem_reply("Only the owner can change how I talk.", voice),
                                  tier="intent")
            result = await self._soul_edit(ctx, voice)
            if result is not None:
                return result
        plan = self.intents.parse(ctx.text, self.settings.default_area)
        if plan is not None:
            return await self._local(ctx, plan, voice)
        if self.llm is not None:
            return await self._llm(ctx, voice)
        unknown = self.intents.unknown_target(ctx.text)
        if unknown:
            names = ", ".join(sorted({d.name for d in self.registry.all()})) or "none yet"
            return TurnResult(reply=replies.problem_reply(
                f"I don't know a device or room called “{unknown}”. I know: {names}.", voice), tier="intent")
        return TurnResult(reply=replies.cannot_reply(voice, llm_available=False), tier="fallback")

    # media ----------------------------------------------------------------------------------
    async def _media(self, row: dict[str, Any]) -> tuple[list[tuple[bytes, str]], str | None]:
        """Fetch the row's attachments through its channel: images for the model, a note for the rest."""
        if not row.get("media"):
            return [], None
        fetch = getattr(self.channels.get(row["channel"]), "fetch_media", None)
        if fetch is None:
            return [], "I can't open attachments on this channel."
        try:
            result = await fetch(row)
            images = [(f.path.read_bytes(), f.content_type) for f in result.files]
        except Exception:  # a provider or disk problem must not cost the text of the message
            log.exception("fetching the attachments of inbox %s failed", row["id"])
            return [], "I couldn't download your attachment; please send it again."
        note = " ".join(result.skipped) or None
        return images, note

    async def _with_media(self, ctx: TurnContext, images: list[tuple[bytes, str]], note: str | None,
                          voice: Voice) -> TurnResult:
        """Pictures go to a vision-capable model; otherwise say so, and still act on any text."""
        if images and self.llm is not None and self.settings.llm.vision:
            result = await self._llm(ctx, voice, images)
            return result if not note else replace(result, reply=f"{result.reply}\n({note})")
        notes = [note] if note else []
        if images:
            notes.insert(0, replies_flow.cannot_see_reply(voice))
        if not ctx.text:
            return TurnResult(reply=" ".join(notes), tier="fallback")
        result = await self._text(ctx, voice)
        return replace(result, reply=f"{result.reply}\n({' '.join(notes)})")

    def is_owner(self, row: dict[str, Any]) -> bool:
        """Console and web chat are the owner (token-protected); on WhatsApp, the configured numbers."""
        if row["channel"] in ("console", "web"):
            return True
        return is_owner(row["sender"], self.settings.twilio.owners)

    # local tier -----------------------------------------------------------------------------
    async def _local(self, ctx: TurnContext, plan: Plan, voice: Voice) -> TurnResult:
        devices = {d.id: d for d in self.registry.all()}
        if plan.problem:
            return TurnResult(reply=replies.problem_reply(plan.problem, voice), tier="intent")
        if plan.memory is not None:
            return TurnResult(reply=self._memory(ctx, plan.memory.op, plan.memory.text, voice), tier="intent")
        if plan.query is not None and plan.query.what in RELATIVE:
            plan = resolve_relative(plan, await self.registry.states(plan.query.device_ids))
            if plan.problem:
                return TurnResult(reply=replies.problem_reply(plan.problem, voice), tier="intent")
        if plan.query is not None:
            states = await self.registry.states(plan.query.device_ids)
            return TurnResult(reply=replies.state_reply(plan.query, devices, states, voice), tier="intent",
                              states=states)
        if not plan.steps:
            return TurnResult(reply=replies.ack_reply(voice, plan), tier="intent")
        steps = [(s.device_id, s.command, dict(s.args)) for s in plan.steps]
        outcome = await self.actuator.run(ctx, steps, voice=voice)
        if outcome.risks:
            self.actuator.ask_confirmation(ctx, list(outcome.held))
            prompt = self.actuator.close_confirmation(ctx, voice) or ""
            over = [replies.error_reply(name, error, voice) for name, error in outcome.errors]
            return TurnResult(reply=" ".join([*over, prompt]), tier="confirm")
        reply = self._outcome_reply(plan, outcome, devices, voice)
        prompt = self.actuator.close_confirmation(ctx, voice)  # a step a restart left uncertain (claw.recovery)
        return TurnResult(reply=f"{reply} {prompt}" if prompt else reply, tier="intent", actions=tuple(ctx.actions))

    def _outcome_reply(self, plan: Plan, outcome: Outcome, devices: dict, voice: Voice) -> str:
        parts = []
        if outcome.done:
            done_ids = {a.device for a in outcome.done}
            done_plan = Plan(intent=plan.intent, steps=tuple(s for s in plan.steps if s.device_id in done_ids),
                             slots=plan.slots)
            parts.append(replies.done_reply(done_plan, devices, voice))
        parts.extend(replies.error_reply(name, error, voice) for name, error in outcome.errors)
        parts.extend(text for _, text in outcome.uncertain)  # neither done nor failed: said so (claw.recovery)
        return " ".join(parts)

    def _memory(self, ctx: TurnContext, op: str, text: str, voice: Voice) -> str:
        """Remember, forget or recall within what this sender may touch (claw.permissions.fact_scope)."""
        scope = fact_scope(ctx.standing, ctx.sender)
        if op == "remember":
            self.store.fact_add(text, fact_source(ctx.standing, by_model=False), sender=ctx.sender)
            return replies.memory_reply("remember", [text], voice)
        if op == "forget":
            forgot = self.store.fact_forget(text, sources=scope.sources, sender=scope.sender)
            return replies.memory_reply("forget", forgot, voice)
        facts = self.store.fact_search(text, sources=scope.sources, sender=scope.sender) if text.strip() else []
        if not facts:
            facts = self.store.fact_list(limit=10, sources=scope.sources, sender=scope.sender)
        return replies.memory_reply("recall", [replies.recalled_line(f, ctx.standing) for f in facts], voice)

    # confirmations --------------------------------------------------------------------------
    async def _answer_confirmation(self, ctx: TurnContext, pending: dict, voice: Voice) -> TurnResult:
        if is_no(ctx.text):
            self.store.confirmation_resolve(pending["id"], "declined")
            return TurnResult(reply=replies_flow.declined_reply(pending["summary"], voice), tier="confirm")
        kind = pending["payload"].get("kind")
        if not may(ctx.standing, "soul" if kind == "soul" else "confirm_risky"):  # the owner's YES only
            return TurnResult(reply=replies.problem_reply(f"Only the owner can {pending['summary']}.", voice),
                              tier="confirm")
        if not self.store.confirmation_resolve(pending["id"], "confirmed"):
            return TurnResult(reply=replies.problem_reply("That request has already expired.", voice),
                              tier="confirm")
        payload = pending["payload"]
        if payload.get("kind") == "soul":
            self.soul.write(payload["new_text"], "chat")
            return TurnResult(reply=replies_flow.soul_applied_reply(self.soul.current().voice), tier="confirm")
        steps = [(d, c, a) for d, c, a in payload.get("steps", [])]
        outcome = await self.actuator.run(ctx, steps, confirmed=True)
        devices = {d.id: d for d in self.registry.all()}
        plan = Plan(intent="confirmed", steps=tuple(Step(d, c, a) for d, c, a in steps))
        return TurnResult(reply=self._outcome_reply(plan, outcome, devices, voice), tier="confirm",
                          actions=tuple(ctx.actions))

    async def _resume_confirmed(self, ctx: TurnContext, confirmed: dict, voice: Voice) -> TurnResult:
        """A YES turn resumed after a crash: its confirmation was used already, so run its steps through the
        ledger again (done steps are not repeated; interrupted ones are settled from the device's state)."""
        steps = [(d, c, a) for d, c, a in confirmed["payload"].get("steps", [])]
        outcome = await self.actuator.run(ctx, steps, confirmed=True, voice=voice)
        devices = {d.id: d for d in self.registry.all()}
        plan = Plan(intent="confirmed", steps=tuple(Step(d, c, a) for d, c, a in steps))
        reply = self._outcome_reply(plan, outcome, devices, voice)
        prompt = self.actuator.close_confirmation(ctx, voice)
        return TurnResult(reply=f"{reply} {prompt}" if prompt else reply, tier="confirm", actions=tuple(ctx.actions))

    async def _soul_edit(self, ctx: TurnContext, voice: Voice) -> TurnResult | None:
        current = self.soul.current().text
        edit = propose_edit(current, ctx.text, allow_note=self.llm is None)
        if edit is None and self.llm is not None:
            try:
                edit = await propose_edit_with_llm(current, ctx.text, self.llm.complete)
            except LLMError as exc:
                log.warning("soul edit via LLM failed: %s", exc)
        if edit is None:
            return None
        if not edit.changed:
            return TurnResult(reply=edit.summary, tier="intent")
        ttl = self.settings.safety.confirm_seconds
        self.store.confirmation_add(ctx.sender, "edit soul.md", {"kind": "soul", "new_text": edit.new_text},
                                    time.time() + ttl)
        return TurnResult(reply=replies_flow.soul_edit_prompt(edit.summary, edit.diff, ttl, voice), tier="confirm")

    # LLM tier -------------------------------------------------------------------------------
    async def _llm(self, ctx: TurnContext, voice: Voice,
                   images: list[tuple[bytes, str]] | None = None) -> TurnResult:
        assert self.llm is not None
        soul = self.soul.current()
        scope = fact_scope(ctx.standing, ctx.sender)  # a guest's prompt never holds the owner's facts
        facts = self.store.fact_search(ctx.text, sources=scope.sources, sender=scope.sender)
        history = self.store.turns_recent(ctx.sender, limit=8)
        messages = build_messages(soul, self.registry.all(), facts, history, ctx.text, images,
                                  standing=ctx.standing)
        tools = home_tools(ctx, self.registry, self.actuator, self.store, voice)
        try:
            outcome = await self.llm.run(messages, tools, max_steps=self.settings.llm.max_steps,
                                         max_seconds=self.settings.llm.max_seconds,
                                         max_tool_calls=self.settings.llm.max_tool_calls_per_step)
        except LLMError as exc:
            log.warning("LLM tier failed: %s", exc)
            return TurnResult(reply=replies_flow.llm_down_reply(str(exc), voice), tier="error",
                              actions=tuple(ctx.actions))
        # The model's words never ask for a YES: the code's own prompt, naming exactly the steps stored for
        # that YES, is always the separate final block (kept whole when the model's text has to be cut).
        channel = self.channels.get(ctx.channel)
        limit, most = (channel.max_length if channel else 1600), self.settings.max_reply_messages
        prompt = self.actuator.close_confirmation(ctx, voice)
        text = replies_flow.strip_yes_requests(replies_flow.cut(outcome.text, (most + 1) * limit))  # no more is sent
        if prompt:
            text = replies_flow.fit_before(text, prompt, limit, most)
        elif not text:
            text = replies.ack_reply(voice)
        return TurnResult(reply=replies_flow.with_confirmation(text, prompt), tier="llm",
                          actions=tuple(ctx.actions), states=ctx.states)

