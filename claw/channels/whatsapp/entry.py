"""How WhatsApp plugs into the claw: when it runs, its sending channel, its webhook routes (twilio loaded lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from claw.channels.base import Channel, ChannelKind, Inbound

if TYPE_CHECKING:
    from fastapi import APIRouter

    from claw.channels.media import MediaStore
    from claw.config import Settings
    from memory.store import Store


def enabled(settings: Settings) -> bool:
    return settings.twilio.enabled


def build(settings: Settings, store: Store, media: MediaStore | None) -> Channel:
    from claw.channels.whatsapp.send import WhatsAppChannel

    return WhatsAppChannel(settings.twilio, store, media)


def routes(settings: Settings, inbound: Inbound) -> APIRouter:
    """`/twilio/whatsapp` and `/twilio/status`, handled with the inlet built here (the one place it is)."""
    from claw.channels.whatsapp.inlet import whatsapp_inlet
    from claw.channels.whatsapp.webhook import twilio_router

    inlet = whatsapp_inlet(settings.twilio, submit=inbound.submit, store=inbound.store, notifier=inbound.notifier,
                           note_status=inbound.note_status)
    return twilio_router(inlet)


WHATSAPP = ChannelKind(name="whatsapp", enabled=enabled, build=build, routes=routes, uses_media=True)
