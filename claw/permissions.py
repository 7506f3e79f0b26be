"""Who may do what in a turn: the sender's standing (owner or paired guest) and the one capability table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from claw.events import Standing

Capability = Literal["device", "confirm_risky", "owner_memory", "soul", "pairing", "routines", "cameras",
                     "discovery"]
"""device: run device commands within the safety policy. confirm_risky: answer YES to a risky action.
owner_memory: read, search, list and forget every remembered fact (not only one's own).
soul: change soul.md from chat. pairing: approve or deny numbers asking for access.
routines: create, change, run and delete routines (they act later with the owner's authority).
cameras: see the home's cameras (a fresh snapshot) and their stored events and pictures: who came and when.
discovery: scan the network, add discovered devices to the registry, ignore them."""

CAPABILITIES: frozenset[str] = frozenset(get_args(Capability))

# The whole policy. A guest may use the home (risky commands still wait for the owner's YES, which a guest
# cannot give), and may remember, recall and forget only what that guest said; everything about the owner
# (their facts, the soul that sits in their system prompt, who else may talk to the house) is the owner's.
POLICY: dict[str, frozenset[str]] = {
    "owner": CAPABILITIES,
    "guest": frozenset({"device"}),
}


def may(standing: Standing, capability: Capability) -> bool:
    """Whether a sender of this standing has the capability; an unknown standing has none.

    An unknown capability raises ValueError, so a typo at a call site fails loudly instead of denying (or
    allowing) quietly."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; known: {sorted(CAPABILITIES)}")
    return capability in POLICY.get(standing, frozenset())


def standing_of(is_owner: bool) -> Standing:
    return "owner" if is_owner else "guest"


@dataclass(frozen=True)
class FactScope:
    """Which remembered facts a turn may see and forget: `sources`/`sender` None means no restriction."""

    sources: tuple[str, ...] | None = None
    sender: str | None = None


def fact_scope(standing: Standing, sender: str) -> FactScope:
    """The owner sees every fact; anyone else only the facts they stated themself (source "guest")."""
    if may(standing, "owner_memory"):
        return FactScope()
    return FactScope(sources=("guest",), sender=sender)


def fact_source(standing: Standing, *, by_model: bool) -> str:
    """The provenance of a fact remembered in this turn: "owner" (the owner's own words, local tier),
    "agent" (the model's `remember` in an owner's turn) or "guest" (anything remembered in a guest's turn,
    whichever tier wrote it)."""
    if not may(standing, "owner_memory"):
        return "guest"
    return "agent" if by_model else "owner"
