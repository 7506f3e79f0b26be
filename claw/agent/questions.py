"""The local tier's questions and help: reads the states a question needs and answers from them (no action)."""

from __future__ import annotations

from collections.abc import Callable

from claw.events import TurnResult, Voice
from claw.intents.engine import IntentEngine
from claw.intents.questions import QUESTION_INTENTS
from claw.intents.relative import RELATIVE
from claw.intents.types import Plan
from claw.intents.unmatched import guess
from claw.replies import help as helping
from claw.replies import questions as wording
from devices.registry import Registry

Parse = Callable[[str], Plan | None]  # the intent engine's parse (no sender: it never touches follow-ups)
HELP_EXAMPLES = 4  # commands a help reply suggests (plus one question)


def acts(plan: Plan | None) -> bool:
    """Whether a plan changes a device: steps, or a relative change resolved from state."""
    return plan is not None and not plan.problem and (bool(plan.steps) or (
        plan.query is not None and plan.query.what in RELATIVE))


def answers(plan: Plan | None) -> bool:
    """Whether a plan answers a question from the devices' state."""
    return plan is not None and not plan.problem and plan.query is not None and plan.query.what not in RELATIVE


def checker(parse: Parse | None, wanted: Callable[[Plan | None], bool]) -> Callable[[str], bool] | None:
    return None if parse is None else (lambda text: wanted(parse(text)))


def is_question(plan: Plan) -> bool:
    """A plan this module answers: the claw's questions and help, HA's state questions, "what can I say", "hi"."""
    if plan.intent == "HassRespond":  # HA's "what can I say" and "hello"
        return plan.slots.get("response") in ("commands", "hello")
    if plan.intent == "HassGetState":  # "which lights are on", "is the front door locked"
        return plan.query is not None and bool(plan.query.expect)
    return plan.intent in QUESTION_INTENTS


async def answer(registry: Registry, plan: Plan, voice: Voice, parse: Parse | None,
                 said: str | None = None) -> TurnResult:
    """The reply to a question or help plan (is_question); reads device state only when the plan's query asks."""
    devices = registry.all()
    by_id = {d.id: d for d in devices}
    if plan.query is not None:
        states = await registry.states(plan.query.device_ids)
        return TurnResult(reply=wording.answer(plan, by_id, states, voice), tier="intent", states=states)
    topic = plan.slots.get("topic") or ("greet" if plan.slots.get("response") == "hello" else "help")
    if topic == "devices":
        reply = helping.devices_reply(voice, devices)
    elif topic == "greet":
        reply = helping.greeting_reply(voice, said, devices)
    else:
        commands = helping.working(helping.command_examples(devices), checker(parse, acts), HELP_EXAMPLES)
        questions = helping.working(helping.question_examples(devices), checker(parse, answers), 1)
        reply = helping.help_reply(voice, devices, commands, questions)
    return TurnResult(reply=reply, tier="intent")


def unmatched(engine: IntentEngine, registry: Registry, text: str, unknown: str | None, voice: Voice) -> TurnResult:
    """No tier took the sentence and no LLM is configured: what was understood, the closest device names and
    one example that works here (claw.replies.help.unmatched_reply). `unknown` is engine.unknown_target's."""
    devices = registry.all()
    found = guess(text, engine.intents, engine.slot_lists, devices, unknown, engine.language)
    example = helping.pick_example(found, devices, checker(engine.parse, acts))
    reply = helping.unmatched_reply(voice, found, sorted({d.name for d in devices}), example)
    return TurnResult(reply=reply, tier="intent" if found.intent or found.stray else "fallback")
