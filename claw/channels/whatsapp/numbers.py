"""WhatsApp addresses: E.164 numbers, canonical "whatsapp:+E164" senders, the configured owners, masked numbers."""

from __future__ import annotations

import re
from collections.abc import Iterable

CHANNEL = "whatsapp"
PREFIX = "whatsapp:"

_SEPARATORS = re.compile(r"[\s\-().\u00a0\u2010-\u2015]")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


def normalize_number(address: str | None) -> str | None:
    """The E.164 form of a phone number or WhatsApp address ("whatsapp:+1 (555) 123-4567" -> "+15551234567").

    None when it is not a full international number (it must start with + or 00)."""
    if not address:
        return None
    text = address.strip()
    if text[:len(PREFIX)].lower() == PREFIX:
        text = text[len(PREFIX):]
    text = _SEPARATORS.sub("", text)
    if text.startswith("00"):
        text = "+" + text[2:]
    return text if _E164.fullmatch(text) else None


def whatsapp_address(address: str | None) -> str | None:
    """The canonical WhatsApp address "whatsapp:+E164" of a `whatsapp:` sender, None for anything else
    (an SMS number, a group or channel id, garbage)."""
    if not address or address.strip()[:len(PREFIX)].lower() != PREFIX:
        return None
    number = normalize_number(address)
    return PREFIX + number if number else None


def owner_numbers(owners: Iterable[str]) -> frozenset[str]:
    """The valid owners, normalized (invalid entries are ignored here; `claw doctor` reports them)."""
    return frozenset(n for n in (normalize_number(o) for o in owners) if n)


def owner_addresses(owners: Iterable[str]) -> frozenset[str]:
    """The owners as canonical WhatsApp addresses: the channel's owner list for the access check."""
    return frozenset(PREFIX + n for n in owner_numbers(owners))


def is_owner(address: str | None, owners: Iterable[str]) -> bool:
    number = normalize_number(address)
    return number is not None and number in owner_numbers(owners)


def mask(address: str | None) -> str:
    """A phone number for logs: "+1555***4567"."""
    number = normalize_number(address) or (address or "")
    return number if len(number) < 9 else f"{number[:5]}***{number[-4:]}"
