"""Vague and relative value words as numbers: how far "brighter", "a bit louder", "warmer" or "a lot more" go; pure.

The words themselves are sentence data (sentences/en/values.yaml: the `step_size` and `vague_level` lists);
this module holds what they are worth. A step slot is "up", "down" or an explicit signed number ("by 20");
a size slot is "small" ("a bit", "slightly"), "big" ("a lot", "much") or absent (one ordinary step).
"""

from __future__ import annotations

from typing import Any

# One step per quantity and size. Temperature in °C (a thermostat's setpoint), the rest in percent.
STEPS: dict[str, dict[str, float]] = {
    "brightness": {"small": 10, "normal": 25, "big": 50},
    "volume": {"small": 5, "normal": 10, "big": 20},
    "temperature": {"small": 0.5, "normal": 1.0, "big": 2.0},
    "position": {"small": 10, "normal": 25, "big": 50},
}
SIZES = ("small", "normal", "big")
# The slot that carries each quantity's signed step in a relative Plan (read by claw.intents.relative).
DELTA_SLOTS: dict[str, str] = {"brightness": "brightness_delta", "volume": "volume_delta",
                               "temperature": "temperature_delta", "position": "position_delta"}


def size_of(value: Any) -> str:
    """A size slot as one of SIZES; anything else is an ordinary step."""
    return value if value in SIZES else "normal"


def step_delta(quantity: str, step: Any, size: Any = None) -> float:
    """The signed change for a relative request: "up"/"down" times the quantity's step for the size, or an
    explicit number as it is ("turn it down by 20" -> -20, already signed by the sentence)."""
    if isinstance(step, int | float) and not isinstance(step, bool):
        return float(step)
    if isinstance(step, str) and step.lstrip("-").isdigit():
        return float(step)
    amount = STEPS[quantity][size_of(size)]
    return -amount if step in ("down", "less") else amount


def whole(value: float) -> int | float:
    """A number as a device takes it: an int when it has no fraction (25.0 -> 25), else as it is (20.5)."""
    return int(value) if float(value).is_integer() else value


def stepped(current: float, change: float, low: float, high: float) -> int | float:
    """current + change kept inside [low, high], as an int when whole."""
    return whole(max(low, min(high, float(current) + float(change))))


def unreferred(slots: dict[str, Any]) -> str:
    """The question for a short follow-up ("turn it off", "more", "and the kitchen too", "now 50%") when the
    sender has no recent command to refer to (claw.intents.recent)."""
    kind = slots.get("again")
    if kind in ("room", "device"):
        where = str(slots.get("area") or slots.get("name") or "that").lower()
        return f"What should I do with the {where}? I don't have a recent command of yours to repeat."
    if kind == "power":
        return ("Which device do you mean? I don't have a recent device of yours to refer to — name it, "
                "e.g. “turn off the kitchen light”.")
    if kind == "level":
        return "Which device should I set? Name it, e.g. “set the kitchen light to 50%”."
    return "More of what? Say what to change, e.g. “make the kitchen light a bit brighter”."
