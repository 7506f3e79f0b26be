"""SSDP discovery pinned to one interface address: Sonos players with soco, other search targets with
async-upnp-client."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import soco
import soco.discovery
from async_upnp_client.search import async_search
from async_upnp_client.utils import CaseInsensitiveDict

from devices.discovery.matching import DiscoveryError
from devices.drivers.http import untrusted_text

MAX_ANSWERS = 64

log = logging.getLogger(__name__)


@dataclass
class SsdpPlayer:
    """A Sonos player soco found: its address (ip:1400), UUID and room name (device text)."""

    address: str
    uuid: str
    name: str


def _discover(interface_addr: str, timeout: float, household_id: str) -> list[SsdpPlayer]:
    zones = soco.discovery.discover(timeout=timeout, include_invisible=True,
                                    interface_addr=interface_addr, household_id=household_id) or set()
    players = []
    for zone in zones:
        try:
            players.append(SsdpPlayer(f"{zone.ip_address}:1400", zone.uid, zone.player_name))
        except Exception as exc:  # noqa: BLE001 - a player that stops answering is simply left out
            log.debug("sonos at %s did not describe itself: %s", zone.ip_address, exc)
    return players


async def discover_sonos(interface_addr: str, timeout: float = 1.0,
                         household_id: str = "Sonos") -> list[SsdpPlayer]:
    """M-SEARCH for Sonos players on `interface_addr` only (soco runs in a worker thread)."""
    if not interface_addr:
        raise DiscoveryError("SSDP needs an interface address (soco would otherwise use every interface)")
    return await asyncio.to_thread(_discover, interface_addr, timeout, household_id)


@dataclass
class SsdpService:
    """An SSDP answer to a search: where it says it is (LOCATION's host:port), its ST and USN (device text)."""

    address: str
    st: str
    usn: str


def _address(location: str) -> str | None:
    try:
        url = urlsplit(location)
        port = url.port or 80
    except ValueError:
        return None
    if url.scheme != "http" or not url.hostname:
        return None
    return f"{url.hostname}:{port}"


async def search(interface_addr: str, search_targets: list[str], timeout: float = 1.0) -> list[SsdpService]:
    """M-SEARCH for each target from `interface_addr` only (async-upnp-client, multicast pinned to it)."""
    if not interface_addr:
        raise DiscoveryError("SSDP needs an interface address (never every interface)")
    found: dict[tuple[str, str], SsdpService] = {}

    async def on_answer(headers: CaseInsensitiveDict) -> None:
        st, usn = str(headers.get("st", "")), str(headers.get("usn", ""))
        address = _address(str(headers.get("location", "")))
        if address and st in search_targets and len(found) < MAX_ANSWERS:
            found.setdefault((address, st), SsdpService(address, st[:128], untrusted_text(usn, 256)))

    async def one(st: str) -> None:
        await async_search(on_answer, timeout=max(1, round(timeout)), search_target=st,
                           source=(interface_addr, 0))

    await asyncio.gather(*(one(st) for st in search_targets))
    return list(found.values())
