"""`claw vision fetch-model [ID]`: download the detection model from the hub once, with a progress bar."""

from __future__ import annotations

from typing import Annotated

import typer

from claw.cli.common import fail, settings_or_exit

vision_app = typer.Typer(help="The cameras' vision model.", no_args_is_help=True)


@vision_app.command("fetch-model")
def fetch_model_command(
    hub_id: Annotated[str | None, typer.Argument(help="A hub id such as PekingU/rtdetr_r18vd; default: "
                                                      "[vision] detector.")] = None,
    revision: Annotated[str | None, typer.Option(help="A branch, tag or commit of the model.")] = None,
) -> None:
    """Download an object-detection model into <data dir>/models/ (once; the claw never downloads on its own)."""
    from claw.cameras.models import ModelError, fetch, hub_folder, is_hub_id

    settings = settings_or_exit()
    configured = settings.vision.detector
    wanted = hub_id or configured
    if not wanted:
        fail("no model given: name one (claw vision fetch-model PekingU/rtdetr_r18vd) or set [vision] detector")
    if not is_hub_id(wanted):
        fail(f"“{wanted}” is not a hub id (owner/name); a local folder needs no fetching")
    models = settings.data_dir / "models"
    typer.echo(f"Fetching {wanted} into {hub_folder(models, wanted)} …")
    try:
        folder = fetch(wanted, models, revision=revision)
    except ModelError as exc:
        fail(exc, code=1)
    typer.echo(f"Ready: {folder}")
    if configured != wanted:
        typer.echo(f'Set [vision] detector = "{wanted}" in claw.toml and restart the claw to use it.')
    else:
        typer.echo("Restart the claw to use it.")
