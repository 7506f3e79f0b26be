"""Learning an unknown device: the last scan, exploring it, the draft, the live read check, approval."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from claw.config import Settings
from claw.errors import ClawError
from claw.untrusted import shown_text
from devices.adapters.spec import AdapterSpec, builtin_specs, extract_state, load_spec, match_identity
from devices.discovery.matching import Found, clean_identity, device_for
from devices.discovery.probe import probe_client
from devices.drivers.http import HttpDriver
from devices.errors import AdapterSpecError
from devices.learn.check import Draft, check_draft, spec_yaml
from devices.learn.demo import demo_draft_for, is_demo_pool
from devices.learn.explore import Exploration, explore
from devices.learn.summary import summary
from devices.models import Device
from devices.registry import Registry
from memory.store import Store

if TYPE_CHECKING:
    from claw.agent.llm import LLMClient
    from devices.discovery.scan import ScanResult

log = logging.getLogger(__name__)

DEMO_NOTE = "No language model is configured, so I used the demo's built-in draft for this device."
README_POINTER = ("README, “Learning a device the claw does not know”: write a spec in your adapters_dir and "
                  "check it with `claw adapters check FILE --device HOST:PORT`")
_GENERIC = {"it", "that", "this", "one", "device", "gadget", "thing", "unknown", "new", "the", "my", "our", "a",
            "an"}
_NAME_TAIL = {"controller", "device", "gadget", "thing", "box", "unit", "hub"}
LIVE_TIMEOUT = 2.0
_SIM_TAG = re.compile(r"\s+\d+-[0-9a-f]{6}$")  # devices.sim.announce's per-process instance tag


class LearnError(ClawError):
    """Learning cannot go on; the message says why and what to do (safe to show the owner)."""


@dataclass(frozen=True)
class Proposal:
    """A checked draft awaiting the owner: stored as a draft version, with the device it would add."""

    draft: Draft
    version: int
    device: Device
    summary: str
    calls: int  # model calls made (0 with the demo's built-in draft)
    demo: bool
    exploration: Exploration


def device_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w]


def names_for(words: str, found: Found) -> tuple[str, tuple[str, ...]]:
    """The registry name and aliases of a learned device: the owner's words ("pool controller" -> "pool",
    alias "pool controller"), else its mDNS name without the per-process tag."""
    spoken = " ".join(w for w in device_words(words) if w not in _GENERIC)
    if not spoken:
        announced = _SIM_TAG.sub("", sorted(found.announced)[0]) if found.announced else ""
        spoken = " ".join(device_words(announced)[:4])
    if not spoken:
        return "learned device", ()
    parts = spoken.split()
    short = " ".join(parts[:-1]) if len(parts) > 1 and parts[-1] in _NAME_TAIL else spoken
    return short, (() if short == spoken else (spoken,))


class LearnService:
    """Owner-only learning, shared by chat and the CLI; keeps the last ScanResult of this process."""

    def __init__(self, store: Store, registry: Registry | None, driver: HttpDriver | None, llm: LLMClient | None,
                 settings: Settings) -> None:
        self.store = store
        self.registry = registry
        self.driver = driver
        self.llm = llm
        self.settings = settings
        self.last_scan: ScanResult | None = None
        # the claw's discovery service (claw.discovery: configured interfaces and subnets, recorded by identity);
        # set by the runtime, which also has that service call `remember` after every scan
        self.scanner: Callable[[], Awaitable[ScanResult]] | None = None

    # adapters ---------------------------------------------------------------------------------------------
    def reserved(self) -> set[str]:
        return set(builtin_specs())

    def file_specs(self) -> dict[str, AdapterSpec]:
        return file_specs(self.settings.adapters_dir, self.reserved())

    def load_adapters(self) -> list[str]:
        """Give the HTTP driver the hand-written specs, then the approved stored versions (which win)."""
        specs = self.file_specs()
        for row in self.store.adapters_current():
            try:
                specs[row["name"]] = load_spec(row["spec"])
            except AdapterSpecError as exc:
                log.warning("stored adapter %s v%s no longer loads: %s", row["name"], row["version"], exc)
        if self.driver is not None:
            for spec in specs.values():
                self.driver.add_spec(spec)
        return sorted(specs)

    # scanning ---------------------------------------------------------------------------------------------
    def remember(self, result: ScanResult) -> None:
        """Keep a scan made elsewhere ("scan my network": claw.discovery) as the last one."""
        self.last_scan = result

    async def scan(self) -> ScanResult:
        """One discovery pass through the claw's discovery service (one scanner, one record of what was seen)."""
        if self.scanner is None:
            raise LearnError("Scanning is not available here: run `claw discover` or ask a running claw.")
        self.last_scan = await self.scanner()
        return self.last_scan

    def unknown(self) -> list[Found]:
        if self.last_scan is None:
            return []
        return [f for f in self.last_scan.found if f.adapter is None]

    def resolve(self, words: str) -> Found:
        """The unknown device of the last scan that `words` names ("pool controller"); LearnError otherwise."""
        unknown = self.unknown()
        if not unknown:
            raise LearnError("The last scan found no device without an adapter, so there is nothing to learn.")
        wanted = [w for w in device_words(words) if w not in _GENERIC]
        if not wanted:
            if len(unknown) == 1:
                return unknown[0]
            raise LearnError("Which one? The unknown devices are: " + self.describe_unknown(unknown))
        scored = []
        for f in unknown:
            text = set(device_words(" ".join([*f.announced, f.what, *f.identity.values()])))
            scored.append((sum(w in text for w in wanted), f))
        best = max(score for score, _ in scored)
        hits = [f for score, f in scored if score == best and score > 0]
        if len(hits) != 1:
            why = "Several unknown devices fit" if hits else f"No unknown device is called “{shown_text(words, 60)}”"
            raise LearnError(f"{why}. The unknown devices are: {self.describe_unknown(hits or unknown)}")
        return hits[0]

    @staticmethod
    def describe_unknown(found: list[Found]) -> str:
        return "; ".join(f"{shown_text(', '.join(sorted(f.announced)) or 'unnamed', 60)} at {f.address}"
                         for f in found[:8])

    # learning ---------------------------------------------------------------------------------------------
    async def explore(self, found: Found) -> Exploration:
        record = self.last_scan.records.get(found.address) if self.last_scan else None
        seeds = [e.path for e in record.entries if e.status == 200] if record else []
        return await explore(found.address, seeds)

    def fingerprint(self, found: Found, exploration: Exploration) -> str:
        """What is known of an unknown device, for writing a spec by hand (device text made inert)."""
        answered = [f"{p} (keys: {', '.join(list(a)[:8]) if isinstance(a, dict) else type(a).__name__})"
                    for p, a in exploration.answers_by_path().items()]
        lines = [f"Address: {found.address}", f"mDNS names: {', '.join(sorted(found.announced)) or 'none'}",
                 f"Services: {', '.join(sorted(found.services)) or 'none'}",
                 f"Paths that answer JSON: {'; '.join(answered) or 'none'}"]
        return "\n".join(shown_text(line, 300) for line in lines)

    async def learn(self, found: Found, words: str = "") -> Proposal:
        """Explore the device, draft (the model, or the demo's built-in draft), check the draft, read it live,
        and store it as a draft version. Raises LearnError (no model outside the demo, a refused draft...)."""
        exploration = await self.explore(found)
        if not exploration.answers_by_path():
            raise LearnError(f"{found.address} answered no JSON to {len(exploration.sent())} read-only requests, "
                             "so there is no API to learn there.")
        demo = self.llm is None and is_demo_pool(exploration)
        calls = 0
        try:
            if self.llm is not None:
                from claw.learn.draft import draft_with_model  # the prompt's schema: only when learning

                drafted = await draft_with_model(self.llm, exploration, reserved=self.reserved())
                draft, calls = drafted.draft, drafted.calls
            elif demo:
                draft = check_draft(demo_draft_for(found.address), exploration, reserved=self.reserved())
            else:
                raise LearnError("No language model is configured, so I can't draft an adapter for this device. "
                                 f"What I found:\n{self.fingerprint(found, exploration)}\nTo add it by hand: "
                                 f"{README_POINTER}.")
        except (AdapterSpecError, ClawError) as exc:
            if isinstance(exc, LearnError):
                raise
            raise LearnError(f"I could not learn {found.address}: {exc}") from None
        live = await self.read_live(draft.spec, found.address)
        version = self.store.adapter_version_next(draft.spec.name)
        spec = draft.spec.model_copy(update={"version": version})
        text = spec_yaml(spec)
        self.store.adapter_version_add(spec.name, text, source="learned", status="draft", host=found.address)
        device = self.device_for(found, spec, exploration, words)
        return Proposal(draft=Draft(spec, text, found.address, live), version=version, device=device,
                        summary=summary(spec, found.address, live), calls=calls, demo=demo, exploration=exploration)

    async def read_live(self, spec: AdapterSpec, address: str) -> dict[str, Any]:
        return await read_live(spec, address)

    def device_for(self, found: Found, spec: AdapterSpec, exploration: Exploration, words: str) -> Device:
        identity = dict(found.identity)
        if spec.match is not None and spec.match.path in exploration.answers_by_path():
            identity.update(clean_identity(match_identity(spec, exploration.answers_by_path()[spec.match.path])))
        name, aliases = names_for(words, found)
        probe = Found(found.address, identity=identity)
        try:
            device = device_for(probe, spec, name=name)
        except ValueError:  # it showed no MAC, serial or UUID: known by its address
            device = Device(id=f"learned:{found.address}", name=name, kind=spec.kind, room=None,
                            capabilities=frozenset(str(c) for c in spec.capabilities), driver="http",
                            address=found.address, adapter=spec.name)
        attrs = {**device.attrs, "adapter_trusted": False, "adapter_version": spec.version}
        return Device(id=device.id, name=name, kind=device.kind, room=device.room, capabilities=device.capabilities,
                      driver=device.driver, address=device.address, aliases=aliases, adapter=device.adapter,
                      attrs=attrs)

    # the owner's answer -----------------------------------------------------------------------------------
    def approve(self, name: str, version: int, device: dict[str, Any], approved_by: str) -> Device:
        """Approve a stored draft version: the HTTP driver gets the spec, the registry the device (its first
        write still needs a YES: attrs.adapter_trusted is false until then)."""
        rows = {r["version"]: r for r in self.store.adapter_versions(name)}
        row = rows.get(version)
        if row is None or row["status"] != "draft":
            raise LearnError(f"adapter {name} v{version} is no longer a draft awaiting approval")
        spec = load_spec(row["spec"])
        self.store.adapter_version_set(name, version, "approved", approved_by=approved_by)
        if self.driver is not None:
            self.driver.add_spec(spec)
        learned = Device.from_dict(device)
        if self.registry is not None:
            self.registry.add(learned)
        self.store.device_upsert(learned.to_dict(), source="learned")
        log.info("adapter %s v%d approved by %s; device %s added", name, version, approved_by, learned.id)
        return learned

    def reject(self, name: str, version: int, by: str) -> None:
        self.store.adapter_version_set(name, version, "rejected", approved_by=by)

    def rollback(self, name: str, to: int | None = None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """`rollback` below, and the running HTTP driver given the version now current (no restart needed)."""
        before, row = rollback(self.store, name, to)
        if self.driver is not None:
            try:
                self.driver.add_spec(load_spec(row["spec"]))
            except AdapterSpecError as exc:
                log.warning("rolled-back adapter %s v%s does not load: %s", name, row["version"], exc)
        return before, row


def rollback(store: Store, name: str, to: int | None = None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Make an earlier approved version of a learned adapter current again (`to`, default the approved one
    before the current); every later approved version becomes rolled_back. Returns (the version current
    before, the one current now); LearnError when there is nothing to go back to. `claw adapters rollback`
    and the dashboard both come here."""
    before = store.adapter_current(name)
    try:
        row = store.adapter_rollback(name, to)
    except ValueError as exc:
        raise LearnError(str(exc)) from None
    log.info("adapter %s rolled back from v%s to v%s", name, (before or {}).get("version"), row["version"])
    return before, row


def file_specs(folder: Path | None, reserved: set[str]) -> dict[str, AdapterSpec]:
    """The hand-written specs (*.yaml, *.yml) in `folder`; a broken one, or one taking a shipped adapter's name,
    is logged and skipped."""
    out: dict[str, AdapterSpec] = {}
    if folder is None or not Path(folder).is_dir():
        return out
    for path in sorted(Path(folder).glob("*.y*ml")):
        try:
            spec = load_spec(path)
        except AdapterSpecError as exc:
            log.warning("skipping adapter file: %s", exc)
            continue
        if spec.name in reserved:
            log.warning("skipping adapter file %s: %r is a shipped adapter's name", path, spec.name)
            continue
        out[spec.name] = spec
    return out


async def read_live(spec: AdapterSpec, address: str) -> dict[str, Any]:
    """Every read of the spec sent live to `address` (GET only, no redirects) and its state extracted
    strictly; LearnError when a read is not a GET, fails, or does not fit."""
    answers: dict[str, Any] = {}
    async with probe_client(LIVE_TIMEOUT) as client:
        for req in spec.state:
            if req.method != "GET":
                raise LearnError(f"{req.method} {req.path} is not a read: reads must be GET")
            try:
                resp = await client.get(f"http://{address}{req.path}", params=req.query or None)
                resp.raise_for_status()
                answers[req.path] = resp.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise LearnError(f"reading {req.path} live failed: {exc.__class__.__name__}") from None
    try:
        return extract_state(spec, answers, strict=True)
    except AdapterSpecError as exc:
        raise LearnError(f"the live answers do not fit the draft: {exc}") from None
