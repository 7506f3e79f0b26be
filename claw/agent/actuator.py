"""Carrying out device commands for a turn: policy check, idempotency ledger (audit), execution."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from claw.agent.policy import Risk, assess, describe, join_actions
from claw.agent.recovery import Resume, effect_phrase, next_check_delay, resume_verdict, the
from claw.config import SafetySettings
from claw.events import Action, Voice
from claw.permissions import Standing
from claw.replies import conversation as replies_flow
from claw.replies import local as replies
from devices.commands import COMMANDS, validate
from devices.effects import shows_effect
from devices.errors import DeviceError, DeviceOutcomeUnknown
from devices.models import Device
from devices.registry import Registry
from memory.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Held:
    """A step held for the owner's YES, with the words the owner is shown for it."""

    step: tuple[str, str, dict[str, Any]]
    what: str  # "unlock the front door"
    reason: str  # why it is risky; "" for a safe step held with a risky one


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
    confirmation: str | None = None  # the code's own "reply YES" prompt, stored at the end of the turn
    is_owner: bool = True  # only the owner may confirm risky actions
    pending: list[Held] = field(default_factory=list)  # steps held this turn for ONE confirmation at its end
    counted: int = 0  # device commands sent or held this turn (at most safety.max_actions_per_turn)
    standing: Standing = "owner"  # what this sender may do: see claw.permissions
    confirm_as: str = ""  # who answers this turn's confirmation: the sender, or the owner's route (system channel)
    ledger: str = ""  # the prefix of this context's idempotency keys: the inbox id, or a routine run's step

    def __post_init__(self) -> None:
        # `is_owner` and `standing` always agree; either one saying "not the owner" wins.
        if not self.is_owner or self.standing != "owner":
            self.standing, self.is_owner = "guest", False
        self.confirm_as = self.confirm_as or self.sender


