"""The Discovery page: last scan's devices (scan, add, ignore, learn); adapters (approve/reject, rollback)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from claw.agent.actuator import TurnContext
from claw.discovery.service import Discovery
from claw.discovery.service import label as full_label
from claw.errors import ClawError
from claw.learn.chat import LEARN_KIND
from claw.runtime import Claw
from claw.web.auth import check_write
from claw.web.dashboard import controls
from claw.web.dashboard.discovery_view import adapter_rows, entry_row
from claw.web.dashboard.pages import render
from devices.drivers.http import untrusted_text
from devices.errors import DeviceError

router = APIRouter()
MESSAGE_CAP = 1200


def _service(claw: Claw) -> Discovery:
    chat = claw.handler.discovery
    if chat is None:
        raise ClawError("discovery is not available on this claw")
    return chat.service


def label(row: dict[str, Any]) -> str:
    """A discovered row in a message: its announced name is device text, so it is made inert and cut."""
    return untrusted_text(full_label(row), 160)


def _back(message: str, anchor: str = "") -> Response:
    return RedirectResponse(f"/discovery?message={quote(message[:MESSAGE_CAP])}{anchor}", status_code=303)


@router.get("/discovery")
async def discovery(request: Request, message: str = "") -> Response:
    claw: Claw = request.app.state.claw
    names = {d.id: d.name for d in claw.registry.all()}
    entries = [entry_row(r, names) for r in _service(claw).entries()]
    service = claw.learning.service
    pending = claw.store.confirmation_pending(claw.settings.owner, time.time())
    adapters = adapter_rows(claw.store.adapter_versions(), service.file_specs(), pending)
    where = ", ".join(_service(claw).interfaces())
    return render(request, "discovery.html", "discovery", title="Discovery", entries=entries, adapters=adapters,
                  message=message[:MESSAGE_CAP], where=where, subnets=", ".join(claw.settings.discovery.subnets))


@router.post("/discovery/scan", dependencies=[Depends(check_write)])
async def scan(request: Request) -> Response:
    """One scan on the configured interfaces (Discovery.scan: recorded, reconciled, moved devices followed)."""
    claw: Claw = request.app.state.claw
    lock = getattr(request.app.state, "discovery_scan", None)
    if lock is None:  # one scan at a time on this app
        lock = request.app.state.discovery_scan = asyncio.Lock()
    if lock.locked():
        return _back("A scan is already running; this page shows its result when it is done.")
    async with lock:
        try:
            report = await _service(claw).scan()
        except (ClawError, DeviceError, OSError) as exc:
            return _back(f"The scan failed: {exc}")
    counts: dict[str, int] = {}
    for s in report.sightings:
        counts[s.status] = counts.get(s.status, 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing found"
    lines = [f"Scanned {', '.join(report.interfaces)} in {report.seconds:.1f} s: {len(report.sightings)} "
             f"device(s) ({tally})."]
    if report.refused:
        lines.append(f"Left out {len(report.refused)} answer(s) outside the configured interfaces or subnets.")
    lines += report.notices()
    request.app.state.live.kick()
    return _back(" ".join(lines))


def _verdict(request: Request, done: Any) -> Response:
    try:
        text = done()
    except (ClawError, DeviceError) as exc:
        text = str(exc)
    request.app.state.live.kick()
    return _back(text)


@router.post("/discovery/add", dependencies=[Depends(check_write)])
async def add(request: Request, key: str = Form(..., max_length=300), name: str = Form("", max_length=80),
              room: str = Form("", max_length=60)) -> Response:
    claw: Claw = request.app.state.claw

    def done() -> str:
        device = _service(claw).add(key, name or None, room or None)
        return f"Added “{device.name}”{' in ' + device.room if device.room else ''}: it is on the Home page now."
    return _verdict(request, done)


@router.post("/discovery/ignore", dependencies=[Depends(check_write)])
async def ignore(request: Request, key: str = Form(..., max_length=300)) -> Response:
    claw: Claw = request.app.state.claw
    return _verdict(request, lambda: f"Ignored {label(_service(claw).ignore(key))}: later scans keep it ignored.")


@router.post("/discovery/unignore", dependencies=[Depends(check_write)])
async def unignore(request: Request, key: str = Form(..., max_length=300)) -> Response:
    claw: Claw = request.app.state.claw
    return _verdict(request, lambda: f"{label(_service(claw).unignore(key))} is new again.")


@router.post("/discovery/learn", dependencies=[Depends(check_write)])
async def learn(request: Request, key: str = Form(..., max_length=300)) -> Response:
    """Learn an adapter for a device of the last scan that has none: the learn service drafts and checks it,
    and the chat's own offer holds the confirmation that Approve answers."""
    claw: Claw = request.app.state.claw
    chat = claw.learning
    try:
        row = _service(claw).entry(key)
        found = next((f for f in chat.service.unknown() if f.address == row["address"]), None)
        if found is None:
            return _back(f"{label(row)} is not among this run's unknown devices: press Scan now first.")
        proposal = await chat.service.learn(found, "")
    except (ClawError, DeviceError) as exc:
        return _back(f"I could not learn it: {exc}")
    owner = claw.settings.owner
    ctx = TurnContext(inbox_id=0, sender=owner, channel="web", text=f"dashboard: learn {row['address']}",
                      ledger=f"{controls.WEB_LEDGER}:{uuid.uuid4().hex}")
    chat.offer(ctx, proposal, claw.soul.current().voice)
    return _back(f"Drafted adapter “{proposal.draft.spec.name}” v{proposal.version} for {row['address']}: check "
                 "every request it would send below, then Approve or Reject.", "#adapters")


