"""`claw backup` / `claw restore`: an online copy while 200 messages are processed, restored whole; schema and
secret rules; the manifest's pure logic."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from claw.backup.archive import create_backup, known_migrations, read_manifest, restore_backup, secret_keys
from claw.backup.manifest import BackupError, FileEntry, Manifest, parse_manifest, restorable, strip_secrets
from claw.cli import app
from claw.events import InboundMessage
from devices.sim.home import SimHome
from memory.store import Store
from tests.conftest import make_settings, running_claw

runner = CliRunner()


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


INBOX = "SELECT id, channel, sender, text, external_id FROM inbox ORDER BY id"
FACTS = "SELECT id, text, source FROM facts ORDER BY id"
SOULS = "SELECT id, sha256, text FROM soul_versions ORDER BY id"
DEVICES = "SELECT id, name, room, driver, address FROM devices ORDER BY id"


def message(i: int) -> str:
    if i % 4 == 0:
        return f"remember that parcel {i} goes on shelf {i % 7}"
    return f"turn {'on' if i % 2 else 'off'} the kitchen light"


async def test_backup_while_200_messages_are_processed_restores_everything(home: SimHome, tmp_path: Path) -> None:
    async with running_claw(home, tmp_path) as claw:
        first = claw.soul.current()
        claw.soul.write(first.text + "\n- Keep answers short.\n", source="test")  # a second soul version
        live = claw.settings.db_path
        submitted = 0

        async def push() -> None:  # 200 owner messages into the web inbox, interleaved with the backups
            nonlocal submitted
            for i in range(200):
                claw.agent.submit(InboundMessage("web", claw.settings.owner, message(i), external_id=f"m{i}",
                                                 standing="owner"))
                submitted += 1
                await asyncio.sleep(0.002)

        pushing = asyncio.create_task(push())
        while submitted < 60:
            await asyncio.sleep(0.01)
        mid = tmp_path / "mid.tar.gz"
        at_start = submitted
        await asyncio.to_thread(create_backup, claw.settings, mid)  # the claw keeps taking and running turns
        await pushing
        during = tmp_path / "during.tar.gz"
        await asyncio.to_thread(create_backup, claw.settings, during)  # all 200 stored, turns still running
        still_running = rows(live, "SELECT count(*) FROM inbox WHERE status NOT IN ('done', 'failed')")[0][0]
        for _ in range(1500):
            if not rows(live, "SELECT count(*) FROM inbox WHERE status NOT IN ('done', 'failed')")[0][0]:
                break
            await asyncio.sleep(0.02)
        final = tmp_path / "final.tar.gz"
        await asyncio.to_thread(create_backup, claw.settings, final)
        expected = {q: rows(live, q) for q in (INBOX, FACTS, SOULS, DEVICES)}
    print(f"backups taken with {at_start} and 200 messages stored, {still_running} turns still running")

    assert len(expected[INBOX]) == 200 and len(expected[FACTS]) == 50 and len(expected[SOULS]) == 2
    assert len(expected[DEVICES]) == len(home.devices)
    for name, archive in (("mid", mid), ("during", during), ("final", final)):
        settings = make_settings(tmp_path / name)
        done = restore_backup(settings, archive)
        assert done.migrated == [] and done.manifest.migrations == tuple(known_migrations())
        db = settings.db_path
        assert rows(db, "PRAGMA integrity_check") == [("ok",)] and rows(db, "PRAGMA foreign_key_check") == []
        inbox = rows(db, INBOX)
        assert set(inbox) <= set(expected[INBOX])  # a snapshot of the live rows, never a torn or invented one
        assert rows(db, SOULS) == expected[SOULS] and rows(db, DEVICES) == expected[DEVICES]
        # a turn is whole in the copy: every finished "remember" turn has its fact there
        facts = {t for _, t, _ in rows(db, FACTS)}
        for text, status in rows(db, "SELECT text, status FROM inbox"):
            if status == "done" and text.startswith("remember that "):
                assert text.removeprefix("remember that ") in facts, text
        assert set(rows(db, FACTS)) <= set(expected[FACTS])
        if name == "mid":
            assert len(inbox) >= at_start
        else:
            assert inbox == expected[INBOX]  # every message
        if name == "final":
            assert rows(db, FACTS) == expected[FACTS]  # every fact
        store = Store(db)  # the restored database opens as a claw's would, nothing left to migrate
        assert store.migrated == [] and len(store.soul_versions(limit=10)) == 2
        store.close()
        assert (settings.data_dir / "soul.md").read_text() == first.text + "\n- Keep answers short.\n"


def test_cli_backup_and_restore_keep_secrets_out_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "claw.toml"
    config.write_text('default_area = "kitchen"\n[llm]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
                      'api_key = "sk-SECRET-1"\n[twilio]\nauth_token = "SECRET-2"\nwebhook_shared_keys = [\n'
                      '  "SECRET-3",\n]\n[[cameras]]\nname = "door"\nurl = "rtsp://127.0.0.1:9/x"\n'
                      'password = "SECRET-4"\n', encoding="utf-8")
    monkeypatch.setenv("CLAW_CONFIG", str(config))
    data = tmp_path / "data"
    assert runner.invoke(app, ["backup", str(tmp_path / "none.tar.gz")]).exit_code == 2  # no database yet
    store = Store(data / "claw.db")
    store.fact_add("the spare key is under the mat", "owner")
    store.close()
    (data / "adapters").mkdir()
    (data / "adapters" / "my-plug.yaml").write_text("name: my-plug\n", encoding="utf-8")
    (data / "web_token").write_text("TOKEN-SECRET\n")
    (data / "soul.md").write_text("# Soul\nname: Jeeves\n", encoding="utf-8")

    result = runner.invoke(app, ["backup", str(tmp_path / "b.tar.gz")])
    assert result.exit_code == 0, result.output
    assert "api_key" in result.output and "SECRET" not in result.output
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        names = tar.getnames()
        blob = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
        kept = tomllib.loads(tar.extractfile("claw.toml").read().decode())  # type: ignore[union-attr]
    assert b"SECRET" not in blob and "data/web_token" not in names
    assert {"manifest.json", "claw.db", "soul.md", "claw.toml", "data/adapters/my-plug.yaml"} <= set(names)
    assert kept["default_area"] == "kitchen" and kept["llm"]["model"] == "m" and "api_key" not in kept["llm"]
    assert (tmp_path / "b.tar.gz").stat().st_mode & 0o077 == 0

    result = runner.invoke(app, ["backup", "--with-secrets", str(tmp_path / "s.tar.gz")])
    assert result.exit_code == 0, result.output
    with tarfile.open(tmp_path / "s.tar.gz") as tar:
        assert "data/web_token" in tar.getnames() and b"SECRET-4" in tar.extractfile("claw.toml").read()  # type: ignore[union-attr]

    result = runner.invoke(app, ["restore", str(tmp_path / "b.tar.gz")])  # the data dir holds data
    assert result.exit_code == 2 and "already holds data" in result.output and "--force" in result.output

    fresh = tmp_path / "fresh"
    monkeypatch.setenv("CLAW_DATA_DIR", str(fresh))
    result = runner.invoke(app, ["restore", str(tmp_path / "b.tar.gz")])
    assert result.exit_code == 0, result.output
    assert "claw.toml from the backup is at" in result.output  # the existing config is never overwritten
    assert rows(fresh / "claw.db", "SELECT text FROM facts") == [("the spare key is under the mat",)]
    assert (fresh / "adapters" / "my-plug.yaml").read_text() == "name: my-plug\n"
    assert (fresh / "soul.md").read_text().startswith("# Soul")
    assert not (fresh / "web_token").exists()
    assert "SECRET" not in (tmp_path / "claw.toml.from-backup").read_text()

    (fresh / "claw.db").write_bytes(b"")  # --force replaces what is there
    result = runner.invoke(app, ["restore", "--force", str(tmp_path / "s.tar.gz")])
    assert result.exit_code == 0, result.output
    assert (fresh / "web_token").read_text() == "TOKEN-SECRET\n" and len(rows(fresh / "claw.db", FACTS)) == 1


def test_restore_refuses_a_newer_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    Store(data / "claw.db").close()
    conn = sqlite3.connect(data / "claw.db")  # as a later homeclaw would leave it: one more migration applied
    conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                 "VALUES ('homeclaw', 'm999_future', '2030-01-01 00:00:00+00:00')")
    conn.commit()
    conn.close()
    result = runner.invoke(app, ["backup", str(tmp_path / "new.tar.gz")])
    assert result.exit_code == 0, result.output
    assert read_manifest(tmp_path / "new.tar.gz").migrations[-1] == "m999_future"
    monkeypatch.setenv("CLAW_DATA_DIR", str(tmp_path / "fresh"))
    result = runner.invoke(app, ["restore", str(tmp_path / "new.tar.gz")])
    assert result.exit_code == 2 and "newer than this homeclaw" in result.output and "m999_future" in result.output
    assert not (tmp_path / "fresh" / "claw.db").exists()


def test_restore_runs_missing_migrations_forward_and_refuses_damage(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store(data / "claw.db").close()
    conn = sqlite3.connect(data / "claw.db")  # as an older homeclaw left it: the last migration not yet run
    last = known_migrations()[-1]
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = ?", (last,))
    conn.commit()
    conn.close()
    archive = tmp_path / "old.tar.gz"
    create_backup(make_settings(tmp_path), archive)
    done = restore_backup(make_settings(tmp_path / "new"), archive)
    assert done.migrated == [last]
    assert rows(tmp_path / "new" / "data" / "claw.db", f"SELECT count(*) FROM _sqlite_migrations WHERE name = '{last}'"
                ) == [(1,)]
    with tarfile.open(archive) as tar:  # a damaged copy: one member's bytes changed
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]  # type: ignore[union-attr]
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for m, body in members:
            if m.name == "claw.db" and body is not None:
                body = body[:-1] + bytes([body[-1] ^ 1])
            tar.addfile(m, io.BytesIO(body) if body is not None else None)
    with pytest.raises(BackupError, match="does not match its checksum"):
        restore_backup(make_settings(tmp_path / "bad"), bad)
    assert not (tmp_path / "bad" / "data" / "claw.db").exists()


# the pure parts -------------------------------------------------------------------------------------

def manifest(migrations: tuple[str, ...], files: tuple[FileEntry, ...] = ()) -> Manifest:
    return Manifest(homeclaw_version="9.9", created_at=1.0, migrations=migrations, files=files)


def test_manifest_round_trip_and_schema_rule() -> None:
    m = manifest(("m001", "m002"), (FileEntry("claw.db", 3, "ab"),))
    assert parse_manifest(m.to_json()) == m
    assert restorable(m, ["m001", "m002", "m003"]) == ["m003"]
    assert restorable(m, ["m001", "m002"]) == []
    with pytest.raises(BackupError, match="newer than this homeclaw .*m002"):
        restorable(m, ["m001"])


@pytest.mark.parametrize("text,why", [
    ("[]", "not an object"), ("{}", "no format number"), ('{"format": 1}', "bad manifest.json"),
    (json.dumps({"format": 2, "files": []}), "format 2 is newer"),
    (json.dumps({"format": 1, "homeclaw_version": "1", "created_at": 1, "migrations": [],
                 "files": [{"name": "../etc/passwd", "size": 1, "sha256": "x"}]}), "unsafe member name"),
    (json.dumps({"format": 1, "homeclaw_version": "1", "created_at": 1, "migrations": [],
                 "files": [{"name": "/etc/passwd", "size": 1, "sha256": "x"}]}), "unsafe member name"),
])
def test_bad_manifests_are_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(BackupError, match=why):
        parse_manifest(text)


def test_strip_secrets_removes_every_secret_and_keeps_the_rest() -> None:
    keys = secret_keys()
    assert {"api_key", "token", "auth_token", "password", "webhook_shared_keys"} <= keys
    assert "model" not in keys and "owners" not in keys
    text = ('owner = "me"\n[web]\ntoken = "T"  # comment\nport = 8001\n[twilio]\nowners = ["+1"]\n'
            'webhook_shared_keys = ["a",\n  "b"]\nauth_token = \'x\'\n[[cameras]]\nname = "c"\nurl = "u"\n'
            'password = "p"\n')
    out, removed = strip_secrets(text, keys)
    parsed = tomllib.loads(out)
    assert sorted(removed) == ["auth_token", "password", "token", "webhook_shared_keys"]
    assert parsed == {"owner": "me", "web": {"port": 8001}, "twilio": {"owners": ["+1"]},
                      "cameras": [{"name": "c", "url": "u"}]}
    with pytest.raises(BackupError, match="safely"):  # a secret in an inline table cannot be cut out by line
        strip_secrets('web = { token = "T" }\n', keys)


def test_backup_to_stdout_and_restore_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sudo claw backup - > file` (the admin command runs as the service user; the caller's shell writes)."""
    import subprocess
    import sys

    store = Store(tmp_path / "data" / "claw.db")
    store.fact_add("the boiler was serviced in May", "owner")
    store.close()
    env = {"CLAW_DATA_DIR": str(tmp_path / "data"), "CLAW_CONFIG": str(tmp_path / "none.toml"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "claw.cli", "backup", "-"], capture_output=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout[:2] == b"\x1f\x8b" and b"wrote the standard output" in out.stderr  # gzip on stdout only
    back = subprocess.run([sys.executable, "-m", "claw.cli", "restore", "-"], input=out.stdout, capture_output=True,
                          env={**env, "CLAW_DATA_DIR": str(tmp_path / "again")}, timeout=60)
    assert back.returncode == 0, back.stderr
    assert rows(tmp_path / "again" / "claw.db", "SELECT text FROM facts") == [("the boiler was serviced in May",)]
