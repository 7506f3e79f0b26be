"""Carrying out device commands for a turn: policy check, idempotency ledger (audit), execution."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from claw import replies, replies_flow
from claw.config import SafetySettings
from claw.events import Action, Voice
from claw.policy import Risk, assess
from devices.commands import COMMANDS, validate
from devices.errors import DeviceError
from devices.registry import Registry
from memory.store import Store

log = logging.getLogger(__name__)


@dataclass
class TurnContext:
    """Per-turn state: who asked, which inbox row, and the actions done so far (in order)."""

    inbox_id: int
    sender: str
    channel: str
    text: str
    actions: list[Action] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: int = 0
    confirmation: str | None = None  # "reply YES to ..." prompt raised during this turn
    is_owner: bool = True  # only the owner may confirm risky actions


@dataclass(frozen=True)
class Outcome:
    """What running a list of steps did: done actions, per-device errors, or risks awaiting confirmation."""

    done: tuple[Action, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()  # (device name, owner-safe error)
    risks: tuple[Risk, ...] = ()


class Actuator:
    """The only path from the agent to a physical action."""

    def __init__(self, store: Store, registry: Registry, safety: SafetySettings) -> None:
        self.store = store
        self.registry = registry
        self.safety = safety

    def risks(self, steps: list[tuple[str, str, dict[str, Any]]]) -> list[Risk]:
        out = []
        for device_id, command, args in steps:
            device = self.registry.get(device_id)
            risk = assess(device, command, validate(command, args), self.safety)
            if risk:
                out.append(risk)
        return out

    async def run(self, ctx: TurnContext, steps: list[tuple[str, str, dict[str, Any]]], *,
                  confirmed: bool = False) -> Outcome:
        """Run steps in order; with any risky step and no confirmation, run none and return the risks."""
        try:
            risks = [] if confirmed else self.risks(steps)
        except DeviceError as exc:
            return Outcome(errors=(("", str(exc)),))
        if risks:
            return Outcome(risks=tuple(risks))
        done: list[Action] = []
        errors: list[tuple[str, str]] = []
        for device_id, command, args in steps:
            try:
                done.append(await self.act(ctx, device_id, command, args))
            except DeviceError as exc:
                name = self._name(device_id)
                errors.append((name, str(exc)))
        return Outcome(done=tuple(done), errors=tuple(errors))

    def ask_confirmation(self, ctx: TurnContext, risks: tuple[Risk, ...],
                         steps: list[tuple[str, str, dict[str, Any]]], voice: Voice) -> str:
        """Store the steps as a pending, expiring confirmation and return the "reply YES" prompt.

        A sender who is not the owner (e.g. a paired guest) gets a refusal instead: risky actions need
        the owner's own confirmation."""
        what = " and ".join(r.what for r in risks)
        if not ctx.is_owner:
            return replies.problem_reply(f"Only the owner can {what}.", voice)
        reasons = "; ".join(r.reason for r in risks)
        ttl = self.safety.confirm_seconds
        self.store.confirmation_add(ctx.sender, what, {"kind": "steps", "steps": steps}, time.time() + ttl)
        ctx.confirmation = replies_flow.confirm_prompt(what, reasons, ttl, voice)
        return ctx.confirmation

    async def act(self, ctx: TurnContext, device_id: str, command: str, args: dict[str, Any]) -> Action:
        """Execute once per (turn, step): a resumed turn finds the ledger entry and does not act again."""
        device = self.registry.get(device_id)
        clean = validate(command, args)
        ctx.seq += 1
        key = f"{ctx.inbox_id}:{ctx.seq}:{device_id}:{command}"
        action = Action(device=device.id, capability=str(COMMANDS[command].capability), command=command,
                        args=clean)
        previous = self.store.audit_begin(key, device.id, command, clean, ctx.inbox_id, ctx.sender)
        if previous is not None and previous.get("status") in ("done", "started"):
            # done: already acted before a crash. started: the crash came mid-command; repeating a
            # physical action we cannot prove undone is worse than reporting it as done.
            log.info("skipping %s on %s: already %s before restart", command, device.id, previous["status"])
            ctx.actions.append(action)
            return action
        if previous is not None and previous.get("status") == "failed":
            raise DeviceError(previous.get("error") or f"{device.name} failed earlier")
        try:
            await self.registry.execute(device.id, command, clean)
        except DeviceError as exc:
            self.store.audit_finish(key, False, str(exc))
            raise
        self.store.audit_finish(key, True)
        ctx.actions.append(action)
        return action

    def _name(self, device_id: str) -> str:
        try:
            return self.registry.get(device_id).name
        except DeviceError:
            return device_id
