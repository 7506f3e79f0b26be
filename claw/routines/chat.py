"""Routines in conversation: proposing one for the owner's YES, and answering that YES (or the missed-run one)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from claw.agent.actuator import TurnContext
from claw.agent.policy import join_actions
from claw.events import TurnResult, Voice
from claw.replies.conversation import confirm_prompt
from claw.routines.model import Routine, RoutineError, routine_from_row, routine_row
from claw.routines.scheduler import QUESTION_KIND
from claw.routines.service import Preview, Routines
from memory.store import Store

CREATE_KIND = "routine_create"


class RoutineChat:
    """What the chat layer (local phrasings, the LLM tool) calls to create routines the way the house confirms
    risky actions: `propose` shows what was understood and stores the question; the owner's YES (through
    claw.agent.confirm, by payload kind) creates it, with its risky steps confirmed."""

    def __init__(self, routines: Routines, store: Store, *, ttl: float) -> None:
        self.routines = routines
        self.store = store
        self.ttl = ttl

    def kinds(self) -> dict[str, Any]:
        """The confirmation kinds answered here, for Confirmations.kinds."""
        return {CREATE_KIND: self.answer, QUESTION_KIND: self.answer}

    def propose(self, spec: Mapping[str, Any] | Routine, *, confirm_as: str, voice: Voice) -> tuple[Preview, str]:
        """Draft the routine (InvalidRoutine when it cannot be), ask `confirm_as` (the owner's address) to
        confirm it, and return the preview and the reply: what was understood, the next three times, and the
        code's own YES prompt (naming the risky steps the YES lets it do unattended)."""
        preview = self.routines.preview(spec)
        what = f"create the routine “{preview.routine.name}”"
        reasons = f"it may then {join_actions(list(preview.risky))} on its own" if preview.risky else ""
        payload = {"kind": CREATE_KIND, "routine": routine_row(preview.routine)}
        self.store.confirmation_add(confirm_as, what, payload, time.time() + self.ttl)
        return preview, f"{preview.text} {confirm_prompt(what, reasons, self.ttl, voice)}"

    async def answer(self, ctx: TurnContext, payload: dict[str, Any], voice: Voice) -> TurnResult:
        """The owner said YES to a routine question: create the proposed routine, or run the missed ones."""
        try:
            if payload.get("kind") == CREATE_KIND:
                routine = self.routines.create(routine_from_row(payload["routine"]), confirmed_risky=True,
                                               standing=ctx.standing)
                return TurnResult(reply=f"Done. {self.routines.describe(routine)}", tier="confirm")
            started = []
            for routine_id in payload.get("routine_ids", []):
                try:
                    routine = self.routines.get(int(routine_id))
                except RoutineError:
                    continue
                self.routines.run_now(routine.id, standing=ctx.standing)
                started.append(f"“{routine.name}”")
        except RoutineError as exc:
            return TurnResult(reply=str(exc), tier="confirm")
        if not started:
            return TurnResult(reply="That routine no longer exists, so there is nothing to run.", tier="confirm")
        return TurnResult(reply=f"Running {join_actions(started)} now.", tier="confirm")
