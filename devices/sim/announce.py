"""mDNS announcements of simulated devices on loopback only, with unique instance names per process."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from dataclasses import dataclass

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Announcement:
    """A service to announce: its type, a human name, the device's host:port and TXT properties."""

    type: str
    name: str
    address: str
    txt: dict[str, str]


class LoopbackAnnouncer:
    """Announces services on a loopback address only (AsyncZeroconf pinned to it); `async with` or start()/stop()."""

    def __init__(self, announcements: list[Announcement], interface: str = LOOPBACK) -> None:
        if not interface.startswith("127."):
            raise ValueError("the simulators announce themselves on loopback only")
        self.announcements = announcements
        self.interface = interface
        self.tag = f"{os.getpid()}-{secrets.token_hex(3)}"  # loopback mDNS is shared by every process
        self.infos: list[AsyncServiceInfo] = []
        self._azc: AsyncZeroconf | None = None

    def _info(self, a: Announcement) -> AsyncServiceInfo:
        host, port = a.address.rsplit(":", 1)
        label = f"{a.name[:40]} {self.tag}".replace(".", "-")
        return AsyncServiceInfo(a.type, f"{label}.{a.type}", addresses=[socket.inet_aton(host)], port=int(port),
                                properties=dict(a.txt), server=f"sim-{self.tag}-{len(self.infos)}.local.")

    async def start(self) -> LoopbackAnnouncer:
        self._azc = AsyncZeroconf(interfaces=[self.interface], ip_version=IPVersion.V4Only)
        self.infos = []
        for a in self.announcements:
            self.infos.append(self._info(a))
        # registering probes and announces (~1.6 s each): all at once, not one after another
        tasks = await asyncio.gather(*(self._azc.async_register_service(i, allow_name_change=True)
                                       for i in self.infos))
        await asyncio.gather(*tasks)
        return self

    async def stop(self) -> None:
        azc, self._azc = self._azc, None
        if azc is not None:
            await azc.async_unregister_all_services()
            await azc.async_close()

    async def __aenter__(self) -> LoopbackAnnouncer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
