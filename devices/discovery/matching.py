"""Pure discovery logic: which probes to send, which adapter a fingerprint matches, the found-device table."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from devices.adapters.spec import AdapterSpec, match_identity, spec_matches
from devices.drivers.http import INFO_PATH, untrusted_text
from devices.errors import DeviceError
from devices.models import Device

GENERIC_HTTP = "_http._tcp.local."
ProbeKey = tuple[str, tuple[tuple[str, str], ...]]  # (path, sorted query items)


class DiscoveryError(DeviceError):
    """Discovery was asked for something it must not do (no interface given, a probe off the host)."""


def probe_key(path: str, query: dict[str, Any] | None) -> ProbeKey:
    return path, tuple(sorted((str(k), str(v)) for k, v in (query or {}).items()))


@dataclass
class Found:
    """One device found on the network. Everything but `address`/`via` came from the device: untrusted."""

    address: str  # host:port
    via: set[str] = field(default_factory=set)  # "mdns", "ssdp", "probe"
    identity: dict[str, str] = field(default_factory=dict)  # mac/serial/uuid/name/model/firmware
    what: str = "unknown"
    adapter: str | None = None  # a spec name, "sonos", or None (unknown)
    services: set[str] = field(default_factory=set)
    txt: dict[str, str] = field(default_factory=dict)
    announced: set[str] = field(default_factory=set)  # mDNS instance names it was announced under

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def device_id(self) -> str | None:
        """The stable id the registry would use: "sonos:UUID", "mac:aa:bb:..", "serial:...", else None."""
        if "uuid" in self.identity and self.adapter == "sonos":
            return f"sonos:{self.identity['uuid']}"
        if "serial" in self.identity:  # serial before MAC, as devices/drivers/http.py: device_from_info
            return f"serial:{self.identity['serial']}"
        if "mac" in self.identity:
            return f"mac:{self.identity['mac']}"
        if "uuid" in self.identity:
            return f"uuid:{self.identity['uuid']}"
        return None


def normalise_mac(text: str) -> str | None:
    """'AABBCCDDEEFF', 'aa-bb-…' or 'aa:bb:…' -> 'aa:bb:cc:dd:ee:ff'; None if it is not a MAC."""
    digits = re.sub(r"[:\-.]", "", text.strip()).lower()
    if not re.fullmatch(r"[0-9a-f]{12}", digits):
        return None
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def clean_identity(raw: dict[str, str]) -> dict[str, str]:
    """Identity values made safe (printable, capped) with MACs in one spelling; a bad MAC is dropped."""
    out = {k: untrusted_text(v, 64) for k, v in raw.items()}
    if "mac" in out:
        mac = normalise_mac(out.pop("mac"))
        if mac:
            out["mac"] = mac
    return out


def zeroconf_hits(specs: dict[str, AdapterSpec], service_type: str, txt: dict[str, str]) -> list[str]:
    """Names of the specs whose zeroconf matcher fits an announced service type and its TXT properties."""
    hits = []
    for name, spec in sorted(specs.items()):
        for zc in spec.match.zeroconf if spec.match else ():
            if zc.type == service_type and all(
                    k in txt and (want is None or txt[k] == want) for k, want in zc.txt.items()):
                hits.append(name)
                break
    return hits


def ssdp_hits(specs: dict[str, AdapterSpec], search_target: str) -> list[str]:
    """Names of the specs that list this SSDP search target."""
    return sorted(name for name, spec in specs.items()
                  if spec.match and any(m.st == search_target for m in spec.match.ssdp))


_USN_MAC = re.compile(r"(?<![0-9A-Fa-f])((?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2})(?![0-9A-Fa-f])")


def mac_from_usn(usn: str) -> str | None:
    """A MAC written in an SSDP USN (Venstar: 'ecp:00:23:75:aa:bb:cc:name:Hall:type:residential'), else None."""
    m = _USN_MAC.search(usn)
    return normalise_mac(m.group(1)) if m else None


def probe_plan(specs: dict[str, AdapterSpec], only: list[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The GET requests (path, query) that fingerprint a host: each matching spec's probe, deduplicated;
    `only` restricts to the named specs (e.g. those an mDNS announcement pointed at)."""
    seen: dict[ProbeKey, tuple[str, dict[str, Any]]] = {}
    for name, spec in sorted(specs.items()):
        if spec.match is None or (only is not None and name not in only):
            continue
        key = probe_key(spec.match.path, spec.match.query)
        seen.setdefault(key, (spec.match.path, dict(spec.match.query or {})))
    return list(seen.values())


