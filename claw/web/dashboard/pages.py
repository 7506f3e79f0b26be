"""Rendering a dashboard page: the Jinja2 templates, the navigation, and the redirect to sign in."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from claw.web.auth import COOKIE, Sessions

NAV = [("home", "Home"), ("chat", "Chat"), ("cameras", "Cameras"), ("routines", "Routines"),
       ("memory", "Memory"), ("soul", "Soul"), ("discovery", "Discovery"), ("activity", "Activity"),
       ("status", "Status")]


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


ENV = Environment(loader=PackageLoader("claw.web", "templates"), autoescape=select_autoescape(["html"]))
ENV.filters["when"] = _when
ENV.filters["tojson_compact"] = lambda v: json.dumps(v, sort_keys=True, default=str)


# every dashboard page: never cached, never framed (no clickjacking of the controls), only its own scripts
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
           "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                      "base-uri 'none'; form-action 'self'; object-src 'none'"}


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
    return HTMLResponse(html, headers=HEADERS)
