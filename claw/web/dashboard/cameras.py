"""The Cameras page: a live snapshot per camera and the event timeline with pictures, filters and "Why?"."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response

from claw.cameras.rules import worth_alert
from claw.runtime import Claw
from claw.web.auth import check_session
from claw.web.dashboard.pages import render
from devices.errors import DeviceError

router = APIRouter()
SNAPSHOT_SECONDS = 5.0
PICTURES = {"snapshot": "snapshot", "before": "before_path", "after": "after_path"}


def why(claw: Claw, event: dict[str, Any]) -> str:
    """Why an event was told or not: the detector's labels and scores, and the alert rule's or dedupe's verdict
    (the rules as configured now)."""
    seen = ", ".join(f"{x.get('label')} {float(x.get('score') or 0):.0%}" for x in event.get("labels") or []
                     if isinstance(x, dict)) or "motion only (no detector label)"
    if event.get("alert"):
        return f"alerted: saw {seen}; the camera's rules allow it"
    cam = next((c for c in (claw.cameras.cameras.values() if claw.cameras else ()) if c.name == event["camera"]),
               None)
    if cam is None:
        return f"not alerted: saw {seen}; the camera is no longer configured"
    labels = [str(x.get("label")) for x in event.get("labels") or [] if isinstance(x, dict)]
    worth, reason = worth_alert(cam, float(event["started_at"]), event.get("zones") or [], labels,
                                claw.cameras.verdicts.get(event["camera"]) if claw.cameras else None)
    if not worth:
        return f"suppressed: saw {seen}; rule: {reason}"
    return f"suppressed: saw {seen}; dedupe: within the cooldown after an earlier alerted visit"


def day_range(start: str, end: str, at: str) -> tuple[float, float, dt.date, dt.date]:
    """[from, to) in local time for the days start..end (inclusive; today by default), from `at` (HH:MM) on."""
    today = dt.date.today()
    try:
        first = dt.date.fromisoformat(start) if start else today
        last = dt.date.fromisoformat(end) if end else first
    except ValueError:
        raise HTTPException(status_code=422, detail="dates are YYYY-MM-DD") from None
    first, last = min(first, last), max(first, last)
    begin = dt.datetime.combine(first, dt.time())
    if at:
        try:
            begin = dt.datetime.combine(first, dt.time.fromisoformat(at))
        except ValueError:
            raise HTTPException(status_code=422, detail="the time is HH:MM") from None
    stop = dt.datetime.combine(last + dt.timedelta(days=1), dt.time())
    return begin.timestamp(), stop.timestamp(), first, last


@router.get("/cameras")
async def cameras(request: Request, camera: str = "", label: str = "", day: str = "", to: str = "",
                  at: str = "") -> Response:
    claw: Claw = request.app.state.claw
    start, stop, first, last = day_range(day, to, at)
    events = claw.store.camera_events_between(start, stop, camera or None, label or None, limit=300)
    for event in events:
        event["why"] = why(claw, event)
        event["pictures"] = [k for k, col in PICTURES.items() if event.get(col) and Path(event[col]).is_file()]
    newest = claw.store.camera_events(limit=1)
    names = sorted(claw.cameras.cameras) if claw.cameras is not None else []
    return render(request, "cameras.html", "cameras", title="Cameras", cams=names, events=events, camera=camera,
                  label=label, labels=claw.store.camera_labels(), day=first.isoformat(), to=last.isoformat(),
                  at=at, newest=newest[0]["id"] if newest else 0)


@router.get("/cameras/live/{name}.jpg", dependencies=[Depends(check_session)])
async def live(request: Request, name: str) -> Response:
    claw: Claw = request.app.state.claw
    if claw.cameras is None or name not in claw.cameras.cameras:
        raise HTTPException(status_code=404, detail="no such camera")
    try:
        jpeg = await asyncio.wait_for(asyncio.to_thread(claw.cameras.snapshot, name), SNAPSHOT_SECONDS)
    except (TimeoutError, DeviceError) as exc:
        raise HTTPException(status_code=503, detail=f"{name} gives no picture: {exc}") from None
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/cameras/event/{event_id}/{which}.jpg", dependencies=[Depends(check_session)])
async def picture(request: Request, event_id: int, which: str) -> Response:
    claw: Claw = request.app.state.claw
    event = claw.store.camera_event_get(event_id)
    column = PICTURES.get(which)
    if event is None or column is None or not event.get(column):
        raise HTTPException(status_code=404, detail="no such picture")
    path = Path(event[column])
    root = claw.settings.snapshot_dir.resolve()
    if not path.resolve().is_relative_to(root) or not path.is_file():  # only the claw's own snapshots
        raise HTTPException(status_code=404, detail="no such picture")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
