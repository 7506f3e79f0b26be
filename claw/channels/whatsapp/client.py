"""The twilio REST client for the WhatsApp channel; with `api_base` (tests) pinned to a loopback stand-in."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from claw.config import TwilioSettings
from claw.errors import ConfigError

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


class RefusedHost(TwilioException):
    """The client was asked to contact a host it must not reach (anything but Twilio, rewritten)."""


def is_twilio_host(host: str | None) -> bool:
    host = (host or "").lower().rstrip(".")
    return host == "twilio.com" or host.endswith(".twilio.com")


def is_loopback_host(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_api_base(api_base: str) -> str:
    """A loopback http(s) origin (optionally with a path prefix), without a trailing slash; else ConfigError."""
    parts = urlsplit(api_base)
    if parts.scheme not in ("http", "https") or not is_loopback_host(parts.hostname):
        raise ConfigError("twilio.api_base is for tests only and must be a loopback URL such as "
                          "http://127.0.0.1:PORT")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError("twilio.api_base must be a plain origin (no credentials, query or fragment)")
    return api_base.rstrip("/")


class LoopbackTwilioHttpClient(TwilioHttpClient):
    """Sends every https://*.twilio.com request to `api_base` (same path and query); refuses other hosts."""

    def __init__(self, api_base: str, timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        self.api_base = check_api_base(api_base)
        if self.session is not None:
            self.session.trust_env = False  # no proxy or netrc from the environment: loopback, directly

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "https" or not is_twilio_host(parts.hostname) or parts.username or parts.password:
            raise RefusedHost(f"refusing to contact {parts.scheme}://{parts.hostname}: "
                              "this client only talks to Twilio, rewritten to the loopback api_base")
        base = urlsplit(self.api_base)
        return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        return super().request(method, self.rewrite(url), params=params, data=data, headers=headers,
                               auth=auth, timeout=timeout, allow_redirects=allow_redirects)


def make_twilio_client(settings: TwilioSettings, **client_kwargs: Any) -> Client:
    """A synchronous twilio Client (run it in a thread); pinned to `settings.api_base` when set."""
    if not settings.account_sid or settings.auth_token is None:
        raise ConfigError("twilio.account_sid and twilio.auth_token are required to send WhatsApp messages")
    token = settings.auth_token.get_secret_value()
    http_client: TwilioHttpClient
    if settings.api_base:
        http_client = LoopbackTwilioHttpClient(settings.api_base)
    else:
        http_client = TwilioHttpClient(timeout=TIMEOUT_SECONDS)
    return Client(settings.account_sid, token, account_sid=settings.account_sid, http_client=http_client,
                  **client_kwargs)
