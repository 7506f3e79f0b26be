"""The local tier: carrying out a Plan the intent engine parsed (problems, memory, queries, device steps)."""

from __future__ import annotations

from claw.agent.actuator import Actuator, TurnContext
from claw.agent.facts import memory_op
from claw.agent.wording import outcome_reply, with_prompt
from claw.events import TurnResult, Voice
from claw.intents.relative import RELATIVE, resolve_relative
from claw.intents.types import Plan
from claw.replies import local as replies
from devices.registry import Registry
from memory.store import Store


class LocalTier:
    """Answers a parsed Plan without a model: relative changes resolved from state, queries, steps."""

    def __init__(self, store: Store, registry: Registry, actuator: Actuator) -> None:
        self.store = store
        self.registry = registry
        self.actuator = actuator

    async def run(self, ctx: TurnContext, plan: Plan, voice: Voice) -> TurnResult:
        devices = {d.id: d for d in self.registry.all()}
        if plan.problem:
            return TurnResult(reply=replies.problem_reply(plan.problem, voice), tier="intent")
        if plan.memory is not None:
            return TurnResult(reply=memory_op(self.store, ctx, plan.memory.op, plan.memory.text, voice),
                              tier="intent")
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
        reply = outcome_reply(plan, outcome, devices, voice)
        prompt = self.actuator.close_confirmation(ctx, voice)  # a step a restart left uncertain (claw.recovery)
        return TurnResult(reply=with_prompt(reply, prompt), tier="intent", actions=tuple(ctx.actions))
