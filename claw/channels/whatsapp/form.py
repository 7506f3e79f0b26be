"""Twilio's webhook forms: the size cap, parsing a urlencoded body, and the fields of an inbound message."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict

from claw.channels.whatsapp.numbers import CHANNEL
from claw.events import InboundMessage

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 200  # Twilio sends ~25 fields for a WhatsApp message with one attachment
MAX_MEDIA = 10  # Twilio's own cap on attachments per message
MAX_FIELD_CHARS = 2048  # any field but Body (URLs, sids, addresses, content types)
_SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}", re.IGNORECASE)
_MEDIA_URL = re.compile(r"https?://[^\s]+")


class Rejected(Exception):
    """A webhook request refused before anything is stored: the HTTP status and why (for the log)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def body_cap(max_body_chars: int) -> int:
    """Bytes read at most from a webhook: a Body at the limit fully percent-encoded, plus the other fields."""
    return max(32_768, max_body_chars * 12 + 16_384)


def check_charset(params: str) -> None:
    """The parameters of a Content-Type header: only UTF-8 (or none) is accepted; Rejected(400) otherwise."""
    charset = params.strip().lower()
    if charset and charset.replace(" ", "").replace('"', "") != "charset=utf-8":
        raise Rejected(400, f"unsupported charset {charset[:40]!r}")


def parse_form(body: bytes) -> ImmutableMultiDict:
    """The fields of a urlencoded body (UTF-8, at most MAX_FIELDS); Rejected(400) when malformed."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected(400, f"malformed form ({exc.__class__.__name__})") from None
    return ImmutableMultiDict(pairs)


def utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body is not UTF-8") from None


def single(form: ImmutableMultiDict, key: str, limit: int = MAX_FIELD_CHARS) -> str | None:
    """The one value of a field (None when absent); Rejected(400) when repeated or longer than `limit`."""
    values = form.getlist(key)
    if not values:
        return None
    if len(values) > 1:
        raise Rejected(400, f"{key} given {len(values)} times")
    if len(values[0]) > limit:
        raise Rejected(400, f"{key} longer than {limit} characters")
    return values[0]


def inbound_message(form: ImmutableMultiDict) -> InboundMessage:
    """The InboundMessage of a verified inbound form, its sender as Twilio wrote it (not yet canonical nor
    checked); Rejected(400) when a field is missing or absurd."""
    sender, sid = single(form, "From", 128), single(form, "MessageSid", 64)
    body = single(form, "Body", 1 << 20)
    if not sender or not sid or body is None:
        raise Rejected(400, "missing From, MessageSid or Body")
    if not _SID.fullmatch(sid):
        raise Rejected(400, "malformed MessageSid")
    count_text = single(form, "NumMedia", 8) or "0"
    if not count_text.isdigit() or int(count_text) > MAX_MEDIA:
        raise Rejected(400, f"NumMedia must be 0..{MAX_MEDIA}")
    media, types = [], []
    for n in range(int(count_text)):
        url, ctype = single(form, f"MediaUrl{n}"), single(form, f"MediaContentType{n}", 200)
        if not url or not _MEDIA_URL.fullmatch(url):
            raise Rejected(400, f"MediaUrl{n} missing or not a URL")
        media.append(url)
        types.append((ctype or "application/octet-stream").strip().lower())
    return InboundMessage(channel=CHANNEL, sender=sender.strip(), text=body, external_id=sid,
                          media=tuple(media), media_types=tuple(types))
