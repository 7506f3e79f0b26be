"""Store mixin for what the claw knows: facts (FTS5 recall, provenance), devices and soul versions."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable
from typing import Any

from memory.store_base import StoreBase, dumps, locked

log = logging.getLogger(__name__)

# owner: the owner's own words. agent: the model's `remember` in an owner's turn. device, camera: observations.
# guest: anything remembered in a paired guest's turn (kept with the guest's sender address).
FACT_SOURCES = ("owner", "agent", "device", "camera", "guest")

STOP_WORDS = frozenset(
    "a an the i me my mine we us our you your yours he she it its they them their is am are was were be been "
    "do does did done have has had what whats which who whom whose when where why how that this these those "
    "know knows about tell say said please can could would should will shall of to in on at for with from by "
    "as and or not no nor near but if then so just any some there here remember recall forget forgot".split()
)
MAX_QUERY_TOKENS = 16
_WORD = re.compile(r"\w+", re.UNICODE)


def fts_tokens(query: str) -> list[str]:
    """The searchable words of a free-text query: lower-cased; stop words, single letters (the "s" of
    "sister's") and duplicates dropped."""
    seen: list[str] = []
    for word in _WORD.findall(query.lower()):
        word = word.strip("_")
        if word and (len(word) > 1 or word.isdigit()) and word not in STOP_WORDS and word not in seen:
            seen.append(word)
    return seen[:MAX_QUERY_TOKENS]


def fts_match(query: str, op: str = "OR") -> str | None:
    """A safe FTS5 MATCH expression: every token double-quoted (so AND, NEAR, *, -, : are plain words),
    joined by `op`. None when nothing searchable is left."""
    tokens = fts_tokens(query)
    if not tokens:
        return None
    return f" {op} ".join('"' + t.replace('"', '""') + '"' for t in tokens)


def normalize_fact(text: str) -> str:
    return " ".join(text.lower().split())


def _scope_sql(sources: tuple[str, ...] | None, sender: str | None) -> tuple[str, list[Any]]:
    """Extra `AND ...` conditions (and their parameters) restricting facts to these sources and sender."""
    where, params = "", []
    if sources is not None:  # an empty tuple matches nothing, on purpose
        where += f" AND facts.source IN ({', '.join('?' for _ in sources) or 'NULL'})"
        params.extend(sources)
    if sender is not None:
        where += " AND facts.sender = ?"
        params.append(sender)
    return where, params


class KnowledgeMixin(StoreBase):
    # facts -----------------------------------------------------------------------------------
    @locked
    def fact_add(self, text: str, source: str, subject: str | None = None, sender: str | None = None) -> int:
        """Remember a fact with its provenance; the same text (case/space-insensitive) returns the old id.

        The owner's own words win: an owner restating a fact first stored from another source makes it theirs
        (so a guest can no longer forget it and it is no longer fenced as someone else's)."""
        if source not in FACT_SOURCES:
            raise ValueError(f"fact source must be one of {FACT_SOURCES}, not {source!r}")
        text = " ".join(text.split())
        if not text:
            raise ValueError("a fact needs some text")
        norm = normalize_fact(text)
        with self._tx():
            row = self._one("facts", "SELECT id, source FROM facts WHERE norm = ?", (norm,))
            if row is not None:
                if source == "owner" and row["source"] != "owner":
                    self._write("UPDATE facts SET source = ?, sender = ? WHERE id = ?", (source, sender, row["id"]))
                return int(row["id"])
            cur = self._write("INSERT INTO facts (text, norm, subject, source, sender, created_at)"
                              " VALUES (?, ?, ?, ?, ?, ?)",
                              (text, norm, subject, source, sender, time.time()))
            return int(cur.lastrowid or 0)

    def _fact_matches(self, match: str, limit: int, sources: tuple[str, ...] | None = None,
                      sender: str | None = None) -> list[dict[str, Any]]:
        where, params = _scope_sql(sources, sender)
        return self._all(
            "facts",
            "SELECT facts.id, facts.text, facts.subject, facts.source, facts.sender, facts.created_at,"
            " bm25(facts_fts) AS rank FROM facts_fts JOIN facts ON facts.id = facts_fts.rowid"
            f" WHERE facts_fts MATCH ?{where} ORDER BY bm25(facts_fts), facts.id DESC LIMIT ?",
            (match, *params, limit),
        )

    @locked
    def fact_search(self, query: str, limit: int = 5, *, sources: tuple[str, ...] | None = None,
                    sender: str | None = None) -> list[dict[str, Any]]:
        """Facts best matching any word of a free-text query (bm25; lower `rank` is better); never raises
        on odd input, and a query with nothing searchable returns []. `sources`/`sender` restrict the facts
        searched to those provenances / that sender (None: no restriction)."""
        match = fts_match(query, "OR")
        return self._fact_matches(match, limit, sources, sender) if match else []

    @locked
    def fact_list(self, limit: int = 50, *, sources: tuple[str, ...] | None = None,
                  sender: str | None = None) -> list[dict[str, Any]]:
        where, params = _scope_sql(sources, sender)
        return self._all("facts", "SELECT id, text, subject, source, sender, created_at FROM facts"
                         f" WHERE 1 = 1{where} ORDER BY id DESC LIMIT ?", (*params, limit))

    @locked
    def fact_delete(self, fact_id: int) -> bool:
        return self._write("DELETE FROM facts WHERE id = ?", (fact_id,)).rowcount > 0

    @locked
    def fact_forget(self, query: str, *, sources: tuple[str, ...] | None = None, sender: str | None = None) -> int:
        """Delete the facts that contain every searchable word of the query; return how many. `sources`/
        `sender` restrict what may be deleted as in fact_search.

        Stricter than fact_search (AND, not OR) so "forget my sister's birthday" cannot wipe every
        fact that mentions a birthday."""
        match = fts_match(query, "AND")
        if not match:
            return 0
        with self._tx():
            ids = [r["id"] for r in self._fact_matches(match, 1000, sources, sender)]
            for fact_id in ids:
                self._write("DELETE FROM facts WHERE id = ?", (fact_id,))
        log.info("memory: forgot %d fact(s) for %r", len(ids), query)
        return len(ids)

    # devices ---------------------------------------------------------------------------------
    _DEVICE_COLS = ("id", "name", "kind", "room", "capabilities", "driver", "address", "aliases", "adapter",
                    "attrs")

    @locked
    def device_upsert(self, data: dict[str, Any], *, source: str | None = None) -> None:
        """Insert or update a device by its stable id (a Device.to_dict()); unknown keys are ignored.
        `source` records where it came from ("devices_file", "given"); None keeps the stored one."""
        row = {c: data.get(c) for c in self._DEVICE_COLS}
        if not row["id"]:
            raise ValueError("a device needs an id")
        row["capabilities"] = dumps(sorted(data.get("capabilities") or ()))
        row["aliases"] = dumps(list(data.get("aliases") or ()))
        row["attrs"] = dumps(dict(data.get("attrs") or {}))
        now = time.time()
        cols = ", ".join(self._DEVICE_COLS)
        marks = ", ".join("?" for _ in self._DEVICE_COLS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in self._DEVICE_COLS if c != "id")
        self._write(f"INSERT INTO devices ({cols}, source, created_at, updated_at) VALUES ({marks}, ?, ?, ?)"
                    f" ON CONFLICT(id) DO UPDATE SET {updates}, source = COALESCE(excluded.source, devices.source),"
                    " updated_at = excluded.updated_at",
                    [*(row[c] for c in self._DEVICE_COLS), source, now, now])

    @locked
    def devices_sync(self, upserts: Iterable[tuple[dict[str, Any], str | None]], deletes: Iterable[str] = ()) -> None:
        """In one transaction: upsert (device dict, source) pairs and delete devices by id."""
        with self._tx():
            for data, source in upserts:
                self.device_upsert(data, source=source)
            for device_id in deletes:
                self._write("DELETE FROM devices WHERE id = ?", (device_id,))

    @locked
    def devices_all(self) -> list[dict[str, Any]]:
        """Every stored device, decoded so `Device.from_dict(row)` works."""
        return self._all("devices", "SELECT * FROM devices ORDER BY name, id")

    @locked
    def device_get(self, device_id: str) -> dict[str, Any] | None:
        return self._one("devices", "SELECT * FROM devices WHERE id = ?", (device_id,))

    @locked
    def device_delete(self, device_id: str) -> bool:
        return self._write("DELETE FROM devices WHERE id = ?", (device_id,)).rowcount > 0

    # soul versions ---------------------------------------------------------------------------
    @locked
    def soul_version_add(self, text: str, source: str) -> tuple[int, bool]:
        """Record a soul.md version; if it equals the latest one return (that id, False)."""
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        with self._tx():
            latest = self._one("soul_versions",
                               "SELECT id, sha256 FROM soul_versions ORDER BY id DESC LIMIT 1")
            if latest is not None and latest["sha256"] == sha:
                return int(latest["id"]), False
            cur = self._write("INSERT INTO soul_versions (sha256, source, created_at, size, text)"
                              " VALUES (?, ?, ?, ?, ?)", (sha, source, time.time(), len(text.encode()), text))
            return int(cur.lastrowid or 0), True

    @locked
    def soul_versions(self, limit: int = 20) -> list[dict[str, Any]]:
        return self._all("soul_versions", "SELECT * FROM soul_versions ORDER BY id DESC LIMIT ?", (limit,))

    @locked
    def soul_version_get(self, version_id: int) -> dict[str, Any] | None:
        return self._one("soul_versions", "SELECT * FROM soul_versions WHERE id = ?", (version_id,))

    @locked
    def soul_latest(self) -> dict[str, Any] | None:
        return self._one("soul_versions", "SELECT * FROM soul_versions ORDER BY id DESC LIMIT 1")
