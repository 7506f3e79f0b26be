"""The Memory page: the facts the claw keeps, with where each came from, a search, and forget."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from claw.runtime import Claw
from claw.web.auth import check_write
from claw.web.dashboard.pages import render

router = APIRouter()


@router.get("/memory")
async def memory(request: Request, q: str = "") -> Response:
    claw: Claw = request.app.state.claw
    facts = claw.store.fact_search(q, limit=200) if q.strip() else claw.store.fact_list(limit=200)
    return render(request, "memory.html", "memory", title="Memory", facts=facts, q=q)


@router.post("/memory/forget", dependencies=[Depends(check_write)])
async def forget(request: Request, fact: int = Form(...)) -> Response:
    claw: Claw = request.app.state.claw
    claw.store.fact_delete(fact)
    return RedirectResponse("/memory", status_code=303)
