"""FastAPI app factory: token-checked JSON API for chat and devices, the dashboard, and health."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field, field_validator
from starlette.types import ASGIApp, Receive, Scope, Send

from claw.channels.base import Inbound
from claw.channels.registry import channel_routes
from claw.config import Settings
from claw.events import InboundMessage, clean_text
from claw.runtime import Claw
from claw.turn_json import turn_json
from claw.web.auth import Sessions
from claw.web.dashboard.live import Live
from claw.web.dashboard.mount import mount_dashboard

log = logging.getLogger(__name__)


class ChatIn(BaseModel):
    text: str = Field(min_length=1)  # the cap is Settings.max_input_chars, checked in the route

    @field_validator("text", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        """Lone surrogates (a JSON "\\ud800" escape) become U+FFFD instead of an unencodable string."""
        return clean_text(value) if isinstance(value, str) else value


def host_name(value: str) -> str | None:
    """The host of a Host header or a configured name, lower-case, without port, brackets or a final dot;
    None when it is malformed (say, a port that is not a number)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else rest
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    else:
        name, port = value, ""
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """The Host names the app answers to: web.allowed_hosts, web.host (unless a wildcard bind) and the host of
    twilio.public_url, so that webhooks through a tunnel or proxy still arrive."""
    names = [*settings.web.allowed_hosts]
    if settings.web.host not in ("", "0.0.0.0", "::"):
        names.append(settings.web.host)
    if settings.twilio.public_url:
        names.append(settings.twilio.public_url)
    names = [urlsplit(h).netloc.rpartition("@")[2] if "://" in h else h for h in names]  # a URL: its host
    return frozenset(h if h == "*" else host_name(h) or "" for h in names) - {""}


class HostCheck:
    """Pure ASGI guard against DNS rebinding: a request whose Host header is not an allowed name gets 400."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)
        self._logged: set[str] = set()  # each refused name is logged once (a rebinding page may retry a lot)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "*" not in self.allowed:
            raw = next((v for k, v in scope.get("headers", []) if k == b"host"), b"")
            if host_name(raw.decode("latin-1")) not in self.allowed:
                shown = raw.decode("latin-1")[:100]
                if shown not in self._logged and len(self._logged) < 100:
                    self._logged.add(shown)
                    log.warning("refused a request for Host %r: not in web.allowed_hosts (nor web.host or "
                                "twilio.public_url's host)", shown)
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await PlainTextResponse("Invalid host header", status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, rendered so that an echoed input no codec can encode (a lone surrogate) is not a 500."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    try:
        body = json.dumps({"detail": jsonable_encoder(errors)}, ensure_ascii=True)
    except (RecursionError, TypeError, ValueError):
        body = json.dumps({"detail": [{"type": e.get("type"), "loc": [str(x) for x in e.get("loc", ())],
                                       "msg": str(e.get("msg"))} for e in errors]}, ensure_ascii=True)
    return Response(body, status_code=422, media_type="application/json")


def media_links(claw: Claw, media: list[str]) -> list[str]:
    """Relative signed URLs for stored media files (others are left out)."""
    store = claw.media
    if store is None:
        return []
    ttl = claw.settings.twilio.media_url_seconds
    names = [store.name_of(path) for path in media]
    return [store.signed_url("", name, ttl) for name in names if name and store.path(name).is_file()]


def create_app(claw: Claw, *, manage_lifecycle: bool = True) -> FastAPI:
    """Build the app around a Claw; with manage_lifecycle the app starts and stops it."""
    token = claw.settings.web_token()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            await claw.start()
        yield
        if manage_lifecycle:
            await claw.stop()

    # No /docs, /redoc or /openapi.json: the API is described in the README, and the schema needs no audience.
    app = FastAPI(title="homeclaw", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.claw = claw
    app.add_middleware(HostCheck, allowed=allowed_hosts(claw.settings))
    app.add_exception_handler(RequestValidationError, validation_error)
    max_chars = claw.settings.max_input_chars

    def require_token(request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        given = given.strip()
        if scheme.lower() != "bearer" or not given or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong token (see `claw token`)")

    # A route-level dependency: an `Annotated` alias defined in this function would not resolve under
    # `from __future__ import annotations` (FastAPI would read `_` as a required query parameter).
    auth = [Depends(require_token)]

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "devices": len(claw.registry.all()), "llm": claw.llm is not None}

    @app.post("/api/chat", dependencies=auth)
    async def chat(body: ChatIn) -> dict[str, Any]:
        if len(body.text) > max_chars:
            raise RequestValidationError([{"type": "string_too_long", "loc": ("body", "text"),
                                           "msg": f"String should have at most {max_chars} characters",
                                           "ctx": {"max_length": max_chars}}])
        msg = InboundMessage(channel="web", sender=claw.settings.owner, text=body.text, standing="owner")
        result = await claw.agent.ask(msg)
        return {**await turn_json(claw, result), "media": media_links(claw, list(result.media))}

    @app.get("/api/devices", dependencies=auth)
    async def devices() -> list[dict[str, Any]]:
        return [d.to_dict() for d in claw.registry.all()]

    @app.get("/api/devices/{device_id}/state", dependencies=auth)
    async def device_state(device_id: str) -> dict[str, Any]:
        states = await claw.registry.states([device_id]) if device_id in {
            d.id for d in claw.registry.all()} else None
        if states is None:
            raise HTTPException(status_code=404, detail="no such device")
        return states[device_id]

    @app.get("/api/history", dependencies=auth)
    async def history(limit: int = 50) -> list[dict[str, Any]]:
        return claw.store.turns_recent(claw.settings.owner, limit=min(max(limit, 1), 500))

    @app.get("/api/messages", dependencies=auth)
    async def messages(after: int = 0, limit: int = 20) -> list[dict[str, Any]]:
        """What the claw said on its own in the web chat (camera alerts, notices) after id `after`; pictures as
        signed links that expire."""
        rows = claw.store.outbox_proactive("web", claw.settings.owner, after=max(after, 0),
                                           limit=min(max(limit, 1), 100))
        return [{"id": r["id"], "text": r["text"], "created_at": r["created_at"],
                 "media": media_links(claw, r.get("media") or [])} for r in rows]

    # the dashboard (claw.web.dashboard): "/" signs a browser in, then pages behind an HttpOnly session cookie
    app.state.sessions = Sessions(claw.settings, claw.store)
    app.state.live = Live(claw, poll=claw.settings.web.live_poll_seconds)
    mount_dashboard(app)

    # each channel's webhooks get what their inbound side may reach, never the claw itself
    inbound = Inbound(submit=claw.agent.submit, store=claw.store, notifier=claw.notifier,
                      note_status=claw.outbox.note_status)
    for router in channel_routes(claw.settings, inbound):
        app.include_router(router)
    if claw.media is not None:
        from claw.channels.media import media_router

        app.include_router(media_router(claw.media))
    return app
