"""Discovery by chat (owner-only): "scan my network", "add the WLED strip as the desk light in the office",
"ignore the tasmota plug"; ClawDiscover plans (claw.intents.discovery) carried out by the Discovery service."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from claw.agent.actuator import TurnContext
from claw.discovery.chat_sweep import SWEEP_KIND, enable_hint, expires, plan_or_reason, swept_line, swept_scan
from claw.events import TurnResult, Voice
from claw.intents.types import Plan
from claw.permissions import may
from claw.replies.conversation import confirm_prompt
from claw.untrusted import shown_text
from devices.errors import DeviceError

if TYPE_CHECKING:
    from claw.discovery.service import Discovery, ScanReport
    from memory.store import Store

log = logging.getLogger(__name__)

REFUSED = ("Sorry, only the owner can scan the network or add and ignore devices. "
           "Ask them, and I'll be glad to help with the devices already set up.")
MAX_LISTED = 8
_SIM_TAG = re.compile(r"\s+\d+-[0-9a-f]{6}$")  # devices.sim.announce's per-process instance tag


class DiscoveryChat:
    """Answers ClawDiscover plans; the Discovery service (zeroconf, soco) is built on first use, not at start."""

    def __init__(self, make: Callable[[], Discovery], *, store: Store | None = None, ttl: float = 120.0) -> None:
        self._make = make
        self._service: Discovery | None = None
        self.store = store  # where a sweep's confirmation waits for the owner's YES (none: no sweep by chat)
        self.ttl = ttl

    def kinds(self) -> dict[str, Any]:
        """The confirmation kinds answered here, for Confirmations.kinds: the owner's YES to a sweep."""
        return {SWEEP_KIND: self.swept}

    @property
    def service(self) -> Discovery:
        if self._service is None:
            self._service = self._make()
        return self._service

    async def run(self, ctx: TurnContext, plan: Plan) -> TurnResult:
        if not may(ctx.standing, "discovery"):  # what is on the LAN, and what the claw drives: the owner's
            return TurnResult(reply=REFUSED, tier="intent")
        if plan.problem:
            return TurnResult(reply=plan.problem, tier="intent")
        from claw.discovery.service import Ambiguous, DiscoveryRefused

        slots = plan.slots
        topic = slots["topic"]
        try:
            if topic == "scan":
                return await self.scan(ctx)
            if topic == "list":
                return TurnResult(reply=list_reply(self.service.entries()), tier="intent")
            if topic == "add":
                device = self.service.add(slots["ref"], slots.get("name"), slots.get("room"))
                where = f" in the {_shown(device.room)}" if device.room else ""
                said = _shown(device.name)
                return TurnResult(reply=f"Added {said}{where} ({device.adapter or device.driver}, "
                                        f"{_shown(device.id)}). You can use it now, e.g. “turn on the {said}”.",
                                  tier="intent")
            if topic == "ignore":
                row = self.service.ignore(slots["ref"])
                return TurnResult(reply=f"OK, I'll ignore {_short(row)} from now on.", tier="intent")
            row = self.service.unignore(slots["ref"])
            return TurnResult(reply=f"OK, {_short(row)} is no longer ignored.", tier="intent")
        except Ambiguous as exc:
            options = "; ".join(f"#{e.get('idx') or '?'} {_short(e)}" for e in exc.entries[:6])
            verb = {"add": "add number N as …", "ignore": "ignore number N"}.get(topic, "… number N")
            return TurnResult(reply=f"Which one do you mean: {options}? Say “{verb}”.", tier="intent")
        except (DiscoveryRefused, DeviceError) as exc:
            return TurnResult(reply=_shown(exc, 600), tier="intent")


    async def scan(self, ctx: TurnContext) -> TurnResult:
        """mDNS and SSDP at once; with nmap allowed, first the sweep's range and a question (the YES runs both)."""
        settings = self.service.settings
        if not settings.nmap or self.store is None:
            report = await self.service.scan()
            return TurnResult(reply=f"{scan_reply(report)}\n{enable_hint(list(settings.subnets))}", tier="intent")
        planned = await plan_or_reason(self.service)
        if isinstance(planned, str):  # nmap missing, a subnet refused: say why, and scan without the sweep
            report = await self.service.scan()
            return TurnResult(reply=f"{scan_reply(report)}\nI did not sweep with nmap: {_shown(planned, 300)}",
                              tier="intent")
        payload, what = planned
        self.store.confirmation_add(ctx.confirm_as, what, payload, expires(self.ttl))
        return TurnResult(reply=confirm_prompt(what, "", self.ttl, Voice()), tier="intent")

    async def swept(self, ctx: TurnContext, payload: dict[str, Any], voice: Voice) -> TurnResult:
        """The owner's YES to a sweep: the scan with the approved subnets (checked again before nmap runs)."""
        if not may(ctx.standing, "discovery"):
            return TurnResult(reply=REFUSED, tier="confirm")
        report = await swept_scan(self.service, payload)
        if isinstance(report, str):
            return TurnResult(reply=f"I did not sweep: {_shown(report, 300)}", tier="confirm")
        lines = [swept_line(report), scan_reply(report)]
        return TurnResult(reply="\n".join(line for line in lines if line), tier="confirm")


