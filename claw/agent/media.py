"""A message's attachments, fetched through its channel: images for the model, a note about the rest."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from claw.channels.base import Channel
from claw.events import Received

log = logging.getLogger(__name__)

Images = list[tuple[bytes, str]]  # (bytes, content type)


async def fetch_attachments(channels: Mapping[str, Channel], received: Received) -> tuple[Images, str | None]:
    """The message's images, and a note for whatever could not be opened (None when nothing was left out)."""
    msg = received.message
    if not msg.media:
        return [], None
    fetch = getattr(channels.get(msg.channel), "fetch_media", None)
    if fetch is None:
        return [], "I can't open attachments on this channel."
    row = {"id": received.inbox_id, "channel": msg.channel, "sender": msg.sender,  # the channel's own shape
           "media": list(msg.media), "media_types": list(msg.media_types)}
    try:
        result = await fetch(row)
        images = [(f.path.read_bytes(), f.content_type) for f in result.files]
    except Exception:  # a provider or disk problem must not cost the text of the message
        log.exception("fetching the attachments of inbox %s failed", received.inbox_id)
        return [], "I couldn't download your attachment; please send it again."
    note = " ".join(result.skipped) or None
    return images, note
