"""The one way text reaches the outbox: split for the channel, capped, routed (system → owner), stored, woken."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from claw.channels.base import Channel
from claw.channels.outbox import split_text
from claw.events import OutboundMessage, clean_text
from claw.replies.conversation import cap_messages
from memory.store import Store

SYSTEM = "system"  # the channel routines, camera alerts and other internal sources submit on, as the owner
DEFAULT_LIMIT = 1600


class Notifier:
    """Builds and stores outbound messages for the agent (turn replies) and for channels (notices).

    Nothing else writes outbox rows. A message addressed to the system channel goes to the owner's chosen
    channel and address (`owner_route`) instead, so a routine's report or a camera alert reaches a person."""

    def __init__(self, store: Store, channels: Mapping[str, Channel], *, max_messages: int,
                 owner_route: tuple[str, str], wake: Callable[[], None] | None = None,
                 web_owner: str = "console") -> None:
        self.store = store
        self.web_owner = web_owner  # the owner's identity in the web chat
        self.channels = channels
        self.max_messages = max_messages
        self.owner_route = owner_route
        self._wake = wake

    def on_wake(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def route(self, channel: str, recipient: str) -> tuple[str, str]:
        """Where a message for (channel, recipient) really goes: the system channel means the owner."""
        return self.owner_route if channel == SYSTEM else (channel, recipient)

    def prepare(self, channel: str, recipient: str, text: str, *, inbox_id: int | None = None,
                proactive: bool = False, media: tuple[str, ...] = ()) -> tuple[str, list[OutboundMessage]]:
        """The text as it will be sent (cut to `max_messages` channel messages, the last ending "…(truncated)")
        and its outbox messages; media rides on the first part."""
        channel, recipient = self.route(channel, recipient)
        target = self.channels.get(channel)
        limit = target.max_length if target is not None else DEFAULT_LIMIT
        # split only what can be sent (a model may answer megabytes); lone surrogates cannot be stored
        text, keep = clean_text(text), (self.max_messages + 1) * limit
        parts = split_text(text[:keep], limit)
        sent = cap_messages(parts, limit, self.max_messages, cut=len(text) > keep)
        if not sent and media:
            sent = [""]
        as_sent = text if sent is parts else " ".join(sent)
        messages = [OutboundMessage(channel=channel, recipient=recipient, text=part, inbox_id=inbox_id,
                                    proactive=proactive, media=media if i == 0 else ())
                    for i, part in enumerate(sent)]
        return as_sent, messages

    def send(self, channel: str, recipient: str, text: str, *, proactive: bool = False,
             media: tuple[str, ...] = (), inbox_id: int | None = None) -> list[int]:
        """Store a notice (not a turn's reply) and wake the dispatcher; returns the outbox ids. `inbox_id`: the
        inbound row the notice answers without a turn (a pairing code, a rate-limit notice), if any."""
        _, messages = self.prepare(channel, recipient, text, inbox_id=inbox_id, proactive=proactive, media=media)
        ids = [self.store.outbox_add(m) for m in messages]
        self.wake()
        return ids

    def owner_targets(self) -> list[tuple[str, str]]:
        """Where a proactive message for the owner goes: the owner's route, and the web chat too (so camera alerts
        are seen in the dashboard even when they also go to WhatsApp)."""
        route = self.owner_route
        web = ("web", route[1]) if route[0] == "web" else ("web", self.web_owner)
        return [route] if route == web else [route, web]

    def tell_owner(self, text: str, *, media: tuple[str, ...] = ()) -> list[int]:
        """A proactive notice to the owner (a camera offline, back): every owner target; returns the outbox ids."""
        ids: list[int] = []
        for channel, recipient in self.owner_targets():
            ids += self.send(channel, recipient, text, proactive=True, media=media)
        return ids

    def camera_event(self, camera: str, started_at: float, text: str, *, media: tuple[str, ...] = (),
                     alert: bool = True, **event: Any) -> tuple[int, list[int]]:
        """Store a camera event and, when `alert`, its alert to every owner target in the same transaction (an
        alert is queued once per event id, whatever crashes). Returns (event id, outbox ids)."""
        messages: list[OutboundMessage] = []
        if alert:
            for channel, recipient in self.owner_targets():
                messages += self.prepare(channel, recipient, text, proactive=True, media=media)[1]
        event_id, ids = self.store.camera_event_start(camera, started_at, alert=alert, messages=messages, **event)
        if ids:
            self.wake()
        return event_id, ids

    def finish_turn(self, row: dict[str, Any], reply: str, *, media: tuple[str, ...] = ()) -> str:
        """Finish an inbox row and store its reply (with its pictures, if any) in one transaction; returns the
        reply as sent."""
        as_sent, messages = self.prepare(row["channel"], row["sender"], reply, inbox_id=row["id"], media=media)
        self.store.inbox_finish(row["id"], messages, turns=[("user", row["text"]), ("assistant", as_sent)])
        self.wake()
        return as_sent

    def wake(self) -> None:
        if self._wake is not None:
            self._wake()
