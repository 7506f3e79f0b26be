"""The Device model: a stable id (MAC/UUID/serial), names, room, kind, capabilities and address."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    LIGHT = "light"
    SPEAKER = "speaker"
    CLIMATE = "climate"
    COVER = "cover"
    LOCK = "lock"
    GARAGE = "garage"
    HEATER = "heater"
    SWITCH = "switch"
    CAMERA = "camera"
    SENSOR = "sensor"
    OTHER = "other"


@dataclass(frozen=True)
class Device:
    """A device the claw can drive. `id` never changes; `address` may (rediscovery updates it)."""

    id: str  # stable: "sonos:RINCON_...", "mac:aa:bb:..", "serial:..."
    name: str
    kind: Kind
    room: str | None
    capabilities: frozenset[str]
    driver: str  # "sonos" | "http"
    address: str  # "host:port"
    aliases: tuple[str, ...] = ()
    adapter: str | None = None  # adapter spec name for the http driver
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = str(self.kind)
        d["capabilities"] = sorted(self.capabilities)
        d["aliases"] = list(self.aliases)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Device:
        return cls(
            id=str(d["id"]), name=str(d["name"]), kind=Kind(d.get("kind", "other")), room=d.get("room"),
            capabilities=frozenset(d.get("capabilities", ())), driver=str(d["driver"]),
            address=str(d["address"]), aliases=tuple(d.get("aliases", ())), adapter=d.get("adapter"),
            attrs=dict(d.get("attrs") or {}),
        )
