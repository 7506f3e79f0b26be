"""The `claw` command: init, run, demo, chat, ask, token, devices, doctor, and the `soul` and `pair` groups."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from claw.cli_doctor import doctor_command
from claw.cli_pair import pair_app
from claw.cli_soul import soul_app
from claw.config import CONFIG_TEMPLATE, Settings, config_file, load_settings
from claw.errors import ClawError
from devices.errors import DeviceError

T = TypeVar("T")

app = typer.Typer(help="homeclaw: a home-automation agent you can text.", no_args_is_help=True,
                  add_completion=False)
app.add_typer(soul_app, name="soul")
app.add_typer(pair_app, name="pair")
app.command("doctor")(doctor_command)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ClawError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it comes with uvicorn[standard]): a faster event loop for the same code."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_or_exit(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; a ClawError or DeviceError becomes a one-line error and exit code 2."""
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(coro)
    except (ClawError, DeviceError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def setup_logging(settings: Settings, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else getattr(logging, settings.log_level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "soco", "openai", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@app.command()
def init(force: Annotated[bool, typer.Option(help="Overwrite an existing claw.toml.")] = False) -> None:
    """Write a commented claw.toml (to CLAW_CONFIG or the data dir) and create the data dir."""
    settings = settings_or_exit()
    path = config_file()
    if path.exists() and not force:
        typer.echo(f"{path} exists; use --force to overwrite")
        raise typer.Exit(1)
    settings.ensure_data_dir()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG_TEMPLATE.format(data_dir=settings.data_dir), encoding="utf-8")
    typer.echo(f"wrote {path}\ndata dir: {settings.data_dir}")


@app.command()
def token() -> None:
    """Print the web UI token and the chat URL (the token is generated on first use)."""
    settings = settings_or_exit()
    typer.echo(f"http://{settings.web.host}:{settings.web.port}/#token={settings.web_token()}")


@app.command()
def run(host: Annotated[str | None, typer.Option(help="Bind address (default from config: 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default from config: 8000).")] = None) -> None:
    """Run the claw: agent, outbox and web API, with the devices from the store and devices_file."""
    from claw.serve import serve

    settings = settings_or_exit()
    setup_logging(settings)
    run_or_exit(serve(settings, host=host, port=port))


@app.command()
def demo(home: Annotated[Path | None, typer.Option(help="YAML file describing a simulated home.")] = None,
         port: Annotated[int | None, typer.Option(help="Web port (default 8000).")] = None,
         console: Annotated[bool | None, typer.Option(help="Chat on this console too (default: if a TTY).")]
         = None) -> None:
    """Run the claw with a simulated home on loopback: web chat and console chat, no hardware needed."""
    from claw.serve import serve_demo

    settings = settings_or_exit()
    settings = settings.model_copy(update={"data_dir": settings.data_dir / "demo"})
    setup_logging(settings, quiet=True)
    use_console = sys.stdin.isatty() if console is None else console
    run_or_exit(serve_demo(settings, home_file=home, port=port, console=use_console))


@app.command()
def chat(demo: Annotated[bool, typer.Option("--demo", help="Start a simulated home for this chat.")] = False,
         home: Annotated[Path | None, typer.Option(help="YAML file describing a simulated home.")] = None
         ) -> None:
    """Chat with the claw on this console (same agent path as WhatsApp and the web chat)."""
    from claw.console import run_console

    settings = settings_or_exit()
    if demo:
        settings = settings.model_copy(update={"data_dir": settings.data_dir / "demo"})
    setup_logging(settings, quiet=True)
    run_or_exit(run_console(settings, demo=demo, home_file=home))


@app.command()
def ask(text: Annotated[str, typer.Argument(help="What to say to the claw.")],
        demo: Annotated[bool, typer.Option("--demo", help="Start a simulated home for this one call.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print reply, tier, actions and states.")] = False,
        home: Annotated[Path | None, typer.Option(help="With --demo: YAML of a simulated home.")] = None
        ) -> None:
    """Run exactly one turn through the normal path and print the reply."""
    from claw.console import ask_once

    settings = settings_or_exit()
    tmp = None
    if demo:
        tmp = tempfile.TemporaryDirectory(prefix="claw-ask-")
        settings = settings.model_copy(update={"data_dir": Path(tmp.name)})
    setup_logging(settings, quiet=True)
    try:
        out = run_or_exit(ask_once(settings, text, demo=demo, home_file=home))
    finally:
        if tmp is not None:
            tmp.cleanup()
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2) if as_json else out["reply"])


@app.command()
def devices() -> None:
    """List the devices the claw knows (from the store and devices_file)."""
    from claw.app import load_devices_file
    from devices.models import Device
    from memory.store import Store

    settings = settings_or_exit()
    settings.ensure_data_dir()
    store = Store(settings.db_path)
    known = [Device.from_dict(r) for r in store.devices_all()]
    store.close()
    if settings.devices_file:
        try:
            known += load_devices_file(settings.devices_file)
        except ClawError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    if not known:
        typer.echo("no devices yet (set devices_file in claw.toml, or try `claw demo`)")
    for d in known:
        typer.echo(f"{d.id:40} {d.name:24} {d.room or '-':14} {d.kind:8} {','.join(sorted(d.capabilities))}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
