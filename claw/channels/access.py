"""Who may talk to the claw on WhatsApp: E.164 numbers, owners, pairing codes and the owner's pairing commands."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from claw.events import OutboundMessage

if TYPE_CHECKING:
    from memory.store import Store

CHANNEL = "whatsapp"
PREFIX = "whatsapp:"

Standing = Literal["owner", "allowed", "pending", "denied", "unknown"]

_SEPARATORS = re.compile(r"[\s\-().\u00a0\u2010-\u2015]")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_CODE = re.compile(r"\d{6}")

# "approve 123456", "Approve code 123456.", "deny 123456", "reject code 123456!"
_DECIDE = re.compile(r"^\s*(approve|allow|accept|deny|reject|block)\s+(?:the\s+)?(?:code\s+)?#?(\d{6})\s*[.!]?\s*$",
                     re.IGNORECASE)
_LIST = re.compile(
    r"^\s*(?:(?:who(?:'s|\u2019s| is)\s+(?:still\s+)?waiting(?:\s+for\s+(?:approval|pairing|me))?)"
    r"|(?:(?:list|show)\s+(?:the\s+)?)?(?:pending|waiting)\s+(?:pairings?|approvals?|numbers|codes|requests)"
    r"|(?:list|show)\s+(?:the\s+)?pairings?"
    r"|pairing\s+requests)\s*[?.!]*\s*$",
    re.IGNORECASE)


# numbers -------------------------------------------------------------------------------------------
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


def is_owner(address: str | None, owners: Iterable[str]) -> bool:
    number = normalize_number(address)
    return number is not None and number in owner_numbers(owners)


def mask(address: str | None) -> str:
    """A phone number for logs: "+1555***4567"."""
    number = normalize_number(address) or (address or "")
    return number if len(number) < 9 else f"{number[:5]}***{number[-4:]}"


# pairing codes -------------------------------------------------------------------------------------
def new_code() -> str:
    """A 6-digit pairing code from the system's CSPRNG."""
    return f"{secrets.randbelow(1_000_000):06d}"


def standing(store: Store, address: str, owners: Iterable[str]) -> Standing:
    """What a canonical WhatsApp address may do: owner, allowed (paired), pending, denied or unknown."""
    if is_owner(address, owners):
        return "owner"
    row = store.sender_get(CHANNEL, address)
    return row["status"] if row else "unknown"


def issue_code(store: Store, address: str, seconds: float, now: float | None = None) -> str | None:
    """Give this unknown address a pairing code, unless it already holds an unexpired one (one code per
    number per pairing window) or the owner denied it; returns the new code or None."""
    now = time.time() if now is None else now
    row = store.sender_get(CHANNEL, address)
    if row is not None:
        if row["status"] in ("allowed", "denied"):
            return None
        if row["status"] == "pending" and (row.get("code_expires_at") or 0) > now:
            return None
    for _ in range(8):  # a code held by another pending number would make approval ambiguous
        code = new_code()
        if store.sender_by_code(code, now) is None:
            break
    store.sender_set(CHANNEL, address, "pending", code=code, code_expires_at=now + seconds)
    return code


def code_reply(code: str, seconds: float) -> str:
    return (f"Hi! I'm a private home assistant and I don't know this number yet. If you know the owner, "
            f"give them this code: {code}. It expires in {_duration(seconds)}.")


def pending_list(store: Store, now: float | None = None) -> list[dict[str, Any]]:
    """Numbers waiting for approval with an unexpired code, soonest to expire first."""
    now = time.time() if now is None else now
    rows = [r for r in store.senders_list(CHANNEL, "pending") if (r.get("code_expires_at") or 0) > now]
    return sorted(rows, key=lambda r: r["code_expires_at"])


def decide(store: Store, code: str, approve: bool, now: float | None = None) -> dict[str, Any] | None:
    """Approve or deny the number holding this unexpired code; returns its sender row, or None."""
    now = time.time() if now is None else now
    if not _CODE.fullmatch(code.strip()):
        return None
    row = store.sender_by_code(code.strip(), now)
    if row is None:
        return None
    store.sender_set(row["channel"], row["address"], "allowed" if approve else "denied")
    if approve:  # they wrote within the pairing window, so WhatsApp lets this reply through
        store.outbox_add(OutboundMessage(channel=row["channel"], recipient=row["address"],
                                         text="The owner approved this number: you can talk to me now."))
    return row


# the owner's chat commands ---------------------------------------------------------------------------
def pairing_command(text: str) -> tuple[str, str] | None:
    """("approve", code), ("deny", code) or ("list", "") when the text is a pairing command, else None."""
    if not text or len(text) > 80:
        return None
    if m := _DECIDE.match(text):
        verb = m.group(1).lower()
        return ("approve" if verb in ("approve", "allow", "accept") else "deny", m.group(2))
    if _LIST.match(text):
        return ("list", "")
    return None


def handle_pairing_command(store: Store, sender_is_owner: bool, text: str, now: float | None = None) -> str | None:
    """The reply to a pairing command, or None when the text is not one (the turn goes on as usual).

    Only owners may approve or deny; anyone else asking to is told so and nothing changes."""
    command = pairing_command(text)
    if command is None:
        return None
    verb, code = command
    if not sender_is_owner:
        return None if verb == "list" else "Only the owner can approve or deny new numbers."
    now = time.time() if now is None else now
    if verb == "list":
        return describe_pending(pending_list(store, now), now)
    row = decide(store, code, verb == "approve", now)
    if row is None:
        return f"No one is waiting with code {code} (codes expire; ask them to write again for a new one)."
    who = normalize_number(row["address"]) or row["address"]
    if verb == "approve":
        return f"Approved {who}: they can talk to me now."
    return f"Denied {who}: I won't answer that number."


def describe_pending(rows: list[dict[str, Any]], now: float) -> str:
    if not rows:
        return "No one is waiting for approval."
    lines = [f"{normalize_number(r['address']) or r['address']} (code {r['code']}, "
             f"{_duration(r['code_expires_at'] - now)} left)" for r in rows]
    return ("Waiting for approval: " + "; ".join(lines)
            + '. Reply "approve CODE" or "deny CODE".')


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{round(minutes / 60)} hours"
