"""Store mixin for channel bookkeeping: sender approvals (allowlist, pairing), held messages, last contact."""

from __future__ import annotations

import logging
import time
from typing import Any

from memory.store_base import StoreBase, locked

log = logging.getLogger(__name__)

SENDER_STATUSES = ("allowed", "pending", "denied")


class ChannelsMixin(StoreBase):
    # last contact (messaging windows) ------------------------------------------------------
    @locked
    def last_inbound_at(self, channel: str, sender: str) -> float | None:
        """When this sender last wrote on this channel (any stored row, answered or not), or None."""
        row = self._one("inbox", "SELECT MAX(created_at) AS at FROM inbox WHERE channel = ? AND sender = ?"
                        " AND status != 'denied'", (channel, sender))
        return float(row["at"]) if row and row["at"] is not None else None

    # held messages -------------------------------------------------------------------------
    @locked
    def outbox_hold(self, outbox_id: int, reason: str) -> None:
        """Park a message that may not be sent now (e.g. outside WhatsApp's 24-hour window)."""
        self._write("UPDATE outbox SET status = 'held', error = ?, updated_at = ? WHERE id = ?"
                    " AND status = 'pending'", (reason, time.time(), outbox_id))

    @locked
    def outbox_held(self, channel: str, recipient: str) -> list[dict[str, Any]]:
        return self._all("outbox", "SELECT * FROM outbox WHERE channel = ? AND recipient = ? AND status = 'held'"
                         " ORDER BY id", (channel, recipient))

    @locked
    def outbox_release_held(self, channel: str, recipient: str) -> int:
        """Make held messages for this recipient due again; returns how many."""
        cur = self._write("UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ?"
                          " WHERE channel = ? AND recipient = ? AND status = 'held'",
                          (time.time(), time.time(), channel, recipient))
        return int(cur.rowcount or 0)

    @locked
    def outbox_proactive(self, channel: str, recipient: str, after: int = 0, limit: int = 20) -> list[dict[str, Any]]:
        """The latest proactive messages (alerts, notices) for a recipient with an id above `after`, oldest first."""
        rows = self._all("outbox", "SELECT * FROM outbox WHERE channel = ? AND recipient = ? AND proactive = 1"
                         " AND id > ? ORDER BY id DESC LIMIT ?", (channel, recipient, after, limit))
        return rows[::-1]

    # senders -------------------------------------------------------------------------------
    @locked
    def sender_get(self, channel: str, address: str) -> dict[str, Any] | None:
        return self._one("senders", "SELECT * FROM senders WHERE channel = ? AND address = ?", (channel, address))

    @locked
    def sender_set(self, channel: str, address: str, status: str, *, code: str | None = None,
                   code_expires_at: float | None = None, label: str | None = None) -> None:
        """Create or update a sender's approval; a code is kept only while the status is 'pending'."""
        if status not in SENDER_STATUSES:
            raise ValueError(f"sender status must be one of {SENDER_STATUSES}, not {status!r}")
        now = time.time()
        if status != "pending":
            code, code_expires_at = None, None
        with self._tx():
            self._write(
                "INSERT INTO senders (channel, address, status, code, code_expires_at, label, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(channel, address) DO UPDATE SET"
                " status = excluded.status, code = excluded.code, code_expires_at = excluded.code_expires_at,"
                " label = COALESCE(excluded.label, senders.label), updated_at = excluded.updated_at",
                (channel, address, status, code, code_expires_at, label, now, now))

    @locked
    def sender_by_code(self, code: str, now: float) -> dict[str, Any] | None:
        """The pending sender holding this unexpired pairing code."""
        return self._one("senders", "SELECT * FROM senders WHERE code = ? AND status = 'pending'"
                         " AND code_expires_at > ?", (code, now))

    @locked
    def senders_list(self, channel: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM senders WHERE 1 = 1", []
        if channel is not None:
            sql, params = sql + " AND channel = ?", [*params, channel]
        if status is not None:
            sql, params = sql + " AND status = ?", [*params, status]
        return self._all("senders", sql + " ORDER BY updated_at DESC", params)
