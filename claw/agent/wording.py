"""How a turn's device outcome is worded: done, failed and uncertain steps, then the closing confirmation prompt."""

from __future__ import annotations

from claw.agent.actuator import Outcome
from claw.events import Voice
from claw.intents.types import Plan
from claw.replies import local as replies
from devices.models import Device


def outcome_reply(plan: Plan, outcome: Outcome, devices: dict[str, Device], voice: Voice) -> str:
    """What happened, in order: the steps done (as the plan's own words), each error, each uncertain step."""
    parts = []
    if outcome.done:
        done_ids = {a.device for a in outcome.done}
        done_plan = Plan(intent=plan.intent, steps=tuple(s for s in plan.steps if s.device_id in done_ids),
                         slots=plan.slots)
        parts.append(replies.done_reply(done_plan, devices, voice))
    parts.extend(replies.error_reply(name, error, voice) for name, error in outcome.errors)
    parts.extend(text for _, text in outcome.uncertain)  # neither done nor failed: said so (claw.recovery)
    return " ".join(parts)


def with_prompt(reply: str, prompt: str | None) -> str:
    """The reply, then the code's own "reply YES" prompt when the turn held a step for one."""
    return f"{reply} {prompt}" if prompt else reply
