"""`claw routines list|show|add|pause|resume|delete|run|history`: routines from the command line."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from claw.cli.common import fail, settings_or_exit

if TYPE_CHECKING:
    from claw.config import Settings
    from claw.routines.service import Routines

routines_app = typer.Typer(help="List, add, pause, resume, delete, run and look back at routines.",
                           no_args_is_help=True)

RefArg = Annotated[str, typer.Argument(help="The routine's number (3 or #3) or its name.")]
FINISHED = ("done", "failed", "missed", "skipped", "interrupted", "cancelled")


@contextmanager
def _routines() -> Iterator[tuple[Routines, Settings]]:
    """The routines API over this data dir's store, with the devices a starting claw would know."""
    from claw.cli.devices import stored_devices
    from claw.routines.model import RoutineError
    from claw.routines.service import Routines
    from claw.routines.triggers import Location
    from claw.scenes.book import stored_calls
    from memory.store import Store

    settings = settings_or_exit()
    devices = stored_devices(settings)
    where = settings.routines
    location = None if where.latitude is None or where.longitude is None else Location(where.latitude,
                                                                                         where.longitude)
    store = Store(settings.db_path)
    routines = Routines(store, zone_name=where.zone_name, location=location, safety=settings.safety,
                        devices=lambda: devices)
    routines.scene_calls = lambda name: stored_calls(store, name)  # a scene step names its risky contents
    try:
        yield routines, settings
    except RoutineError as exc:
        fail(exc)
    finally:
        store.close()


def _spec(name: str | None, when: str | None, at: str | None, weekdays: bool, weekends: bool, days: str | None,
          every: str | None, once: str | None, sunrise: bool, sunset: bool, offset: str | None,
          steps: list[str], missed: str | None, grace: str | None, tz: str | None,
          spec_file: str | None) -> dict[str, Any]:
    """The spec the options describe (one way to say when, at least one --step), or the --json file's."""
    if spec_file is not None:
        text = sys.stdin.read() if spec_file == "-" else Path(spec_file).read_text(encoding="utf-8")
        try:
            spec = json.loads(text)
        except ValueError as exc:
            fail(f"{spec_file}: not JSON ({exc})")
        if not isinstance(spec, dict):
            fail(f"{spec_file}: a routine spec is a JSON object")
        if name:
            spec["name"] = name
        return spec
    ways = [w for w in (when, at, every, once, sunrise or None, sunset or None) if w]
    if len(ways) != 1:
        fail("say when, once: --when, --at (with --weekdays, --weekends or --days), --every, --once, --sunrise or "
             "--sunset")
    if (weekdays or weekends or days) and not (at or sunrise or sunset):
        fail("--weekdays, --weekends and --days go with --at, --sunrise or --sunset")
    on = "weekdays" if weekdays else "weekends" if weekends else days or "daily"
    trigger: str | dict[str, Any]
    if when:
        trigger = when
    elif at:
        trigger = {"kind": "daily", "at": at, "days": on}
    elif every:
        trigger = {"kind": "interval", "every": every}
    elif once:
        trigger = {"kind": "once", "at": once}
    else:
        trigger = {"kind": "sun", "event": "sunrise" if sunrise else "sunset", "offset": offset or 0, "days": on}
    if offset and not (sunrise or sunset):
        fail("--offset goes with --sunrise or --sunset")
    return {"name": name, "trigger": trigger, "steps": steps, "missed": missed, "grace": grace, "tz": tz}


@routines_app.command("list")
def list_routines() -> None:
    """Every routine: number, name, when, next time (or paused)."""
    from claw.routines.triggers import describe_trigger, when_text, zone

    with _routines() as (routines, _):
        rows = routines.list()
        if not rows:
            typer.echo("no routines yet (see `claw routines add --help`)")
        now = routines.clock.now()
        for r in rows:
            times = routines.next_times(r, 1, now)
            state = "paused" if r.paused else (f"next {when_text(times[0], zone(r.tz), now)}" if times else "done")
            typer.echo(f"#{r.id:<4} {r.name:24} {describe_trigger(r.trigger, r.tz):44} {state}")


@routines_app.command()
def show(ref: RefArg) -> None:
    """One routine in words (steps, next three times, missed-run policy) and its last runs."""
    with _routines() as (routines, _):
        routine = routines.get(ref)
        typer.echo(routines.describe(routine))
        for row in routines.history(routine.id, limit=5):
            typer.echo("  " + routines.history_text(row, routine.tz))


