"""Bounded HTTP fingerprint probes: GET only, one host, no redirects, capped count, size and time."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from devices.discovery.matching import DiscoveryError, ProbeKey, probe_key

MAX_REQUESTS = 8
MAX_BYTES = 64 * 1024
REQUEST_TIMEOUT = 1.0
TOTAL_TIME = 2.0


@dataclass
class ProbeEntry:
    """One request and what came back (`error` says why there is no JSON answer)."""

    path: str
    query: dict[str, Any]
    status: int | None = None
    size: int = 0
    seconds: float = 0.0
    error: str | None = None
    content_type: str = ""
    text: str = ""  # the answer's body as text (at most max_bytes; device data: untrusted), for learning
    location: str | None = None  # where a redirect pointed (never followed)


@dataclass
class ProbeRecord:
    """Everything one probe of one host sent and received."""

    address: str
    entries: list[ProbeEntry] = field(default_factory=list)
    answers: dict[ProbeKey, Any] = field(default_factory=dict)  # decoded JSON by (path, query)


class ProbeError(DiscoveryError):
    """A probe request that must not be sent (not a plain path on the one host)."""


def probe_client(timeout: float = REQUEST_TIMEOUT) -> httpx.AsyncClient:
    """The client for probes: no redirects, no proxies from the environment, short timeouts."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False,
                             headers={"User-Agent": "homeclaw-discovery"})


def _url(address: str, path: str) -> httpx.URL:
    if not path.startswith("/") or path.startswith("//") or any(c in path for c in "?#\\@") or " " in path:
        raise ProbeError(f"probe path {path[:60]!r} is not a plain path on the device")
    url = httpx.URL(f"http://{address}{path}")
    if f"{url.host}:{url.port or 80}" != address and url.host != address:  # httpx drops the default port 80
        raise ProbeError(f"probe path {path[:60]!r} leaves {address}")
    return url


async def _get(client: httpx.AsyncClient, address: str, entry: ProbeEntry, max_bytes: int) -> Any:
    started = time.monotonic()
    try:
        url = _url(address, entry.path)
        async with client.stream("GET", url, params=entry.query or None) as resp:
            entry.status = resp.status_code
            entry.content_type = resp.headers.get("content-type", "")[:80]
            if 300 <= resp.status_code < 400:
                entry.location = resp.headers.get("location", "?")[:300]
                entry.error = f"redirect to {entry.location[:80]!r} not followed"
                return None
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    entry.error = f"answer larger than {max_bytes} bytes"
                    return None
            entry.size = len(body)
            entry.text = body.decode("utf-8", "replace")
        if entry.status != 200:
            entry.error = f"HTTP {entry.status}"
            return None
        try:
            return json.loads(body)
        except ValueError:
            entry.error = "not JSON"
            return None
    except ProbeError as exc:
        entry.error = str(exc)
    except httpx.TimeoutException:
        entry.error = "timed out"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        entry.error = exc.__class__.__name__
    finally:
        entry.seconds = round(time.monotonic() - started, 3)
    return None


async def probe(client: httpx.AsyncClient, address: str, requests: list[tuple[str, dict[str, Any]]], *,
                max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES,
                total_time: float = TOTAL_TIME) -> ProbeRecord:
    """GET each (path, query) on `address` (host:port) alone; at most `max_requests`, each answer at most
    `max_bytes`, all within `total_time` seconds (the rest are recorded as not sent)."""
    record = ProbeRecord(address)
    entries = [ProbeEntry(path, dict(query)) for path, query in requests]
    for entry in entries[max_requests:]:
        entry.error = f"not sent: more than {max_requests} probes"
    sent = entries[:max_requests]
    tasks = [asyncio.ensure_future(_get(client, address, e, max_bytes)) for e in sent]
    done, pending = await asyncio.wait(tasks, timeout=total_time) if tasks else (set(), set())
    for task, entry in zip(tasks, sent, strict=True):
        if task in pending:
            task.cancel()
            entry.error = f"no answer within {total_time:g} s"
        elif task.result() is not None:
            record.answers[probe_key(entry.path, entry.query)] = task.result()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    record.entries = entries
    return record
