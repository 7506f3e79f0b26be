"""Store mixin for the safety ledgers: pending confirmations of risky actions and the audit log."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from memory.store_base import StoreBase, dumps, locked

if TYPE_CHECKING:
    from memory.records import OutboundRecord

log = logging.getLogger(__name__)

CONFIRMATION_RESOLUTIONS = ("confirmed", "declined", "expired")
# started: claimed, the command is about to go out (a crash leaves it so); done / failed: known;
# unknown: it may or may not have happened (timeout, connection broken off, crash): checked later
# while settled_at is NULL, and settled_at is set once the owner has been told how it ended.
AUDIT_STATUSES = ("started", "done", "failed", "unknown")


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
        row when the key was already claimed (do NOT act blindly again; its status says how it went, and
        'started' / 'unknown' mean nobody knows yet)."""
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
    def audit_unknown(self, key: str, error: str, check_at: float | None) -> None:
        """The command's outcome is unknown. With `check_at`, the settler reads the device's state from
        then on; None means the owner has already been asked about it (settled: no follow-up)."""
        now = time.time()
        self._write("UPDATE audit SET status = 'unknown', error = ?, finished_at = ?, next_check_at = ?,"
                    " settled_at = ? WHERE key = ?", (error, now, check_at, None if check_at else now, key))

    @locked
    def audit_to_settle(self, now: float, limit: int = 50) -> list[dict[str, Any]]:
        """Unsettled 'unknown' rows due for a check whose turn has finished (its reply told the owner the
        outcome is open; an unfinished turn is resumed instead), with the turn's `channel`, oldest first."""
        return self._all("audit", "SELECT audit.*, inbox.channel AS channel FROM audit"
                         " LEFT JOIN inbox ON inbox.id = audit.inbox_id"
                         " WHERE audit.status = 'unknown' AND audit.settled_at IS NULL"
                         " AND audit.next_check_at <= ? AND (inbox.id IS NULL OR inbox.status IN ('done', 'failed'))"
                         " ORDER BY audit.next_check_at LIMIT ?", (now, limit))

    @locked
    def audit_checked(self, key: str, absent: bool, next_check_at: float) -> None:
        """Count one inconclusive check of an unknown row (`absent`: the state was read and lacked the
        effect) and schedule the next."""
        self._write("UPDATE audit SET checks = checks + 1, absent = absent + ?, next_check_at = ?"
                    " WHERE key = ? AND settled_at IS NULL", (int(absent), next_check_at, key))

    @locked
    def audit_settle(self, key: str, status: str, error: str | None = None,
                     notify: OutboundRecord | None = None) -> bool:
        """Close an unknown row as done / failed / still unknown and enqueue the owner's follow-up in the
        same transaction (so it is neither lost nor sent twice); False if it was settled already."""
        if status not in ("done", "failed", "unknown"):
            raise ValueError(f"an unknown action settles as done, failed or unknown, not {status!r}")
        now = time.time()
        with self._tx():
            cur = self._write("UPDATE audit SET status = ?, error = ?, checks = checks + 1, settled_at = ?,"
                              " finished_at = ? WHERE key = ? AND status = 'unknown' AND settled_at IS NULL",
                              (status, error, now, now, key))
            if cur.rowcount == 0:
                return False
            if notify is not None:
                self.outbox_add(notify)
            return True

    if TYPE_CHECKING:  # provided by MessagesMixin in the composed Store
        def outbox_add(self, msg: OutboundRecord) -> int: ...

    @locked
    def audit_get(self, key: str) -> dict[str, Any] | None:
        return self._one("audit", "SELECT * FROM audit WHERE key = ?", (key,))

    @locked
    def audit_recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._all("audit", "SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))

    @locked
    def audit_for_inbox(self, inbox_id: int) -> list[dict[str, Any]]:
        return self._all("audit", "SELECT * FROM audit WHERE inbox_id = ? ORDER BY id", (inbox_id,))
