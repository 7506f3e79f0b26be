"""Inbound WhatsApp media: a message's images fetched from Twilio (credentials only for this account's URLs)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from claw.channels.media import MediaFile, MediaStore
from claw.channels.whatsapp.client import is_twilio_host
from claw.config import TwilioSettings

log = logging.getLogger(__name__)

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
MAX_REDIRECTS = 3
FETCH_TIMEOUT = 10.0
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"),
          (b"GIF89a", "image/gif"))
_API_HOST = re.compile(r"^api(\.[a-z0-9-]+){0,2}\.twilio\.com$")


@dataclass(frozen=True)
class MediaFetchResult:
    """Inbound media stored for a turn, and why the other attachments were left out."""

    files: list[MediaFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class _Skip(Exception):
    """One attachment is not fetched; the message says why."""


def sniff_image(data: bytes) -> str | None:
    for magic, ctype in _MAGIC:
        if data.startswith(magic):
            return ctype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class MediaFetcher:
    """Downloads the image attachments of inbound rows (size-capped, redirects checked) into the media store."""

    def __init__(self, settings: TwilioSettings, media: MediaStore | None) -> None:
        self.settings = settings
        self.media = media

    def credentialed_url(self, url: str) -> bool:
        """May this URL get the account's credentials? Only Twilio's API, under this account's path."""
        parts = urlsplit(url)
        if parts.username or parts.password:
            return False
        account = f"/2010-04-01/Accounts/{self.settings.account_sid}/"
        if self.settings.api_base:
            base = urlsplit(self.settings.api_base)
            same = (parts.scheme, parts.hostname, parts.port) == (base.scheme, base.hostname, base.port)
            return same and (parts.path.startswith(account) or parts.path.startswith("/media/"))
        return (parts.scheme == "https" and bool(_API_HOST.match(parts.hostname or ""))
                and parts.port in (None, 443) and parts.path.startswith(account))

    def redirect_allowed(self, url: str) -> bool:
        """Where Twilio may redirect a media fetch (fetched without credentials): its media CDN."""
        parts = urlsplit(url)
        if parts.username or parts.password:
            return False
        if self.settings.api_base:
            base = urlsplit(self.settings.api_base)
            return (parts.scheme, parts.hostname, parts.port) == (base.scheme, base.hostname, base.port)
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and parts.port in (None, 443) and (
            host.endswith(".twiliocdn.com") or is_twilio_host(host)
            or (host == "s3-external-1.amazonaws.com" and parts.path.startswith("/media.twiliocdn.com/")))

    async def fetch(self, row: dict[str, Any]) -> MediaFetchResult:
        """Fetch and store the images of an inbound row (size-capped); other attachments are skipped."""
        urls = list(row.get("media") or [])
        types = list(row.get("media_types") or [])
        result = MediaFetchResult()
        if not urls:
            return result
        if self.media is None:
            result.skipped.extend(f"attachment {n}: no media store configured" for n in range(1, len(urls) + 1))
            return result
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False,
                                     timeout=httpx.Timeout(FETCH_TIMEOUT)) as http:
            for n, url in enumerate(urls, 1):
                declared = (types[n - 1] if n - 1 < len(types) else "").split(";")[0].strip().lower()
                if declared not in IMAGE_TYPES:
                    result.skipped.append(f"attachment {n} ({declared or 'unknown type'}) is not an image")
                    continue
                try:
                    data = await self._download(http, str(url))
                except _Skip as exc:
                    log.info("inbound media %d skipped: %s", n, exc)
                    result.skipped.append(f"attachment {n}: {exc}")
                    continue
                ctype = sniff_image(data)
                if ctype is None:
                    result.skipped.append(f"attachment {n}: not a JPEG, PNG, WebP or GIF image")
                    continue
                result.files.append(self.media.save(data, ctype))
        return result

    async def _download(self, http: httpx.AsyncClient, url: str) -> bytes:
        if not self.credentialed_url(url):
            raise _Skip("not a Twilio media URL of this account")
        cap = self.settings.media_max_bytes
        auth = (self.settings.account_sid or "", self.settings.auth_token.get_secret_value()
                if self.settings.auth_token else "")
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with http.stream("GET", current, auth=auth if self.credentialed_url(current) else None) as resp:
                    if resp.status_code in (301, 302, 303, 307, 308):
                        target = urljoin(current, resp.headers.get("location", ""))
                        if target == current or not (self.credentialed_url(target) or self.redirect_allowed(target)):
                            raise _Skip("redirected to an unexpected host")
                        current = target
                        continue
                    if resp.status_code != 200:
                        raise _Skip(f"Twilio answered HTTP {resp.status_code}")
                    length = resp.headers.get("content-length", "")
                    if length.isdigit() and int(length) > cap:
                        raise _Skip(f"larger than {cap} bytes")
                    buf = bytearray()
                    async for chunk in resp.aiter_bytes():
                        buf += chunk
                        if len(buf) > cap:
                            raise _Skip(f"larger than {cap} bytes")
                    return bytes(buf)
            except httpx.HTTPError as exc:
                raise _Skip(f"could not fetch ({exc.__class__.__name__})") from exc
        raise _Skip("too many redirects")
