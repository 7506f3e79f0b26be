"""The `match` section of an adapter spec: how discovery recognises a device (HTTP probe, mDNS, SSDP)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from devices.adapters.schema_base import PLACEHOLDER, DevicePath, Scalar, StrictModel, check_dotted


class ZeroconfMatch(StrictModel):
    """An mDNS service type the device announces, e.g. `_wled._tcp.local.`, and TXT keys it must carry
    (a value to equal, or null: the key only has to be present)."""

    type: str = Field(pattern=r"^_[a-z0-9-]{1,63}\._(tcp|udp)\.local\.$")
    txt: dict[str, str | None] = Field(default_factory=dict)


class SsdpMatch(StrictModel):
    """An SSDP search target the device answers, e.g. `venstar:thermostat:ecp` (a MAC in its USN is taken
    as its identity)."""

    st: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$")


class Match(StrictModel):
    """How discovery recognises the device: GET `path` (with `query`) answers JSON whose `fields` (dotted
    paths) equal the given values and whose `keys` (dotted paths) exist; `identity` says where its MAC,
    serial, name… are in that answer; `zeroconf` lists the mDNS services it announces, `ssdp` the SSDP
    search targets it answers."""

    path: DevicePath
    query: dict[str, Scalar] | None = None
    fields: dict[str, JsonValue] = Field(default_factory=dict)
    keys: list[str] = Field(default_factory=list, max_length=16)
    identity: dict[Literal["mac", "serial", "uuid", "name", "model", "firmware"], str] = Field(
        default_factory=dict)
    zeroconf: list[ZeroconfMatch] = Field(default_factory=list, max_length=4)
    ssdp: list[SsdpMatch] = Field(default_factory=list, max_length=4)

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        for path in value:
            check_dotted(path, like=" like 'info.mac'")
        return value

    @model_validator(mode="after")
    def _something(self) -> Match:
        if not self.fields and not self.keys:
            raise ValueError("match needs `fields` or `keys` (what the answer must show)")
        for key, path in self.identity.items():
            check_dotted(path, f"identity.{key}: ")
        if any(PLACEHOLDER.search(str(v)) for v in (self.query or {}).values()):
            raise ValueError("match.query: placeholders are not allowed in a probe")
        return self
