"""`claw soul show|edit|history|revert`: look at and change the claw's personality file."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from typing import TYPE_CHECKING, Annotated

import typer

from claw.cli.common import fail, settings_or_exit
from claw.errors import ClawError

if TYPE_CHECKING:
    from claw.soul.manager import Voice

soul_app = typer.Typer(help="Show, edit, list and revert soul.md (the claw's personality).",
                       no_args_is_help=True)


def _manager():  # noqa: ANN202 - typed by SoulManager below, imported lazily to keep `claw --help` fast
    from claw.soul.manager import SoulManager
    from memory.store import Store

    settings = settings_or_exit()
    settings.ensure_data_dir()
    return SoulManager(settings.soul_file, Store(settings.db_path))


def describe_voice(voice: Voice) -> str:
    """The voice in soul.md's own words: "name: Jeeves, tone: formal, length: concise"."""
    return (f"name: {voice.name}, tone: {'formal' if voice.formal else 'casual'}, "
            f"length: {'concise' if voice.concise else 'normal'}")


@soul_app.command()
def show() -> None:
    """Print the soul in use and its path (warns when it fell back to the last good version)."""
    manager = _manager()
    snap = manager.current()
    typer.echo(f"# {manager.path} (version {snap.version_id}; {describe_voice(snap.voice)})")
    if snap.warning:
        typer.echo(f"warning: {snap.warning}", err=True)
    typer.echo(snap.text)


@soul_app.command()
def edit() -> None:
    """Open soul.md in $EDITOR; the running claw picks up the change on its next turn."""
    manager = _manager()
    manager.current()
    var = "VISUAL" if os.environ.get("VISUAL") else "EDITOR" if os.environ.get("EDITOR") else None
    editor = os.environ[var] if var else "vi"
    try:
        subprocess.call([*(shlex.split(editor) or ["vi"]), str(manager.path)])
    except (OSError, ValueError) as exc:  # not installed, not executable, or unbalanced quotes
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        source = f"${var}" if var else "the default editor"
        typer.echo(f"error: cannot start the editor {editor!r} ({source}): {why}; set VISUAL or EDITOR to an "
                   f"installed editor, or edit {manager.path} directly", err=True)
        raise typer.Exit(1) from None
    snap = manager.current()
    if snap.warning:
        typer.echo(f"warning: {snap.warning}", err=True)
        raise typer.Exit(1)
    typer.echo(f"soul is now version {snap.version_id} ({describe_voice(snap.voice)})")


@soul_app.command()
def history(limit: Annotated[int, typer.Option(help="How many versions.")] = 20) -> None:
    """List stored versions of soul.md, newest first."""
    manager = _manager()
    manager.current()
    for row in manager.history(limit):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["created_at"]))
        first = next((ln for ln in row["text"].splitlines() if ln.strip()), "")[:50]
        typer.echo(f"{row['id']:>4}  {when}  {row['source']:8} {row['size']:>6} B  {first}")


@soul_app.command()
def revert(version: Annotated[int, typer.Argument(help="Version id from `claw soul history`.")]) -> None:
    """Write an older version back to soul.md (stored as a new version)."""
    manager = _manager()
    try:
        snap = manager.revert(version)
    except ClawError as exc:
        fail(exc, 1)
    typer.echo(f"reverted: soul is now version {snap.version_id}")
