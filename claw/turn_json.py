"""The JSON shape of a turn result shared by `claw ask --json` and POST /api/chat."""

from __future__ import annotations

from typing import Any

from claw.app import Claw
from claw.events import TurnResult


async def turn_json(claw: Claw, result: TurnResult) -> dict[str, Any]:
    """{"reply", "tier", "actions": [{"device", "capability", "command", "args"}], "states"}.

    States are those the turn read, plus a fresh read of every device the turn acted on.
    """
    states = dict(result.states)
    touched = [a.device for a in result.actions if a.device not in states]
    if touched:
        states.update(await claw.registry.states(dict.fromkeys(touched)))
    return {"reply": result.reply, "tier": result.tier, "actions": [a.as_json() for a in result.actions],
            "states": states}
