"""Discovery for the CLI and chat: scan, reconcile with the registry and the `discovered` table, add, ignore."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from claw.devices_file import DEVICES_FILE
from claw.discovery.settings import DiscoverySettings, interfaces_of
from claw.errors import ClawError
from devices.adapters.spec import AdapterSpec, builtin_specs
from devices.discovery.matching import Found
from devices.discovery.reconcile import ADDED, IGNORED, NEW, SUSPECT, Sighting, device_from_row, reconcile, resolve
from devices.discovery.scan import ScanResult, scan
from devices.models import Device
from devices.registry import Registry, normalize_name
from memory.store import Store

log = logging.getLogger(__name__)

SOURCE = "discovered"  # the devices table's `source` of devices the owner added from a scan


class DiscoveryRefused(ClawError):
    """An add/ignore that cannot be done as asked (unknown, ambiguous, suspect, no adapter); says why."""


class Ambiguous(DiscoveryRefused):
    """A reference that fits several discovered devices; `entries` are the candidates."""

    def __init__(self, message: str, entries: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.entries = entries


@dataclass
class ScanReport:
    """One scan as the owner is told it: the sightings (table order), what was refused, where and how long."""

    sightings: list[Sighting]
    interfaces: list[str]
    seconds: float
    refused: list[str] = field(default_factory=list)
    result: ScanResult | None = None  # the raw result with its probe records (for learning unknown devices)
    notes: list[str] = field(default_factory=list)  # more for the owner (a moved device listed in devices_file)

    @property
    def moved(self) -> list[Sighting]:
        return [s for s in self.sightings if s.moved_from]

    @property
    def suspects(self) -> list[Sighting]:
        return [s for s in self.sightings if s.status == SUSPECT]

    def notices(self) -> list[str]:
        """What the owner must be told besides the table: followed IP changes and suspects."""
        out = [f"{s.device_name} ({s.identity}) moved from {s.moved_from} to {s.address}: address updated"
               for s in self.moved]
        out += self.notes
        out += [f"a discovery step failed ({e}); the list may be incomplete"
                for e in (self.result.errors if self.result else [])]
        out += [f"SUSPECT #{s.index} at {s.address}: {s.reason}. Not trusted, not merged; ignore it with "
                f"`claw discover --ignore {s.index}` if you do not know it" for s in self.suspects]
        return out


def within(found: list[Found], subnets: Sequence[str]) -> tuple[list[Found], list[str]]:
    """The found devices inside the configured subnets (all of them when none is configured), and the
    addresses of the others (left out: discovery covers only the configured interfaces and subnets)."""
    if not subnets:
        return list(found), []
    nets = [ipaddress.IPv4Network(n, strict=False) for n in subnets]
    keep, out = [], []
    for f in found:
        try:
            inside = any(ipaddress.IPv4Address(f.host) in net for net in nets)
        except ValueError:
            inside = False
        (keep if inside else out).append(f)
    return keep, [f.address for f in out]


def label(entry: dict[str, Any] | Sighting) -> str:
    """'#2 WLED LED controller “desk strip” at 127.0.0.5:8080' for a row or a sighting."""
    get = entry.get if isinstance(entry, dict) else lambda k: getattr(entry, "index" if k == "idx" else k)
    name = f" “{get('name')}”" if get("name") else ""
    number = f"#{get('idx')} " if get("idx") else ""
    return f"{number}{get('what') or 'unknown'}{name} at {get('address')}"


class Discovery:
    """Scans (only when called), keeps what was seen by identity in the store, and adds or ignores devices.
    With a registry (a running claw) an added or moved device is live at once; without one (the CLI) the
    store's devices table is updated and a claw picks it up when it starts."""

    def __init__(self, store: Store, settings: DiscoverySettings, *, devices: Callable[[], list[Device]],
                 registry: Registry | None = None,
                 specs: dict[str, AdapterSpec] | Callable[[], dict[str, AdapterSpec]] | None = None,
                 household_id: str = "Sonos") -> None:
        self.store = store
        self.settings = settings
        self.devices = devices
        self.registry = registry
        self._specs = builtin_specs() if specs is None else specs  # a callable: the driver's, learned ones too
        self.household_id = household_id  # Sonos household to discover ("Sonos": any)
        self.listeners: list[Callable[[ScanResult], None]] = []  # told each raw result (claw.learn keeps the last)

    @property
    def specs(self) -> dict[str, AdapterSpec]:
        return self._specs() if callable(self._specs) else self._specs

    def interfaces(self, given: Sequence[str] | None = None) -> list[str]:
        return list(given) if given else interfaces_of(self.settings)

    async def scan(self, *, interfaces: Sequence[str] | None = None, timeout: float | None = None,
                   targets: Sequence[str] = (), progress: Callable[[str], None] | None = None,
                   sweep_subnets: Sequence[str] = (), allow_public: bool = False) -> ScanReport:
        """One scan on `interfaces` (default: the configured ones, else the primary interface), reconciled
        and recorded; a known device found at a new address is followed (registry and store updated)."""
        where = self.interfaces(interfaces)
        result = await scan(where, timeout=timeout or self.settings.timeout, specs=self.specs, targets=targets,
                            household_id=self.household_id, progress=progress, sweep_subnets=sweep_subnets,
                            allow_public=allow_public)
        found, refused = within(result.found, self.settings.subnets)
        rows = {r["key"]: r for r in self.store.discovered_all()}
        sightings = reconcile(found, rows, self.devices())
        notes = [note for s in sightings if s.moved_from and (note := self._follow(s))]
        self.store.discovered_record([s.row() for s in sightings])
        for s in sightings:
            if s.status == SUSPECT:
                log.warning("discovery: suspect device at %s: %s", s.address, s.reason)
        if refused:  # what lies outside the configured subnets is not offered for learning either
            result = replace(result, found=found)
        for listener in self.listeners:
            listener(result)
        return ScanReport(sightings, where, result.seconds, [*result.refused, *refused], result, notes)

    def _follow(self, s: Sighting) -> str | None:
        """Move the registry device to where its identity answered now; a note when devices_file lists it."""
        device = next((d for d in self.devices() if d.id == s.device_id), None)
        if device is None:
            return None
        moved = replace(device, address=s.address)
        self.store.device_upsert(moved.to_dict())
        if self.registry is not None:
            self.registry.add(moved)
        log.info("discovery: %s (%s) moved from %s to %s", device.name, device.id, device.address, s.address)
        stored = self.store.device_get(device.id) or {}
        if stored.get("source") == DEVICES_FILE:
            return (f"{device.name} is listed in devices_file: change its address there to {s.address} too "
                    "(the file wins at the next start, and the next scan follows it again)")
        return None

    # the last scan's entries ---------------------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        return self.store.discovered_last_scan()

    def entry(self, ref: str, *, allow: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """The discovered row `ref` means (number in the last table, identity, or words of what it is);
        DiscoveryRefused when none, Ambiguous when several. `allow` narrows word matches (e.g. not added)."""
        ref = " ".join(ref.split())
        if not ref:
            raise DiscoveryRefused("Which device? Give its number in the scan table or its identity.")
        rows = self.entries()
        found = resolve(ref, rows)
        if not found:
            every = self.store.discovered_all()
            found = [r for r in every if ref.lower() in (r["key"].lower(), str(r.get("identity") or "").lower())]
        if len(found) > 1 and allow is not None:
            found = [r for r in found if allow(r)] or found
        if not found:
            hint = "run a scan first" if not rows else "see the last scan's table"
            raise DiscoveryRefused(f"I found no discovered device matching “{ref[:60]}” ({hint}).")
        if len(found) > 1:
            raise Ambiguous(f"“{ref[:60]}” could be {len(found)} devices: "
                            + "; ".join(label(r) for r in found[:6]) + ". Which one?", found)
        return found[0]

    # owner's verdicts ------------------------------------------------------------------------------------------
    def add(self, ref: str, name: str | None = None, room: str | None = None) -> Device:
        """Put a discovered device in the registry under `name` (default: the name it announced) and `room`."""
        row = self.entry(ref, allow=lambda r: r["status"] == NEW)
        known = {d.id: d for d in self.devices()}
        status = row["status"]
        if status == SUSPECT:
            raise DiscoveryRefused(f"{label(row)} is SUSPECT: {row.get('note') or 'it claims what is not its own'}."
                                   " It was not added. If you know this device, clear the mark with "
                                   f"`claw discover --unignore {row['key']}` and add it then.")
        if status == IGNORED:
            raise DiscoveryRefused(f"{label(row)} is on the ignore list; unignore it first to add it.")
        if status == ADDED and row.get("device_id") in known:
            raise DiscoveryRefused(f"{label(row)} is already in the registry as {known[row['device_id']].name}.")
        if row.get("identity") in known:
            raise DiscoveryRefused(f"{label(row)} is already in the registry as {known[row['identity']].name}.")
        name = " ".join((name or row.get("name") or "").split())
        if not name:
            raise DiscoveryRefused(f"{label(row)} announced no name: give it one.")
        room = " ".join(room.split()) if room else None
        if room:  # the registry's spelling of a known room
            room = next((d.room for d in known.values() if d.room and normalize_name(d.room) == normalize_name(room)),
                        room)
        taken = [d for d in known.values() if normalize_name(name) in (normalize_name(n) for n in d.names())]
        if taken:
            raise DiscoveryRefused(f"There is already a device called “{taken[0].name}” ({taken[0].id}"
                                   f"{', in ' + taken[0].room if taken[0].room else ''}); choose another name.")
        try:
            device = device_from_row(row, self.specs, name, room)
        except ValueError as exc:
            raise DiscoveryRefused(str(exc)) from None
        if self.registry is not None:
            self.registry.add(device)  # DeviceError when this claw has no such driver: nothing stored
        self.store.device_upsert(device.to_dict(), source=SOURCE)
        self.store.discovered_set(row["key"], status=ADDED, device_id=device.id)
        log.info("discovery: added %s as %s (%s)", row["address"], device.name, device.id)
        return device

    def ignore(self, ref: str) -> dict[str, Any]:
        """Put a discovered device on the ignore list (kept across scans and restarts)."""
        row = self.entry(ref, allow=lambda r: r["status"] != IGNORED)
        if row["status"] == ADDED and row.get("device_id") in {d.id for d in self.devices()}:
            raise DiscoveryRefused(f"{label(row)} is in the registry; it is not ignored.")
        self.store.discovered_set(row["key"], status=IGNORED, note=row.get("note"))
        return {**row, "status": IGNORED}

    def unignore(self, ref: str) -> dict[str, Any]:
        """Take a device off the ignore list, or clear a SUSPECT mark (it is new again; the next scan judges)."""
        row = self.entry(ref, allow=lambda r: r["status"] in (IGNORED, SUSPECT))
        if row["status"] not in (IGNORED, SUSPECT):
            raise DiscoveryRefused(f"{label(row)} is not ignored (it is {row['status']}).")
        self.store.discovered_set(row["key"], status=NEW)
        return {**row, "status": NEW}
