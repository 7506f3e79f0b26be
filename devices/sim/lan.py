"""A discoverable simulated LAN: the demo home plus WLED, Shelly and Tasmota, announced on loopback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from devices.sim.announce import Announcement, LoopbackAnnouncer
from devices.sim.home import SimHome, random_loopback_base
from devices.sim.pool import SimPool
from devices.sim.shelly import SimShelly
from devices.sim.tasmota import SimTasmota
from devices.sim.vendor_base import VendorSim
from devices.sim.wled import SimWled

GENERIC_HTTP = "_http._tcp.local."
# The real-vendor simulators of the discoverable home: (class, name)
VENDOR_SIMS: list[tuple[type[VendorSim], str]] = [
    (SimWled, "desk strip"), (SimShelly, "heater plug"), (SimTasmota, "porch dimmer")]
VENDOR_SIMS.append((SimPool, "Pool Controller"))  # the unknown gadget: no shipped spec matches it (issue 9b)


@dataclass
class SimLan:
    """`async with SimLan.load() as lan:` starts the home (Sonos answering SSDP), the vendor simulators, and
    announces every HTTP device over mDNS on 127.0.0.1 (WLED and Shelly under their own service types and
    `_http._tcp`, the others under `_http._tcp` only, as the real ones do)."""

    home: SimHome
    vendors: dict[str, VendorSim] = field(default_factory=dict)
    announcer: LoopbackAnnouncer | None = None
    extra: list[Announcement] = field(default_factory=list)  # e.g. a rogue announcement, in tests

    @classmethod
    def load(cls, path: Path | None = None, *, ip_base: str | None = None) -> SimLan:
        home = SimHome.load(path, ip_base=ip_base or random_loopback_base())
        home.ssdp = True
        return cls(home=home)

    @property
    def household_id(self) -> str:
        return self.home.sonos[0].household.id if self.home.sonos else "Sonos"

    def announcements(self) -> list[Announcement]:
        out = [Announcement(GENERIC_HTTP, name, sim.address, {}) for name, sim in self.home.http.items()]
        for name, sim in self.vendors.items():
            if sim.SERVICE_TYPE != GENERIC_HTTP:
                out.append(Announcement(sim.SERVICE_TYPE, name, sim.address, sim.txt))
            out.append(Announcement(GENERIC_HTTP, name, sim.address, {}))
        return out + list(self.extra)

    async def start(self) -> SimLan:
        self.home.start()
        try:
            for cls, name in VENDOR_SIMS:
                self.vendors[name] = cls(host=self.home.ip_base, port=0, name=name).start()
            self.announcer = await LoopbackAnnouncer(self.announcements()).start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        if self.announcer is not None:
            await self.announcer.stop()
            self.announcer = None
        for sim in self.vendors.values():
            sim.stop()
        self.home.stop()

    async def __aenter__(self) -> SimLan:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
