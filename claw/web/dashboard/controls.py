"""Dashboard controls: a device command from the page through the same actuator, policy and audit as chat."""

from __future__ import annotations

import time
import uuid
from typing import Any

from claw.agent.actuator import TurnContext
from claw.agent.wording import outcome_reply
from claw.events import InboundMessage
from claw.intents.types import Plan, Step
from claw.runtime import Claw

WEB_LEDGER = "web"  # audit keys of dashboard actions start "web:" (Activity shows them as the web dashboard's)


async def act(claw: Claw, device_id: str, command: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one command as the owner on the web. A risky one is not sent: it is held as the owner's pending
    confirmation with the code's own prompt, exactly as chat holds it; the page shows Confirm / Cancel."""
    owner = claw.settings.owner
    voice = claw.soul.current().voice
    actuator = claw.handler.actuator
    ctx = TurnContext(inbox_id=0, sender=owner, channel="web", text=f"dashboard: {command} {device_id}",
                      ledger=f"{WEB_LEDGER}:{uuid.uuid4().hex}")
    steps = [(device_id, command, args)]
    outcome = await actuator.run(ctx, steps, voice=voice)
    if outcome.risks:
        actuator.ask_confirmation(ctx, list(outcome.held))
        prompt = actuator.close_confirmation(ctx, voice) or ""
        pending = claw.store.confirmation_pending(owner, time.time())
        return {"confirm": {"id": pending["id"] if pending else None, "prompt": prompt}}
    devices = {d.id: d for d in claw.registry.all()}
    plan = Plan(intent="dashboard", steps=tuple(Step(d, c, a) for d, c, a in steps))
    return {"reply": outcome_reply(plan, outcome, devices, voice), "ok": bool(outcome.done) and not outcome.errors}


async def answer(claw: Claw, confirmation_id: int, yes: bool) -> dict[str, Any]:
    """Confirm or cancel the owner's pending confirmation `confirmation_id` by sending YES / NO through the
    agent, as if typed in the web chat: the same code settles it (and the chat history shows it)."""
    pending = claw.store.confirmation_pending(claw.settings.owner, time.time())
    if pending is None or pending["id"] != confirmation_id:
        return {"reply": "That request is no longer waiting (it expired, was answered, or a newer one replaced it).",
                "ok": False}
    msg = InboundMessage(channel="web", sender=claw.settings.owner, text="yes" if yes else "no", standing="owner")
    result = await claw.agent.ask(msg)
    return {"reply": result.reply, "ok": True}


async def say(claw: Claw, text: str) -> dict[str, Any]:
    """Say `text` as the owner in the web chat (a scene's name): the agent does what chat would, and a risky step
    it holds comes back as the page's confirmation (the code's own prompt)."""
    owner = claw.settings.owner
    before = claw.store.confirmation_pending(owner, time.time())
    result = await claw.agent.ask(InboundMessage(channel="web", sender=owner, text=text, standing="owner"))
    after = claw.store.confirmation_pending(owner, time.time())
    if after is not None and (before is None or after["id"] != before["id"]):
        return {"confirm": {"id": after["id"], "prompt": result.reply}}
    return {"reply": result.reply, "ok": True}
