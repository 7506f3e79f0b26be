"""What the `claw` command modules share: settings loading, one-line errors and exit codes, logging, --demo."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer

from claw.config import Settings, load_settings
from claw.errors import ClawError
from devices.errors import DeviceError

T = TypeVar("T")


def fail(message: object, code: int = 2) -> NoReturn:
    """Print `error: <message>` on stderr and exit with `code` (2: bad config or input, no traceback)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code) from None


def settings_or_exit(**overrides: object) -> Settings:
    """The settings (claw.toml, .env, CLAW_* variables); a broken config is a one-line error and exit code 2."""
    try:
        return load_settings(**overrides)
    except ClawError as exc:
        fail(exc)


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
        fail(exc)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def setup_logging(settings: Settings, quiet: bool = False) -> None:
    level = logging.WARNING if quiet else getattr(logging, settings.log_level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "soco", "openai", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


# Where the simulated home stands (Greenwich) when the config names no location, so "at sunset …" works in the demo.
DEMO_LOCATION = (51.4779, 0.0)


def demo_settings(settings: Settings) -> Settings:
    """The settings of `claw demo` (and `claw chat --demo`): the same, with the data dir <data dir>/demo, and the
    simulated home's location for sunrise/sunset routines unless the config sets one. Its discovery looks on
    loopback only (where the simulated devices are), never on the configured interfaces or subnets."""
    discovery = settings.discovery.model_copy(update={"interfaces": ["127.0.0.1"], "subnets": []})
    update: dict[str, Any] = {"data_dir": settings.data_dir / "demo", "discovery": discovery}
    if settings.routines.latitude is None:
        latitude, longitude = DEMO_LOCATION
        update["routines"] = settings.routines.model_copy(update={"latitude": latitude, "longitude": longitude})
    return settings.model_copy(update=update)


def demo_option() -> Any:
    return typer.Option("--demo", help="The `claw demo` claw (its data dir is <data dir>/demo).")
