"""Resolving relative requests ("turn it up", "dim the kitchen light") into absolute steps; pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from claw.intents.types import Plan, Step
from claw.intents.values import stepped

RELATIVE = ("volume_relative", "brightness_relative", "temperature_relative")
# A setpoint stepped from the thermostat's own target (its valid range is the command's; the policy's safe
# range, claw.agent.policy, is checked by the actuator, which asks for a YES outside it).
SETPOINT_LOW, SETPOINT_HIGH = 5.0, 35.0


def resolve_relative(found: Plan, states: dict[str, dict[str, Any]]) -> Plan:
    """Turn a relative plan plus the devices' states into absolute steps: set_volume (clamped 0-100) for
    speakers, set_brightness for lights (a light that is off is switched on by "brighten" and left off by "dim";
    dimmed below the bottom, it is switched off)."""
    if found.query is None or found.query.what not in RELATIVE:
        return found
    if found.query.what == "brightness_relative":
        return _resolve_brightness(found, states)
    if found.query.what == "temperature_relative":
        return _resolve_setpoint(found, states)
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


def _resolve_setpoint(found: Plan, states: dict[str, dict[str, Any]]) -> Plan:
    """"warmer", "turn the heating down": each thermostat's target plus the step, rounded to 0.5 °C."""
    assert found.query is not None
    change = float(found.slots.get("temperature_delta", 0))
    steps = []
    for device_id in found.query.device_ids:
        target = (states.get(device_id) or {}).get("target_temperature")
        if isinstance(target, int | float) and not isinstance(target, bool):
            value = round(stepped(target, change, SETPOINT_LOW, SETPOINT_HIGH) * 2) / 2
            steps.append(Step(device_id, "set_temperature", {"temperature": float(value)}))
    if not steps:
        return replace(found, query=None, problem="I couldn't read the thermostat's setting, so I left it alone.")
    return replace(found, steps=tuple(steps), query=None)