def match_answers(specs: dict[str, AdapterSpec], answers: dict[ProbeKey, Any],
                  candidates: list[str] | None = None) -> tuple[str | None, dict[str, str]]:
    """The first spec (candidates first, then by name) whose HTTP matcher the recorded answers satisfy, with
    the identity it reads from them; (None, {}) when none does. An mDNS hint alone never matches."""
    order = list(candidates or []) + sorted(n for n in specs if n not in (candidates or []))
    best: tuple[int, str] | None = None
    for name in order:
        spec = specs.get(name)
        if spec is None or spec.match is None:
            continue
        key = probe_key(spec.match.path, spec.match.query)
        if key in answers and spec_matches(spec, {spec.match.path: answers[key]}):
            # the most specific matcher wins (a Shelly dimmer also fits the generic Gen2 switch's gen: 2)
            score = len(spec.match.fields) + len(spec.match.keys)
            if best is None or score > best[0]:
                best = (score, name)
    if best is None:
        return None, {}
    name = best[1]
    match = specs[name].match
    assert match is not None
    body = answers[probe_key(match.path, match.query)]
    identity = match_identity(specs[name], body)
    if not match.identity and match.path == INFO_PATH and isinstance(body, dict):
        # the claw-sim convention (devices/drivers/http.py: device_from_info): identity in /api/info
        identity = {k: str(v) for k in ("mac", "serial", "name", "model", "firmware")
                    if isinstance(v := body.get(k), str | int) and not isinstance(v, bool)}
    return name, clean_identity(identity)


def allowed_host(host: str, interfaces: list[str]) -> bool:
    """Whether discovery may probe `host`: on a loopback interface only 127.0.0.0/8, otherwise the /24 of
    one of the interfaces (an announcement cannot send the probes elsewhere)."""
    try:
        ip = ipaddress.IPv4Address(host)
    except ValueError:
        return False
    for iface in interfaces:
        net = ipaddress.IPv4Address(iface)
        if net.is_loopback and ip.is_loopback:
            return True
        if not net.is_loopback and ip in ipaddress.IPv4Network(f"{iface}/24", strict=False):
            return True
    return False


def device_for(found: Found, spec: AdapterSpec, name: str | None = None, room: str | None = None) -> Device:
    """The registry Device for a found HTTP device matched to `spec` (pure); raises ValueError without an id."""
    device_id = found.device_id
    if device_id is None:
        raise ValueError(f"{found.address} showed no MAC, serial or UUID")
    if spec.pair is not None and spec.pair.children is not None:
        raise ValueError(f"{found.address} is a {describe(spec)}: pair it, and the devices behind it are added")
    return Device(id=device_id, name=name or found.identity.get("name") or spec.name, kind=spec.kind, room=room,
                  capabilities=frozenset(str(c) for c in spec.capabilities), driver="http",
                  address=found.address, adapter=spec.name,
                  attrs={k: v for k, v in found.identity.items() if k in ("model", "serial", "mac", "firmware")})


def describe(spec: AdapterSpec) -> str:
    """A short 'what it is' from the spec's description: 'WLED LED controller (JSON API…)' -> 'WLED LED
    controller'."""
    return spec.description.split(" (")[0].split(",")[0][:48]


def table(found: list[Found]) -> list[dict[str, str]]:
    """Rows for display: address, identity, what it is, adapter (or "unknown"), how it was seen."""
    rows = []
    for f in sorted(found, key=lambda f: (f.adapter is None, f.adapter or "", f.address)):
        rows.append({"address": f.address, "identity": f.device_id or "-", "what": untrusted_text(f.what, 48),
                     "adapter": f.adapter or "unknown", "via": ",".join(sorted(f.via))})
    return rows
