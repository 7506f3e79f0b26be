"""The Activity page: every physical action from the audit ledger, who or what asked, why, and the result."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from claw.runtime import Claw
from claw.web.dashboard.pages import render

router = APIRouter()


def who(claw: Claw, row: dict[str, Any]) -> str:
    """Who or what asked for an action, from its ledger key and inbox row."""
    key = str(row.get("key", ""))
    if key.startswith("web:"):
        return f"{row.get('sender') or 'owner'} on the web dashboard"
    if key.startswith("routine-run:"):  # claw.routines.runner: routine-run:<run id>:<step>
        run_id = key.split(":")[1]
        run = claw.store.run_get(int(run_id)) if run_id.isdigit() else None
        return f"routine “{run['name']}” (run #{run_id})" if run else f"a routine (run #{run_id})"
    if row.get("asked") is not None:
        return f"{row.get('sender')} via {row.get('asked_channel')}"
    return row.get("sender") or "the claw"


@router.get("/activity")
async def activity(request: Request, before: int = 0) -> Response:
    claw: Claw = request.app.state.claw
    rows = claw.store.audit_page(limit=100, before_id=before or None)
    for row in rows:
        row["who"] = who(claw, row)
    names = {d.id: d.name for d in claw.registry.all()}
    older = rows[-1]["id"] if len(rows) == 100 else None
    return render(request, "activity.html", "activity", title="Activity", rows=rows, names=names, older=older)
