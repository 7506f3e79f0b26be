"""`claw adapters list|show|export|rollback|check`: shipped, hand-written and learned adapter specs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from claw.cli.common import fail, run_or_exit, settings_or_exit

if TYPE_CHECKING:
    from devices.adapters.schema import AdapterSpec
    from memory.store import Store

adapters_app = typer.Typer(help="List, show, export, roll back and check adapter specs (shipped, your "
                                "adapters_dir, learned).", no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(help="The adapter's name, e.g. poolpilot.")]


@contextmanager
def _store() -> Iterator[Store]:
    from memory.store import Store

    store = Store(settings_or_exit().db_path)
    try:
        yield store
    finally:
        store.close()


def _file_specs() -> dict[str, AdapterSpec]:
    from claw.learn.service import file_specs
    from devices.adapters.spec import builtin_specs

    return file_specs(settings_or_exit().adapters_dir, set(builtin_specs()))


def _rows(store: Store) -> list[dict[str, Any]]:
    from devices.adapters.spec import builtin_specs

    rows: list[dict[str, Any]] = [{"name": n, "version": s.version, "source": "builtin", "status": "shipped",
                                   "host": "-"} for n, s in sorted(builtin_specs().items())]
    rows += [{"name": n, "version": s.version, "source": "file", "status": "in adapters_dir", "host": "-"}
             for n, s in sorted(_file_specs().items())]
    current = {(r["name"], r["version"]) for r in store.adapters_current()}
    for r in store.adapter_versions():
        status = r["status"] + (" (current)" if (r["name"], r["version"]) in current else "")
        rows.append({"name": r["name"], "version": r["version"], "source": r["source"], "status": status,
                     "host": r["host"] or "-"})
    return rows


def _text(store: Store, name: str, version: int | None) -> str:
    """The spec text of `name`: the given stored version, else the current learned one, a file's, a shipped one."""
    from devices.adapters.spec import builtin_specs
    from devices.learn.check import spec_yaml

    if version is not None:
        rows = {r["version"]: r for r in store.adapter_versions(name)}
        if version not in rows:
            fail(f"adapter {name!r} has no stored version {version}")
        return str(rows[version]["spec"])
    row = store.adapter_current(name)
    if row is not None:
        return str(row["spec"])
    for specs in (_file_specs(), builtin_specs()):
        if name in specs:
            return spec_yaml(specs[name])
    fail(f"no adapter named {name!r} (see `claw adapters list`)")


@adapters_app.command("list")
def list_command() -> None:
    """Every adapter: shipped, hand-written (adapters_dir) and each learned version with its status."""
    with _store() as store:
        rows = _rows(store)
    cols = ("name", "version", "source", "status", "host")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    typer.echo("  ".join(c.upper().ljust(widths[c]) for c in cols))
    for r in rows:
        typer.echo("  ".join(str(r[c]).ljust(widths[c]) for c in cols).rstrip())


@adapters_app.command("show")
def show_command(name: NameArg, version: Annotated[int | None, typer.Option(
        "--version", "-v", help="A stored version (default: the one in use).")] = None) -> None:
    """Print an adapter's spec (YAML)."""
    with _store() as store:
        typer.echo(_text(store, name, version).rstrip())


@adapters_app.command("export")
def export_command(name: NameArg, file: Annotated[Path | None, typer.Argument(
        help="Where to write the YAML (default: standard output).")] = None,
                   version: Annotated[int | None, typer.Option(
                       "--version", "-v", help="A stored version (default: the one in use).")] = None) -> None:
    """Write an adapter's spec as YAML, e.g. to keep a learned one in your adapters_dir."""
    with _store() as store:
        text = _text(store, name, version).rstrip() + "\n"
    if file is None:
        typer.echo(text, nl=False)
        return
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {file}: {exc}")
    typer.echo(f"wrote {name} to {file}")


@adapters_app.command("rollback")
def rollback_command(name: NameArg, to: Annotated[int | None, typer.Option(
        "--to", help="The version to go back to (default: the approved one before the current).")] = None) -> None:
    """Make an earlier approved version of a learned adapter current again (a running claw uses it after a
    restart)."""
    from claw.learn.service import LearnError, rollback

    with _store() as store:
        try:
            before, row = rollback(store, name, to)
        except LearnError as exc:
            fail(exc)
    typer.echo(f"{name}: v{row['version']} is current again (v{(before or {}).get('version')} and any later "
               "approved version rolled back); restart the claw to use it")


@adapters_app.command("check")
def check_command(file: Annotated[Path, typer.Argument(help="A spec file (YAML or JSON).")],
                  device: Annotated[str, typer.Option("--device", help="A stored device's id, or HOST:PORT.")]
                  ) -> None:
    """Validate a spec file and read the device with it, read-only (GET requests only)."""
    from devices.adapters.spec import load_spec
    from devices.errors import AdapterSpecError

    try:
        spec = load_spec(file)
    except AdapterSpecError as exc:
        fail(exc)
    address = device
    with _store() as store:
        row = store.device_get(device)
    if row is not None:
        address = str(row["address"])
    elif ":" not in device or not device.rsplit(":", 1)[1].isdigit():
        fail(f"--device {device!r} is neither a stored device's id nor HOST:PORT")
    state, matched = run_or_exit(_check(spec, address))
    typer.echo(f"{spec.name} v{spec.version}: valid; read-only check of {address}:")
    for key, value in state.items():
        typer.echo(f"  {key}: {value}")
    if matched is not None:
        typer.echo(f"  match ({spec.match.path if spec.match else ''}): {'yes' if matched else 'NO'}")
    typer.echo(f"commands it declares (not sent): {', '.join(spec.commands) or 'none'}")


async def _check(spec: AdapterSpec, address: str) -> tuple[dict[str, Any], bool | None]:
    from claw.errors import ClawError
    from claw.learn.service import LearnError, read_live
    from devices.adapters.spec import spec_matches
    from devices.discovery.probe import probe, probe_client

    try:
        state = await read_live(spec, address)
    except LearnError as exc:
        raise ClawError(f"{address}: {exc}") from None
    matched = None
    if spec.match is not None:
        async with probe_client(2.0) as client:
            record = await asyncio.wait_for(probe(client, address, [(spec.match.path, dict(spec.match.query or {}))]),
                                            10)
        answer = next(iter(record.answers.values()), None)
        matched = answer is not None and spec_matches(spec, {spec.match.path: answer})
    return state, matched