@dataclass(frozen=True)
class Outcome:
    """What running a list of steps did: done actions, per-device errors, or risks awaiting confirmation."""

    done: tuple[Action, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()  # (device name, owner-safe error)
    risks: tuple[Risk, ...] = ()
    held: tuple[tuple[str, str, dict[str, Any]], ...] = ()  # with risks: the steps to hold for confirmation
    uncertain: tuple[tuple[str, str], ...] = ()  # (device name, owner-facing sentence): neither done nor failed


class ActionUncertain(DeviceError):
    """A step whose outcome is not known (yet); the message tells the owner so in a full sentence."""


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
                  confirmed: bool = False, voice: Voice | None = None) -> Outcome:
        """Run steps in order; with any risky step and no confirmation, run none and return the risks.

        A step that may or may not have happened (a timeout; a crash mid-command, found on resume) is
        neither done nor an error: it comes back in `uncertain`, worded for the owner in `voice`."""
        try:
            risks = [] if confirmed else self.risks(steps)
        except DeviceError as exc:
            return Outcome(errors=(("", str(exc)),))
        steps, over = self._within_budget(ctx, steps)
        if risks:
            return Outcome(risks=tuple(risks), held=tuple(steps), errors=over)
        done: list[Action] = []
        errors: list[tuple[str, str]] = list(over)
        uncertain: list[tuple[str, str]] = []
        for device_id, command, args in steps:
            try:
                done.append(await self.act(ctx, device_id, command, args, voice=voice))
            except ActionUncertain as exc:
                uncertain.append((self._name(device_id), str(exc)))
            except DeviceError as exc:
                name = self._name(device_id)
                errors.append((name, str(exc)))
        return Outcome(done=tuple(done), errors=tuple(errors), uncertain=tuple(uncertain))

    def _within_budget(self, ctx: TurnContext, steps: list[tuple[str, str, dict[str, Any]]]
                       ) -> tuple[list[tuple[str, str, dict[str, Any]]], tuple[tuple[str, str], ...]]:
        """The steps this turn may still send or hold, and an error for each one over the per-turn cap."""
        cap = self.safety.max_actions_per_turn
        room = max(0, cap - ctx.counted)
        ctx.counted += min(room, len(steps))
        error = f"not sent: at most {cap} device commands per turn"
        return steps[:room], tuple((self._name(d), error) for d, _, _ in steps[room:])

    def ask_confirmation(self, ctx: TurnContext, steps: list[tuple[str, str, dict[str, Any]]]) -> str:
        """Hold steps for the owner's YES; they are stored, with every other step held this turn, as ONE
        confirmation by `close_confirmation` at the end of the turn. Returns what they will do, in words."""
        held = []
        for device_id, command, args in steps:
            device = self.registry.get(device_id)
            clean = validate(command, args)
            risk = assess(device, command, clean, self.safety)
            held.append(Held((device_id, command, clean), describe(device, command, clean, self.safety),
                             risk.reason if risk else ""))
        ctx.pending.extend(held)
        return join_actions([h.what for h in held])

    def close_confirmation(self, ctx: TurnContext, voice: Voice) -> str | None:
        """End of a turn: store every step held in it as one expiring confirmation and return the code's own
        "reply YES" prompt naming each of them (None when nothing is held). A sender who is not the owner
        (e.g. a paired guest) gets a refusal instead and nothing is stored."""
        if not ctx.pending:
            return None
        what = join_actions([h.what for h in ctx.pending])
        if not ctx.is_owner:
            return replies.problem_reply(f"Only the owner can {what}.", voice)
        reasons = "; ".join(dict.fromkeys(h.reason for h in ctx.pending if h.reason))
        ttl = self.safety.confirm_seconds
        steps = [list(h.step) for h in ctx.pending]
        self.store.confirmation_add(ctx.confirm_as, what, {"kind": "steps", "steps": steps}, time.time() + ttl)
        ctx.confirmation = replies_flow.confirm_prompt(what, reasons, ttl, voice)
        return ctx.confirmation

    async def act(self, ctx: TurnContext, device_id: str, command: str, args: dict[str, Any], *,
                  voice: Voice | None = None) -> Action:
        """Execute once per (turn, step). A resumed turn finds the step's ledger entry: done is not sent
        again, failed stays failed, and started / unknown (cut off mid-command) is settled from the device's
        state first (claw.recovery). Raises DeviceError, or ActionUncertain when the outcome is open."""
        device = self.registry.get(device_id)
        clean = validate(command, args)
        voice = voice or Voice()
        ctx.seq += 1
        key = f"{ctx.ledger or ctx.inbox_id}:{ctx.seq}:{device_id}:{command}"
        action = Action(device=device.id, capability=str(COMMANDS[command].capability), command=command,
                        args=clean)
        previous = self.store.audit_begin(key, device.id, command, clean, ctx.inbox_id or None, ctx.sender)
        status = None if previous is None else previous.get("status")
        if status is None:
            await self._send(key, device, command, clean, voice)
        elif status == "done":
            log.info("skipping %s on %s: already done before a restart", command, device.id)
        elif status == "failed":
            raise DeviceError((previous or {}).get("error") or f"{device.name} failed earlier")
        else:  # started / unknown
            await self._recover(ctx, key, device, command, clean, voice)
        ctx.actions.append(action)
        return action

    async def _send(self, key: str, device: Device, command: str, clean: dict[str, Any], voice: Voice) -> None:
        """Send one claimed command and record how it went: done, failed, or unknown (it went out and no
        answer came back: the settler reads the state later and tells the owner)."""
        try:
            await self.registry.execute(device.id, command, clean)
        except DeviceOutcomeUnknown as exc:
            self.store.audit_unknown(key, str(exc), time.time() + next_check_delay(0))
            detail = str(exc)
            if detail.startswith(device.name):
                detail = f"{the(device.name)}{detail[len(device.name):]}"
            raise ActionUncertain(replies_flow.may_still_reply(detail, effect_phrase(command, clean), voice)) from exc
        except DeviceError as exc:
            self.store.audit_finish(key, False, str(exc))
            raise
        self.store.audit_finish(key, True)
        if device.attrs.get("adapter_trusted") is False:  # its first write, confirmed (claw.agent.policy)
            self._trust(device)

    def _trust(self, device: Device) -> None:
        """A learned adapter's first write went through with the owner's YES: later writes follow normal
        policy (claw.learn)."""
        trusted = Device.from_dict({**device.to_dict(), "attrs": {**device.attrs, "adapter_trusted": True}})
        self.registry.add(trusted)
        if self.store.device_get(device.id) is not None:
            self.store.device_upsert(trusted.to_dict())
        log.info("%s: first write through adapter %s confirmed; it follows normal policy now", device.id,
                 device.adapter)

    async def _recover(self, ctx: TurnContext, key: str, device: Device, command: str, clean: dict[str, Any],
                       voice: Voice) -> None:
        """A resumed step found started / unknown in the ledger: read the device. Its effect shows: done.
        It does not, and the command is a harmless "set state": send it once more and check. Otherwise
        (risky, not repeatable, or the state cannot tell) say what is uncertain and hold it for a fresh YES."""
        risky = assess(device, command, clean, self.safety) is not None
        state = await self._read(device)
        verdict = resume_verdict(command, clean, state, risky)
        log.info("resumed %s on %s (%s): %s", command, device.id, key, verdict)
        if verdict is Resume.DONE:
            self.store.audit_finish(key, True)
            return
        if verdict is Resume.REDO:
            await self._send(key, device, command, clean, voice)
            if shows_effect(command, clean, await self._read(device)) is not True:
                self.store.audit_unknown(key, "sent again after a restart; the state does not show it yet",
                                         time.time() + next_check_delay(0))
                raise ActionUncertain(replies_flow.may_still_reply(
                    f"I sent it again after a restart, but {the(device.name)} does not show it yet",
                    effect_phrase(command, clean), voice))
            return
        if state is None:
            why = f"{the(device.name)} is not answering, so I can't tell whether it happened"
        elif shows_effect(command, clean, state) is False:
            why = f"{the(device.name)} shows that it did not happen"
        else:
            why = "I can't tell from its state whether it happened"
        self.store.audit_unknown(key, f"interrupted by a restart; {why}", None)
        self.ask_confirmation(ctx, [(device.id, command, clean)])  # held for the owner's fresh YES
        raise ActionUncertain(replies_flow.interrupted_reply(describe(device, command, clean, self.safety), why,
                                                             voice))

    async def _read(self, device: Device) -> dict[str, Any] | None:
        """The device's state, or None when it cannot be read."""
        try:
            return await self.registry.state(device.id)
        except DeviceError as exc:
            log.info("cannot read %s to settle an action: %s", device.id, exc)
            return None

    def _name(self, device_id: str) -> str:
        try:
            return self.registry.get(device_id).name
        except DeviceError:
            return device_id
