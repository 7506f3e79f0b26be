"""Who may talk to the claw on any channel: owners, approved senders, pairing codes and the owner's pairing commands."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Collection
from typing import Any, Literal, Protocol

from claw.events import Standing

Access = Literal["owner", "allowed", "pending", "denied", "unknown"]
Notify = Callable[[str, str, str], object]
"""(channel, recipient, text) -> stores a notice for the outbox: `Notifier.send`, the only way one is written."""

APPROVED_NOTICE = "The owner approved this number: you can talk to me now."

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


class SenderBook(Protocol):
    """The store's sender table (one row per channel and address), as the access check uses it."""

    def sender_get(self, channel: str, address: str) -> dict[str, Any] | None: ...

    def sender_set(self, channel: str, address: str, status: str, *, code: str | None = None,
                   code_expires_at: float | None = None, label: str | None = None) -> None: ...

    def sender_by_code(self, code: str, now: float) -> dict[str, Any] | None: ...

    def senders_list(self, channel: str | None = None, status: str | None = None) -> list[dict[str, Any]]: ...


# the access check ----------------------------------------------------------------------------------
def standing(book: SenderBook, channel: str, address: str, owners: Collection[str]) -> Access:
    """What a canonical address may do on `channel`: owner (in the channel's owner list), else what the sender
    table says (allowed: paired; pending; denied) or unknown."""
    if address in owners:
        return "owner"
    row = book.sender_get(channel, address)
    return row["status"] if row else "unknown"


def message_standing(access: Access) -> Standing:
    """The standing a message carries to the agent: the owner, or a guest (an approved sender)."""
    return "owner" if access == "owner" else "guest"


def shown(address: str) -> str:
    """An address as the owner reads it: without its channel prefix ("whatsapp:+15551234567" -> "+15551234567")."""
    prefix, colon, rest = address.partition(":")
    return rest if colon and prefix.isalpha() and rest else address


# pairing codes -------------------------------------------------------------------------------------
def new_code() -> str:
    """A 6-digit pairing code from the system's CSPRNG."""
    return f"{secrets.randbelow(1_000_000):06d}"


def issue_code(book: SenderBook, channel: str, address: str, seconds: float, now: float | None = None) -> str | None:
    """Give this unknown address a pairing code, unless it already holds an unexpired one (one code per
    address per pairing window) or the owner decided on it; returns the new code or None."""
    now = time.time() if now is None else now
    row = book.sender_get(channel, address)
    if row is not None:
        if row["status"] in ("allowed", "denied"):
            return None
        if row["status"] == "pending" and (row.get("code_expires_at") or 0) > now:
            return None
    for _ in range(8):  # a code held by another pending sender (on any channel) would make approval ambiguous
        code = new_code()
        if book.sender_by_code(code, now) is None:
            break
    book.sender_set(channel, address, "pending", code=code, code_expires_at=now + seconds)
    return code


def code_reply(code: str, seconds: float) -> str:
    return (f"Hi! I'm a private home assistant and I don't know this number yet. If you know the owner, "
            f"give them this code: {code}. It expires in {_duration(seconds)}.")


def pending_list(book: SenderBook, now: float | None = None, channel: str | None = None) -> list[dict[str, Any]]:
    """Senders (on `channel`, or any) waiting for approval with an unexpired code, soonest to expire first."""
    now = time.time() if now is None else now
    rows = [r for r in book.senders_list(channel, "pending") if (r.get("code_expires_at") or 0) > now]
    return sorted(rows, key=lambda r: r["code_expires_at"])


def decide(book: SenderBook, code: str, approve: bool, now: float | None = None, *,
           notify: Notify) -> dict[str, Any] | None:
    """Approve or deny the sender holding this unexpired code; returns its sender row, or None. An approved
    sender is told so through `notify` (they wrote within the pairing window, so their channel lets it through)."""
    now = time.time() if now is None else now
    if not _CODE.fullmatch(code.strip()):
        return None
    row = book.sender_by_code(code.strip(), now)
    if row is None:
        return None
    book.sender_set(row["channel"], row["address"], "allowed" if approve else "denied")
    if approve:
        notify(row["channel"], row["address"], APPROVED_NOTICE)
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


def handle_pairing_command(book: SenderBook, sender_is_owner: bool, text: str, now: float | None = None, *,
                           notify: Notify) -> str | None:
    """The reply to a pairing command, or None when the text is not one (the turn goes on as usual).

    Only owners may approve or deny; anyone else asking to is told so and nothing changes. An approved
    sender is told through `notify`."""
    command = pairing_command(text)
    if command is None:
        return None
    verb, code = command
    if not sender_is_owner:
        return None if verb == "list" else "Only the owner can approve or deny new numbers."
    now = time.time() if now is None else now
    if verb == "list":
        return describe_pending(pending_list(book, now), now)
    row = decide(book, code, verb == "approve", now, notify=notify)
    if row is None:
        return f"No one is waiting with code {code} (codes expire; ask them to write again for a new one)."
    who = shown(row["address"])
    if verb == "approve":
        return f"Approved {who}: they can talk to me now."
    return f"Denied {who}: I won't answer that number."


def describe_pending(rows: list[dict[str, Any]], now: float) -> str:
    if not rows:
        return "No one is waiting for approval."
    lines = [f"{shown(r['address'])} (code {r['code']}, {_duration(r['code_expires_at'] - now)} left)"
             for r in rows]
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
