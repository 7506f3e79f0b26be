"""The `claw` command: the Typer app, with one module per command group, and `main` (the entry point)."""

from __future__ import annotations

from typing import Annotated

import typer

from claw import __version__
from claw.cli.adapters import adapters_app
from claw.cli.backup import backup_command, restore_command
from claw.cli.chat import ask_command, chat_command
from claw.cli.devices import devices_command, token_command
from claw.cli.discover import discover_command
from claw.cli.doctor import doctor_command
from claw.cli.pair import pair_app
from claw.cli.pair_device import pair_device_command
from claw.cli.routines import routines_app
from claw.cli.run import demo_command, init_command, run_command
from claw.cli.soul import soul_app
from claw.cli.vision import vision_app

app = typer.Typer(help="homeclaw: a home-automation agent you can text.", no_args_is_help=True,
                  add_completion=False)
# registration order is the order of `claw --help`
app.command("doctor")(doctor_command)
app.command("init")(init_command)
app.command("token")(token_command)
app.command("run")(run_command)
app.command("demo")(demo_command)
app.command("chat")(chat_command)
app.command("ask")(ask_command)
app.command("devices")(devices_command)
app.command("discover")(discover_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.add_typer(soul_app, name="soul")
pair_app.command("device")(pair_device_command)  # `claw pair device HOST:PORT`: a hub's link button
app.add_typer(pair_app, name="pair")
app.add_typer(routines_app, name="routines")
app.add_typer(adapters_app, name="adapters")
app.add_typer(vision_app, name="vision")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"homeclaw {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print homeclaw's version and exit.")] = False) -> None:
    """homeclaw: a home-automation agent you can text."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
