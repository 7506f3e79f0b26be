"""The memory store: the one place with SQL, a thread-safe typed API over a SQLite file in WAL mode."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from sqlite_utils import Database

from memory import migrations
from memory.store_adapters import AdaptersMixin
from memory.store_base import locked
from memory.store_camera_changes import CameraChangesMixin
from memory.store_cameras import CamerasMixin
from memory.store_channels import ChannelsMixin
from memory.store_dashboard import DashboardMixin
from memory.store_discovery import DiscoveryMixin
from memory.store_knowledge import FACT_SOURCES, KnowledgeMixin
from memory.store_ledger import LedgerMixin
from memory.store_messages import MessagesMixin
from memory.store_routines import RoutinesMixin
from memory.store_scenes import ScenesMixin
from memory.store_sessions import SessionsMixin
from memory.store_timers import TimersMixin

log = logging.getLogger(__name__)

__all__ = ["FACT_SOURCES", "Store"]

BUSY_TIMEOUT_MS = 5000


class Store(MessagesMixin, KnowledgeMixin, LedgerMixin, ChannelsMixin, CamerasMixin, RoutinesMixin, TimersMixin,
            ScenesMixin, DiscoveryMixin, AdaptersMixin, CameraChangesMixin, DashboardMixin,
            SessionsMixin):
    """SQLite memory: inbox/outbox, turns, facts, devices, soul versions, confirmations, audit, camera events,
    routines.

    One connection guarded by a re-entrant lock, so the asyncio loop and worker threads may share one
    Store; calls are short and synchronous. Rows come back as plain dicts with JSON columns decoded and
    timestamps as float unix seconds. Pending migrations are applied on open."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self.db = Database(self._conn)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        if self.path != ":memory:":
            self.db.enable_wal()
        with self._lock:
            self.migrated = migrations.apply(self.db)  # names run forward by this open (logged; `claw run` prints)

    @classmethod
    def memory(cls) -> Store:
        """A private in-memory database (tests); WAL does not apply there."""
        return cls(":memory:")

    @locked
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @locked
    def schema_version(self) -> list[str]:
        """Names of the applied migrations, in order."""
        return migrations.applied(self.db)

    @locked
    def pragma(self, name: str) -> str | int | None:
        """Read one PRAGMA (journal_mode, synchronous, foreign_keys, busy_timeout) for checks and status."""
        if name not in {"journal_mode", "synchronous", "foreign_keys", "busy_timeout"}:
            raise ValueError(f"unsupported pragma {name!r}")
        row = self._conn.execute(f"PRAGMA {name}").fetchone()
        return row[0] if row else None
