"""FastAPI app factory: token-checked JSON API for chat and devices, the chat page, and health."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from claw.app import Claw
from claw.events import InboundMessage
from claw.turn_json import turn_json

log = logging.getLogger(__name__)


class ChatIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


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

    app = FastAPI(title="homeclaw", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.claw = claw

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
        msg = InboundMessage(channel="web", sender=claw.settings.owner, text=body.text)
        result = await claw.agent.ask(msg)
        return await turn_json(claw, result)

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

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return resources.files("claw.web").joinpath("static/chat.html").read_text(encoding="utf-8")

    if claw.settings.twilio.enabled:
        from claw.web.twilio import twilio_router

        app.include_router(twilio_router(claw))
    if claw.media is not None:
        from claw.media import media_router

        app.include_router(media_router(claw.media))
    return app
