"""The tools the LLM gets each turn: list and read devices, control them through the policy, and memory."""

from __future__ import annotations

import json
from typing import Any, Literal

from claw.agent.actuator import Actuator, TurnContext
from claw.agent.context import FACT_KIND
from claw.agent.tools.schema import Tool, make_tool
from claw.channels.whatsapp.numbers import mask
from claw.events import Voice
from claw.permissions import fact_scope, fact_source
from claw.untrusted import untrusted
from devices.commands import COMMANDS
from devices.errors import DeviceError, DeviceNotFound
from devices.models import Device
from devices.registry import Registry
from memory.store import Store

CommandName = Literal[
    "turn_on", "turn_off", "set_brightness", "set_color", "play", "pause", "stop", "next", "previous",
    "set_volume", "set_mute", "play_favorite", "set_temperature", "set_hvac_mode", "open", "close",
    "set_position", "lock", "unlock",
]
assert set(CommandName.__args__) == set(COMMANDS), "CommandName must list exactly devices.commands.COMMANDS"


def resolve(registry: Registry, ref: str) -> Device:
    """A device by id, or by a unique name/alias (optionally 'room name')."""
    try:
        return registry.get(ref)
    except DeviceNotFound:
        pass
    found = registry.find(ref)
    if not found:
        for room in registry.rooms():
            if ref.lower().startswith(room.lower() + " "):
                found = registry.find(ref[len(room) + 1:], room=room)
                if found:
                    break
    if len(found) == 1:
        return found[0]
    if not found:
        names = ", ".join(sorted(d.name for d in registry.all()))
        raise DeviceNotFound(f"no device called {ref!r}; known devices: {names}")
    raise DeviceNotFound(f"{ref!r} is ambiguous: " + ", ".join(f"{d.name} ({d.id})" for d in found))


def _provenance(fact: dict[str, Any]) -> str:
    source = str(fact.get("source"))
    if source == "guest":
        return f"told by a guest, {mask(fact.get('sender'))}, not by the owner"
    return {"owner": "told by the owner", "agent": "noted by you earlier"}.get(source, f"from a {source}")


def home_tools(ctx: TurnContext, registry: Registry, actuator: Actuator, store: Store,
               voice: Voice) -> list[Tool]:
    """Tools bound to this turn, so every action lands in its idempotency ledger and audit log."""

    def list_devices() -> str:
        """List every device with its id, name, room, kind and capabilities."""
        rows = [{"id": d.id, "name": d.name, "room": d.room, "kind": str(d.kind),
                 "capabilities": sorted(d.capabilities)} for d in registry.all()]
        return untrusted("device list", json.dumps(rows, ensure_ascii=False))

    async def get_state(device: str) -> str:
        """Read the current state of one device (on/off, brightness, playback, volume, temperatures...).

        Args:
            device: The device's id or name.
        """
        d = resolve(registry, device)
        try:
            state = await registry.state(d.id)
        except DeviceError as exc:  # may quote the device's own error body: device data, fenced
            return "error: " + untrusted(f"error from {d.name}", str(exc))
        ctx.states[d.id] = state
        return untrusted(f"state of {d.id}", json.dumps(state, ensure_ascii=False))

    async def control_device(device: str, command: CommandName, brightness: int | None = None,
                             rgb: list[int] | None = None, volume: int | None = None,
                             muted: bool | None = None, favorite: str | None = None,
                             temperature: float | None = None,
                             mode: Literal["off", "heat", "cool", "auto"] | None = None,
                             position: int | None = None) -> str:
        """Send one command to a device. Give only the argument the command needs.

        Args:
            device: The device's id or name.
            command: What to do.
            brightness: For set_brightness, 0-100 percent.
            rgb: For set_color, [red, green, blue] each 0-255.
            volume: For set_volume, 0-100 percent.
            muted: For set_mute.
            favorite: For play_favorite, the favourite's name.
            temperature: For set_temperature, degrees Celsius.
            mode: For set_hvac_mode.
            position: For set_position, 0 (closed) to 100 (open).
        """
        d = resolve(registry, device)
        given = {"brightness": brightness, "rgb": rgb, "volume": volume, "muted": muted,
                 "favorite": favorite, "temperature": temperature, "mode": mode, "position": position}
        args = {a.name: given[a.name] for a in COMMANDS[command].args if given.get(a.name) is not None}
        outcome = await actuator.run(ctx, [(d.id, command, args)], voice=voice)
        if outcome.uncertain:  # neither done nor failed (claw.recovery): never report it as done
            return ("not confirmed, tell the owner exactly this: " + " ".join(t for _, t in outcome.uncertain)
                    + (" The home system asks them about retrying it at the end of this turn." if ctx.pending else ""))
        if outcome.risks:
            what = actuator.ask_confirmation(ctx, list(outcome.held))
            if not ctx.is_owner:
                return f"error: not done, only the owner can {what}."
            return (f"not done yet: {what} needs the owner's confirmation. The home system itself asks them "
                    "at the end of this turn; do not ask them to reply YES yourself.")
        if outcome.errors:  # a device's own error text (e.g. an HTTP error body) is device data: fenced
            return "error: " + untrusted(f"error from {d.name}", "; ".join(e for _, e in outcome.errors))
        return f"done: {command} on {d.name}"

    def remember(fact: str) -> str:
        """Remember a fact about the owner or the home for later turns.

        Args:
            fact: The fact, as a short sentence.
        """
        store.fact_add(fact, fact_source(ctx.standing, by_model=True), sender=ctx.sender)
        return "remembered"

    def recall(query: str) -> str:
        """Search what you remember about the owner and the home.

        Args:
            query: Words to look for.
        """
        scope = fact_scope(ctx.standing, ctx.sender)
        facts = (store.fact_search(query, limit=8, sources=scope.sources, sender=scope.sender)
                 or store.fact_list(limit=8, sources=scope.sources, sender=scope.sender))
        if not facts:
            return "nothing remembered yet"
        return untrusted("recall results", "\n".join(f"- {f['text']} ({_provenance(f)})" for f in facts),
                         kind=FACT_KIND, max_chars=3000)

    def forget(query: str) -> str:
        """Forget remembered facts matching the query.

        Args:
            query: Words that identify the facts to forget.
        """
        scope = fact_scope(ctx.standing, ctx.sender)
        return f"forgot {store.fact_forget(query, sources=scope.sources, sender=scope.sender)} fact(s)"

    return [make_tool(list_devices, risk="read"), make_tool(get_state, risk="read"),
            make_tool(control_device, risk="act"), make_tool(remember, risk="act"),
            make_tool(recall, risk="read"), make_tool(forget, risk="act")]


