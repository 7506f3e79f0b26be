"""Pure reconciliation of a scan with what is known: identity-bound status, followed IP changes, suspects."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from devices.discovery.matching import Found
from devices.drivers.http import untrusted_text
from devices.models import Device, Kind
from devices.registry import normalize_name

NEW, ADDED, IGNORED, SUSPECT = "new", "added", "ignored", "suspect"


@dataclass
class Sighting:
    """One found device as the owner sees it: its row key, identity, status and, for a known device that
    answered at another address, where the registry had it (`moved_from`). Device text is capped."""

    key: str  # the `discovered` row: the identity, "addr:host:port", or "identity@host:port" (a 2nd claimant)
    identity: str | None
    address: str
    adapter: str | None
    what: str
    name: str
    fingerprint: dict[str, Any]
    status: str
    device_id: str | None = None
    device_name: str | None = None
    moved_from: str | None = None
    reason: str = ""
    via: list[str] = field(default_factory=list)
    index: int = 0

    @property
    def id_kind(self) -> str:
        return self.identity.split(":", 1)[0] if self.identity else "address"

    def row(self) -> dict[str, Any]:
        """The `discovered` row (memory.store_discovery) for this sighting."""
        return {"key": self.key, "identity": self.identity, "id_kind": self.id_kind, "address": self.address,
                "adapter": self.adapter, "what": self.what, "name": self.name, "fingerprint": self.fingerprint,
                "status": self.status, "device_id": self.device_id, "note": self.reason or None,
                "idx": self.index}

    def status_text(self) -> str:
        if self.status == ADDED:
            return f"added as {self.device_name or self.device_id}"
        return self.status.upper() if self.status == SUSPECT else self.status


def fingerprint(found: Found) -> dict[str, Any]:
    """What the device showed besides its identity (for telling a look-alike apart): adapter, model, firmware,
    the mDNS service types."""
    out: dict[str, Any] = {k: v for k, v in found.identity.items() if k in ("model", "firmware", "name")}
    out["adapter"] = found.adapter
    out["services"] = sorted(found.services)[:8]
    return out


def _same_kind(device: Device, found: Found) -> bool:
    """Whether a found device looks like the registry device bound to its identity (same driver/adapter)."""
    if device.driver == "sonos":
        return found.adapter == "sonos"
    return found.adapter is not None and found.adapter == device.adapter


def _claimed_names(found: Found) -> set[str]:
    names = {found.identity.get("name", ""), *found.announced}
    return {normalize_name(n) for n in names if n and n.strip()}


def reconcile(found: list[Found], rows: dict[str, dict[str, Any]], devices: list[Device]) -> list[Sighting]:
    """Sightings for one scan, numbered 1.. in table order. `rows` are the known `discovered` rows by key,
    `devices` the registry. A known identity at a new address is followed (moved_from); a device that claims
    a known device's identity but does not look like it, shares an identity with another answer, or announces
    a known device's name under another identity is SUSPECT and never bound; ignored stays ignored; a
    suspect stays suspect until the owner clears it."""
    by_id = {d.id: d for d in devices}
    by_name: dict[str, Device] = {}
    for d in devices:
        for n in d.names():
            by_name.setdefault(normalize_name(n), d)
    claimants: dict[str, list[Found]] = defaultdict(list)
    for f in found:
        if f.device_id:
            claimants[f.device_id].append(f)
    out: list[Sighting] = []
    for n, f in enumerate(sorted(found, key=lambda f: (f.adapter is None, f.adapter or "", f.address)), 1):
        ident = f.device_id
        s = Sighting(key=ident or f"addr:{f.address}", identity=ident, address=f.address, adapter=f.adapter,
                     what=untrusted_text(f.what, 48), name=untrusted_text(f.identity.get("name", ""), 64),
                     fingerprint=fingerprint(f), status=NEW, via=sorted(f.via), index=n)
        others = claimants.get(ident, []) if ident else []
        device = by_id.get(ident) if ident else None
        if device is not None:
            _bound(s, f, device, others)
        elif len(others) > 1:
            s.key, s.status = f"{ident}@{f.address}", SUSPECT
            s.reason = f"{len(others)} devices claim the identity {ident}"
        else:
            stolen = next((by_name[c] for c in _claimed_names(f) if c in by_name and by_name[c].id != ident),
                          None)
            if stolen is not None and stolen.driver == "sonos" and f.adapter == "sonos":
                stolen = None  # Sonos players share their room's name by design (stereo pairs, a Sub)
            if stolen is not None:
                s.status = SUSPECT
                s.reason = (f"announces the name “{stolen.name}” of a known device ({stolen.id}) with "
                            f"{'identity ' + ident if ident else 'no identity'}")
        row = rows.get(s.key)
        if row is not None and s.status != ADDED:
            if row.get("status") == IGNORED:
                s.status, s.reason = IGNORED, ""
            elif row.get("status") == SUSPECT and s.status == NEW:
                s.status, s.reason = SUSPECT, str(row.get("note") or "marked suspect by an earlier scan")
        out.append(s)
    return out


def _bound(s: Sighting, f: Found, device: Device, claimants: list[Found]) -> None:
    """A sighting of an identity the registry has: the device itself (perhaps at a new address) or a suspect."""
    ident = s.identity
    if not _same_kind(device, f):
        s.key, s.status = f"{ident}@{f.address}", SUSPECT
        s.reason = (f"claims the identity of {device.name} ({ident}) but answers as "
                    f"{f.adapter or 'an unknown device'}, not {device.adapter or device.driver}")
        return
    at_home = [c for c in claimants if c.address == device.address and _same_kind(device, c)]
    if len(claimants) > 1 and f.address != device.address:
        s.key, s.status = f"{ident}@{f.address}", SUSPECT
        s.reason = (f"claims the identity of {device.name} ({ident}), which "
                    f"{'answers at ' + device.address if at_home else 'several devices claim now'}")
        return
    s.status, s.device_id, s.device_name = ADDED, device.id, device.name
    if f.address != device.address:
        s.moved_from = device.address


def resolve(ref: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `discovered` rows a reference means: its number in the last table ("3", "#3", "number 3"), its
    key or identity, else the rows that share the most words with it, a word of what it is (what, adapter,
    model) counting twice one of its name (ties: several, i.e. ambiguous; none: empty)."""
    text = " ".join(ref.lower().replace("#", " ").split())
    words = [w for w in text.split() if w not in _STOP]
    if len(words) == 1 and words[0].isdigit():
        return [e for e in entries if e.get("idx") == int(words[0])]
    exact = [e for e in entries if text in (str(e.get("key", "")).lower(), str(e.get("identity") or "").lower())]
    if exact:
        return exact
    scored: list[tuple[int, dict[str, Any]]] = []
    for e in entries:
        fp = e.get("fingerprint") or {}
        kind = _words(e.get("what"), e.get("adapter"), fp.get("model"))  # what it is weighs more than its name
        name = _words(e.get("name"), e.get("address"))
        score = sum(2 if _hit(w, kind) else 1 if _hit(w, name) else 0 for w in words)
        if score:
            scored.append((score, e))
    if not scored:
        return []
    best = max(score for score, _ in scored)
    return [e for score, e in scored if score == best]


