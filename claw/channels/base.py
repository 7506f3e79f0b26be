"""The channel contract: a channel stores inbound messages through the agent and sends outbox rows."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from claw.errors import ClawError

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
    """Outbound side of a channel. Inbound: the channel calls `Agent.submit(InboundMessage)`."""

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
