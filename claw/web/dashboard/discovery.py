"""The Discovery page: a TODO stub, not in the navigation, until the discovery "add / ignore" flow lands.

TODO(issue 9 merge): devices/discovery/scan.py has `scan()` but keeps no record of the last scan, so there is
nothing true to show yet. Once the add/ignore flow and learned adapters are merged, list the last scan's found
devices here with Approve / Ignore (owner-only, CSRF-checked like every POST: claw.web.auth.check_write), the
adapter drafts with every request they would send, their versions and rollback; then add ("discovery",
"Discovery") to NAV in claw.web.dashboard.pages.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from claw.web.dashboard.pages import render

router = APIRouter()


@router.get("/discovery")
async def discovery(request: Request) -> Response:
    return render(request, "discovery.html", "discovery", title="Discovery")
