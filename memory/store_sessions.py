"""Store mixin for the dashboard's signed-in browsers: each session's id, when it began and was last seen, and
whether it was signed out (a signed-out cookie is refused even though its signature is good)."""

from __future__ import annotations

import time
from typing import Any

from memory.store_base import StoreBase, locked


def create_web_sessions(db: Any) -> None:
    """m023: one row per dashboard session (the id is the cookie's nonce; the cookie itself is never stored)."""
    db["web_sessions"].create({"id": str, "created_at": float, "seen_at": float, "agent": str,
                               "ended_at": float}, pk="id", not_null={"created_at", "seen_at"},
                              defaults={"agent": ""}, if_not_exists=True)


class SessionsMixin(StoreBase):
    @locked
    def web_session_add(self, session_id: str, agent: str, now: float | None = None) -> None:
        at = now or time.time()
        self._write("INSERT INTO web_sessions (id, created_at, seen_at, agent) VALUES (?, ?, ?, ?)",
                    (session_id, at, at, agent[:200]))

    @locked
    def web_session_get(self, session_id: str) -> dict[str, Any] | None:
        return self._one("web_sessions", "SELECT * FROM web_sessions WHERE id = ?", (session_id,))

    @locked
    def web_session_seen(self, session_id: str, now: float | None = None) -> None:
        self._write("UPDATE web_sessions SET seen_at = ? WHERE id = ?", (now or time.time(), session_id))

    @locked
    def web_session_end(self, session_id: str | None = None, now: float | None = None) -> int:
        """Sign out one session, or every open one (None); returns how many ended now."""
        at = now or time.time()
        if session_id is None:
            return self._write("UPDATE web_sessions SET ended_at = ? WHERE ended_at IS NULL", (at,)).rowcount
        return self._write("UPDATE web_sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                           (at, session_id)).rowcount

    @locked
    def web_sessions_open(self, since: float) -> list[dict[str, Any]]:
        """Sessions not signed out that began after `since` (older ones have expired), last seen first."""
        return self._all("web_sessions", "SELECT * FROM web_sessions WHERE ended_at IS NULL AND created_at > ?"
                         " ORDER BY seen_at DESC", (since,))

    @locked
    def web_sessions_prune(self, before: float) -> int:
        """Forget sessions that began before `before` (expired anyway)."""
        return self._write("DELETE FROM web_sessions WHERE created_at < ?", (before,)).rowcount
