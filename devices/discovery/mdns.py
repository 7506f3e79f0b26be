"""mDNS browsing with zeroconf's AsyncZeroconf pinned to the given interfaces (never all of them)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from devices.discovery.matching import DiscoveryError
from devices.drivers.http import untrusted_text

log = logging.getLogger(__name__)

MAX_SERVICES = 256


@dataclass
class MdnsService:
    """One resolved announcement (its name and TXT are device text: untrusted, capped)."""

    type: str
    name: str
    addresses: list[str]
    port: int
    txt: dict[str, str] = field(default_factory=dict)


def pinned_zeroconf(interfaces: list[str]) -> AsyncZeroconf:
    """An AsyncZeroconf on exactly these IPv4 interface addresses; refuses an empty list (= all)."""
    if not interfaces:
        raise DiscoveryError("mDNS needs explicit interface addresses (an empty list would mean all of them)")
    return AsyncZeroconf(interfaces=list(interfaces), ip_version=IPVersion.V4Only)


def _txt(info: AsyncServiceInfo) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in list((info.properties or {}).items())[:32]:
        k = untrusted_text(key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key), 32)
        v = value.decode("utf-8", "replace") if isinstance(value, bytes) else ""
        out[k] = untrusted_text(v, 128)
    return out


async def browse(interfaces: list[str], service_types: list[str], timeout: float = 1.5) -> list[MdnsService]:
    """Browse `service_types` for `timeout` seconds on `interfaces` and resolve what answers."""
    azc = pinned_zeroconf(interfaces)
    seen: dict[tuple[str, str], asyncio.Task[MdnsService | None]] = {}

    async def resolve(service_type: str, name: str) -> MdnsService | None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(azc.zeroconf, 1000):
            return None
        return MdnsService(type=service_type, name=untrusted_text(name, 128),
                           addresses=info.parsed_addresses(IPVersion.V4Only), port=info.port or 0,
                           txt=_txt(info))

    def on_change(zeroconf: object, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added and len(seen) < MAX_SERVICES:
            seen.setdefault((service_type, name), asyncio.ensure_future(resolve(service_type, name)))

    browser = AsyncServiceBrowser(azc.zeroconf, list(service_types), handlers=[on_change])
    try:
        await asyncio.sleep(timeout)
        results = await asyncio.gather(*seen.values(), return_exceptions=True)
    finally:
        await browser.async_cancel()
        await azc.async_close()
    return [r for r in results if isinstance(r, MdnsService)]