def _shown(text: object, limit: int = 64) -> str:
    """Device text (names, what it is, reasons quoting them) made inert for a chat reply."""
    return shown_text(str(text), limit, links=False)


def _short(row: dict[str, Any]) -> str:
    name = f" “{_shown(row['name'])}”" if row.get("name") else ""
    return f"the {_shown(row.get('what') or 'unknown device')}{name} at {row.get('address')}"


def scan_reply(report: ScanReport) -> str:
    """A short answer for chat: what is new (numbered, to add or ignore), what changed, what is suspect."""
    new = [s for s in report.sightings if s.status == "new"]
    known = sum(s.status == "added" for s in report.sightings)
    ignored = sum(s.status == "ignored" for s in report.sightings)
    lines = [f"I scanned {', '.join(report.interfaces)} in {report.seconds:.1f} s and found "
             f"{len(report.sightings)} device(s): {known} already set up, {len(new)} new"
             f"{f', {ignored} ignored' if ignored else ''}."]
    announced = _announced(report)
    for s in new[:MAX_LISTED]:
        said = s.name or ("" if s.adapter else announced.get(s.address, ""))
        name = f" “{_shown(said)}”" if said else ""
        how = s.adapter if s.adapter else "no adapter yet"
        lines.append(f"#{s.index} {_shown(s.what)}{name} at {s.address} ({how})")
    if len(new) > MAX_LISTED:
        lines.append(f"… and {len(new) - MAX_LISTED} more (`claw discover` shows them all)")
    for error in report.result.errors if report.result else []:
        lines.append(f"(A discovery step failed: {_shown(error, 160)}; the list may be incomplete.)")
    for s in report.moved:
        lines.append(f"{s.device_name} moved to {s.address} (was {s.moved_from}); I follow it by its identity.")
    for s in report.suspects:
        lines.append(f"⚠ SUSPECT #{s.index} at {s.address}: {_shown(s.reason, 240)}. I don't trust it; "
                     f"say “ignore number {s.index}” if you don't know it.")
    if any(s.adapter and s.identity for s in new):
        lines.append("To add one: “add number N as the desk light in the office”; to hide one: “ignore number N”.")
    unknown = [s for s in new if not s.adapter]
    if unknown:
        called = _shown(announced.get(unknown[0].address, "").lower() or "unknown device", 40)
        lines.append(f"I have no adapter for {'it' if len(unknown) == 1 else 'those'} yet: say “learn the {called}”"
                     " and I'll work out its local API with read-only requests and ask you before adding it.")
    return "\n".join(lines)


def _announced(report: ScanReport) -> dict[str, str]:
    """The mDNS name each address announced (an unknown device's only name), by address."""
    found = report.result.found if report.result else []
    return {f.address: _SIM_TAG.sub("", sorted(f.announced)[0]) for f in found if f.announced}


def list_reply(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "I have no scan yet: say “scan my network”."
    lines = ["From the last scan:"]
    for e in entries[:MAX_LISTED * 2]:
        status = e["status"].upper() if e["status"] == "suspect" else e["status"]
        lines.append(f"#{e['idx']} {_short(e)[4:]} ({e.get('adapter') or 'unknown'}, {status})")
    return "\n".join(lines)
