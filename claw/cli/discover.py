"""`claw discover`: scan on given interfaces and print a table with each device's status; add/ignore by id."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from claw.cli.common import fail, run_or_exit, settings_or_exit

if TYPE_CHECKING:
    from claw.config import Settings
    from claw.discovery.service import Discovery, ScanReport
    from devices.discovery.scan import ScanResult

COLUMNS = ("#", "address", "identity", "what", "adapter", "via", "status")


def format_table(rows: list[dict[str, str]]) -> list[str]:
    """Aligned text lines with a header for rows keyed by COLUMNS."""
    widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in COLUMNS}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in COLUMNS).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    return lines


def report_rows(report: ScanReport) -> list[dict[str, str]]:
    from devices.drivers.http import untrusted_text

    return [{"#": str(s.index), "address": s.address, "identity": untrusted_text(s.identity or "-", 48),
             "what": s.what + (f" “{s.name}”" if s.name else ""), "adapter": s.adapter or "unknown",
             "via": ",".join(s.via), "status": s.status_text()} for s in report.sightings]


def discover_command(
    interface: Annotated[list[str] | None, typer.Option(
        "--interface", "-i", help="IPv4 address of an interface to discover on (repeatable). Default: "
        "[discovery] interfaces in claw.toml, else the primary interface's address (shown).")] = None,
    timeout: Annotated[float | None, typer.Option(min=0.2, max=30.0,
                                                  help="seconds to listen for announcements")] = None,
    target: Annotated[list[str] | None, typer.Option(
        "--target", help="also fingerprint this host:port (on an interface's subnet)")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="start the simulated LAN on loopback and scan it")] = False,
    add: Annotated[str | None, typer.Option("--add", metavar="ID", help="add the device with this number (in "
                                            "the last table) or identity to the registry")] = None,
    name: Annotated[str | None, typer.Option("--name", help="with --add: the device's name")] = None,
    room: Annotated[str | None, typer.Option("--room", help="with --add: the device's room")] = None,
    ignore: Annotated[str | None, typer.Option("--ignore", metavar="ID", help="never offer this device again")
                      ] = None,
    unignore: Annotated[str | None, typer.Option("--unignore", metavar="ID",
                                                 help="take a device off the ignore list (or clear SUSPECT)")] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="also sweep SUBNET (default: [discovery] subnets, else the "
                                        "first interface's /24) with nmap and probe every open device port; "
                                        "asks first")] = False,
    subnet: Annotated[list[str] | None, typer.Argument(
        help="with --sweep: subnet(s) to sweep, at most a /22 each, on an interface's network")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="sweep without asking")] = False,
    allow_public: Annotated[bool, typer.Option("--allow-public", help="let --sweep cover public (non-RFC 1918) "
                                               "address space on an interface's network")] = False,
) -> None:
    """Find devices (mDNS, Sonos SSDP, HTTP fingerprints), the adapter that fits each and whether it is known;
    runs only when asked. --add/--ignore/--unignore act on the last scan's table without scanning."""
    for addr in interface or ():
        try:
            ipaddress.IPv4Address(addr)
        except ValueError:
            fail(f"--interface {addr!r} is not an IPv4 address")
    verdicts = [v for v in (add, ignore, unignore) if v is not None]
    if len(verdicts) > 1:
        fail("give one of --add, --ignore, --unignore")
    if (name or room) and add is None:
        fail("--name and --room go with --add")
    if subnet and not sweep:
        fail("a SUBNET is swept only with --sweep")
    if verdicts and sweep:
        fail("--sweep scans; --add/--ignore/--unignore act on the last table without scanning")
    sweeping = Sweep(list(subnet or []), yes, allow_public) if sweep else None
    if demo:
        if verdicts:
            fail("--demo scans the simulated LAN in a throw-away store: nothing to add or ignore there")
        if interface and interface != ["127.0.0.1"]:
            fail("--demo scans the simulated LAN on 127.0.0.1 only")
        subnets = sweeping.confirm(["127.0.0.1"]) if sweeping else []
        run_or_exit(_demo(timeout, list(target or []), subnets, allow_public))
        return
    settings = settings_or_exit()
    if verdicts:
        _verdict(settings, add=add, name=name, room=room, ignore=ignore, unignore=unignore)
        return
    subnets: list[str] = []
    if sweeping is not None:  # checked, shown and asked before the scan's event loop starts
        from claw.discovery.settings import interfaces_of

        subnets = sweeping.confirm(list(interface or []) or interfaces_of(settings.discovery),
                                   settings.discovery.subnets)
    run_or_exit(_scan(settings, list(interface or []), timeout, list(target or []), subnets,
                      bool(sweeping and sweeping.allow_public)))


class Sweep:
    """What `--sweep` asked for; `confirm` checks it, shows it and asks the owner (claw.cli.discover_sweep)."""

    def __init__(self, subnets: list[str], yes: bool, allow_public: bool) -> None:
        self.subnets, self.yes, self.allow_public = subnets, yes, allow_public

    def confirm(self, interfaces: list[str], configured: list[str] | None = None) -> list[str]:
        from claw.cli.discover_sweep import confirm_sweep

        return confirm_sweep(interfaces, self.subnets or list(configured or []), yes=self.yes,
                             allow_public=self.allow_public)


def _service(settings: Settings) -> Discovery:
    from claw.cli.devices import stored_devices
    from claw.discovery.service import Discovery
    from memory.store import Store

    settings.ensure_data_dir()
    return Discovery(Store(settings.db_path), settings.discovery, devices=lambda: stored_devices(settings))


