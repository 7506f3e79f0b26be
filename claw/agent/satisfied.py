"""Before a plan acts: read what its devices show now and drop the steps already satisfied (claw.intents.noop).

Which state decides:
- a state read this turn (a relative change read it already, or a read made here) may say "already";
- the registry's remembered state (devices.registry.KNOWN_SECONDS) is used only when it says every step on
  that device is still needed: then the device is not read and the steps run, as before no-op awareness
  existed. A remembered state never says "already" (a wrong "already" is the one mistake to avoid);
- a lock, garage door or heater (claw.intents.noop.FRESH_KINDS) and any risky step are always read fresh.
A device that cannot be read (down, or no answer within READ_BUDGET seconds) is acted on as before; a read
still running then is left to finish on its own (bounded by the device timeout), never cancelled, so a
Sonos player is not marked as hung before its command goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claw.agent.policy import assess
from claw.config import SafetySettings
from claw.events import Action
from claw.intents import noop
from claw.intents.types import Plan, Step
from devices.commands import validate
from devices.errors import DeviceError
from devices.registry import Registry
from memory.store import Store

log = logging.getLogger(__name__)

READ_BUDGET = 1.0  # seconds a turn waits for the states it reads (at most half the device timeout)


@dataclass(frozen=True)
class Checked:
    """The plan's steps parted into those to run and those already satisfied, with the states that decided."""

    run: tuple[Step, ...]
    already: tuple[Step, ...] = ()
    states: dict[str, dict[str, Any]] = field(default_factory=dict)


def _any_mode_is_on(plan: Plan) -> bool:
    """"turn on the thermostat" names no mode: any mode but off is already on ("turn on the heating" does)."""
    return plan.intent == "HassTurnOn" and not plan.slots.get("hvac_mode")


def _risky(registry: Registry, safety: SafetySettings, step: Step) -> bool:
    try:
        return assess(registry.get(step.device_id), step.command, validate(step.command, step.args), safety) is not None
    except DeviceError:
        return True  # unknown device or a bad value: the actuator reports it; read nothing for it here


def _fresh_only(registry: Registry, safety: SafetySettings, device_id: str, steps: list[Step]) -> bool:
    try:
        device = registry.get(device_id)
    except DeviceError:
        return True
    return noop.needs_fresh(device) or any(_risky(registry, safety, s) for s in steps)


async def read_states(registry: Registry, device_ids: list[str], budget: float) -> dict[str, dict[str, Any]]:
    """The devices' states, read concurrently: those that answer within `budget` (an unreadable one as
    {"available": False, ...}); a read still going on is left to finish in the background (bounded by the
    device timeout, filling the registry's memory) and its device is left out."""
    if not device_ids:
        return {}
    reads = {device_id: asyncio.ensure_future(registry.states([device_id])) for device_id in device_ids}
    await asyncio.wait(reads.values(), timeout=budget)
    out: dict[str, dict[str, Any]] = {}
    for device_id, task in reads.items():
        if not task.done():
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            log.info("no state from %s within %.2g s: acting on it without a no-op check", device_id, budget)
        elif task.exception() is not None:  # a driver bug: act as before
            log.warning("could not read %s before acting: %s", device_id, task.exception())
        else:
            out.update(task.result())
    return out


async def check_steps(registry: Registry, store: Store, safety: SafetySettings, inbox_id: int, plan: Plan,
                      fresh: Mapping[str, dict[str, Any]] | None = None) -> Checked:
    """Part the plan's steps into those to run and those its devices already show. `fresh`: states read
    this turn already. A resumed turn (its ledger has rows) runs every step as before (claw.recovery)."""
    by_device: dict[str, list[Step]] = {}
    for step in plan.steps:
        if noop.checkable(step.command):
            by_device.setdefault(step.device_id, []).append(step)
    if not by_device:
        return Checked(plan.steps)
    loose = _any_mode_is_on(plan)
    states: dict[str, dict[str, Any]] = {i: dict(s) for i, s in (fresh or {}).items() if i in by_device}
    to_read = []
    for device_id, steps in by_device.items():
        if device_id in states:
            continue
        known = None if _fresh_only(registry, safety, device_id, steps) else registry.known(device_id)
        if known is not None and not noop.split(steps, {device_id: known}, any_mode_is_on=loose).already:
            states[device_id] = known  # every step is still needed: act without reading
        else:
            to_read.append(device_id)
    timeout = min(READ_BUDGET, registry.timeout / 2)  # a read's own timeout never cuts it off first
    states.update(await read_states(registry, to_read, timeout))
    parted = noop.split(plan.steps, states, any_mode_is_on=loose)
    if parted.already and store.audit_for_inbox(inbox_id):
        return Checked(plan.steps, (), states)  # resumed after a crash: the ledger settles each step
    return Checked(parted.run, parted.already, states)


def remember(registry: Registry, checked: Checked, done: Iterable[Action]) -> None:
    """After a run: note each device's expected state when every step sent to it succeeded (claw.intents.noop
    predicts it from the state before); a device with a failed or uncertain step keeps no memory."""
    sent: dict[str, int] = {}
    for step in checked.run:
        sent[step.device_id] = sent.get(step.device_id, 0) + 1
    finished: dict[str, list[Action]] = {}
    for action in done:
        finished.setdefault(action.device, []).append(action)
    for device_id, actions in finished.items():
        state: dict[str, Any] | None = checked.states.get(device_id)
        if state is None or len(actions) != sent.get(device_id):
            continue
        for action in actions:
            state = noop.after(action.command, action.args, state)
            if state is None:
                break
        if state is not None:
            registry.note(device_id, state)
