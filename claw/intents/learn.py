"""Learning a device in words (pure): "learn the pool controller", "approve it", "reject the adapter"."""

from __future__ import annotations

from typing import Any

from claw.intents.types import Plan
from devices.models import Device

LEARN_INTENTS = frozenset({"ClawLearn"})
TOPICS = ("learn", "approve", "reject")


def learn_plan(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """ClawLearn: topic learn (with `learn_target`, the owner's words for the device), approve or reject (the
    adapter awaiting approval); carried out by claw.learn.chat."""
    topic = str(slots.get("topic") or "")
    if topic not in TOPICS:
        return Plan(intent, problem="I understood that was about learning a device, but not what to do.",
                    slots=slots)
    if topic == "learn":
        target = " ".join(str(slots.get("learn_target") or "").split())[:80]
        return Plan(intent, slots={**slots, "learn_target": target})
    return Plan(intent, slots=slots)


LEARN_HANDLERS = {"ClawLearn": learn_plan}
