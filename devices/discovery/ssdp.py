"""SSDP discovery of Sonos players with soco, always pinned to one interface address."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import soco
import soco.discovery

from devices.discovery.matching import DiscoveryError

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
