"""Store mixin for the message flow: the inbox, the outbox and the conversation turns."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from memory.records import InboundRecord, OutboundRecord
from memory.store_base import StoreBase, dumps, locked

log = logging.getLogger(__name__)

INBOX_STATUSES = ("new", "working", "done", "failed", "denied")
INBOX_FINAL = ("done", "failed")
OUTBOX_STATUSES = ("pending", "held", "sent", "delivered", "read", "failed")
# A delivery callback never moves a message backwards (Twilio callbacks can arrive out of order).
_OUTBOX_RANK = {"pending": 0, "held": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 3}


class MessagesMixin(StoreBase):
    # inbox -----------------------------------------------------------------------------------
    @locked
    def inbox_add(self, msg: InboundRecord, status: str = "new", error: str | None = None) -> tuple[int, bool]:
        """Insert a message; with an external id already seen on that channel return (its id, False).

        status "denied" stores a message that must never reach the agent (unknown sender, rate limit)."""
        if status not in ("new", "denied"):
            raise ValueError(f"a new inbox row is 'new' or 'denied', not {status!r}")
        now = time.time()
        with self._tx():
            if msg.external_id is not None:
                row = self._one("inbox", "SELECT id FROM inbox WHERE channel = ? AND external_id = ?",
                                (msg.channel, msg.external_id))
                if row is not None:
                    return int(row["id"]), False
            cur = self._write(
                "INSERT INTO inbox (channel, sender, text, external_id, media, media_types, standing, status,"
                " error, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (msg.channel, msg.sender, msg.text, msg.external_id, dumps(list(msg.media)),
                 dumps(list(msg.media_types)), msg.standing, status, error, now, now),
            )
            return int(cur.lastrowid or 0), True

    @locked
    def inbox_get(self, inbox_id: int) -> dict[str, Any] | None:
        return self._one("inbox", "SELECT * FROM inbox WHERE id = ?", (inbox_id,))

    @locked
    def inbox_pending(self) -> list[dict[str, Any]]:
        """Rows not finished yet (new or working), oldest first: what to resume on start."""
        return self._all("inbox", "SELECT * FROM inbox WHERE status IN ('new', 'working') ORDER BY id")

    @locked
    def inbox_mark_working(self, inbox_id: int) -> None:
        """Mark a row as being worked on and count the attempt; a finished row is left alone."""
        self._write("UPDATE inbox SET status = 'working', attempts = attempts + 1, updated_at = ? "
                    "WHERE id = ? AND status IN ('new', 'working')", (time.time(), inbox_id))

    @locked
    def inbox_finish(self, inbox_id: int, replies: list[OutboundRecord], status: str = "done",
                     error: str | None = None, turns: Sequence[tuple[str, str]] = ()) -> list[int]:
        """Finish a row and enqueue its replies in one transaction; return the outbox ids.

        `turns` are optional (role, content) pairs recorded for the row's sender in the same transaction,
        so a crash can never leave turns without the reply or the reply without its turns.
        Idempotent: a row already finished (done or failed) gets nothing new and the outbox ids it
        already has come back. Raises KeyError for an unknown id, ValueError for a bad status."""
        if status not in INBOX_FINAL:
            raise ValueError(f"inbox status must be one of {INBOX_FINAL}, not {status!r}")
        with self._tx():
            row = self._one("inbox", "SELECT status, sender FROM inbox WHERE id = ?", (inbox_id,))
            if row is None:
                raise KeyError(f"no inbox row {inbox_id}")
            if row["status"] in INBOX_FINAL:
                return self._outbox_ids_for_inbox(inbox_id)
            for role, content in turns:
                self._turn_insert(row["sender"], role, content, inbox_id)
            ids = [self._outbox_insert(reply, inbox_id) for reply in replies]
            self._write("UPDATE inbox SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                        (status, error, time.time(), inbox_id))
            return ids

    # outbox ----------------------------------------------------------------------------------
    def _outbox_insert(self, msg: OutboundRecord, inbox_id: int | None) -> int:
        now = time.time()
        cur = self._write(
            "INSERT INTO outbox (channel, recipient, text, media, inbox_id, proactive, status, attempts,"
            " next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
            (msg.channel, msg.recipient, msg.text, dumps(list(msg.media)), inbox_id, int(msg.proactive), now,
             now, now),
        )
        return int(cur.lastrowid or 0)

    def _outbox_ids_for_inbox(self, inbox_id: int) -> list[int]:
        return [int(r["id"]) for r in self.db.query("SELECT id FROM outbox WHERE inbox_id = ? ORDER BY id",
                                                    [inbox_id])]

    @locked
    def outbox_add(self, msg: OutboundRecord) -> int:
        """Enqueue a message (an alert, or a reply not tied to a finishing turn); due at once."""
        return self._outbox_insert(msg, msg.inbox_id)

    @locked
    def outbox_get(self, outbox_id: int) -> dict[str, Any] | None:
        return self._one("outbox", "SELECT * FROM outbox WHERE id = ?", (outbox_id,))

    @locked
    def outbox_due(self, now: float, channel: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Pending messages whose next attempt is due, oldest first, optionally for one channel."""
        sql = "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?"
        params: list[Any] = [now]
        if channel is not None:
            sql += " AND channel = ?"
            params.append(channel)
        return self._all("outbox", sql + " ORDER BY id LIMIT ?", [*params, limit])

    @locked
    def outbox_mark_sent(self, outbox_id: int, external_id: str | None = None) -> None:
        self._write("UPDATE outbox SET status = 'sent', external_id = ?, error = NULL,"
                    " updated_at = ? WHERE id = ?", (external_id, time.time(), outbox_id))

    @locked
    def outbox_mark_retry(self, outbox_id: int, error: str, next_attempt_at: float) -> None:
        """Count a failed attempt and schedule the next one; the row stays pending."""
        self._write("UPDATE outbox SET status = 'pending', attempts = attempts + 1, error = ?,"
                    " next_attempt_at = ?, updated_at = ? WHERE id = ?",
                    (error, next_attempt_at, time.time(), outbox_id))

    @locked
    def outbox_mark_failed(self, outbox_id: int, error: str) -> None:
        """Give up on a message."""
        self._write("UPDATE outbox SET status = 'failed', error = ?, updated_at = ?"
                    " WHERE id = ?", (error, time.time(), outbox_id))

    @locked
    def outbox_set_status(self, external_id: str, status: str, error: str | None = None) -> bool:
        """Apply a delivery callback by the channel's message id; False if no such message.

        Never moves a message backwards (a late 'sent' after 'delivered' is ignored)."""
        if status not in OUTBOX_STATUSES:
            raise ValueError(f"outbox status must be one of {OUTBOX_STATUSES}, not {status!r}")
        with self._tx():
            rows = list(self.db.query("SELECT id, status FROM outbox WHERE external_id = ?", [external_id]))
            for row in rows:
                if _OUTBOX_RANK[status] >= _OUTBOX_RANK.get(row["status"], 0):
                    self._write("UPDATE outbox SET status = ?, error = COALESCE(?, error), updated_at = ?"
                                " WHERE id = ?", (status, error, time.time(), row["id"]))
            return bool(rows)

    @locked
    def outbox_unconfirmed(self, channel: str, older_than: float, limit: int = 200) -> list[dict[str, Any]]:
        """Messages the provider accepted (status 'sent', with its id) whose delivery was never reported and
        that were last touched before `older_than`: the newest `limit`, newest first."""
        return self._all("outbox", "SELECT * FROM outbox WHERE channel = ? AND status = 'sent'"
                         " AND external_id IS NOT NULL AND updated_at < ? ORDER BY id DESC LIMIT ?",
                         (channel, older_than, limit))

    @locked
    def outbox_for_inbox(self, inbox_id: int) -> list[dict[str, Any]]:
        return self._all("outbox", "SELECT * FROM outbox WHERE inbox_id = ? ORDER BY id", (inbox_id,))

    # turns -----------------------------------------------------------------------------------
    def _turn_insert(self, sender: str, role: str, content: str, inbox_id: int | None) -> int:
        cur = self._write("INSERT INTO turns (sender, role, content, inbox_id, created_at)"
                          " VALUES (?, ?, ?, ?, ?)", (sender, role, content, inbox_id, time.time()))
        return int(cur.lastrowid or 0)

    @locked
    def turn_add(self, sender: str, role: str, content: str, inbox_id: int | None = None) -> int:
        return self._turn_insert(sender, role, content, inbox_id)

    @locked
    def turns_recent(self, sender: str, limit: int = 10) -> list[dict[str, Any]]:
        """The last `limit` turns with this sender, oldest first (ready to go into a prompt)."""
        rows = self._all("turns", "SELECT * FROM turns WHERE sender = ? ORDER BY id DESC LIMIT ?",
                         (sender, limit))
        return rows[::-1]
