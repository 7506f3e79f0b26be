"""Pure link finding for exploring one device: same-host paths in HTML and JSON answers, the rest refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

_HREF = re.compile(r"""(?:href|src|action)\s*=\s*["']?([^"'\s>]{1,300})""", re.IGNORECASE)
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,200}$")
MAX_LINKS = 64
START_PATHS = ("/", "/api", "/api/v1")  # where an exploration starts, besides what discovery already asked


def same_host_path(base: str, link: str) -> tuple[str | None, str | None]:
    """(path, None) when `link` (relative, or absolute on exactly `base` host:port, http) names a plain path
    on the device; (None, why) when it points elsewhere or is not a plain path (query and fragment dropped)."""
    link = link.strip()
    if not link or link.startswith(("#", "mailto:", "javascript:", "data:", "tel:")):
        return None, "not a link to a page"
    try:
        url = urlsplit(urljoin(f"http://{base}/", link))
    except ValueError:
        return None, "not a URL"
    if url.scheme != "http" or url.netloc.lower() != base.lower():
        return None, f"points off the device ({url.scheme}://{url.netloc[:60]})"
    path = url.path or "/"
    if not _PATH.match(path) or "//" in path or "/../" in f"{path}/" or "/./" in f"{path}/":
        return None, "not a plain path"
    return path, None


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 12:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v, depth + 1)
    elif isinstance(value, list):
        for v in value[:64]:
            yield from _strings(v, depth + 1)


def links_in(base: str, text: str, answer: Any = None) -> tuple[list[str], list[str]]:
    """Same-host paths found in an answer (HTML href/src/action, JSON strings that are paths or same-host
    URLs), and the links refused (off the device), each at most MAX_LINKS."""
    found: dict[str, None] = {}
    refused: dict[str, None] = {}
    candidates = [m.group(1) for m in _HREF.finditer(text[:65536])]
    if answer is not None:
        candidates += [s for s in _strings(answer) if s.startswith(("/", "http://", "https://"))
                       and len(s) < 300 and " " not in s]
    for link in candidates:
        path, why = same_host_path(base, link)
        if path is not None:
            found.setdefault(path)
        elif why is not None and why.startswith("points off"):
            refused.setdefault(link[:120])
    return list(found)[:MAX_LINKS], list(refused)[:MAX_LINKS]
