"""The LLM's routine tools: propose a routine for the owner's code-written YES (never create one), list them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from claw.agent.actuator import TurnContext
from claw.agent.tools.schema import Tool, make_tool
from claw.events import Voice
from claw.permissions import may
from claw.routines.chat import RoutineChat
from claw.routines.model import InvalidRoutine
from claw.routines.service import Preview
from claw.routines.triggers import describe_trigger, when_text, zone

STEP_KEYS = ("device", "say", "scene", "wait")  # what the model may put in a routine (no agent prompts)
OWNER_ONLY = "error: only the owner can create or list routines; tell them so (nothing was stored)."
HELD_FIRST = ("error: a device command in this turn already waits for the owner's YES; one confirmation at a "
              "time. Tell them to ask for the routine again after answering it (nothing was stored).")


@dataclass
class Proposal:
    """The routine proposed in this turn: the code's description and its YES prompt, shown by the LLM tier as
    the reply's final block (a later proposal in the same turn replaces an earlier one, as the store does)."""

    name: str = ""
    text: str = ""
    prompt: str = ""


def _step(raw: dict[str, Any]) -> dict[str, Any]:
    """One step as the model gave it, checked to be exactly one of the allowed kinds."""
    kinds = [k for k in STEP_KEYS if k in raw]
    if len(kinds) != 1 or any(k not in (*STEP_KEYS, "command", "args") for k in raw):
        raise InvalidRoutine(f"a step is one of {{device, command, args}}, {{say}}, {{scene}} or {{wait}}, "
                             f"not {raw!r}")
    if kinds[0] != "device" and ("command" in raw or "args" in raw):
        raise InvalidRoutine(f"only a device step has command and args: {raw!r}")
    if kinds[0] == "device" and not isinstance(raw.get("args", {}) or {}, dict):
        raise InvalidRoutine(f"a device step's args is an object like {{\"brightness\": 40}}: {raw!r}")
    return dict(raw)


def _propose(chat: RoutineChat, ctx: TurnContext, voice: Voice, when: str, steps: list[dict[str, Any]],
             name: str | None, missed: str | None) -> tuple[Preview, str]:
    """Check the model's steps, pick a free name, and propose through the same path as the local chat."""
    if not steps:
        raise InvalidRoutine("a routine needs at least one step")
    clean = [_step(s) for s in steps]
    taken = {r.name.lower() for r in chat.routines.list()}
    base = " ".join((name or f"at {when}").split())[:60] or f"at {when}"
    chosen, n = base, 2
    while chosen.lower() in taken:
        chosen, n = f"{base} ({n})", n + 1
    spec: dict[str, Any] = {"name": chosen, "when": when, "steps": clean}
    if missed:
        spec["missed"] = missed
    return chat.propose(spec, confirm_as=ctx.confirm_as, voice=voice)


def routine_tools(ctx: TurnContext, chat: RoutineChat, voice: Voice, proposal: Proposal) -> list[Tool]:
    """The routine tools bound to this turn; `proposal` collects what propose_routine registered."""
    routines = chat.routines

    def propose_routine(when: str, steps: list[dict[str, Any]], name: str | None = None,
                        missed: Literal["catch_up", "skip", "always"] | None = None) -> str:
        """Propose a routine (a schedule plus steps) to the owner. Nothing is created: the home system shows the
        owner what it understood and the next three times, and only their YES creates it.

        Args:
            when: When it runs, e.g. "weekdays 07:00", "07:00", "mon,wed 18:00", "sunset -15m", "sunrise +1h
                weekends", "every 2h", "in 20m", "tomorrow 8am", "once 2026-12-24 08:00".
            steps: In order, each one of {"device": name, "command": a control_device command, "args":
                {...}}, {"say": message to the owner}, {"scene": scene name}, {"wait": "30s"}.
            name: A short name for the routine (default: from when).
            missed: A time missed while the home system was down: catch_up (within 10 minutes, default), skip,
                always.
        """
        if not may(ctx.standing, "routines"):
            return OWNER_ONLY
        if ctx.pending:
            return HELD_FIRST
        try:
            preview, reply = _propose(chat, ctx, voice, when, steps, name, missed)
        except InvalidRoutine as exc:  # raised before anything is stored; the model sees it as `error: …`
            raise InvalidRoutine(f"{exc}; nothing was stored") from exc
        proposal.name, proposal.text = preview.routine.name, preview.text
        proposal.prompt = reply[len(preview.text):].strip()
        return (f"not created yet, proposed to the owner: {preview.text} The home system itself shows them this "
                "and asks for their YES at the end of this turn; do not ask them to reply YES yourself.")

    def list_routines() -> str:
        """List the owner's routines: number, name, when it runs, paused or the next time, and the steps."""
        if not may(ctx.standing, "routines"):
            return OWNER_ONLY
        found = routines.list()
        if not found:
            return "no routines yet"
        now = routines.clock.now()
        lines = []
        for r in found:
            times = [] if r.paused else routines.next_times(r, 1, now)
            state = "paused" if r.paused else (f"next {when_text(times[0], zone(r.tz), now)}" if times
                                               else "will not run again")
            lines.append(f"#{r.id} “{r.name}”: {describe_trigger(r.trigger, r.tz)} ({state}); "
                         f"{routines.describe(r)}")
        return "\n".join(lines)

    return [make_tool(propose_routine, risk="act"), make_tool(list_routines, risk="read")]

