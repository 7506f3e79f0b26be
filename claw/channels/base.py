"""The channel contract: what a channel hands the agent (one submit), what it may reach, how it sends outbox rows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from claw.errors import ClawError

if TYPE_CHECKING:
    from fastapi import APIRouter

    from claw.channels.media import MediaStore
    from claw.channels.notify import Notifier
    from claw.config import Settings
    from claw.events import InboundMessage
    from memory.store import Store

log = logging.getLogger(__name__)


class ChannelError(ClawError):
    """Sending failed. `permanent` errors are recorded and not retried (e.g. body too long)."""

    def __init__(self, message: str, *, permanent: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class ChannelHold(ChannelError):
    """The message may not be sent now (e.g. outside a messaging window); park it until released."""


class Channel(Protocol):
    """Outbound side of a channel. Inbound: the channel calls `Inbound.submit(InboundMessage)`."""

    name: str
    max_length: int  # replies longer than this are split before they enter the outbox

    async def send(self, row: dict[str, Any]) -> str | None:
        """Deliver one outbox row; return the provider's message id, raise ChannelError on failure."""
        ...


class LocalChannel:
    """An in-process channel (console, web chat): delivery hands the row to whoever is listening."""

    def __init__(self, name: str, max_length: int = 16_000) -> None:
        self.name = name
        self.max_length = max_length
        self._listeners: set[asyncio.Queue[dict[str, Any]]] = set()

    def listen(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._listeners.discard(queue)

    async def send(self, row: dict[str, Any]) -> str | None:
        for queue in list(self._listeners):
            queue.put_nowait(row)
        return None


@dataclass(frozen=True)
class Inbound:
    """All a channel's inbound side may reach of the claw; a channel never holds the runtime.

    `submit` stores an accepted message (its standing decided by the channel's access check) and schedules its
    turn: (inbox id, created; False for a duplicate). `store` is for access and pairing bookkeeping and denied
    messages; `notifier` the one way a notice reaches the outbox; `note_status` keeps a provider's delivery
    status that arrived before the dispatcher recorded the message's id."""

    submit: Callable[[InboundMessage], tuple[int, bool]]
    store: Store
    notifier: Notifier
    note_status: Callable[[str, str, str | None], None]


@dataclass(frozen=True)
class ChannelKind:
    """One outside channel as claw.channels.registry lists it: when it runs, how its sending side is built,
    and the web routes of its inbound side (None: it has none). Builders import their heavy modules lazily."""

    name: str
    enabled: Callable[[Settings], bool]
    build: Callable[[Settings, Store, MediaStore | None], Channel]
    routes: Callable[[Settings, Inbound], APIRouter] | None = None
    uses_media: bool = False  # needs the shared media store (inbound attachments, outbound images)
