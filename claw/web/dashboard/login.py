"""Signing in: the page that trades the link's #token for a session cookie, and signing out."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from claw.web.auth import COOKIE, Sessions, check_write, same_origin
from claw.web.dashboard.pages import ENV, HEADERS, signed_in

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def root(request: Request) -> Response:
    """Signed in: the home page. Otherwise the sign-in page, whose script posts the link's #token (a fragment,
    never sent in a URL to the server) to /auth/login and then drops it from the address bar."""
    if signed_in(request):
        return RedirectResponse("/home", status_code=303)
    return HTMLResponse(ENV.get_template("login.html").render(), headers=HEADERS)


@router.post("/auth/login")
async def login(request: Request) -> Response:
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-origin request refused")
    try:
        body = await request.json()
    except ValueError:
        body = None
    given = body.get("token") if isinstance(body, dict) else None
    sessions: Sessions = request.app.state.sessions
    if not isinstance(given, str) or not sessions.token_ok(given):
        log.warning("refused a dashboard sign-in with a wrong token")  # the token itself is never logged
        raise HTTPException(status_code=401, detail="wrong token: open the link `claw token` prints")
    response = Response(status_code=204)
    sessions.set_cookie(response, sessions.issue(), secure=request.url.scheme == "https")
    return response


@router.post("/auth/logout", dependencies=[Depends(check_write)])
async def logout() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
