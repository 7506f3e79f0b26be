"""The local tier's plan types: what one sentence will do (steps, a query, a memory operation) or ask back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One vocabulary command (devices.commands.COMMANDS) for one device."""

    device_id: str
    command: str
    args: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Query:
    """A question about device state. `what`: "state", "temperature" or "volume_relative"; the claw's own
    questions (claw.intents.questions) also ask "volume", "humidity", "brightness", "position", "level" (what
    a device is set to) and "room" (every device in a room, with its state).

    `expect` is the state asked about ("on", "off", "locked", "unlocked", "open", "closed", "playing", ...)
    and `mode` how to answer: "one" (describe), "one_yesno", "any", "all", "which", "how_many".
    For "volume_relative" the agent reads the speakers' states and calls resolve_relative(plan, states).
    """

    device_ids: tuple[str, ...]
    what: str
    expect: str | None = None
    mode: str = "one"


@dataclass(frozen=True)
class MemoryOp:
    """One of the claw's own memory intents: op is "remember", "recall" or "forget"."""

    op: str
    text: str


@dataclass(frozen=True)
class FollowUp:
    """A question asked back ("Which speaker do you mean: ...?"): the intent and slots to finish once the
    owner names what is `missing` ("target": a device or a room), and the devices the question offered."""

    intent: str
    slots: dict[str, Any] = field(default_factory=dict, hash=False)
    missing: str = "target"
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """What the local tier will do for one sentence; `problem` is an owner-facing reason it cannot, and when
    it asks which device is meant, `followup` is what the answer finishes."""

    intent: str
    steps: tuple[Step, ...] = ()
    query: Query | None = None
    memory: MemoryOp | None = None
    problem: str | None = None
    slots: dict[str, Any] = field(default_factory=dict, hash=False)
    followup: FollowUp | None = None
    # Owner-facing sentences said after what was done (claw.intents.scope: what "everything" left alone;
    # claw.intents.compound: what one half of "… and …" could not do).
    notes: tuple[str, ...] = ()
