"""`claw backup FILE` and `claw restore FILE`: a consistent copy of the claw's data, and bringing it back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from claw.cli.common import fail, settings_or_exit
from claw.errors import ClawError


def backup_command(
        file: Annotated[Path, typer.Argument(help="The archive to write (tar.gz), e.g. homeclaw-2026-12-03.tar.gz.")],
        with_secrets: Annotated[bool, typer.Option(help="Keep the secrets (claw.toml's keys, the web token).")]
        = False) -> None:
    """Back up the database (online: the claw may keep running), the soul and its versions, the data dir and
    claw.toml (without its secrets unless --with-secrets) into one archive."""
    from claw.backup.archive import create_backup

    settings = settings_or_exit()
    try:
        manifest = create_backup(settings, file, with_secrets=with_secrets)
    except (ClawError, OSError) as exc:
        fail(exc)
    size = file.stat().st_size
    schema = manifest.migrations[-1] if manifest.migrations else "empty"
    typer.echo(f"wrote {file} ({size / 1024:.0f} KiB, {len(manifest.files)} files, schema {schema})")
    for note in manifest.notes:
        typer.echo(f"note: {note}")


def restore_command(
        file: Annotated[Path, typer.Argument(help="An archive made by `claw backup`.")],
        force: Annotated[bool, typer.Option(help="Replace a data dir that already holds data.")] = False) -> None:
    """Restore a backup into the data dir (an empty one unless --force); a backup from a newer homeclaw (a
    database schema this version does not know) is refused. Stop the claw first."""
    from claw.backup.archive import restore_backup

    settings = settings_or_exit()
    try:
        done = restore_backup(settings, file, force=force)
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
