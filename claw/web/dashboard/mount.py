"""Mounting the dashboard on the app: the sign-in flow, every page's router and the static assets."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from claw.web.dashboard import activity, cameras, chat, discovery, home, login, memory, routines, soul, status


def mount_dashboard(app: FastAPI) -> None:
    """Add the sign-in flow, every page's routes and the static assets to the app."""
    routers: list[APIRouter] = [login.router, home.router, chat.router, status.router, activity.router,
                                soul.router, memory.router, routines.router, cameras.router, discovery.router]
    for router in routers:
        app.include_router(router)
    static = resources.files("claw.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