def _waiting(claw: Claw, name: str, version: int) -> dict[str, Any] | None:
    pending = claw.store.confirmation_pending(claw.settings.owner, time.time())
    if pending is None:
        return None
    payload = pending.get("payload") or {}
    if payload.get("kind") == LEARN_KIND and payload.get("name") == name and payload.get("version") == version:
        return pending
    return None


@router.post("/adapters/decide", dependencies=[Depends(check_write)])
async def decide(request: Request, name: str = Form(..., max_length=120), version: int = Form(...),
                 verdict: str = Form(..., pattern="^(approve|reject)$")) -> Response:
    """Approve / Reject a draft: the owner's YES / NO to the code's own pending confirmation, through the
    agent as in chat (controls.answer). A draft whose confirmation is gone can only be rejected."""
    claw: Claw = request.app.state.claw
    pending = _waiting(claw, name, version)
    if pending is not None:
        result = await controls.answer(claw, int(pending["id"]), verdict == "approve")
        request.app.state.live.kick()
        return _back(result["reply"], "#adapters")
    if verdict == "approve":
        return _back(f"Adapter {name} v{version} is not awaiting your approval (its confirmation expired, was "
                     "answered, or a newer request replaced it): learn the device again from the scan list.",
                     "#adapters")
    rows = {r["version"]: r for r in claw.store.adapter_versions(name)}
    if version not in rows or rows[version]["status"] != "draft":
        return _back(f"Adapter {name} v{version} is not a draft.", "#adapters")
    claw.learning.service.reject(name, version, claw.settings.owner)
    return _back(f"Rejected adapter {name} v{version}: nothing was added.", "#adapters")


@router.post("/adapters/rollback", dependencies=[Depends(check_write)])
async def rollback(request: Request, name: str = Form(..., max_length=120), to: int = Form(...)) -> Response:
    """Make an earlier approved version current again (the same logic as `claw adapters rollback`), live."""
    claw: Claw = request.app.state.claw
    try:
        before, row = claw.learning.service.rollback(name, to)
    except ClawError as exc:
        return _back(str(exc), "#adapters")
    return _back(f"{name}: v{row['version']} is current again (v{(before or {}).get('version')} and any later "
                 "approved version rolled back); devices using it use it now.", "#adapters")
