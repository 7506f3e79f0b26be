"""What the WhatsApp webhook may reach of the claw: one submit, narrow store bookkeeping, the Notifier, settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from claw.channels.access import SenderBook
from claw.channels.notify import Notifier
from claw.channels.whatsapp.numbers import owner_addresses
from claw.config import TwilioSettings
from claw.events import InboundMessage


class InletStore(SenderBook, Protocol):
    """The store as the webhook uses it: senders (access, pairing), denied messages, held replies, statuses."""

    def inbox_add(self, msg: InboundMessage, status: str = "new", error: str | None = None) -> tuple[int, bool]:
        ...

    def outbox_release_held(self, channel: str, recipient: str) -> int: ...

    def outbox_set_status(self, external_id: str, status: str, error: str | None = None) -> bool: ...


@dataclass(frozen=True)
class WhatsAppInlet:
    """Everything the webhook handler holds: never the runtime.

    `submit` hands an accepted message (standing decided) to the agent: (inbox id, created); `note_status` keeps
    a delivery status that arrived before the dispatcher recorded its message id; `owners` are the owners'
    canonical addresses (the channel's owner list)."""

    submit: Callable[[InboundMessage], tuple[int, bool]]
    store: InletStore
    notifier: Notifier
    settings: TwilioSettings
    note_status: Callable[[str, str, str | None], None]
    owners: frozenset[str]


def whatsapp_inlet(settings: TwilioSettings, *, submit: Callable[[InboundMessage], tuple[int, bool]],
                   store: InletStore, notifier: Notifier,
                   note_status: Callable[[str, str, str | None], None]) -> WhatsAppInlet:
    """The one place a WhatsApp inlet is built (claw.web.app, tests): the owners are normalized once here."""
    return WhatsAppInlet(submit=submit, store=store, notifier=notifier, settings=settings, note_status=note_status,
                         owners=owner_addresses(settings.owners))