@routines_app.command()
def add(
        name: Annotated[str | None, typer.Argument(help="The routine's name (e.g. \"morning\").")] = None,
        when: Annotated[str | None, typer.Option(help="When, in words: \"weekdays 07:00\", \"every 15m\", "
                                                      "\"in 20m\", \"tomorrow 08:00\", \"sunset -15m\".")] = None,
        at: Annotated[str | None, typer.Option(help="Every day at this time (07:00, 7pm).")] = None,
        weekdays: Annotated[bool, typer.Option("--weekdays", help="With --at: Monday to Friday only.")] = False,
        weekends: Annotated[bool, typer.Option("--weekends", help="With --at: Saturday and Sunday only.")] = False,
        days: Annotated[str | None, typer.Option(help="With --at: these days (mon,wed,fri or mon-fri).")] = None,
        every: Annotated[str | None, typer.Option(help="Every so long (15m, 1h30m; at least 10 s).")] = None,
        once: Annotated[str | None, typer.Option(help="Once: \"2026-12-24 23:00\", \"in 20m\".")] = None,
        sunrise: Annotated[bool, typer.Option("--sunrise", help="At sunrise (needs [routines] latitude and "
                                                                "longitude).")] = False,
        sunset: Annotated[bool, typer.Option("--sunset", help="At sunset.")] = False,
        offset: Annotated[str | None, typer.Option(help="With --sunrise/--sunset: before (-15m) or after "
                                                        "(+1h).")] = None,
        step: Annotated[list[str] | None, typer.Option(help="A step, in order: 'kitchen light:turn_on', "
                                                             "'thermostat:set_temperature temperature=18', "
                                                             "'say:TEXT', 'prompt:TEXT', 'wait:30s', "
                                                             "'scene:NAME'. Repeat for more.")] = None,
        missed: Annotated[str | None, typer.Option(help="A time missed while the claw was down: catch_up "
                                                        "(default: run within the grace), skip, always.")] = None,
        grace: Annotated[str | None, typer.Option(help="How late a missed time may still run (default 10m).")]
        = None,
        tz: Annotated[str | None, typer.Option(help="Time zone (default: [routines] timezone, else this "
                                                     "machine's).")] = None,
        spec_file: Annotated[str | None, typer.Option("--json", help="Read the whole routine from a JSON spec "
                                                                      "file ('-': stdin); see the README.")] = None,
        yes: Annotated[bool, typer.Option("--yes", help="Confirm its risky steps (unlock, garage, heating "
                                                        "outside the safe range) to run unattended.")] = False,
) -> None:
    """Add a routine: when it runs and its steps. Prints what was understood and the next three times."""
    spec = _spec(name, when, at, weekdays, weekends, days, every, once, sunrise, sunset, offset, step or [],
                 missed, grace, tz, spec_file)
    with _routines() as (routines, _):
        preview = routines.preview(spec)
        confirmed = False
        if preview.risky:
            from claw.agent.policy import join_actions

            what = join_actions(list(preview.risky))
            if yes:
                confirmed = True
            elif sys.stdin.isatty():
                confirmed = typer.confirm(f"This routine would {what} on its own. Allow that?", default=False)
            if not confirmed:
                fail(f"not added: it would {what}, a risky step; confirm it with --yes")
        routine = routines.create(preview.routine, confirmed_risky=confirmed)
        typer.echo(f"added {routines.describe(routine)}")


@routines_app.command()
def pause(ref: RefArg) -> None:
    """Stop a routine from running until it is resumed."""
    with _routines() as (routines, _):
        typer.echo(f"paused “{routines.pause(ref).name}”")


@routines_app.command()
def resume(ref: RefArg) -> None:
    """Let a paused routine run again (the times it was paused are not caught up)."""
    with _routines() as (routines, _):
        routine = routines.resume(ref)
        typer.echo(f"resumed {routines.describe(routine)}")


@routines_app.command()
def delete(ref: RefArg) -> None:
    """Delete a routine (its history stays)."""
    with _routines() as (routines, _):
        typer.echo(f"deleted “{routines.delete(ref).name}”")


@routines_app.command()
def run(ref: RefArg,
        wait: Annotated[float, typer.Option(help="Seconds to wait for the running claw to finish it.")] = 30.0
        ) -> None:
    """Run a routine now, in the running claw (`claw run`), and print how it went."""
    from claw.running import running

    with _routines() as (routines, settings):
        routine = routines.get(ref)
        run_id = routines.run_now(routine.id)
        if running(settings) is None:
            typer.echo(f"queued run {run_id} of “{routine.name}”: no claw is running; it runs if `claw run` starts "
                       "within its grace")
            return
        deadline = time.monotonic() + wait
        row = routines.store.run_get(run_id)
        while row is not None and row["status"] not in FINISHED and time.monotonic() < deadline:
            time.sleep(0.2)
            row = routines.store.run_get(run_id)
        if row is None or row["status"] not in FINISHED:
            typer.echo(f"run {run_id} of “{routine.name}” is still going; see `claw routines history`")
            return
        typer.echo(routines.history_text(row, routine.tz))
        if row["status"] != "done":
            raise typer.Exit(1)


@routines_app.command()
def history(ref: Annotated[str | None, typer.Argument(help="Only this routine (number or name).")] = None,
            limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20) -> None:
    """The latest runs: when, which routine, how it went (missed and skipped times included)."""
    with _routines() as (routines, _):
        rows = routines.history(ref, limit=limit)
        if not rows:
            typer.echo("no runs yet")
        for row in rows:
            typer.echo(routines.history_text(row))
            for step in row["step_rows"]:
                if step["status"] != "done":
                    typer.echo(f"    step {step['idx'] + 1} ({step['kind']}): {step['status']}"
                               + (f" — {step['detail']}" if step.get("detail") else ""))
