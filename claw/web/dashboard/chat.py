"""The Chat page: the conversation from every channel, each reply with its tier, tools and device actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from claw.events import InboundMessage
from claw.runtime import Claw
from claw.web.auth import check_write
from claw.web.dashboard.pages import render

router = APIRouter()


def pictures(claw: Claw, media: list[str]) -> list[str]:
    """Signed links (they expire) to the stored pictures of a message; files no longer kept are left out."""
    store = claw.media
    if store is None:
        return []
    names = [store.name_of(path) for path in media]
    ttl = claw.settings.twilio.media_url_seconds
    return [store.signed_url("", name, ttl) for name in names if name and store.path(name).is_file()]


def timeline(claw: Claw, channel: str | None, limit: int = 60) -> list[dict[str, Any]]:
    """Messages in (with their replies) and what the claw said on its own, in time order."""
    rows = [{**r, "kind": "turn"} for r in claw.store.conversation(limit=limit, channel=channel)]
    for r in claw.store.proactive_recent(limit=limit, channel=channel):
        rows.append({**r, "kind": "notice", "links": pictures(claw, r.get("media") or [])})
    rows.sort(key=lambda r: r["created_at"])
    return rows[-limit:]


@router.get("/chat")
async def chat(request: Request, channel: str = "") -> Response:
    claw: Claw = request.app.state.claw
    rows = timeline(claw, channel or None)
    names = {d.id: d.name for d in claw.registry.all()}
    return render(request, "chat.html", "chat", title="Chat", rows=rows, names=names, channel=channel,
                  channels=sorted(claw.channels), chat_marker=claw.store.chat_marker())


@router.post("/chat", dependencies=[Depends(check_write)])
async def send(request: Request, text: str = Form(min_length=1)) -> Response:
    """A message from the page is a web chat message of the owner, answered by the agent like any other."""
    claw: Claw = request.app.state.claw
    text = text[: claw.settings.max_input_chars]
    await claw.agent.ask(InboundMessage(channel="web", sender=claw.settings.owner, text=text, standing="owner"))
    return RedirectResponse("/chat#end", status_code=303)
