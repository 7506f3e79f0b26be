"""`claw pair list|approve CODE|deny CODE`: decide on WhatsApp numbers that asked for access with a code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from claw.channels.access import decide, pending_list
from claw.channels.whatsapp.numbers import CHANNEL, normalize_number
from claw.cli.common import settings_or_exit

if TYPE_CHECKING:
    from memory.store import Store

pair_app = typer.Typer(help="List, approve and deny WhatsApp numbers waiting with a pairing code; pair a device hub.",
                       no_args_is_help=True)

CodeArg = Annotated[str, typer.Argument(help="The 6-digit code the number was given.")]


@contextmanager
def _store() -> Iterator[Store]:
    from memory.store import Store

    settings = settings_or_exit()
    settings.ensure_data_dir()
    store = Store(settings.db_path)
    try:
        yield store
    finally:
        store.close()


@pair_app.command("list")
def list_pending() -> None:
    """Numbers waiting for approval, with their codes and time left."""
    now = time.time()
    with _store() as store:
        rows = pending_list(store, now, CHANNEL)
        approved = store.senders_list(CHANNEL, "allowed")
    if not rows:
        typer.echo("no one is waiting for approval")
    for row in rows:
        left = max(0, round((row["code_expires_at"] - now) / 60))
        typer.echo(f"{row['code']}  {normalize_number(row['address']) or row['address']:18} {left} min left")
    if approved:
        typer.echo("approved: " + ", ".join(normalize_number(r["address"]) or r["address"] for r in approved))


def _decide(code: str, approve: bool) -> None:
    from claw.channels.notify import Notifier

    with _store() as store:
        # the approval notice is stored through a Notifier like every notice, for the running claw's outbox to
        # send (it polls); one short message on the number's own channel, so no owner route or split applies
        notifier = Notifier(store, {}, max_messages=1, owner_route=("web", "owner"))
        row = decide(store, code, approve, notify=notifier.send)
    if row is None:
        typer.echo(f"no one is waiting with code {code} (codes expire; see `claw pair list`)", err=True)
        raise typer.Exit(1)
    who = normalize_number(row["address"]) or row["address"]
    typer.echo(f"approved {who}: they can talk to the claw now" if approve else f"denied {who}")


@pair_app.command()
def approve(code: CodeArg) -> None:
    """Let the number holding this code talk to the claw (it is told so on WhatsApp)."""
    _decide(code, True)


@pair_app.command()
def deny(code: CodeArg) -> None:
    """Refuse the number holding this code; it gets no further replies or codes."""
    _decide(code, False)
