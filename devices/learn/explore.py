"""Exploring one unknown device: GET only, its host:port only, bounded count, size and time, all recorded."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from devices.discovery.probe import ProbeEntry, ProbeRecord, probe, probe_client
from devices.learn.links import START_PATHS, links_in, same_host_path

MAX_REQUESTS = 24
MAX_BYTES = 64 * 1024
REQUEST_TIMEOUT = 2.0
TOTAL_TIME = 10.0
PARALLEL = 4  # requests in flight at once: a small device is not flooded


@dataclass
class Exploration:
    """The whole record of exploring one device: every GET and its answer, what was refused, the budget used."""

    address: str
    record: ProbeRecord
    refused: list[str] = field(default_factory=list)  # links and redirects off the device, never followed
    links: set[str] = field(default_factory=set)  # same-host paths the answers link to (href/action, JSON paths)
    seconds: float = 0.0
    stopped: str | None = None  # why it stopped before running out of links ("request budget", "time budget")

    def answers_by_path(self) -> dict[str, Any]:
        """Decoded JSON answers by path (query-less requests first), as extract_state takes them."""
        out: dict[str, Any] = {}
        for (path, query), answer in self.record.answers.items():
            if not query or path not in out:
                out[path] = answer
        return out

    def sent(self) -> list[ProbeEntry]:
        return [e for e in self.record.entries if not (e.error or "").startswith("not sent")]


async def explore(address: str, seeds: Sequence[str] = (), *, max_requests: int = MAX_REQUESTS,
                  max_bytes: int = MAX_BYTES, request_timeout: float = REQUEST_TIMEOUT,
                  total_time: float = TOTAL_TIME, client: httpx.AsyncClient | None = None) -> Exploration:
    """GET "/", a few usual API roots and `seeds` on `address` (host:port), then follow the same-host links
    their answers show, breadth first, until `max_requests`, `total_time` or no new path; every answer is at
    most `max_bytes`; redirects are recorded (a same-host target is explored, another host refused)."""
    started = time.monotonic()
    result = Exploration(address, ProbeRecord(address))
    queue: list[str] = []
    seen: set[str] = set()

    def want(path: str, first: bool = False) -> None:
        if path not in seen:
            seen.add(path)
            queue.insert(0, path) if first else queue.append(path)

    for path in [*START_PATHS, *seeds]:
        p, _ = same_host_path(address, path)
        if p is not None:
            want(p)
    own = client is None
    client = client or probe_client(request_timeout)
    try:
        while queue:
            left_time = total_time - (time.monotonic() - started)
            left_count = max_requests - len(result.record.entries)
            if left_count <= 0 or left_time <= 0.05:
                result.stopped = "request budget" if left_count <= 0 else "time budget"
                break
            size = min(left_count, PARALLEL)
            batch, queue = queue[:size], queue[size:]
            record = await probe(client, address, [(p, {}) for p in batch], max_requests=size,
                                 max_bytes=max_bytes, total_time=left_time)
            result.record.entries.extend(record.entries)
            result.record.answers.update(record.answers)
            for entry in record.entries:
                answer = record.answers.get((entry.path, ()))
                if entry.location is not None:
                    target, why = same_host_path(address, entry.location)
                    if target is None:
                        result.refused.append(f"redirect from {entry.path} to {entry.location[:120]} ({why})")
                    else:
                        result.links.add(target)
                        want(target, first=True)  # where the device itself sends us: before the links
                if entry.status == 200 and entry.text:
                    found, refused = links_in(address, entry.text, answer)
                    for path in found:
                        result.links.add(path)
                        want(path)
                    result.refused.extend(f"link in {entry.path} to {r}" for r in refused)
        if queue and result.stopped is None:
            result.stopped = "request budget"
    finally:
        if own:
            await client.aclose()
    result.seconds = round(time.monotonic() - started, 3)
    return result
