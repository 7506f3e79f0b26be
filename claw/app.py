"""Wires one running claw from Settings: store, registry, drivers, soul, intents, LLM, agent, outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from claw.agent import Agent
from claw.channels.base import Channel, LocalChannel
from claw.config import LLMSettings, Settings
from claw.errors import ConfigError
from claw.intents import IntentEngine
from claw.outbox import OutboxDispatcher
from claw.soul import SoulManager
from claw.turn import TurnHandler
from devices.drivers.base import Driver
from devices.drivers.http import HttpDriver
from devices.drivers.sonos import SonosDriver
from devices.models import Device
from devices.registry import Registry
from memory.store import Store

if TYPE_CHECKING:
    from claw.llm import LLMClient

log = logging.getLogger(__name__)


def load_devices_file(path: Path) -> list[Device]:
    """Devices listed in a YAML file (a list of Device fields); a clear ConfigError when malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        items = data.get("devices", []) if isinstance(data, dict) else data
        return [Device.from_dict(item) for item in items]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"cannot load devices from {path}: {exc}") from exc


def make_llm(llm: LLMSettings) -> LLMClient | None:
    """The LLM client when one is configured; openai is imported only then (it costs ~0.5 s at start)."""
    if not llm.enabled:
        return None
    from claw.llm import LLMClient

    key = llm.api_key.get_secret_value() if llm.api_key else None
    return LLMClient(llm.base_url or "", llm.model or "", key, timeout=llm.timeout)


class Claw:
    """One claw: everything `claw run`, `claw demo`, `claw ask` and the tests drive."""

    def __init__(self, settings: Settings, *, devices: Iterable[Device] = (),
                 drivers: dict[str, Driver] | None = None) -> None:
        self.settings = settings
        settings.ensure_data_dir()
        self.store = Store(settings.db_path)
        self.registry = Registry(drivers or {"sonos": SonosDriver(), "http": HttpDriver()},
                                 timeout=settings.device_timeout)
        self._initial_devices = list(devices)
        self.intents = IntentEngine()
        self.registry.on_change(lambda: self.intents.set_devices(self.registry.all()))
        self.soul = SoulManager(settings.soul_file, self.store)
        self.llm = make_llm(settings.llm)
        self.channels: dict[str, Channel] = {"console": LocalChannel("console"), "web": LocalChannel("web")}
        self.outbox = OutboxDispatcher(self.store, self.channels)
        self.handler = TurnHandler(store=self.store, registry=self.registry, intents=self.intents,
                                   soul=self.soul, llm=self.llm, settings=settings)
        self.agent = Agent(self.store, self.handler, self.channels, on_outbox=self.outbox.wake)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def start(self, *, dispatch: bool = True) -> None:
        """Load devices, resume unfinished turns and start the outbox dispatcher."""
        devices = [Device.from_dict(row) for row in self.store.devices_all()]
        if self.settings.devices_file:
            devices += load_devices_file(self.settings.devices_file)
        devices += self._initial_devices
        for device in devices:
            self.registry.add(device)
            self.store.device_upsert(device.to_dict())
        self.intents.set_devices(self.registry.all())
        self.soul.current()
        resumed = self.agent.resume()
        if resumed:
            log.info("resumed %d unfinished turn(s)", resumed)
        if dispatch:
            self._tasks.append(asyncio.create_task(self.outbox.run(self._stop), name="outbox"))

    async def stop(self) -> None:
        self._stop.set()
        await self.agent.close()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, 5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        await self.registry.close()
        if self.llm is not None:
            await self.llm.aclose()
        self.store.close()
