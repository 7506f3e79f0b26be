"""Dashboard auth: the printed token exchanged once for a signed session cookie, CSRF tokens, Origin checks."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from collections import deque
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, Response

from claw.config import Settings
from memory.store import Store

log = logging.getLogger(__name__)

COOKIE = "claw_session"
SESSION_SECONDS = 30 * 86400.0  # a browser stays signed in this long
KEY_FILE = "web_session_key"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def session_key(data_dir: Path) -> bytes:
    """The key that signs session cookies: generated once into <data dir>/web_session_key (mode 0600)."""
    path = data_dir / KEY_FILE
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key.encode()
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key.encode()


def bind_warning(host: str) -> str | None:
    """The warning printed when the web app listens beyond this machine (anything but loopback)."""
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        return None
    return (f"WARNING: the web dashboard listens on {host}, not only on this machine: anyone who can reach it "
            "and holds the token controls your home. Use a TLS proxy in front of it.")


class Sessions:
    """Signed sessions kept in the store: cookie = "<issued>.<id>.<mac>"; the CSRF token is derived from the
    cookie. A cookie is good while its signature holds, it is younger than SESSION_SECONDS, and its session
    was not signed out (that browser's Sign out, or any browser's from the Status page). The signing key mixes in
    the web token: a new token (`[web] token`, or a new `web_token` file, then a restart) ends every session."""

    SEEN_EVERY = 60.0  # how often a session's "last seen" is written
    TRIES = 10  # wrong tokens allowed per TRIES_SECONDS before sign-in waits (existing sessions go on)
    TRIES_SECONDS = 60.0

    def __init__(self, settings: Settings, store: Store) -> None:
        self._token = settings.web_token()
        self._key = hmac.new(session_key(settings.ensure_data_dir()), self._token.encode(), hashlib.sha256).digest()
        self._store = store
        self._seen: dict[str, float] = {}
        self._wrong: deque[float] = deque(maxlen=self.TRIES)

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def token_ok(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self._token.encode())

    def may_try(self, now: float | None = None) -> bool:
        """False after TRIES wrong tokens within TRIES_SECONDS (someone guessing): sign-in waits a while."""
        at = now or time.time()
        return len(self._wrong) < self.TRIES or at - self._wrong[0] > self.TRIES_SECONDS

    def wrong_token(self, now: float | None = None) -> None:
        self._wrong.append(now or time.time())

    def issue(self, agent: str = "", now: float | None = None) -> str:
        """A new session (recorded with the browser's User-Agent, untrusted text) and its cookie."""
        at = now or time.time()
        session_id = secrets.token_urlsafe(16)
        self._store.web_sessions_prune(at - SESSION_SECONDS)
        self._store.web_session_add(session_id, agent, at)
        body = f"{int(at)}.{session_id}"
        return f"{body}.{self._mac('session:' + body)}"

    @staticmethod
    def session_id(cookie: str) -> str:
        return cookie.split(".")[1] if cookie.count(".") == 2 else ""

    def valid(self, cookie: str | None, now: float | None = None) -> bool:
        if not cookie or cookie.count(".") != 2:
            return False
        issued, session_id, mac = cookie.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(f"session:{issued}.{session_id}").encode()):
            return False
        at = now or time.time()
        if not issued.isdigit() or at - int(issued) >= SESSION_SECONDS:
            return False
        row = self._store.web_session_get(session_id)
        if row is None or row["ended_at"] is not None:
            return False
        if at - self._seen.get(session_id, 0.0) >= self.SEEN_EVERY:
            self._seen[session_id] = at
            self._store.web_session_seen(session_id, at)
        return True

    def end(self, session_id: str | None) -> int:
        """Sign out one session by id, or every session (None)."""
        return self._store.web_session_end(session_id)

    def open(self) -> list[dict[str, Any]]:
        """Sessions still signed in, last seen first."""
        return self._store.web_sessions_open(time.time() - SESSION_SECONDS)

    def csrf(self, cookie: str) -> str:
        return self._mac("csrf:" + cookie)[:32]

    def set_cookie(self, response: Response, cookie: str, secure: bool) -> None:
        response.set_cookie(COOKIE, cookie, max_age=int(SESSION_SECONDS), httponly=True, samesite="strict",
                            secure=secure, path="/")


def same_origin(request: Request) -> bool:
    """Whether the request's Origin (or, without one, its Referer) is this app's own scheme://host."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin") or ""
    if not origin:
        referer = request.headers.get("referer") or ""
        origin = "/".join(referer.split("/", 3)[:3]) if "://" in referer else ""
    return bool(host) and origin in (f"http://{host}", f"https://{host}")


def check_session(request: Request) -> str:
    """The session cookie of a signed-in browser; otherwise 401 (pages redirect before this: see pages)."""
    sessions: Sessions = request.app.state.sessions
    cookie = request.cookies.get(COOKIE)
    if not sessions.valid(cookie):
        raise HTTPException(status_code=401, detail="not signed in: open the link `claw token` prints")
    return cookie or ""


async def check_write(request: Request) -> None:
    """Every state-changing dashboard request: a session, the same Origin, and the session's CSRF token."""
    cookie = check_session(request)
    if request.method in UNSAFE:
        if not same_origin(request):
            log.warning("refused a cross-origin %s %s", request.method, request.url.path)
            raise HTTPException(status_code=403, detail="cross-origin request refused")
        given = request.headers.get("x-csrf-token", "")
        if not given and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            given = str((await request.form()).get("csrf", ""))
        sessions: Sessions = request.app.state.sessions
        if not hmac.compare_digest(given.encode(), sessions.csrf(cookie).encode()):
            raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
