"""The Soul page: the editor with a diff before saving, the stored versions, and revert."""

from __future__ import annotations

import difflib

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from claw.errors import SoulError
from claw.runtime import Claw
from claw.web.auth import check_write
from claw.web.dashboard.pages import render

router = APIRouter()


def diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    """A unified diff as (css class, line): "add", "del" or "" (context and hunk headers)."""
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), "current", "new", lineterm="", n=2):
        kind = "" if line.startswith(("+++", "---")) else "add" if line[:1] == "+" else "del" if line[:1] == "-" else ""
        out.append((kind, line))
    return out


def page(request: Request, claw: Claw, *, draft: str | None = None, error: str | None = None,
         compare: int | None = None) -> Response:
    current = claw.soul.current()
    history = claw.soul.history(limit=30)
    diff = diff_lines(current.text, draft) if draft is not None else None
    shown = None
    if compare:
        row = claw.store.soul_version_get(compare)
        shown = (compare, diff_lines(current.text, row["text"])) if row else None
    return render(request, "soul.html", "soul", title="Soul", current=current, history=history, draft=draft,
                  diff=diff, error=error, shown=shown)


@router.get("/soul")
async def soul(request: Request, compare: int = 0) -> Response:
    return page(request, request.app.state.claw, compare=compare or None)


@router.post("/soul/preview", dependencies=[Depends(check_write)])
async def preview(request: Request, text: str = Form("")) -> Response:
    """The diff between soul.md and the edited text; nothing is written yet."""
    return page(request, request.app.state.claw, draft=text.replace("\r\n", "\n"))


@router.post("/soul/save", dependencies=[Depends(check_write)])
async def save(request: Request, text: str = Form("")) -> Response:
    claw: Claw = request.app.state.claw
    try:
        claw.soul.write(text.replace("\r\n", "\n"), "web")
    except SoulError as exc:
        return page(request, claw, draft=text, error=str(exc))
    return RedirectResponse("/soul", status_code=303)


@router.post("/soul/revert", dependencies=[Depends(check_write)])
async def revert(request: Request, version: int = Form(...)) -> Response:
    claw: Claw = request.app.state.claw
    try:
        claw.soul.revert(version)
    except SoulError as exc:
        return page(request, claw, error=str(exc))
    return RedirectResponse("/soul", status_code=303)
