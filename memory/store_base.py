"""The shared plumbing of the memory store mixins: the connection, the lock, transactions, row decoding."""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlite_utils import Database

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="StoreBase")


def locked(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Run a store method while holding the store's re-entrant lock (one connection, many threads)."""

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def loads(text: str | None, default: Any) -> Any:
    if text is None or text == "":
        return default
    try:
        return json.loads(text)
    except ValueError:
        log.warning("memory: undecodable JSON column %r", text[:80])
        return default


class StoreBase:
    """Holds the sqlite-utils Database and the lock; gives mixins row helpers and IMMEDIATE transactions."""

    db: Database
    _conn: sqlite3.Connection
    _lock: threading.RLock

    # JSON columns per table and the value an empty/NULL column decodes to.
    _JSON: dict[str, dict[str, Any]] = {
        "inbox": {"media": [], "media_types": []},
        "outbox": {"media": []},
        "devices": {"capabilities": [], "aliases": [], "attrs": {}},
        "confirmations": {"payload": {}},
        "audit": {"args": {}},
        "camera_events": {"labels": [], "boxes": [], "zones": []},
        "routines": {"trigger": {}, "steps": []},
        "routine_runs": {"steps": []},
    }

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock up front, so another connection
        to the same file waits (busy_timeout) instead of failing on a read-to-write upgrade."""
        with self._lock:
            if self._conn.in_transaction:
                with self.db.atomic():  # nested: a savepoint
                    yield
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _decode(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        for col, default in self._JSON.get(table, {}).items():
            if col in row:
                row[col] = loads(row[col], default)
        return row

    def _one(self, table: str, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        rows = list(self.db.query(sql, list(params)))
        return self._decode(table, rows[0]) if rows else None

    def _all(self, table: str, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [self._decode(table, row) for row in self.db.query(sql, list(params))]

    def _write(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        """One statement; commits at once unless a transaction is open (then it joins it)."""
        return self.db.execute(sql, list(params))
