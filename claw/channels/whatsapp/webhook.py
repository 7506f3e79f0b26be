"""Twilio webhooks: signed inbound WhatsApp messages through the access check to the agent, and delivery callbacks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER

from claw.channels.access import code_reply, issue_code, message_standing, standing
from claw.channels.ratelimit import TokenBucket
from claw.channels.whatsapp.form import (
    FORM,
    Rejected,
    body_cap,
    check_charset,
    inbound_message,
    parse_form,
    single,
    utf8,
)
from claw.channels.whatsapp.inlet import InletStore, WhatsAppInlet
from claw.channels.whatsapp.numbers import CHANNEL, mask, whatsapp_address
from claw.channels.whatsapp.send import status_from_callback
from claw.channels.whatsapp.signature import SignatureVerifier, public_request_url
from claw.events import InboundMessage

log = logging.getLogger(__name__)

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
DOCTOR_HEADER = "X-Claw-Doctor"  # a signed request carrying it is acknowledged and not stored (`claw doctor`)


class TwilioWebhooks:
    """The state behind the two routes: verifier, rate limits, and what to do with each message."""

    def __init__(self, inlet: WhatsAppInlet, shared_keys: Sequence[str] | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.inlet = inlet
        self.store: InletStore = inlet.store
        self.notifier = inlet.notifier
        self.tw = inlet.settings
        token = self.tw.auth_token.get_secret_value() if self.tw.auth_token else None
        if shared_keys is None:
            shared_keys = [k.get_secret_value() for k in self.tw.webhook_shared_keys]
        self.verifier = SignatureVerifier(token, shared_keys)
        self.cap = body_cap(self.tw.max_body_chars)
        self.limiter = TokenBucket(self.tw.rate_limit_per_minute, 60.0, clock=clock)
        self.notices = TokenBucket(1, 60.0, clock=clock)  # at most one notice of each kind per sender a minute
        self.log_budget = TokenBucket(30, 60.0, clock=clock)  # rejected-request log lines per minute, per status
        self.suppressed = 0

    # request checks ---------------------------------------------------------------------------
    def reject(self, request: Request, status: int, reason: str) -> Response:
        if self.log_budget.take(status):
            more = f" ({self.suppressed} similar lines suppressed)" if self.suppressed else ""
            self.suppressed = 0
            client = request.client.host if request.client else "?"
            log.warning("twilio webhook %s rejected with %d: %s (from %s)%s", request.url.path, status, reason,
                        client, more)
        else:
            self.suppressed += 1
        # a stranger learns nothing about the configuration from a 403; the details are in the log
        body = "403: forbidden (see the claw's log)" if status == 403 else f"{status}: {reason}"
        return Response(status_code=status, content=body + "\n", media_type="text/plain")

    async def verified_form(self, request: Request) -> ImmutableMultiDict:
        """The form of a correctly signed request; Rejected(403) unsigned/mis-signed, Rejected(400) malformed."""
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise Rejected(403, f"no {SIGNATURE_HEADER} header")
        if len(signature) > 200:
            raise Rejected(403, "implausible signature")
        if not self.tw.public_url or not self.tw.auth_token:
            raise Rejected(403, "twilio is not configured (auth_token, public_url): see deploy/TWILIO.md")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.cap):
            raise Rejected(400, f"body larger than {self.cap} bytes")
        body = await self._read(request)
        ctype, _, params = (request.headers.get("content-type") or "").partition(";")
        ctype = ctype.strip().lower()
        check_charset(params)
        url = public_request_url(self.tw.public_url, request.scope)
        settings_header = request.headers.get(SIGNATURE_SETTINGS_HEADER)
        if ctype == "application/json":  # Twilio signs JSON bodies through a bodySHA256 query parameter
            if "bodySHA256" not in parse_qs(request.scope.get("query_string", b"").decode("latin-1")):
                raise Rejected(400, "JSON body without bodySHA256")
            text = utf8(body)
            if problem := self.verifier.problem(url, text, signature, settings_header):
                raise Rejected(403, problem)
            raise Rejected(400, "JSON bodies are not supported here: Twilio sends messaging webhooks as forms")
        if ctype != FORM:
            raise Rejected(400, f"content type must be {FORM}, not {ctype[:60]!r}")
        form = parse_form(body)
        if problem := self.verifier.problem(url, form, signature, settings_header):
            raise Rejected(403, problem)
        return form

    async def _read(self, request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.cap:
                raise Rejected(400, f"body larger than {self.cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # inbound messages -------------------------------------------------------------------------
    def inbound(self, form: ImmutableMultiDict) -> None:
        """Store the message (accepted or denied) and schedule its turn or its notice; never raises Rejected
        after storing. Malformed forms raise Rejected(400) before anything is stored."""
        msg = inbound_message(form)
        address = whatsapp_address(msg.sender)
        if address is None:  # an SMS number, a group or channel id: never triggers anything
            self._deny(msg, "not a WhatsApp number")
            return
        who = standing(self.store, CHANNEL, address, self.inlet.owners)  # the access check: standing decided once
        msg = InboundMessage(channel=CHANNEL, sender=address, text=msg.text, external_id=msg.external_id,
                             media=msg.media, media_types=msg.media_types, standing=message_standing(who))
        if who not in ("owner", "allowed"):
            self._stranger(msg, who)
            return
        if not self.limiter.take(address):
            inbox_id, created = self._deny(msg, f"rate limit: over {self.tw.rate_limit_per_minute} messages "
                                                "a minute")
            if created:
                self._notice(address, "slow", inbox_id,
                             f"You're writing faster than I can keep up with (my limit is "
                             f"{self.tw.rate_limit_per_minute} messages a minute), so I skipped that message. "
                             "Please wait a minute and send it again.")
            return
        if len(msg.text) > self.tw.max_body_chars:
            inbox_id, created = self._deny(msg, f"body too long: {len(msg.text)} > {self.tw.max_body_chars} "
                                                "characters")
            if not created:
                self.limiter.refund(address)
                return
            self._notice(address, "long", inbox_id,
                         f"That message is too long for me ({len(msg.text):,} characters; my limit is "
                         f"{self.tw.max_body_chars:,}). Please send it in shorter parts.")
            return
        inbox_id, created = self.inlet.submit(msg)
        if not created:  # a retried webhook: the first delivery already counted
            self.limiter.refund(address)
            return
        released = self.store.outbox_release_held(CHANNEL, address)
        if released:
            self.notifier.send(CHANNEL, address, held_note(released), inbox_id=inbox_id)

    def _stranger(self, msg: InboundMessage, who: str) -> None:
        reason = {"denied": "sender denied by the owner", "pending": "sender awaiting approval"}.get(
            who, "unknown sender")
        inbox_id, created = self._deny(msg, reason)
        if not created or not self.tw.pairing or who == "denied":
            return
        code = issue_code(self.store, CHANNEL, msg.sender, self.tw.pairing_seconds)
        if code is not None:
            log.info("pairing code issued to %s", mask(msg.sender))
            self.notifier.send(CHANNEL, msg.sender, code_reply(code, self.tw.pairing_seconds), inbox_id=inbox_id)

    def _deny(self, msg: InboundMessage, reason: str) -> tuple[int, bool]:
        inbox_id, created = store_denied(self.store, msg, reason)
        if created:
            log.info("whatsapp message %s from %s stored as denied: %s", msg.external_id, mask(msg.sender), reason)
        return inbox_id, created

    def _notice(self, address: str, kind: str, inbox_id: int, text: str) -> None:
        if self.notices.take((address, kind)):
            self.notifier.send(CHANNEL, address, text, inbox_id=inbox_id)

    # status callbacks -------------------------------------------------------------------------
    def status(self, form: ImmutableMultiDict) -> None:
        sid, status = single(form, "MessageSid"), single(form, "MessageStatus")
        if not sid or not status:
            raise Rejected(400, "status callback without MessageSid or MessageStatus")
        mapped = status_from_callback(form)
        if mapped is None:
            return
        found = self.store.outbox_set_status(sid, mapped[0], mapped[1])
        if not found:  # may be ahead of the dispatcher recording the sid: it applies it once it has
            log.info("status callback %s for a MessageSid not recorded yet: %s", status, sid)
            self.inlet.note_status(sid, mapped[0], mapped[1])


def held_note(count: int) -> str:
    what = "that message" if count == 1 else f"those {count} messages"
    return (f"(I held {what} while you were away: WhatsApp only lets me write first within 24 hours of "
            "your last message.)")


def store_denied(store: InletStore, msg: InboundMessage, reason: str) -> tuple[int, bool]:
    """Store a message that must never reach the agent, with why."""
    return store.inbox_add(msg, status="denied", error=reason)


def _twiml(doctor: bool = False) -> Response:
    headers = {DOCTOR_HEADER: "ok"} if doctor else None
    return Response(content=TWIML_EMPTY, media_type="text/xml", headers=headers)


def twilio_router(inlet: WhatsAppInlet, *, shared_keys: Sequence[str] | None = None,
                  hooks: TwilioWebhooks | None = None) -> APIRouter:
    """`POST /twilio/whatsapp` (inbound messages) and `POST /twilio/status` (delivery callbacks).

    `inlet`: what the handler may reach (see whatsapp_inlet); `shared_keys`: secrets of Twilio webhook
    SharedKeys (HMAC-SHA256 signing), default from the settings; `hooks`: a prepared TwilioWebhooks (tests inject
    a clock through it)."""
    hooks = hooks or TwilioWebhooks(inlet, shared_keys)
    router = APIRouter()

    # Plain Starlette routes (add_route): these endpoints take the raw request and need none of FastAPI's
    # per-request dependency and validation machinery, which is a good part of a webhook's cost.
    async def whatsapp(request: Request) -> Response:
        started = time.perf_counter()
        try:
            form = await hooks.verified_form(request)
            if request.headers.get(DOCTOR_HEADER) == "1":
                return _twiml(doctor=True)
            hooks.inbound(form)
        except Rejected as exc:
            return hooks.reject(request, exc.status, exc.reason)
        log.debug("whatsapp webhook answered in %.1f ms", (time.perf_counter() - started) * 1000)
        return _twiml()

    async def status(request: Request) -> Response:
        try:
            form = await hooks.verified_form(request)
            if request.headers.get(DOCTOR_HEADER) == "1":
                return Response(status_code=204, headers={DOCTOR_HEADER: "ok"})
            hooks.status(form)
        except Rejected as exc:
            return hooks.reject(request, exc.status, exc.reason)
        return Response(status_code=204)

    router.add_route("/twilio/whatsapp", whatsapp, methods=["POST"], include_in_schema=False)
    router.add_route("/twilio/status", status, methods=["POST"], include_in_schema=False)
    return router
