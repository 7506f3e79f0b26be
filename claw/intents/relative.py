"""Resolving relative requests ("turn it up", "dim the kitchen light") into absolute steps; pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from claw.intents.types import Plan, Step

RELATIVE = ("volume_relative", "brightness_relative")


def resolve_relative(found: Plan, states: dict[str, dict[str, Any]]) -> Plan:
    """Turn a relative plan plus the devices' states into absolute steps: set_volume (clamped 0-100) for
    speakers, set_brightness for lights (a light that is off is switched on by "brighten" and left off by "dim";
    dimmed below the bottom, it is switched off)."""
    if found.query is None or found.query.what not in RELATIVE:
        return found
    if found.query.what == "brightness_relative":
        return _resolve_brightness(found, states)
    delta = int(found.slots.get("volume_delta", 0))
    steps = tuple(Step(i, "set_volume", {"volume": max(0, min(100, int(states[i]["volume"]) + delta))})
                  for i in found.query.device_ids if isinstance((states.get(i) or {}).get("volume"), int | float))
    if not steps:
        return replace(found, query=None, problem="I couldn't read the current volume, so I left it alone.")
    return replace(found, steps=steps, query=None)


def _resolve_brightness(found: Plan, states: dict[str, dict[str, Any]]) -> Plan:
    assert found.query is not None
    delta = int(found.slots.get("brightness_delta", 0))
    steps = []
    for device_id in found.query.device_ids:
        state = states.get(device_id) or {}
        level = state.get("brightness")
        if not isinstance(level, int | float) or state.get("available") is False:
            continue
        if state.get("power") is False:
            if delta < 0:
                continue  # dimming a light that is off: leave it off
            level = 0
        target = min(100, int(level) + delta)
        if target <= 0:  # dimmed below the bottom: off, as Home Assistant's brightness_step does
            steps.append(Step(device_id, "turn_off", {}))
        else:
            steps.append(Step(device_id, "set_brightness", {"brightness": target}))
    if not steps:
        problem = ("That light is off already." if any((states.get(i) or {}).get("power") is False
                                                       for i in found.query.device_ids)
                   else "I couldn't read the current brightness, so I left it alone.")
        return replace(found, query=None, problem=problem)
    return replace(found, steps=tuple(steps), query=None)
