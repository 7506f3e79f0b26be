"""`claw demo` finding its simulated home itself: one discovery pass on its loopback at start, every matched
vendor device added, the Hue bridge paired (its simulated link button pressed for the owner, who is told so)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from devices.adapters.pairing import PairingError, describe_pairing, is_hub, pair_hub
from devices.adapters.spec import AdapterSpec
from devices.discovery.matching import Found, device_for
from devices.discovery.scan import scan
from devices.drivers.http import HttpDriver
from devices.models import Device
from devices.sim.hue import SimHue
from devices.sim.lan import VENDOR_ROOMS, SimLan

log = logging.getLogger(__name__)

PASSES = 2  # discovery passes at most at start
LOOPBACK = "127.0.0.1"  # the demo's interface: its simulators announce themselves here and nowhere else


@dataclass
class DemoDiscovery:
    """What the start-up pass found and added, and the lines the demo prints about it."""

    added: list[Device] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    found: int = 0
    seconds: float = 0.0


async def discover_demo(lan: SimLan, http: HttpDriver, known: list[Device], *, timeout: float = 1.5,
                        pair_wait: float = 10.0, earlier: Sequence[Device] = ()) -> DemoDiscovery:
    """One pass pinned to 127.0.0.1 (a second when some of its simulators did not answer); adds the vendor
    devices of `lan` that matched an adapter and are not `known` yet (the home file's devices keep their names,
    rooms and aliases); one the demo's store kept from an `earlier` run (e.g. the learned pool) keeps its name
    and room at the address it answers at now. Announcements of other processes on the shared loopback are
    left alone: only this demo's own simulators are added."""
    before = {d.id: d for d in earlier}
    started = time.monotonic()
    ours = {sim.address: name for name, sim in lan.vendors.items()}
    answered: dict[str, Found] = {}
    for _ in range(PASSES):  # a busy machine can answer late: one more pass only when some of ours is missing
        result = await scan([LOOPBACK], timeout=timeout, specs=http.specs, household_id=lan.household_id)
        for f in result.found:
            answered.setdefault(f.address, f)
        if all(address in answered for address in ours):
            break
    out = DemoDiscovery(found=len(answered))
    known_ids = {d.id for d in known}
    specs: dict[str, AdapterSpec] = http.specs
    for f in sorted(answered.values(), key=lambda f: f.address):
        name = ours.get(f.address)
        if name is None or f.adapter is None or f.adapter not in specs or f.device_id in known_ids:
            continue
        spec, room = specs[f.adapter], VENDOR_ROOMS.get(name)
        if is_hub(spec):
            out.added.extend(await _pair(lan, http, spec, specs, f.address, f.device_id or "", name, room,
                                         pair_wait, out.notes))
            continue
        if f.device_id in before:  # followed by its identity: the simulators listen on new ports each run
            out.added.append(replace(before[f.device_id], address=f.address))
            continue
        try:
            out.added.append(device_for(f, spec, name=f.identity.get("name") or name, room=room))
        except ValueError as exc:
            out.notes.append(f"{name}: not added ({exc})")
    out.seconds = round(time.monotonic() - started, 2)
    names = ", ".join(d.name for d in out.added) or "nothing new"
    out.notes.insert(0, f"discovery on {LOOPBACK}: {out.found} device(s) in {out.seconds:g} s; added {names}")
    unknown = sorted(ours[f.address] for f in answered.values() if f.address in ours and f.adapter is None)
    if unknown:  # the gadget no shipped spec matches: the claw can learn it (claw.learn)
        out.notes.append(f"found without an adapter: {', '.join(unknown)}; say “scan my network”, then "
                         f"“learn the {unknown[0].lower()}”")
    missed = sorted(name for address, name in ours.items() if address not in answered)
    if missed:  # say what it missed rather than pretend
        out.notes.append(f"not found in this pass: {', '.join(missed)} (a busy machine can answer late; "
                         "`claw discover --demo` looks again)")
    return out


async def _pair(lan: SimLan, http: HttpDriver, spec: AdapterSpec, specs: dict[str, AdapterSpec], address: str,
                hub_id: str, name: str, room: str | None, wait: float, notes: list[str]) -> list[Device]:
    bridge = lan.vendors[name]

    def press(prompt: str) -> None:
        # the owner would do this by hand; the demo does it and says so
        notes.append(f"{name}: the claw asked to \"{spec.pair.prompt if spec.pair else prompt}\"; this is the "
                     "demo, so it pressed the simulated button itself (with a real bridge, you press it)")
        if isinstance(bridge, SimHue):
            bridge.press_link_button()

    try:
        paired = await pair_hub(spec, specs, address, hub_id, wait=wait, retry=0.2, prompt=press, room=room,
                                timeout=http.timeout)
    except PairingError as exc:
        notes.append(f"{name}: not paired: {exc}")
        return []
    http.credentials.set(paired.hub_id, paired.credential)
    notes.append(describe_pairing(paired))
    return paired.devices
