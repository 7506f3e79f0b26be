"""The JSON shape of a turn result shared by `claw ask --json` and POST /api/chat."""

from __future__ import annotations

from typing import Any

from claw.events import Action, TurnResult
from claw.runtime import Claw
from devices.errors import DeviceNotFound
from devices.models import Device


async def turn_json(claw: Claw, result: TurnResult) -> dict[str, Any]:
    """{"reply", "tier", "actions": [{"device", "name", "room", "capability", "command", "args"}], "states"}.

    An action's `name` and `room` are the device's (None when it is no longer known). States are those the
    turn read, plus a fresh read of every device the turn acted on.
    """
    states = dict(result.states)
    touched = [a.device for a in result.actions if a.device not in states]
    if touched:
        states.update(await claw.registry.states(dict.fromkeys(touched)))
    return {"reply": result.reply, "tier": result.tier, "actions": [action_json(claw, a) for a in result.actions],
            "states": states}


def action_json(claw: Claw, action: Action) -> dict[str, Any]:
    """An action with the acted-on device's name and room next to its id."""
    try:
        known: Device | None = claw.registry.get(action.device)
    except DeviceNotFound:
        known = None
    out = action.as_json()
    return {"device": out.pop("device"), "name": known.name if known else None,
            "room": known.room if known else None, **out}
