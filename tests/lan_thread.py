"""The simulated LAN (devices/sim/lan.py) announced on loopback from an event loop of its own, for a test module."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from devices.sim.announce import Announcement
from devices.sim.lan import SimLan
from devices.sim.wled import SimWled


class LanThread:
    """`with LanThread() as t:` runs `t.lan` until the block ends. `wled` adds one more WLED of that name on the
    home's address, announced like a real one (a second strip, or a rogue claiming a known name: `t.wled`);
    `announce` adds announcements as they are (e.g. an address off the interface)."""

    def __init__(self, wled: str | None = None, announce: Sequence[Announcement] = ()) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.lan = SimLan.load()
        self.wled = SimWled(host=self.lan.home.ip_base, name=wled).start() if wled else None
        if self.wled is not None:
            self.lan.extra.append(Announcement(SimWled.SERVICE_TYPE, str(wled), self.wled.address, self.wled.txt))
        self.lan.extra.extend(announce)

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> LanThread:
        self.thread.start()
        try:
            self.run(self.lan.start())
        except OSError as exc:  # pragma: no cover - a machine without loopback multicast
            self.__exit__()
            pytest.skip(f"cannot announce on loopback: {exc}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.run(self.lan.stop())
        if self.wled is not None:
            self.wled.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
