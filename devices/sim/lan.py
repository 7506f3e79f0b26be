"""A discoverable simulated LAN: the demo home plus WLED, Shelly, Hue, Venstar and Tasmota, announced on loopback."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.sim.announce import Announcement, LoopbackAnnouncer
from devices.sim.home import SimHome, random_loopback_base
from devices.sim.hue import SimHue
from devices.sim.pool import SimPool
from devices.sim.shelly import SimShelly
from devices.sim.shelly_cover import SimShellyCover
from devices.sim.shelly_light import SimShellyLight
from devices.sim.tasmota import SimTasmota
from devices.sim.vendor_base import VendorSim
from devices.sim.venstar import SimVenstar
from devices.sim.wled import SimWled

GENERIC_HTTP = "_http._tcp.local."
SETTLE_SECONDS = 1.0
# The real-vendor simulators of the discoverable home: (class, name)
VENDOR_SIMS: list[tuple[type[VendorSim], str]] = [
    (SimWled, "desk strip"), (SimShelly, "heater plug"), (SimTasmota, "porch dimmer"),
    (SimShellyLight, "hall dimmer"), (SimShellyCover, "office blind"), (SimHue, "hue bridge"),
    (SimVenstar, "upstairs thermostat"),
    (SimPool, "Pool Controller")]  # the unknown gadget: no shipped spec matches it (learned by chat, claw.learn)
# Where they stand (the claw learns rooms from the owner; the demo knows them), and per-simulator options.
VENDOR_ROOMS: dict[str, str] = {
    "desk strip": "office", "heater plug": "office", "porch dimmer": "porch", "hall dimmer": "hallway",
    "office blind": "office", "hue bridge": "living room", "upstairs thermostat": "landing"}
VENDOR_OPTIONS: dict[str, dict[str, object]] = {"hue bridge": {"lights": ["reading lamp", "sofa lamp"]}}


@dataclass
class SimLan:
    """`async with SimLan.load() as lan:` starts the home (Sonos answering SSDP), the vendor simulators, and
    announces every HTTP device on 127.0.0.1 as the real ones do: WLED and Shelly over mDNS under their own
    service types and `_http._tcp`, the Hue bridge under `_hue._tcp` only, Tasmota and the claw-sim devices
    under `_http._tcp`; the Venstar thermostat answers SSDP searches instead."""

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
            if not sim.ANNOUNCES_MDNS:
                continue
            if sim.SERVICE_TYPE != GENERIC_HTTP:
                out.append(Announcement(sim.SERVICE_TYPE, name, sim.address, sim.txt))
            if sim.ALSO_HTTP:
                out.append(Announcement(GENERIC_HTTP, name, sim.address, {}))
        return out + list(self.extra)

    async def start(self) -> SimLan:
        self.home.start()
        try:
            for cls, name in VENDOR_SIMS:
                options: dict[str, Any] = dict(VENDOR_OPTIONS.get(name, {}))
                self.vendors[name] = cls(host=self.home.ip_base, port=0, name=name, **options).start()
            self.announcer = await LoopbackAnnouncer(self.announcements()).start()
            # an mDNS responder does not multicast a record again within a second of doing so (RFC 6762 6), so
            # a browse right after the announcements hears nothing: wait, as a LAN that has been up a while is
            await asyncio.sleep(SETTLE_SECONDS)
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
