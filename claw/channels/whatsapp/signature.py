"""Twilio request signatures: the URL Twilio signed, and checking a signature with the auth token or SharedKeys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator, get_signature_algorithm


def public_request_url(public_url: str, scope: Mapping[str, Any]) -> str:
    """The URL Twilio called: the configured public URL + the path and query string exactly as received
    (not the URL uvicorn sees behind a tunnel or reverse proxy)."""
    raw = scope.get("raw_path") or scope.get("path", "").encode()
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    query = scope.get("query_string") or b""
    query = query.decode("latin-1") if isinstance(query, bytes) else str(query)
    return public_url.rstrip("/") + path + (f"?{query}" if query else "")


class SignatureVerifier:
    """Twilio's request signatures, as the twilio library checks them.

    Without `X-Twilio-Webhooks-Signature-Settings` Twilio signs with the account auth token (HMAC-SHA1).
    When a Webhook Rule applies a Setting with a SharedKey, Twilio signs the same string (URL + sorted
    params, or URL with `bodySHA256` for JSON bodies) with that key's secret and the algorithm the header
    names (`key=<id>,algorithm=HMAC_SHA256`); `shared_keys` are those secrets (two while rotating)."""

    def __init__(self, auth_token: str | None, shared_keys: Sequence[str] = ()) -> None:
        self._token = RequestValidator(auth_token) if auth_token else None
        self._shared = [RequestValidator(k) for k in shared_keys if k]

    def problem(self, url: str, params: Any, signature: str, settings_header: str | None) -> str | None:
        """None when the signature is right, else why not (for the log; no secrets in it)."""
        if settings_header and settings_header.strip():
            validators, algorithm = self._shared, get_signature_algorithm(settings_header)
            if algorithm.upper() not in (HMAC_SHA1, HMAC_SHA256):
                return f"unsupported signature algorithm {algorithm[:30]!r}"
            if not validators:
                return (f"signed with a Twilio SharedKey ({key_id(settings_header)}) but no webhook shared key "
                        "is configured (twilio.webhook_shared_keys)")
        else:
            validators, algorithm = [self._token] if self._token else [], HMAC_SHA1
        if any(v.validate(url, params, signature, algorithm=algorithm) for v in validators):
            return None
        return f"bad {algorithm} signature for {url}"


def key_id(header: str) -> str:
    """The SharedKey id a signature-settings header names, for the log."""
    for part in header.split(","):
        name, _, value = part.partition("=")
        if name.strip() == "key":
            return f"key={value.strip()[:60]}"
    return "no key id"
