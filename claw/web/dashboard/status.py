"""The Status page: channels, LLM, devices online, doctor checks (no network), disk used by snapshots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from claw.runtime import Claw
from claw.web.auth import COOKIE
from claw.web.dashboard.pages import render

router = APIRouter()


def disk_used(path: Path) -> tuple[int, int]:
    """(files, bytes) under `path` (0, 0 when it does not exist)."""
    if not path.is_dir():
        return 0, 0
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def doctor_checks(claw: Claw) -> list[dict[str, Any]]:
    """`claw doctor`'s checks that need no network, when WhatsApp is configured."""
    if not claw.settings.twilio.enabled:
        return [{"name": "whatsapp", "status": "ok", "message": "not configured: web and console chat only",
                 "fix": None}]
    from claw.channels.whatsapp.doctor import config_checks

    return [{"name": c.name, "status": c.status, "message": c.message, "fix": c.fix}
            for c in config_checks(claw.settings)]


@router.get("/status")
async def status(request: Request) -> Response:
    claw: Claw = request.app.state.claw
    devices = claw.registry.all()
    states = request.app.state.live.current()  # what open pages were shown lately, else the registry's memory
    states |= await claw.registry.states([d.id for d in devices if d.id not in states])  # only the unknown ones
    online = [d for d in devices if states.get(d.id, {}).get("available", True)]
    llm = claw.settings.llm
    snap_files, snap_bytes = disk_used(claw.settings.snapshot_dir)
    media_files, media_bytes = disk_used(claw.media.root) if claw.media is not None else (0, 0)
    workers = [(name, claw.supervisor.worker(name).crashes) for name in sorted(claw.supervisor.running())]
    cameras = sorted(claw.cameras.cameras) if claw.cameras is not None else []
    sessions = request.app.state.sessions
    here = sessions.session_id(request.cookies.get(COOKIE, ""))
    summary = claw.store.channel_summary()
    channels = [(name, summary.get(name, {"in_": 0, "last_in": None, "out": {}})) for name in sorted(claw.channels)]
    return render(request, "status.html", "status", title="Status", channels=channels,
                  llm={"enabled": llm.enabled, "model": llm.model, "base_url": llm.base_url},
                  devices=devices, states=states, online=len(online), checks=doctor_checks(claw),
                  snapshots=(snap_files, snap_bytes), media=(media_files, media_bytes), workers=workers,
                  cameras=cameras, now=time.time(), sessions=sessions.open(), this_session=here)