async def _scan(settings: Settings, interfaces: list[str], timeout: float | None, targets: list[str],
                subnets: list[str], allow_public: bool) -> None:
    service = _service(settings)
    try:
        where = service.interfaces(interfaces)
        source = "given" if interfaces else "configured" if settings.discovery.interfaces else "primary interface"
        typer.echo(f"scanning on {', '.join(where)} ({source})")
        with Progress(where, timeout or settings.discovery.timeout) as progress:
            report = await service.scan(interfaces=where, timeout=timeout, targets=targets, progress=progress.stage,
                                        sweep_subnets=subnets, allow_public=allow_public)
    finally:
        service.store.close()
    print_report(report)
    if any(s.status == "new" and s.identity and s.adapter for s in report.sightings):
        typer.echo("add one with: claw discover --add NUMBER --name NAME --room ROOM (or --ignore NUMBER)")


async def _demo(timeout: float | None, targets: list[str], subnets: list[str], allow_public: bool) -> None:
    from claw.discovery.service import Discovery
    from claw.discovery.settings import DiscoverySettings
    from devices.sim.lan import SimLan
    from memory.store import Store

    async with SimLan.load() as lan:
        store = Store.memory()
        try:
            own = str(ipaddress.IPv4Network(f"{lan.home.ip_base}/24", strict=False))  # not other processes' sims
            service = Discovery(store, DiscoverySettings(interfaces=["127.0.0.1"], subnets=[own]),
                                devices=lambda: list(lan.home.devices), household_id=lan.household_id)
            typer.echo("scanning the simulated LAN on 127.0.0.1")
            with Progress(["127.0.0.1"], timeout or 1.0) as progress:
                report = await service.scan(timeout=timeout or 1.0, targets=targets, progress=progress.stage,
                                            sweep_subnets=subnets, allow_public=allow_public)
        finally:
            store.close()
    print_report(report)


def print_report(report: ScanReport) -> None:
    if swept := _swept(report.result):
        typer.echo(swept)
    for line in format_table(report_rows(report)):
        typer.echo(line)
    known = sum(s.adapter is not None for s in report.sightings)
    typer.echo(f"{len(report.sightings)} device(s), {known} with an adapter, in {report.seconds:.2f} s on "
               f"{', '.join(report.interfaces)}")
    for notice in report.notices():
        typer.echo(notice)
    if report.refused:
        typer.echo(f"ignored {len(report.refused)} announcement(s) outside these interfaces: "
                   f"{', '.join(report.refused[:5])}")
    if any(s.adapter is None for s in report.sightings):
        typer.echo("unknown devices need an adapter: ask the claw to learn one (“learn the pool controller”), or "
                   "write a spec by hand and check it with `claw adapters check FILE --device HOST:PORT` (README: "
                   "“Learning a device the claw does not know”)")
    from devices.adapters.pairing import is_hub
    from devices.adapters.spec import builtin_specs

    hubs = [x.address for x in report.sightings
            if (spec := builtin_specs().get(x.adapter or "")) is not None and is_hub(spec)]
    if hubs:
        typer.echo(f"pair a hub to add the devices behind it: claw pair device {hubs[0]}")


def _swept(result: ScanResult | None) -> str:
    """One line on the nmap sweep: hosts up and open ports, or why it failed ("" when none was asked for)."""
    if result is None:
        return ""
    if result.sweep_error:
        return f"nmap sweep failed: {result.sweep_error}"
    if result.swept is None:
        return ""
    s = result.swept
    return (f"nmap: {len(s.live)} host(s) up in {', '.join(s.subnets)}, {len(s.targets)} open device port(s), "
            f"{s.seconds:.2f} s")


def _verdict(settings: Settings, *, add: str | None, name: str | None, room: str | None, ignore: str | None,
             unignore: str | None) -> None:
    from claw.discovery.service import DiscoveryRefused, label
    from claw.running import running
    from devices.errors import DeviceError

    service = _service(settings)
    try:
        if add is not None:
            device = service.add(add, name, room)
            typer.echo(f"added {device.name} ({device.id}, {device.adapter or device.driver} at {device.address}"
                       f"{', in ' + device.room if device.room else ''})")
            if running(settings) is not None:
                typer.echo("note: the running claw drives it after its next start (or add it by chat)")
        elif ignore is not None:
            typer.echo(f"ignoring {label(service.ignore(ignore))} from now on")
        elif unignore is not None:
            typer.echo(f"{label(service.unignore(unignore))} is no longer ignored")
    except (DiscoveryRefused, DeviceError) as exc:
        fail(exc)
    finally:
        service.store.close()


class Progress:
    """Progress on stderr while a scan listens and probes: a ticking line on a terminal, plain lines otherwise."""

    def __init__(self, interfaces: list[str], listen: float) -> None:
        self.interfaces = interfaces
        self.listen = listen
        self.tty = sys.stderr.isatty()
        self.text = "starting"
        self.started = time.monotonic()
        self._ticker: asyncio.Task[None] | None = None

    def stage(self, stage: str) -> None:
        if stage == "listening":
            self.text = f"listening on {', '.join(self.interfaces)} for {self.listen:g} s"
        elif stage.startswith("probing"):
            self.text = f"probing {stage.split()[-1]} device(s)"
        else:
            self.text = stage
        if not self.tty and stage != "done":
            typer.echo(f"{self.text}…", err=True)

    async def _tick(self) -> None:
        frames = "|/-\\"
        n = 0
        while True:
            elapsed = time.monotonic() - self.started
            sys.stderr.write(f"\r{frames[n % 4]} {self.text} … {elapsed:4.1f} s\x1b[K")
            sys.stderr.flush()
            n += 1
            await asyncio.sleep(0.1)

    def __enter__(self) -> Progress:
        if self.tty:
            self._ticker = asyncio.ensure_future(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
