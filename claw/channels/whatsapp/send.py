"""The WhatsApp channel over Twilio: sends outbox rows, keeps the 24-hour window, maps delivery statuses."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from claw.channels.base import ChannelError, ChannelHold
from claw.channels.media import MediaStore
from claw.channels.whatsapp.client import RefusedHost, make_twilio_client
from claw.channels.whatsapp.media import MediaFetcher, MediaFetchResult
from claw.config import TwilioSettings
from claw.errors import ConfigError
from memory.store import Store

log = logging.getLogger(__name__)

MAX_LENGTH = 1600  # Twilio refuses longer bodies with 21617
WINDOW_SECONDS = 24 * 3600 - 300  # WhatsApp's customer-care window, minus a margin for clock and queue delays
TEMPLATE_VARIABLE_MAX = 900  # a template body is at most 1024 characters, the fixed text included
HOLD_REASON = "outside WhatsApp's 24-hour window; held until the owner writes"
RECONCILE_MIN_AGE = 60.0  # a message sent this recently may still get its callbacks: not asked about at start
RECONCILE_LIMIT = 200  # at most this many (the newest) messages are asked about at each start

# Codes a retry can never fix: the message itself, the recipient, or the recipient's choice is the problem.
PERMANENT_CODES: dict[int, str] = {
    21211: "invalid 'To' number", 21408: "sending to this region is not enabled",
    21602: "empty message", 21610: "the recipient unsubscribed (replied STOP)",
    21612: "Twilio cannot route to this number", 21614: "the 'To' number cannot receive this message",
    21617: "body over 1600 characters", 21619: "a body or media is required", 21620: "invalid media URL",
    63003: "the recipient is not reachable on WhatsApp", 63005: "WhatsApp did not accept the content",
    63016: "outside WhatsApp's 24-hour window (a template is required)",
    63021: "WhatsApp refused the content", 63024: "invalid message recipient",
}
# 4xx codes that clear without changing the message (throttling), or once the owner fixes the configuration:
# retried with backoff rather than dropped, so nothing is lost while the token or sender is being fixed.
TRANSIENT_CODES: dict[int, str] = {
    20003: "Twilio refused the credentials (check account_sid and auth_token)",
    20429: "Twilio is rate-limiting requests", 63018: "WhatsApp rate limit for this sender",
    63007: "Twilio does not know the sender (check from_number)",
}
# Twilio MessageStatus -> our outbox status. Inbound statuses (receiving, received) are not ours.
_STATUS = {"accepted": "pending", "scheduled": "pending", "queued": "pending", "sending": "pending",
           "sent": "sent", "delivered": "delivered", "partially_delivered": "delivered", "read": "read",
           "failed": "failed", "undelivered": "failed", "canceled": "failed"}


def _code_text(code: int | None) -> str:
    return PERMANENT_CODES.get(code or 0) or TRANSIENT_CODES.get(code or 0) or "see Twilio's error reference"


def channel_error(exc: TwilioException) -> ChannelError:
    """Translate a twilio REST error into a ChannelError: 5xx, 429 and TRANSIENT_CODES retry, other 4xx stop."""
    status = int(getattr(exc, "status", 0) or 0)
    raw = getattr(exc, "code", None)
    code = int(raw) if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()) else None
    text = f"twilio error {code} (HTTP {status}): {_code_text(code)}"
    transient = status == 429 or status >= 500 or status == 0 or code in TRANSIENT_CODES
    return ChannelError(text, permanent=not transient, code=str(code) if code is not None else None)


def status_from_callback(form: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """Map a Twilio status callback to (outbox status, error text or None); None when it is not ours."""
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    ours = _STATUS.get(status)
    if ours is None:
        return None
    if ours != "failed":
        return ours, None
    raw = str(form.get("ErrorCode") or "").strip()
    if raw.isdigit():
        return ours, f"{status}: twilio error {raw}: {_code_text(int(raw))}"
    return ours, status


def template_text(text: str, limit: int = TEMPLATE_VARIABLE_MAX) -> str:
    """Text fit for a template variable: one line (WhatsApp refuses newlines, tabs and runs of spaces), capped."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class WhatsAppChannel:
    """Sends outbox rows through the twilio REST client (in a small thread pool) and fetches inbound media."""

    name = "whatsapp"
    max_length = MAX_LENGTH

    def __init__(self, settings: TwilioSettings, store: Store, media: MediaStore | None = None, *,
                 client: Client | None = None) -> None:
        if not settings.enabled:
            raise ConfigError("WhatsApp needs twilio.account_sid, auth_token, from_number and public_url")
        self.settings = settings
        self.store = store
        self.media = media
        self.fetcher = MediaFetcher(settings, media)  # inbound attachments (claw.channels.whatsapp.media)
        self.client = client or make_twilio_client(settings)
        self.public_url = (settings.public_url or "").rstrip("/")
        self.status_callback = f"{self.public_url}/twilio/status"
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="twilio-send")

    def close(self) -> None:
        """Join the send threads and close the HTTP session."""
        self._pool.shutdown(wait=True)
        session = getattr(getattr(self.client, "http_client", None), "session", None)
        if session is not None:
            session.close()

    # the 24-hour window ---------------------------------------------------------------------
    def in_window(self, recipient: str, now: float) -> bool:
        """True while free-form messages may reach `recipient`: they wrote within the last 24 hours."""
        last = self.store.last_inbound_at(self.name, recipient)
        return last is not None and now - last < WINDOW_SECONDS

    # sending -------------------------------------------------------------------------------
    async def send(self, row: dict[str, Any]) -> str:
        """Send one outbox row; returns the Twilio message SID. Raises ChannelError / ChannelHold."""
        recipient = str(row["recipient"])
        params: dict[str, Any] = {"to": recipient, "from_": self.settings.from_number,
                                  "status_callback": self.status_callback}
        if row.get("proactive") and not self.in_window(recipient, time.time()):
            if self.settings.window_policy != "template" or not self.settings.template_content_sid:
                if self.settings.window_policy == "template":
                    log.warning("window_policy is 'template' but template_content_sid is not set: holding")
                raise ChannelHold(HOLD_REASON)
            params["content_sid"] = self.settings.template_content_sid
            params["content_variables"] = json.dumps({"1": template_text(str(row.get("text") or ""))})
        else:
            params["body"] = str(row.get("text") or "")
            urls = self._media_urls(row.get("media") or [])
            if urls:
                params["media_url"] = urls
        loop = asyncio.get_running_loop()
        try:
            message = await loop.run_in_executor(self._pool, functools.partial(self.client.messages.create,
                                                                               **params))
        except RefusedHost as exc:
            raise ChannelError(str(exc), permanent=True, code="refused-host") from exc
        except (requests.RequestException, OSError) as exc:
            raise ChannelError(f"Twilio unreachable: {exc.__class__.__name__}") from exc
        except TwilioException as exc:
            error = channel_error(exc)
            log.info("twilio refused outbox %s: %s", row.get("id"), error)
            raise error from exc
        return str(message.sid)

    # delivery reports missed while the claw was down --------------------------------------
    async def reconcile(self, *, min_age: float = RECONCILE_MIN_AGE, limit: int = RECONCILE_LIMIT,
                        stop: asyncio.Event | None = None) -> int:
        """Fetch from Twilio (GET the message resource) the status of outbox rows still at 'sent' whose status
        callbacks never arrived (say, the claw was down), and record it; returns how many rows were updated.
        Errors are logged, never raised; an unreachable Twilio ends the round (the next start tries again)."""
        rows = self.store.outbox_unconfirmed(self.name, time.time() - min_age, limit)
        if not rows:
            return 0
        log.info("asking Twilio for the delivery status of %d message(s) still marked sent", len(rows))
        loop = asyncio.get_running_loop()
        updated = 0
        for row in rows:
            if stop is not None and stop.is_set():
                break
            sid = str(row["external_id"])
            try:
                message = await loop.run_in_executor(self._pool, self._fetch_message, sid)
            except RefusedHost as exc:
                log.warning("not checking delivery status: %s", exc)
                break
            except (requests.RequestException, OSError) as exc:
                log.warning("Twilio unreachable while checking delivery status (%s); trying again at the next "
                            "start", exc.__class__.__name__)
                break
            except TwilioException as exc:
                log.info("Twilio could not report the status of %s: %s", sid, channel_error(exc))
                continue
            mapped = status_from_callback({"MessageStatus": getattr(message, "status", None) or "",
                                           "ErrorCode": getattr(message, "error_code", None) or ""})
            if mapped is None or mapped[0] in ("pending", "sent"):
                continue
            self.store.outbox_set_status(sid, mapped[0], mapped[1])
            updated += 1
        if updated:
            log.info("recorded the delivery status of %d message(s) from Twilio", updated)
        return updated

    def _fetch_message(self, sid: str) -> Any:
        return self.client.messages(sid).fetch()

    def _media_urls(self, media: list[str]) -> list[str]:
        """Signed public URLs for local media; https URLs pass through; missing files are left out."""
        urls: list[str] = []
        for entry in media:
            if entry.startswith("https://"):
                urls.append(entry)
                continue
            if self.media is None:
                raise ChannelError("outbound media needs a media store", permanent=True, code="no-media-store")
            name = self.media.name_of(entry)
            if name is None:
                if not Path(entry).is_file():
                    log.warning("outbound media %s is missing; sending the text alone", entry)
                    continue
                name = self.media.import_file(Path(entry)).path.name
            elif not self.media.path(name).is_file():
                log.warning("outbound media %s is missing; sending the text alone", entry)
                continue
            urls.append(self.media.signed_url(self.public_url, name, self.settings.media_url_seconds))
        return urls

    # inbound media -------------------------------------------------------------------------
    async def fetch_media(self, row: dict[str, Any]) -> MediaFetchResult:
        """Fetch and store the images of an inbound row (size-capped); other attachments are skipped."""
        return await self.fetcher.fetch(row)
