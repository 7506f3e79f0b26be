"""The small frozen dataclasses that cross package boundaries: messages in and out, actions, turn results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Standing = Literal["owner", "guest"]
"""What a sender may do, decided once by the channel's access check (claw.channels.access) and stored with the
message: the owner (console, web chat with the token, the configured WhatsApp numbers, the system channel that
routines and cameras use), or a guest (a number the owner approved through pairing). claw.permissions says
what each may do."""


def clean_text(text: str) -> str:
    """`text` safe to store, encode and print: surrogate pairs joined, lone surrogates (which no UTF-8 codec,
    SQLite or JSON encoder accepts) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


@dataclass(frozen=True)
class InboundMessage:
    """A message from a person (or a routine) as a channel hands it to the inbox."""

    channel: str  # "console", "web", "whatsapp", "routine"
    sender: str  # channel-specific address, e.g. "whatsapp:+15551234567" or "console"
    text: str
    external_id: str | None = None  # e.g. Twilio MessageSid; unique per channel when set
    media: tuple[str, ...] = ()  # remote URLs (fetched by the channel at turn time) or local paths
    media_types: tuple[str, ...] = ()  # content type per media entry, when known
    standing: Standing = "guest"  # least privilege unless the channel's access check says "owner"

    def __post_init__(self) -> None:
        """The one boundary every channel passes: text that cannot be encoded is cleaned here, once."""
        if self.standing not in ("owner", "guest"):
            raise ValueError(f"standing must be 'owner' or 'guest', not {self.standing!r}")
        for name in ("channel", "sender", "text", "external_id"):
            value = getattr(self, name)
            if isinstance(value, str):
                cleaned = clean_text(value)
                if cleaned is not value:
                    object.__setattr__(self, name, cleaned)


@dataclass(frozen=True)
class Received:
    """An inbound message as the inbox stored it: the row's id and the message, standing as decided on arrival."""

    inbox_id: int
    message: InboundMessage


@dataclass(frozen=True)
class OutboundMessage:
    """A reply or alert waiting in the outbox for its channel."""

    channel: str
    recipient: str
    text: str
    media: tuple[str, ...] = ()
    inbox_id: int | None = None
    proactive: bool = False  # not a reply to a message (alert, routine report): subject to channel windows


@dataclass(frozen=True)
class Action:
    """One physical command the agent sent to a device during a turn."""

    device: str  # device id
    capability: str  # capability from devices.commands (power, brightness, media, ...)
    command: str  # command name, e.g. "turn_on", "set_brightness"
    args: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"device": self.device, "capability": self.capability, "command": self.command,
                "args": dict(self.args)}


@dataclass(frozen=True)
class TurnResult:
    """What one agent turn produced: the reply text, which tier answered, actions done, states read."""

    reply: str
    tier: str  # "intent", "llm", "confirm", "fallback", "error"
    actions: tuple[Action, ...] = ()
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    inbox_id: int | None = None
    media: tuple[str, ...] = ()  # files sent with the reply (a camera snapshot), as outbox media


@dataclass(frozen=True)
class Voice:
    """What the soul says about how the claw speaks, for the templated replies of the local tier."""

    name: str = "Claw"
    formal: bool = False
    concise: bool = False
