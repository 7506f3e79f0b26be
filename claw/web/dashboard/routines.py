"""The Routines page: each routine with its next three runs and history; pause, resume, run now, delete; scenes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from claw.errors import ClawError
from claw.routines.triggers import describe_trigger
from claw.runtime import Claw
from claw.web.auth import check_write
from claw.web.dashboard.pages import render

router = APIRouter()


def routine_rows(claw: Claw) -> list[dict[str, Any]]:
    service = claw.routines
    devices = {d.id: d for d in claw.registry.all()}
    rows = []
    for routine in service.list():
        try:
            upcoming = [] if routine.paused else service.next_times(routine, 3)
        except Exception:  # noqa: BLE001 - an odd trigger must not take the page down
            upcoming = []
        rows.append({"routine": routine, "when": describe_trigger(routine.trigger, routine.tz),
                     "steps": [service.step_text(s, devices) for s in routine.steps],
                     "next": [t.astimezone().strftime("%a %Y-%m-%d %H:%M") for t in upcoming],
                     "runs": service.history(routine.id, limit=5)})
    return rows


@router.get("/routines")
async def routines(request: Request, message: str = "") -> Response:
    claw: Claw = request.app.state.claw
    return render(request, "routines.html", "routines", title="Routines", rows=routine_rows(claw),
                  scenes=claw.store.scenes_all(), names={d.id: d.name for d in claw.registry.all()},
                  message=message[:300])


@router.post("/routines/{routine_id}/{action}", dependencies=[Depends(check_write)])
async def change(request: Request, routine_id: int, action: str) -> Response:
    """pause / resume / run / delete, as the owner (the same Routines API as chat and the CLI)."""
    claw: Claw = request.app.state.claw
    service = claw.routines
    try:
        if action == "pause":
            done = f"Paused “{service.pause(routine_id).name}”."
        elif action == "resume":
            done = f"Resumed “{service.resume(routine_id).name}”."
        elif action == "run":
            run_id = service.run_now(routine_id)
            done = f"Started “{service.get(routine_id).name}” now (run #{run_id})."
        elif action == "delete":
            done = f"Deleted “{service.delete(routine_id).name}”."
        else:
            done = f"Unknown action {action!r}."
    except ClawError as exc:
        done = str(exc)
    from urllib.parse import quote

    return RedirectResponse(f"/routines?message={quote(done)}", status_code=303)


@router.post("/scenes/delete", dependencies=[Depends(check_write)])
async def delete_scene(request: Request, name: str = Form(...)) -> Response:
    claw: Claw = request.app.state.claw
    claw.scenes.delete(name)
    return RedirectResponse("/routines", status_code=303)
