"""The Home page: rooms with their devices, live states over SSE, and controls (actuator, policy, audit)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from claw.runtime import Claw
from claw.web.auth import check_session, check_write
from claw.web.dashboard import controls
from claw.web.dashboard.pages import render
from devices.commands import COMMANDS
from devices.errors import DeviceError

router = APIRouter()


class ActIn(BaseModel):
    device: str = Field(min_length=1, max_length=200)
    command: str = Field(min_length=1, max_length=40)
    args: dict[str, Any] = Field(default_factory=dict)


class SceneIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class AnswerIn(BaseModel):
    id: int
    yes: bool


def rooms(claw: Claw) -> list[tuple[str, list[Any]]]:
    """Devices grouped by room (rooms sorted; devices without a room last)."""
    by_room: dict[str, list[Any]] = {}
    for device in sorted(claw.registry.all(), key=lambda d: d.name):
        by_room.setdefault(device.room or "no room", []).append(device)
    return sorted(by_room.items(), key=lambda kv: (kv[0] == "no room", kv[0]))


@router.get("/home")
async def home(request: Request) -> Response:
    claw: Claw = request.app.state.claw
    # states already known (the live loops' fresh reads, the registry's memory): shown in the first paint, with
    # nothing read during the request; the SSE stream brings the rest and every change
    return render(request, "home.html", "home", rooms=rooms(claw), title="Home",
                  states=request.app.state.live.current(), scenes=claw.scenes.names())


@router.get("/events")
async def events(request: Request, devices: bool = False, cookie: str = Depends(check_session)) -> StreamingResponse:
    """Server-sent events: new camera events ("camera"), chat messages ("chat") and, for a page that shows
    devices (`?devices=1`), their states ("device"). Signing the session out ends the stream."""
    session = request.app.state.sessions.session_id(cookie)
    return StreamingResponse(request.app.state.live.stream(devices, session), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.post("/home/act", dependencies=[Depends(check_write)])
async def act(request: Request, body: ActIn) -> dict[str, Any]:
    claw: Claw = request.app.state.claw
    if body.command not in COMMANDS:
        raise HTTPException(status_code=422, detail=f"unknown command {body.command!r}")
    try:
        claw.registry.get(body.device)
        result = await controls.act(claw, body.device, body.command, body.args)
    except DeviceError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return result  # the command itself wakes the device's live loop (Registry.on_command)


@router.post("/home/scene", dependencies=[Depends(check_write)])
async def scene(request: Request, body: SceneIn) -> dict[str, Any]:
    """Apply a stored scene as the owner would by saying its name in chat (risky steps wait for Confirm)."""
    claw: Claw = request.app.state.claw
    if body.name not in claw.scenes.names():
        raise HTTPException(status_code=404, detail=f"no scene called {body.name!r}")
    return await controls.say(claw, body.name)


@router.post("/home/answer", dependencies=[Depends(check_write)])
async def answer(request: Request, body: AnswerIn) -> dict[str, Any]:
    return await controls.answer(request.app.state.claw, body.id, body.yes)
