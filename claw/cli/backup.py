"""`claw backup FILE` and `claw restore FILE`: a consistent copy of the claw's data, and bringing it back."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from claw.cli.common import fail, settings_or_exit
from claw.errors import ClawError


def backup_command(
        file: Annotated[Path, typer.Argument(help="The archive to write (tar.gz); - : to stdout.")],
        with_secrets: Annotated[bool, typer.Option(help="Keep the secrets (claw.toml's keys, the web token).")]
        = False) -> None:
    """Back up the database (online: the claw may keep running), the soul and its versions, the data dir and
    claw.toml (without its secrets unless --with-secrets) into one archive."""
    from claw.backup.archive import create_backup

    settings = settings_or_exit()
    to_stdout = str(file) == "-"  # `sudo claw backup - > /root/homeclaw.tar.gz`: written by the caller's shell
    with tempfile.TemporaryDirectory(prefix="claw-backup-out-") as tmp:
        target = Path(tmp) / "backup.tar.gz" if to_stdout else file
        try:
            manifest = create_backup(settings, target, with_secrets=with_secrets)
            size = target.stat().st_size
            if to_stdout:
                with target.open("rb") as f:
                    shutil.copyfileobj(f, sys.stdout.buffer)
                sys.stdout.buffer.flush()
        except (ClawError, OSError) as exc:
            fail(exc)
    schema = manifest.migrations[-1] if manifest.migrations else "empty"
    where = "the standard output" if to_stdout else str(file)
    typer.echo(f"wrote {where} ({size / 1024:.0f} KiB, {len(manifest.files)} files, schema {schema})", err=to_stdout)
    for note in manifest.notes:
        typer.echo(f"note: {note}", err=to_stdout)


def restore_command(
        file: Annotated[Path, typer.Argument(help="An archive from `claw backup`; - : from stdin.")],
        force: Annotated[bool, typer.Option(help="Replace a data dir that already holds data.")] = False) -> None:
    """Restore a backup into the data dir (an empty one unless --force); a backup from a newer homeclaw (a
    database schema this version does not know) is refused. Stop the claw first."""
    from claw.backup.archive import restore_backup

    settings = settings_or_exit()
    with tempfile.TemporaryDirectory(prefix="claw-restore-in-") as tmp:
        source = file
        try:
            if str(file) == "-":  # `sudo claw restore - < backup.tar.gz`
                source = Path(tmp) / "backup.tar.gz"
                with source.open("wb") as f:
                    shutil.copyfileobj(sys.stdin.buffer, f)
            done = restore_backup(settings, source, force=force)
        except (ClawError, OSError) as exc:
            fail(exc)
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(done.manifest.created_at))
    typer.echo(f"restored the backup of {made} (homeclaw {done.manifest.homeclaw_version}) into {done.data_dir}")
    if done.migrated:
        typer.echo(f"migrated forward: {', '.join(done.migrated)}")
    for line in done.placed:
        typer.echo(line)
    if not done.manifest.with_secrets:
        typer.echo("secrets were not in the backup: set them again (/etc/homeclaw/env or claw.toml)")
