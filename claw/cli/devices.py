"""`claw token` and `claw devices`: the web chat's URL, and the devices a running (or starting) claw knows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from claw.cli.common import demo_option, demo_settings, fail, settings_or_exit
from claw.config import Settings
from claw.errors import ClawError

if TYPE_CHECKING:
    from devices.models import Device


def token_command(demo: Annotated[bool, demo_option()] = False) -> None:
    """Print the web chat URL with its token: of the running claw (`claw run`, else a running `claw demo`),
    else from the config (the token is generated on first use)."""
    from claw.running import running, url_host

    settings = settings_or_exit()
    if demo:
        settings = demo_settings(settings)
    where = running(settings)
    if where is None and not demo:  # `claw run` is not running: the link of a running `claw demo` works
        demo_where = running(demo_settings(settings))
        if demo_where is not None:
            settings, where = demo_settings(settings), demo_where
            typer.echo("note: no `claw run` is running; this is the running `claw demo`'s link", err=True)
    host, port = where or (settings.web.host, settings.web.port)
    typer.echo(f"http://{url_host(host)}:{port}/#token={settings.web_token()}")


def devices_command(demo: Annotated[bool, demo_option()] = False) -> None:
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
    from claw.devices_file import DEVICES_FILE, load_devices_file, merge_devices
    from devices.adapters.spec import builtin_specs
    from devices.drivers import DRIVERS
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
            from_file = load_devices_file(settings.devices_file, tuple(DRIVERS), builtin_specs())
        except ClawError as exc:
            fail(exc)
    return merge_devices(rows, {DEVICES_FILE: from_file})[0]
