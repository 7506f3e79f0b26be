"""A whole simulated home from a YAML description: Sonos players and HTTP devices on loopback."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import random
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devices.adapters.spec import builtin_specs
from devices.drivers.http import device_from_info
from devices.drivers.sonos import describe
from devices.errors import DeviceError
from devices.models import Device
from devices.sim.http_devices import SimGarage, SimHttpDevice, SimLight, SimLock, SimShade, SimThermostat
from devices.sim.sonos import SonosHousehold, SonosSimPlayer

if TYPE_CHECKING:
    from devices.sim.camera import SimCamera  # imported when a home has a camera: it brings OpenCV and numpy

log = logging.getLogger(__name__)

HTTP_SIMS: dict[str, tuple[type[SimHttpDevice], str]] = {
    "light": (SimLight, "claw-sim-light"),
    "thermostat": (SimThermostat, "claw-sim-thermostat"),
    "shade": (SimShade, "claw-sim-shade"),
    "lock": (SimLock, "claw-sim-lock"),
    "garage": (SimGarage, "claw-sim-garage"),
}


class SimHomeError(DeviceError):
    """The home description is invalid or a simulated device could not start."""


class SimDeviceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["sonos", "light", "thermostat", "shade", "lock", "garage", "camera"]
    name: str = Field(min_length=1, max_length=64)
    room: str | None = Field(None, max_length=64)
    aliases: list[str] = []
    state: dict[str, Any] | None = None
    favorites: list[dict[str, str]] | None = None
    # cameras only: the scene's seed, a visitor on average every N seconds (none: only on demand), rain speckle
    seed: int = 1
    visitor_every: float | None = Field(None, gt=0)
    rain: int = Field(0, ge=0, le=5000)
    parcel_every: int = Field(0, ge=0)  # every n-th scheduled visitor leaves a parcel, the next takes it (0: never)


class SimHomeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "Simulated home"
    devices: list[SimDeviceSpec] = Field(min_length=1)


def random_loopback_base() -> str:
    """A random 127.a.b.2 so that several simulated homes (tests, `claw ask --demo`) never collide."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.2"


def one_line(exc: BaseException) -> str:
    """An error's text on one line (yaml's errors span several, with a caret under the mark)."""
    return " ".join(str(exc).split())


def _stable_uuid(name: str) -> str:
    return "RINCON_" + hashlib.sha1(name.encode()).hexdigest()[:12].upper() + "01400"


@dataclass
class SimHome:
    """Starts every simulated device of a home; `start()` returns the Devices the claw should know."""

    spec: SimHomeSpec
    ip_base: str = "127.0.0.2"
    sonos: list[SonosSimPlayer] = field(default_factory=list)
    http: dict[str, SimHttpDevice] = field(default_factory=dict)  # by device name
    cameras: dict[str, SimCamera] = field(default_factory=dict)  # by name; watched by the claw, not in `devices`
    devices: list[Device] = field(default_factory=list)
    ssdp: bool = False  # the Sonos players answer SSDP M-SEARCH on loopback (devices/sim/lan.py)

    @classmethod
    def load(cls, path: Path | None = None, *, ip_base: str = "127.0.0.2") -> SimHome:
        try:
            if path is None:
                text = resources.files("devices.sim").joinpath("default_home.yaml").read_text(encoding="utf-8")
            else:
                text = Path(path).read_text(encoding="utf-8")
            spec = SimHomeSpec.model_validate(yaml.safe_load(text))
        except UnicodeDecodeError as exc:
            raise SimHomeError(f"cannot read the home file {path}: it is not UTF-8 text (byte {exc.start}: "
                               f"{exc.object[exc.start:exc.start + 1]!r}); save it as UTF-8 YAML") from exc
        except (OSError, yaml.YAMLError) as exc:
            raise SimHomeError(f"cannot read the home file {path}: {one_line(exc)}") from exc
        except ValidationError as exc:
            raise SimHomeError(f"the home file {path or 'default'} is invalid: {exc}") from exc
        return cls(spec=spec, ip_base=ip_base)

    def start(self) -> list[Device]:
        """Start all simulators (blocking); on any failure stop those already started."""
        try:
            self._start()
        except Exception as exc:
            self.stop()
            if isinstance(exc, SimHomeError):
                raise
            raise SimHomeError(f"the simulated home could not start: {exc}") from exc
        return self.devices

    def _start(self) -> None:
        household = SonosHousehold()
        ip = ipaddress.IPv4Address(self.ip_base)
        specs = builtin_specs()
        for item in self.spec.devices:
            if item.type == "camera":
                from devices.sim.camera import SimCamera
                from devices.sim.camera_scene import SceneOptions

                options = SceneOptions(seed=item.seed, visitor_every=item.visitor_every, rain=item.rain,
                                       parcel_every=item.parcel_every)
                self.cameras[item.name] = SimCamera(self.ip_base, 0, item.name, options=options).start()
                continue
            if item.type == "sonos":
                player = SonosSimPlayer(str(ip), 1400, name=item.name, room=item.room,
                                        uuid=_stable_uuid(item.name), favorites=item.favorites,
                                        household=household, ssdp=self.ssdp)
                ip += 1
                try:
                    self.sonos.append(player.start())
                except OSError as exc:
                    raise SimHomeError(f"cannot serve the simulated speaker {item.name!r} on {player.address}: "
                                       f"{exc.strerror} (is another `claw demo` running?)") from exc
                device = describe(player.address, room=item.room)
            else:
                cls, spec_name = HTTP_SIMS[item.type]
                sim = cls(host=self.ip_base, port=0, name=item.name, state=item.state)
                self.http[item.name] = sim.start()
                device = device_from_info(sim.info, sim.address, specs[spec_name], item.room, item.name)
            if item.aliases:
                merged = {a.lower(): a for a in reversed((*item.aliases, *device.aliases))}
                device = Device(**{**device.__dict__, "aliases": tuple(reversed(merged.values()))})
            self.devices.append(device)

    def stop(self) -> None:
        for player in self.sonos:
            player.stop()
        for sim in self.http.values():
            sim.stop()
        for cam in self.cameras.values():
            cam.stop()

    def __enter__(self) -> SimHome:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def sim(self, name: str) -> SonosSimPlayer | SimHttpDevice | SimCamera:
        """The simulator behind a device name (tests read its state and command log)."""
        if name in self.http:
            return self.http[name]
        if name in self.cameras:
            return self.cameras[name]
        for player in self.sonos:
            if player.name == name:
                return player
        raise KeyError(name)

    def reset(self) -> None:
        """Every simulator back to the state the home file gives it, with empty command logs."""
        for player in self.sonos:
            player.reset()
        for item in self.spec.devices:
            if item.name in self.http:
                self.http[item.name].reset(item.state)

    def camera_rooms(self) -> dict[str, str | None]:
        """Each simulated camera's room, by name."""
        return {item.name: item.room for item in self.spec.devices if item.type == "camera"}

    def physical_commands(self) -> int:
        """How many state-changing requests all simulators received."""
        return sum(len(p.commands) for p in self.sonos) + sum(len(s.commands) for s in self.http.values())
