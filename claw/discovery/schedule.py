"""Scheduled scans ([discovery] schedule, a crontab line): run one at each fire time, tell the owner what is news."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from claw.untrusted import shown_text

if TYPE_CHECKING:
    from claw.discovery.chat import DiscoveryChat
    from claw.discovery.service import ScanReport

log = logging.getLogger(__name__)


def shown(text: str, limit: int = 64) -> str:
    return shown_text(text, limit, links=False)


def cron_waits(line: str, zone: str | None = None) -> Callable[[], float]:
    """Seconds until the next fire time of a crontab line, each time it is called (in `zone`, else local)."""
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger

    tz = ZoneInfo(zone) if zone else dt.datetime.now().astimezone().tzinfo
    trigger = CronTrigger.from_crontab(line, timezone=tz)

    def wait() -> float:
        now = dt.datetime.now(tz)
        fire = trigger.get_next_fire_time(None, now)
        return max(1.0, (fire - now).total_seconds()) if fire else 86400.0

    return wait


def news(report: ScanReport, before: dict[str, dict[str, Any]]) -> str | None:
    """What a scheduled scan tells the owner: devices seen for the first time, newly suspect ones and followed
    IP changes; None when nothing changed (a schedule must not nag)."""
    lines = []
    fresh = [s for s in report.sightings if s.status == "new" and s.key not in before]
    if fresh:
        lines.append("The scheduled network scan found new devices: " + "; ".join(
            f"#{s.index} {shown(s.what)}{f' “{shown(s.name)}”' if s.name else ''} at {s.address}"
            for s in fresh[:8]) + ".")
    for s in report.moved:
        lines.append(f"{s.device_name} moved to {s.address} (was {s.moved_from}); I follow it by its identity.")
    for s in report.suspects:
        if before.get(s.key, {}).get("status") != "suspect":
            lines.append(f"⚠ SUSPECT #{s.index} at {s.address}: {shown(s.reason, 240)}. I don't trust it.")
    if lines and fresh:
        lines.append("Say “scan my network” for the list, “add number N as …” or “ignore number N”.")
    return "\n".join(lines) or None


async def scheduled_scans(chat: DiscoveryChat, tell: Callable[[str], Any], wait: Callable[[], float],
                          stop: asyncio.Event) -> None:
    """Until `stop`: sleep `wait()` seconds, scan, tell the owner the news (and a failure, once per scan)."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait())
            return
        except TimeoutError:
            pass
        service = chat.service
        before = {r["key"]: r for r in service.store.discovered_all()}
        try:
            report = await service.scan()
        except Exception as exc:  # noqa: BLE001 - a failed scan is told, the schedule goes on
            log.exception("scheduled discovery scan failed")
            tell(f"The scheduled network scan failed ({type(exc).__name__}); I'll try again at the next time.")
            continue
        text = news(report, before)
        if text:
            tell(text)
