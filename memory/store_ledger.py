"""Store mixin for the safety ledgers: pending confirmations of risky actions and the audit log."""

from __future__ import annotations

import logging
import time
from typing import Any

from memory.store_base import StoreBase, dumps, locked

log = logging.getLogger(__name__)

CONFIRMATION_RESOLUTIONS = ("confirmed", "declined", "expired")


class LedgerMixin(StoreBase):
    # confirmations ---------------------------------------------------------------------------
    @locked
    def confirmation_add(self, sender: str, summary: str, payload: dict[str, Any], expires_at: float) -> int:
        """Ask `sender` to confirm something; any older pending request of theirs is superseded."""
        now = time.time()
        with self._tx():
            self._write("UPDATE confirmations SET status = 'superseded', resolved_at = ?"
                        " WHERE sender = ? AND status = 'pending'", (now, sender))
            cur = self._write("INSERT INTO confirmations (sender, summary, payload, status, created_at,"
                              " expires_at) VALUES (?, ?, ?, 'pending', ?, ?)",
                              (sender, summary, dumps(payload), now, expires_at))
            return int(cur.lastrowid or 0)

    @locked
    def confirmation_pending(self, sender: str, now: float) -> dict[str, Any] | None:
        """The sender's open request, if unexpired at `now`; expired ones are marked 'expired' here."""
        with self._tx():
            self._write("UPDATE confirmations SET status = 'expired', resolved_at = ?"
                        " WHERE sender = ? AND status = 'pending' AND expires_at <= ?", (now, sender, now))
            return self._one("confirmations", "SELECT * FROM confirmations WHERE sender = ?"
                             " AND status = 'pending' ORDER BY id DESC LIMIT 1", (sender,))

    @locked
    def confirmation_latest(self, sender: str) -> dict[str, Any] | None:
        """The sender's most recent request, whatever its status."""
        return self._one("confirmations", "SELECT * FROM confirmations WHERE sender = ?"
                         " ORDER BY id DESC LIMIT 1", (sender,))

    @locked
    def confirmation_get(self, confirmation_id: int) -> dict[str, Any] | None:
        return self._one("confirmations", "SELECT * FROM confirmations WHERE id = ?", (confirmation_id,))

    @locked
    def confirmation_resolve(self, confirmation_id: int, status: str) -> bool:
        """Close a pending request as confirmed/declined/expired; False if it was not pending any more."""
        if status not in CONFIRMATION_RESOLUTIONS:
            raise ValueError(f"confirmation status must be one of {CONFIRMATION_RESOLUTIONS}, not {status!r}")
        cur = self._write("UPDATE confirmations SET status = ?, resolved_at = ?"
                          " WHERE id = ? AND status = 'pending'", (status, time.time(), confirmation_id))
        return cur.rowcount > 0

    # audit -----------------------------------------------------------------------------------
    @locked
    def audit_begin(self, key: str, device_id: str, command: str, args: dict[str, Any], inbox_id: int | None,
                    sender: str | None) -> dict[str, Any] | None:
        """Claim an idempotency key before a physical action.

        Returns None when the key is new (the row is now 'started': go ahead and act), or the existing
        row when the key was already claimed (do NOT act again; its status says how it went)."""
        with self._tx():
            existing = self._one("audit", "SELECT * FROM audit WHERE key = ?", (key,))
            if existing is not None:
                return existing
            # BEGIN IMMEDIATE serialises writers, so no other connection can claim the key in between.
            self._write("INSERT INTO audit (key, device_id, command, args, inbox_id, sender, status,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, 'started', ?)",
                        (key, device_id, command, dumps(args), inbox_id, sender, time.time()))
            return None

    @locked
    def audit_finish(self, key: str, ok: bool, error: str | None = None) -> None:
        self._write("UPDATE audit SET status = ?, error = ?, finished_at = ? WHERE key = ?",
                    ("done" if ok else "failed", error, time.time(), key))

    @locked
    def audit_get(self, key: str) -> dict[str, Any] | None:
        return self._one("audit", "SELECT * FROM audit WHERE key = ?", (key,))

    @locked
    def audit_recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._all("audit", "SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))

    @locked
    def audit_for_inbox(self, inbox_id: int) -> list[dict[str, Any]]:
        return self._all("audit", "SELECT * FROM audit WHERE inbox_id = ? ORDER BY id", (inbox_id,))
