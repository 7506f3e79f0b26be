"""The `claw` command: init, run, demo, chat, ask, token, devices, doctor, and the `soul` and `pair` groups."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from claw.cli.doctor import doctor_command
from claw.cli.pair import pair_app
from claw.cli.soul import soul_app
from claw.config import CONFIG_TEMPLATE, Settings, config_file, load_settings
from claw.errors import ClawError
from devices.errors import DeviceError

if TYPE_CHECKING:
    from devices.models import Device

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


def demo_settings(settings: Settings) -> Settings:
    """The settings of `claw demo` (and `claw chat --demo`): the same, with the data dir <data dir>/demo."""
    return settings.model_copy(update={"data_dir": settings.data_dir / "demo"})


def demo_option() -> Any:
    return typer.Option("--demo", help="The `claw demo` claw (its data dir is <data dir>/demo).")


@app.command()
def token(demo: Annotated[bool, demo_option()] = False) -> None:
    """Print the web UI token and the chat URL (the token is generated on first use)."""
    from claw.running import running, url_host

    settings = settings_or_exit()
    if demo:
        settings = demo_settings(settings)
    host, port = running(settings) or (settings.web.host, settings.web.port)
    typer.echo(f"http://{url_host(host)}:{port}/#token={settings.web_token()}")


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

    settings = demo_settings(settings_or_exit())
    setup_logging(settings, quiet=True)
    use_console = sys.stdin.isatty() if console is None else console
    run_or_exit(serve_demo(settings, home_file=home, port=port, console=use_console))


@app.command()
def chat(demo: Annotated[bool, typer.Option("--demo", help="Start a simulated home for this chat.")] = False,
         home: Annotated[Path | None, typer.Option(help="YAML file describing a simulated home.")] = None
         ) -> None:
    """Chat with the claw on this console (same agent path as WhatsApp and the web chat)."""
    from claw.channels.console import run_console

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
    from claw.channels.console import ask_once

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
def devices(demo: Annotated[bool, demo_option()] = False) -> None:
    """List the devices the claw knows: a running claw's, else those in the store and devices_file."""
    settings = settings_or_exit()
    if demo:
        settings = demo_settings(settings)
    known = running_devices(settings)
    if known is None:
        known = stored_devices(settings)
    if not known:
        hint = "start `claw demo`" if demo else "set devices_file in claw.toml, or try `claw demo`"
        typer.echo(f"no devices yet ({hint})")
    for d in known:
        typer.echo(f"{d.id:40} {d.name:24} {d.room or '-':14} {d.kind:8} {','.join(sorted(d.capabilities))}")


def running_devices(settings: Settings) -> list[Device] | None:
    """The devices of the claw serving this data dir (GET /api/devices), or None when none answers."""
    import httpx

    from claw.running import client_base, running
    from devices.models import Device

    where = running(settings)
    if where is None:
        return None
    url = client_base(*where) + "/api/devices"
    try:
        r = httpx.get(url, headers={"Authorization": f"Bearer {settings.web_token()}"}, timeout=5,
                      trust_env=False)
        r.raise_for_status()
        return [Device.from_dict(d) for d in r.json()]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        typer.echo(f"note: the claw at {url} did not answer ({exc}); listing the stored devices", err=True)
        return None


def stored_devices(settings: Settings) -> list[Device]:
    """What a claw starting now would know: the stored devices and devices_file's (which replaces the stored
    devices that came from it)."""
    from claw.runtime import DEVICES_FILE, load_devices_file, merge_devices
    from devices.adapters.spec import builtin_specs
    from memory.store import Store

    settings.ensure_data_dir()
    store = Store(settings.db_path)
    try:
        rows = store.devices_all()
    finally:
        store.close()
    from_file = []
    if settings.devices_file:
        try:
            from_file = load_devices_file(settings.devices_file, ("sonos", "http"), builtin_specs())
        except ClawError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    return merge_devices(rows, {DEVICES_FILE: from_file})[0]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
