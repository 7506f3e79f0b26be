"""Signing in: the page that trades the link's #token for a session cookie, and signing out."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from claw.web.auth import COOKIE, Sessions, check_session, check_write, same_origin
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
    if not sessions.may_try():
        log.warning("refused a dashboard sign-in: too many wrong tokens in the last minute")
        raise HTTPException(status_code=429, detail="too many wrong tokens: wait a minute, then open the link "
                                                    "`claw token` prints")
    if not isinstance(given, str) or not sessions.token_ok(given):
        sessions.wrong_token()
        log.warning("refused a dashboard sign-in with a wrong token")  # the token itself is never logged
        raise HTTPException(status_code=401, detail="wrong token: open the link `claw token` prints")
    response = Response(status_code=204)
    agent = request.headers.get("user-agent", "")  # shown on the Status page (escaped, untrusted)
    sessions.set_cookie(response, sessions.issue(agent), secure=request.url.scheme == "https")
    return response


@router.post("/auth/logout")
async def logout(request: Request, cookie: str = Depends(check_session)) -> Response:
    """Sign this browser out: its session ends for good (the same cookie, replayed, is refused)."""
    await check_write(request)
    sessions: Sessions = request.app.state.sessions
    sessions.end(sessions.session_id(cookie))
    request.app.state.live.end_session(sessions.session_id(cookie))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.post("/auth/end")
async def end(request: Request, cookie: str = Depends(check_session)) -> Response:
    """Sign out another browser (form field `session`: its id from the Status page) or every browser (`all`)."""
    await check_write(request)
    form = await request.form()
    sessions: Sessions = request.app.state.sessions
    if form.get("all"):
        ended = sessions.end(None)
        request.app.state.live.end_session(None)
        log.warning("the dashboard signed out every browser (%d session(s))", ended)
        return RedirectResponse("/", status_code=303)
    target = str(form.get("session", ""))
    if not target or target not in {s["id"] for s in sessions.open()}:
        raise HTTPException(status_code=404, detail="no such signed-in browser")
    sessions.end(target)
    request.app.state.live.end_session(target)
    if target == sessions.session_id(cookie):
        return RedirectResponse("/", status_code=303)
    return RedirectResponse("/status#sessions", status_code=303)
