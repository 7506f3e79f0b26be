"""The schema of the memory database as a list of small sqlite-utils migrations, applied on open."""

from __future__ import annotations

import logging

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

log = logging.getLogger(__name__)

migrations = Migrations("homeclaw")

# Every migration is safe to run twice (if_not_exists / replace) so a lost ledger row cannot break an
# upgrade; the Migrations ledger (`_sqlite_migrations`) is what normally keeps them from re-running.


@migrations()
def m001_inbox(db: Database) -> None:
    db["inbox"].create(
        {"id": int, "channel": str, "sender": str, "text": str, "external_id": str, "media": str,
         "status": str, "attempts": int, "created_at": float, "updated_at": float, "error": str},
        pk="id", not_null={"channel", "sender", "text", "status", "attempts", "created_at", "updated_at"},
        defaults={"status": "new", "attempts": 0, "media": "[]"}, if_not_exists=True,
    )
    # NULL external ids never collide (SQLite treats NULLs as distinct); the WHERE makes that explicit.
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_inbox_channel_external ON inbox(channel, external_id) "
               "WHERE external_id IS NOT NULL")
    db.execute("CREATE INDEX IF NOT EXISTS idx_inbox_status ON inbox(status)")


@migrations()
def m002_outbox(db: Database) -> None:
    db["outbox"].create(
        {"id": int, "channel": str, "recipient": str, "text": str, "media": str, "inbox_id": int,
         "status": str, "attempts": int, "next_attempt_at": float, "external_id": str, "error": str,
         "created_at": float, "updated_at": float},
        pk="id", foreign_keys=[("inbox_id", "inbox", "id")],
        not_null={"channel", "recipient", "text", "status", "attempts", "next_attempt_at", "created_at",
                  "updated_at"},
        defaults={"status": "pending", "attempts": 0, "media": "[]"}, if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_outbox_due ON outbox(status, next_attempt_at)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_outbox_inbox ON outbox(inbox_id)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_outbox_external ON outbox(external_id)")


@migrations()
def m003_turns(db: Database) -> None:
    db["turns"].create(
        {"id": int, "sender": str, "role": str, "content": str, "inbox_id": int, "created_at": float},
        pk="id", foreign_keys=[("inbox_id", "inbox", "id")],
        not_null={"sender", "role", "content", "created_at"}, if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_turns_sender ON turns(sender, id)")


@migrations()
def m004_facts(db: Database) -> None:
    db["facts"].create(
        {"id": int, "text": str, "norm": str, "subject": str, "source": str, "sender": str,
         "created_at": float},
        pk="id", not_null={"text", "norm", "source", "created_at"}, if_not_exists=True,
    )
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_facts_norm ON facts(norm)")
    db["facts"].enable_fts(["text", "subject"], create_triggers=True, tokenize="porter", replace=True)


@migrations()
def m005_devices(db: Database) -> None:
    db["devices"].create(
        {"id": str, "name": str, "kind": str, "room": str, "capabilities": str, "driver": str,
         "address": str, "aliases": str, "adapter": str, "attrs": str, "created_at": float,
         "updated_at": float},
        pk="id", not_null={"name", "kind", "driver", "address", "created_at", "updated_at"},
        if_not_exists=True,
    )


@migrations()
def m006_soul_versions(db: Database) -> None:
    db["soul_versions"].create(
        {"id": int, "sha256": str, "source": str, "created_at": float, "size": int, "text": str},
        pk="id", not_null={"sha256", "source", "created_at", "size", "text"}, if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_soul_sha ON soul_versions(sha256)")


@migrations()
def m007_confirmations(db: Database) -> None:
    db["confirmations"].create(
        {"id": int, "sender": str, "summary": str, "payload": str, "status": str, "created_at": float,
         "expires_at": float, "resolved_at": float},
        pk="id", not_null={"sender", "summary", "payload", "status", "created_at", "expires_at"},
        defaults={"status": "pending"}, if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_confirmations_sender ON confirmations(sender, status)")


@migrations()
def m008_audit(db: Database) -> None:
    db["audit"].create(
        {"id": int, "key": str, "device_id": str, "command": str, "args": str, "inbox_id": int,
         "sender": str, "status": str, "error": str, "created_at": float, "finished_at": float},
        pk="id", foreign_keys=[("inbox_id", "inbox", "id")],
        not_null={"key", "device_id", "command", "args", "status", "created_at"}, if_not_exists=True,
    )
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_audit_key ON audit(key)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_audit_inbox ON audit(inbox_id)")


@migrations()
def m009_channels(db: Database) -> None:
    """Media types on inbound rows, proactive/held outbound rows, and per-channel sender approvals."""
    if "media_types" not in db["inbox"].columns_dict:
        db["inbox"].add_column("media_types", str, not_null_default="[]")
    if "proactive" not in db["outbox"].columns_dict:
        db["outbox"].add_column("proactive", int, not_null_default=0)
    db.execute("CREATE INDEX IF NOT EXISTS idx_inbox_sender ON inbox(channel, sender, created_at)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_outbox_recipient ON outbox(channel, recipient, status)")
    db["senders"].create(
        {"channel": str, "address": str, "status": str, "code": str, "code_expires_at": float,
         "label": str, "created_at": float, "updated_at": float},
        pk=("channel", "address"), not_null={"status", "created_at", "updated_at"}, if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_senders_code ON senders(code)")


@migrations()
def m010_audit_outcomes(db: Database) -> None:
    """Audit rows whose outcome is unknown (status 'unknown': a timeout, a crash mid-command) are checked
    against the device's state later: how often so far, how often the effect was absent, when next, and
    when the owner was told how it ended (settled)."""
    columns = db["audit"].columns_dict
    for name in ("checks", "absent"):
        if name not in columns:
            db["audit"].add_column(name, int, not_null_default=0)
    for name in ("next_check_at", "settled_at"):
        if name not in columns:
            db["audit"].add_column(name, float)
    db.execute("CREATE INDEX IF NOT EXISTS idx_audit_unsettled ON audit(next_check_at)"
               " WHERE status = 'unknown' AND settled_at IS NULL")


@migrations()
def m011_device_source(db: Database) -> None:
    """Where a stored device came from ("devices_file", "given"; NULL: unknown), so that the origin stays
    authoritative: a device it no longer lists is dropped at start."""
    if "source" not in db["devices"].columns_dict:
        db["devices"].add_column("source", str)


@migrations()
def m012_inbox_standing(db: Database) -> None:
    """The sender's standing ("owner" or "guest") as the channel decided it when the message arrived; NULL for
    rows stored before, whose standing the agent derives as it used to."""
    if "standing" not in db["inbox"].columns_dict:
        db["inbox"].add_column("standing", str)


@migrations()
def m013_camera_events(db: Database) -> None:
    """Camera events, one row per visit: when it started and ended, what was seen (labels with scores, boxes,
    zones), the snapshot and before/after pictures on disk, an optional caption, and when its alert was queued
    (set in the same transaction as the alert's outbox rows, so an alert is queued at most once)."""
    db["camera_events"].create(
        {"id": int, "camera": str, "started_at": float, "last_motion_at": float, "ended_at": float,
         "labels": str, "boxes": str, "zones": str, "snapshot": str, "before_path": str, "after_path": str,
         "caption": str, "alert": int, "alerted_at": float, "created_at": float},
        pk="id", not_null={"camera", "started_at", "last_motion_at", "labels", "boxes", "zones", "alert",
                           "created_at"},
        defaults={"labels": "[]", "boxes": "[]", "zones": "[]", "alert": 1}, if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_camera_events_camera ON camera_events(camera, started_at)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_camera_events_started ON camera_events(started_at)")


@migrations()
def m014_routines(db: Database) -> None:
    """Routines (the truth the scheduler's jobs are rebuilt from), their run ledger (one row per routine and
    scheduled slot, written before any step runs: a slot runs at most once across restarts) and each run's
    per-step progress (a run resumed after a crash skips the steps already done)."""
    db["routines"].create(
        {"id": int, "name": str, "trigger": str, "steps": str, "tz": str, "missed": str, "grace": float,
         "paused": int, "anchor": float, "created_at": float, "updated_at": float},
        pk="id", not_null={"name", "trigger", "steps", "tz", "missed", "grace", "paused", "anchor", "created_at",
                           "updated_at"},
        defaults={"missed": "catch_up", "grace": 600.0, "paused": 0}, if_not_exists=True,
    )
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_routines_name ON routines(name COLLATE NOCASE)")
    db["routine_runs"].create(
        {"id": int, "routine_id": int, "name": str, "slot_utc": float, "kind": str, "status": str, "steps": str,
         "note": str, "created_at": float, "started_at": float, "finished_at": float},
        pk="id", not_null={"routine_id", "name", "slot_utc", "kind", "status", "steps", "created_at"},
        defaults={"steps": "[]"}, if_not_exists=True,
    )
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS idx_routine_runs_slot ON routine_runs(routine_id, slot_utc)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_routine_runs_status ON routine_runs(status)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_routine_runs_created ON routine_runs(created_at)")
    db["routine_steps"].create(
        {"run_id": int, "idx": int, "kind": str, "status": str, "detail": str, "started_at": float,
         "finished_at": float},
        pk=("run_id", "idx"), foreign_keys=[("run_id", "routine_runs", "id")],
        not_null={"kind", "status", "started_at"}, if_not_exists=True,
    )
    db["routine_revision"].create({"id": int, "rev": int}, pk="id", not_null={"rev"}, if_not_exists=True)
    db.execute("INSERT OR IGNORE INTO routine_revision (id, rev) VALUES (1, 0)")


@migrations()
def m015_timers(db: Database) -> None:
    """Timers and delayed commands (memory.store_timers): a timer's end is told once."""
    from memory.store_timers import create_timers

    create_timers(db)


@migrations()
def m016_scenes(db: Database) -> None:
    """Scenes (memory.store_scenes): a name and its device commands."""
    from memory.store_scenes import create_scenes

    create_scenes(db)


@migrations()
def m017_camera_rules(db: Database) -> None:
    """The owner's "ignore this" / "this is important" on camera alerts (memory.store_cameras)."""
    from memory.store_cameras import create_camera_rules

    create_camera_rules(db)


@migrations()
def m018_discovered(db: Database) -> None:
    """Devices discovery has seen, by identity, with the owner's verdict (memory.store_discovery)."""
    from memory.store_discovery import create_discovered

    create_discovered(db)


@migrations()
def m019_adapter_versions(db: Database) -> None:
    """Adapter versions (memory.store_adapters): learned and hand-written specs, approval and rollback."""
    from memory.store_adapters import create_adapter_versions

    create_adapter_versions(db)


@migrations()
def m020_camera_changes_and_rules(db: Database) -> None:
    """Persistent change on camera_events (kind appeared/taken, the event it refers to, when a thing left was
    taken; one change per referred event) and the owner's camera rules said by chat (memory.store_camera_changes)."""
    from memory.store_camera_changes import create_camera_changes

    create_camera_changes(db)


@migrations()
def m022_turn_meta(db: Database) -> None:
    """Which tier answered each inbox row and the tools it called, for the dashboard's chat (memory.store_dashboard)."""
    from memory.store_dashboard import create_turn_meta

    create_turn_meta(db)


@migrations()
def m023_web_sessions(db: Database) -> None:
    """The dashboard's signed-in browsers, so that signing out ends a session for good (memory.store_sessions)."""
    from memory.store_sessions import create_web_sessions

    create_web_sessions(db)


def apply(db: Database) -> list[str]:
    """Apply pending migrations; return the names applied now (empty when the schema is current)."""
    pending = [m.name for m in migrations.pending(db)]
    if pending:
        migrations.apply(db)
        log.info("memory: applied migrations %s", ", ".join(pending))
    return pending


def applied(db: Database) -> list[str]:
    """Names of the migrations already applied to this database, in order."""
    return [m.name for m in migrations.applied(db)]
