"""The local tier: carrying out a Plan the intent engine parsed (problems, memory, queries, device steps)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from claw.agent import questions
from claw.agent.actuator import Actuator, TurnContext
from claw.agent.facts import memory_op
from claw.agent.questions import Parse, is_question
from claw.agent.satisfied import check_steps, remember
from claw.agent.wording import outcome_reply, with_prompt
from claw.events import TurnResult, Voice
from claw.intents.relative import RELATIVE, resolve_relative
from claw.intents.types import Plan
from claw.replies import local as replies
from claw.replies.already import already_reply
from devices.errors import DeviceError
from devices.registry import Registry
from memory.store import Store

Step = tuple[str, str, dict[str, Any]]


class LocalTier:
    """Answers a parsed Plan without a model: relative changes resolved from state, queries, steps."""

    def __init__(self, store: Store, registry: Registry, actuator: Actuator, parse: Parse | None = None) -> None:
        self.store = store
        self.registry = registry
        self.actuator = actuator
        self.parse = parse  # the intent engine's, to keep only help examples that work here

    async def run(self, ctx: TurnContext, plan: Plan, voice: Voice) -> TurnResult:
        devices = {d.id: d for d in self.registry.all()}
        if plan.problem:
            return TurnResult(reply=replies.problem_reply(plan.problem, voice), tier="intent")
        if plan.memory is not None:
            return TurnResult(reply=memory_op(self.store, ctx, plan.memory.op, plan.memory.text, voice),
                              tier="intent")
        if is_question(plan):  # questions, help, greetings: answered from state, nothing acts
            return await questions.answer(self.registry, plan, voice, self.parse, said=ctx.text)
        fresh: dict[str, dict[str, Any]] = {}
        if plan.query is not None and plan.query.what in RELATIVE:
            fresh = await self.registry.states(plan.query.device_ids)  # read this turn: may say "already"
            plan = resolve_relative(plan, fresh)
            if plan.problem:
                return TurnResult(reply=replies.problem_reply(plan.problem, voice), tier="intent")
        if plan.query is not None:
            states = await self.registry.states(plan.query.device_ids)
            return TurnResult(reply=replies.state_reply(plan.query, devices, states, voice), tier="intent",
                              states=states)
        if not plan.steps:
            return TurnResult(reply=replies.ack_reply(voice, plan), tier="intent")
        # no-op awareness (claw.intents.noop): steps the devices already show are neither sent nor confirmed
        checked = await check_steps(self.registry, self.store, self.actuator.safety, ctx.inbox_id, plan, fresh)
        already = already_reply(checked.already, devices, voice, acted=bool(checked.run), states=checked.states)
        if not checked.run:
            prompt = self.actuator.close_confirmation(ctx, voice)
            return TurnResult(reply=with_prompt(" ".join([already, *plan.notes]), prompt), tier="intent",
                              states=checked.states)
        plan = replace(plan, steps=checked.run)
        steps = [(s.device_id, s.command, dict(s.args)) for s in plan.steps]
        steps, capped = await self._hold_risky(ctx, steps, voice)  # harmless steps now, risky ones for one YES
        outcome = await self.actuator.run(ctx, steps, voice=voice)
        if outcome.risks:
            self.actuator.ask_confirmation(ctx, list(outcome.held))
            prompt = self.actuator.close_confirmation(ctx, voice) or ""
            over = [replies.error_reply(name, error, voice) for name, error in outcome.errors]
            return TurnResult(reply=" ".join(t for t in [*over, already, *plan.notes, prompt] if t), tier="confirm")
        remember(self.registry, checked, outcome.done)
        reply = " ".join(t for t in (outcome_reply(plan, outcome, devices, voice), *capped, already, *plan.notes) if t)
        held = bool(ctx.pending)
        prompt = self.actuator.close_confirmation(ctx, voice)  # a step a restart left uncertain (claw.recovery)
        return TurnResult(reply=with_prompt(reply, prompt), tier="confirm" if held else "intent",
                          actions=tuple(ctx.actions))

    async def _hold_risky(self, ctx: TurnContext, steps: list[Step], voice: Voice) -> tuple[list[Step], list[str]]:
        """Of a plan with both harmless and risky steps ("turn off the lights and close the garage", "close all the
        doors"): hold the risky ones for ONE confirmation at the end of the turn, return the harmless ones to run
        now (and a line for each step over the per-turn cap). All harmless or all risky: the steps as they are."""
        def risky(step: Step) -> bool:
            try:
                return bool(self.actuator.risks([step]))
            except DeviceError:
                return False  # run() reports it
        devices = {s[0] for s in steps if risky(s)}  # a device's other steps wait with it ("unlock it, then lock it")
        held = [s for s in steps if s[0] in devices]
        if not held or len(held) == len(steps):
            return steps, []
        outcome = await self.actuator.run(ctx, held, voice=voice)  # runs none of them: returns them held
        self.actuator.ask_confirmation(ctx, list(outcome.held))
        return [s for s in steps if s not in held], [replies.error_reply(n, e, voice) for n, e in outcome.errors]
