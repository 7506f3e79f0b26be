"""The Chat page: the conversation from every channel, each reply with its tier, tools and device actions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from claw.events import InboundMessage
from claw.runtime import Claw
from claw.web.auth import check_write
from claw.web.dashboard.pages import render

router = APIRouter()


@router.get("/chat")
async def chat(request: Request, channel: str = "") -> Response:
    claw: Claw = request.app.state.claw
    rows = claw.store.conversation(limit=60, channel=channel or None)
    names = {d.id: d.name for d in claw.registry.all()}
    return render(request, "chat.html", "chat", title="Chat", rows=rows, names=names, channel=channel,
                  channels=sorted(claw.channels))


@router.post("/chat", dependencies=[Depends(check_write)])
async def send(request: Request, text: str = Form(min_length=1)) -> Response:
    """A message from the page is a web chat message of the owner, answered by the agent like any other."""
    claw: Claw = request.app.state.claw
    text = text[: claw.settings.max_input_chars]
    await claw.agent.ask(InboundMessage(channel="web", sender=claw.settings.owner, text=text, standing="owner"))
    return RedirectResponse("/chat#end", status_code=303)
