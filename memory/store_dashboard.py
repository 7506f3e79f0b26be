"""Store mixin for the dashboard's reads: the conversation across channels with each turn's tier, paged audit,
filtered camera events."""

from __future__ import annotations

import json
import time
from typing import Any

from memory.store_base import StoreBase, locked


def create_turn_meta(db: Any) -> None:
    """m022: which tier answered each inbox row, and the tools the model called for it (JSON list)."""
    db["turn_meta"].create({"inbox_id": int, "tier": str, "tools": str, "created_at": float}, pk="inbox_id",
                           not_null={"tier", "created_at"}, defaults={"tools": "[]"}, if_not_exists=True)


class DashboardMixin(StoreBase):
    @locked
    def turn_meta_set(self, inbox_id: int, tier: str) -> None:
        """Which tier answered an inbox row (the tools stay as recorded)."""
        self._write("INSERT INTO turn_meta (inbox_id, tier, created_at) VALUES (?, ?, ?) ON CONFLICT(inbox_id)"
                    " DO UPDATE SET tier = excluded.tier", (inbox_id, tier, time.time()))

    @locked
    def turn_tools_set(self, inbox_id: int, tools: list[str]) -> None:
        """The tools the model called while answering an inbox row, in order."""
        self._write("INSERT INTO turn_meta (inbox_id, tier, tools, created_at) VALUES (?, 'llm', ?, ?)"
                    " ON CONFLICT(inbox_id) DO UPDATE SET tools = excluded.tools",
                    (inbox_id, json.dumps(tools), time.time()))

    @locked
    def conversation(self, limit: int = 50, channel: str | None = None) -> list[dict[str, Any]]:
        """The last `limit` messages in from every channel (oldest first), each with its reply, the tier that
        answered, the tools called and the audit rows of the device actions it took."""
        sql = ("SELECT i.id, i.channel, i.sender, i.text, i.status, i.created_at, m.tier, m.tools FROM inbox i"
               " LEFT JOIN turn_meta m ON m.inbox_id = i.id")
        params: list[Any] = []
        if channel:
            sql, params = sql + " WHERE i.channel = ?", [channel]
        rows = self._all("inbox", sql + " ORDER BY i.id DESC LIMIT ?", [*params, limit])[::-1]
        for row in rows:
            row["tools"] = json.loads(row["tools"]) if row.get("tools") else []
            reply = self._one("turns", "SELECT content FROM turns WHERE inbox_id = ? AND role = 'assistant'"
                              " ORDER BY id DESC LIMIT 1", (row["id"],))
            row["reply"] = reply["content"] if reply else None
            row["actions"] = self._all("audit", "SELECT * FROM audit WHERE inbox_id = ? ORDER BY id", (row["id"],))
        return rows

    @locked
    def proactive_recent(self, limit: int = 50, channel: str | None = None) -> list[dict[str, Any]]:
        """What the claw said on its own (camera alerts, routine and settler notices) on any channel, oldest first."""
        sql, params = "SELECT * FROM outbox WHERE proactive = 1", []
        if channel:
            sql, params = sql + " AND channel = ?", [channel]
        return self._all("outbox", sql + " ORDER BY id DESC LIMIT ?", [*params, limit])[::-1]

    @locked
    def channel_summary(self) -> dict[str, dict[str, Any]]:
        """Per channel: messages in, when the last came, and outgoing messages by status (sent, failed, …)."""
        out: dict[str, dict[str, Any]] = {}
        for row in self.db.query("SELECT channel, COUNT(*) AS n, MAX(created_at) AS last FROM inbox GROUP BY channel"):
            out.setdefault(row["channel"], {"in_": 0, "last_in": None, "out": {}}).update(in_=row["n"],
                                                                                        last_in=row["last"])
        for row in self.db.query("SELECT channel, status, COUNT(*) AS n FROM outbox GROUP BY channel, status"):
            out.setdefault(row["channel"], {"in_": 0, "last_in": None, "out": {}})["out"][row["status"]] = row["n"]
        return out

    @locked
    def chat_marker(self) -> str:
        """Changes whenever a message comes in, a turn is recorded or the claw says something on its own."""
        row = self._one("inbox", "SELECT (SELECT MAX(id) FROM inbox) AS i, (SELECT MAX(id) FROM turns) AS t,"
                        " (SELECT MAX(id) FROM outbox WHERE proactive = 1) AS o")
        return "" if row is None else f"{row['i'] or 0}.{row['t'] or 0}.{row['o'] or 0}"

    @locked
    def audit_page(self, limit: int = 100, before_id: int | None = None) -> list[dict[str, Any]]:
        """Audit rows newest first, `limit` of them older than `before_id`; each with the message that asked."""
        sql = ("SELECT a.*, i.text AS asked, i.channel AS asked_channel FROM audit a"
               " LEFT JOIN inbox i ON i.id = a.inbox_id")
        params: list[Any] = []
        if before_id:
            sql, params = sql + " WHERE a.id < ?", [before_id]
        return self._all("audit", sql + " ORDER BY a.id DESC LIMIT ?", [*params, limit])

    @locked
    def camera_events_between(self, start: float, end: float, camera: str | None = None, label: str | None = None,
                              limit: int = 200) -> list[dict[str, Any]]:
        """Camera events that started in [start, end), newest first, by camera and by detected label."""
        sql, params = "SELECT * FROM camera_events WHERE started_at >= ? AND started_at < ?", [start, end]
        if camera:
            sql, params = sql + " AND camera = ?", [*params, camera]
        if label:
            sql, params = sql + " AND EXISTS (SELECT 1 FROM json_each(labels) WHERE value = ?)", [*params, label]
        return self._all("camera_events", sql + " ORDER BY started_at DESC, id DESC LIMIT ?", [*params, limit])

    @locked
    def camera_labels(self) -> list[str]:
        rows = self.db.query("SELECT DISTINCT j.value AS label FROM camera_events, json_each(labels) j ORDER BY 1")
        return [str(r["label"]) for r in rows]
