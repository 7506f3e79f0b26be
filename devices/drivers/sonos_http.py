"""Keep-alive HTTP for soco's SOAP calls made on the Sonos driver's worker threads (one requests.Session each).

soco sends every SOAP request with the module-level `requests.post`, which builds a new Session, opens a new TCP
connection and scans the process environment for proxies on every call; it offers no hook to pass a Session.
`install()` puts a thin stand-in for the `requests` name soco.services uses: on a thread that `attach()`ed a
session (the driver's workers) `post`/`get` go through that thread's own Session (keep-alive, no proxies from
the environment: the claw talks to its players and nothing else); on every other thread they are the plain
`requests` functions, as before. Everything else is looked up on the real `requests` module.

soco.services also pretty-prints every SOAP body (a minidom parse) for a debug log line even when debug logging
is off; `install()` makes that pretty-printing lazy: done only if the line is written.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

import requests
import soco.services
from soco.utils import prettify

_local = threading.local()


class _Pretty:
    """XML text that is pretty-printed only when turned into a string (by a log record being written)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __str__(self) -> str:
        return str(prettify(self._text))


class _Requests:
    """What soco.services sees as `requests`: the real module, but post/get through this thread's Session."""

    def __init__(self, real: ModuleType) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        session: requests.Session | None = getattr(_local, "session", None)
        return (session or self._real).post(url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        session: requests.Session | None = getattr(_local, "session", None)
        return (session or self._real).get(url, **kwargs)


_lock = threading.Lock()


def install() -> None:
    """Route soco.services' requests through `_Requests` and make its debug pretty-printing lazy (once per
    process; later calls do nothing)."""
    with _lock:
        if not isinstance(soco.services.requests, _Requests):
            soco.services.requests = _Requests(soco.services.requests)  # type: ignore[assignment]
            soco.services.prettify = _Pretty  # type: ignore[assignment]


def attach() -> requests.Session:
    """Give the calling thread its own keep-alive Session for soco's requests; returns it (to close later)."""
    session = requests.Session()
    session.trust_env = False
    _local.session = session
    return session