def _words(*parts: Any) -> tuple[set[str], str]:
    text = " ".join(str(p) for p in parts if p).lower()
    return set(text.replace("-", " ").replace("(", " ").replace(")", " ").split()), text


def _hit(word: str, hay: tuple[set[str], str]) -> bool:
    return word in hay[0] or (len(word) > 3 and word in hay[1])


_STOP = frozenset({"the", "a", "an", "my", "that", "this", "new", "one", "number", "no", "device", "thing", "it",
                   "on", "of", "at"})


def device_from_row(row: dict[str, Any], specs: dict[str, Any], name: str, room: str | None) -> Device:
    """The registry Device for a `discovered` row the owner adds (pure); ValueError says why it cannot be."""
    identity, adapter = row.get("identity"), row.get("adapter")
    if not identity or ":" not in str(identity):
        raise ValueError(f"{row['address']} showed no MAC, serial or UUID, so it could not be followed when its "
                         "address changes; it cannot be added")
    fp = row.get("fingerprint") or {}
    attrs = {k: str(fp[k]) for k in ("model", "firmware") if fp.get(k)}
    kind, value = str(identity).split(":", 1)
    if kind in ("mac", "serial"):
        attrs[kind] = value
    if adapter == "sonos":
        return Device(id=str(identity), name=name, kind=Kind.SPEAKER, room=room,
                      capabilities=frozenset({"media", "power"}), driver="sonos", address=str(row["address"]),
                      attrs=attrs)
    spec = specs.get(adapter) if adapter else None
    if spec is None:
        raise ValueError(f"no adapter matches {row['address']} ({row.get('what') or 'unknown'}); it needs an "
                         "adapter spec first (devices/adapters/*.yaml)")
    return Device(id=str(identity), name=name, kind=Kind(spec.kind), room=room,
                  capabilities=frozenset(str(c) for c in spec.capabilities), driver="http",
                  address=str(row["address"]), adapter=spec.name, attrs=attrs)
