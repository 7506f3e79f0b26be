"""The dashboard: server-rendered pages (Jinja2) behind the session cookie, one small router per page."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from claw.web.auth import COOKIE, Sessions

NAV = [("home", "Home"), ("chat", "Chat"), ("cameras", "Cameras"), ("routines", "Routines"),
       ("memory", "Memory"), ("soul", "Soul"), ("activity", "Activity"), ("status", "Status")]


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


ENV = Environment(loader=PackageLoader("claw.web", "templates"), autoescape=select_autoescape(["html"]))
ENV.filters["when"] = _when
ENV.filters["tojson_compact"] = lambda v: json.dumps(v, sort_keys=True, default=str)


def signed_in(request: Request) -> str | None:
    """The session cookie when the browser is signed in, else None."""
    sessions: Sessions = request.app.state.sessions
    cookie = request.cookies.get(COOKIE)
    return cookie if sessions.valid(cookie) else None


def render(request: Request, template: str, page: str, **context: Any) -> Response:
    """A dashboard page, or a redirect to the sign-in page when the browser has no session."""
    cookie = signed_in(request)
    if cookie is None:
        return RedirectResponse("/", status_code=303)
    sessions: Sessions = request.app.state.sessions
    html = ENV.get_template(template).render(nav=NAV, page=page, csrf=sessions.csrf(cookie), **context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin"})


def mount_dashboard(app: FastAPI) -> None:
    """Add the sign-in flow, every page's routes and the static assets to the app."""
    from fastapi.staticfiles import StaticFiles

    from claw.web.dashboard import activity, cameras, chat, home, login, memory, routines, soul, status

    routers: list[APIRouter] = [login.router, home.router, chat.router, status.router, activity.router,
                                soul.router, memory.router, routines.router, cameras.router]
    for router in routers:
        app.include_router(router)
    from importlib import resources

    static = resources.files("claw.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
