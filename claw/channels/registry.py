"""The channel table: the outside channels a claw can run. Adding one is its folder plus one line in CHANNELS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from claw.channels.base import Channel, ChannelKind, Inbound
from claw.channels.media import MediaStore, media_store_for
from claw.channels.whatsapp.entry import WHATSAPP

if TYPE_CHECKING:
    from fastapi import APIRouter

    from claw.config import Settings
    from memory.store import Store

CHANNELS: tuple[ChannelKind, ...] = (WHATSAPP,)  # console and web chat are built in (claw.runtime)


def enabled_kinds(settings: Settings) -> list[ChannelKind]:
    return [kind for kind in CHANNELS if kind.enabled(settings)]


def media_for(settings: Settings) -> MediaStore | None:
    """The shared media store when a running channel uses one (created in the data dir), else None."""
    return media_store_for(settings) if any(k.uses_media for k in enabled_kinds(settings)) else None


def build_channels(settings: Settings, store: Store, media: MediaStore | None) -> list[Channel]:
    """The sending side of every channel the settings enable."""
    return [kind.build(settings, store, media) for kind in enabled_kinds(settings)]


def channel_routes(settings: Settings, inbound: Inbound) -> list[APIRouter]:
    """The web routes of every enabled channel's inbound side (webhooks), each handed `inbound` only."""
    return [kind.routes(settings, inbound) for kind in enabled_kinds(settings) if kind.routes is not None]
