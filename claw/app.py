"""Wires one running claw from Settings: store, registry, drivers, soul, intents, LLM, agent, outbox."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from claw.agent import Agent
from claw.channels.base import Channel, LocalChannel
from claw.config import LLMSettings, Settings
from claw.errors import ConfigError
from claw.intents import IntentEngine
from claw.media import MediaStore, media_store_for
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


def load_devices_file(path: Path, drivers: Collection[str] | None = None) -> list[Device]:
    """Devices listed in a YAML file (a list of Device fields, or a mapping with a `devices` list);
    a ConfigError naming the file and the bad entry when malformed. With `drivers`, a device naming
    another driver is malformed too."""
    where = f"cannot load devices from {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    items = data.get("devices") if isinstance(data, dict) else data
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError(f"{where}: expected a list of devices (or `devices:` with a list), "
                          f"found {type(items).__name__}")
    out: list[Device] = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: device #{n} is not a mapping of fields: {str(item)[:60]!r}")
        label = f"device #{n} ({str(item.get('name') or item.get('id') or '?')[:40]})"
        missing = [k for k in ("id", "name", "driver", "address") if item.get(k) in (None, "")]
        if missing:
            raise ConfigError(f"{where}: {label} lacks {', '.join(missing)}")
        for key in ("capabilities", "aliases"):
            if key in item and not isinstance(item[key], list):
                raise ConfigError(f"{where}: {label}: {key} must be a list")
        if drivers is not None and str(item["driver"]) not in drivers:
            raise ConfigError(f"{where}: {label} has driver {item['driver']!r}; "
                              f"known drivers: {', '.join(sorted(drivers))}")
        try:
            out.append(Device.from_dict(item))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{where}: {label}: {exc}") from exc
    return out


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
        drivers = drivers or {"sonos": SonosDriver(), "http": HttpDriver()}
        self._driver_names = frozenset(drivers)
        self.registry = Registry(drivers, timeout=settings.device_timeout)
        self._initial_devices = list(devices)
        self.intents = IntentEngine()
        self.registry.on_change(lambda: self.intents.set_devices(self.registry.all()))
        self.soul = SoulManager(settings.soul_file, self.store)
        self.llm = make_llm(settings.llm)
        self.channels: dict[str, Channel] = {"console": LocalChannel("console"), "web": LocalChannel("web")}
        self.media: MediaStore | None = None
        if settings.twilio.enabled:
            from claw.channels.whatsapp import WhatsAppChannel

            self.media = media_store_for(settings)
            self.add_channel(WhatsAppChannel(settings.twilio, self.store, self.media))
        self.outbox = OutboxDispatcher(self.store, self.channels)
        self.handler = TurnHandler(store=self.store, registry=self.registry, intents=self.intents,
                                   soul=self.soul, llm=self.llm, settings=settings, channels=self.channels)
        self.agent = Agent(self.store, self.handler, self.channels, on_outbox=self.outbox.wake)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def start(self, *, dispatch: bool = True) -> None:
        """Load devices, resume unfinished turns and start the outbox dispatcher."""
        devices = [Device.from_dict(row) for row in self.store.devices_all()]
        if self.settings.devices_file:
            devices += load_devices_file(self.settings.devices_file, self._driver_names)
        devices += self._initial_devices
        for device in devices:
            self.registry.add(device)
            self.store.device_upsert(device.to_dict())
        self.intents.set_devices(self.registry.all())
        self.soul.current()
        if self.media is not None:
            pruned = self.media.prune(self.settings.twilio.media_keep_days * 86400)
            if pruned:
                log.info("deleted %d stored media file(s) older than %g days", pruned,
                         self.settings.twilio.media_keep_days)
        resumed = self.agent.resume()
        if resumed:
            log.info("resumed %d unfinished turn(s)", resumed)
        if dispatch:
            self.start_dispatch()

    def start_dispatch(self) -> None:
        """Start sending the outbox. A server calls this once it listens, so that a provider's delivery
        callbacks for what goes out first can already reach it."""
        if not any(t.get_name() == "outbox" for t in self._tasks):
            self._tasks.append(asyncio.create_task(self.outbox.run(self._stop), name="outbox"))

    async def stop(self) -> None:
        self._stop.set()
        await self.agent.close()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, 5)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is None:
                continue
            if inspect.iscoroutinefunction(close):
                await close()
            else:  # blocking (joins threads): keep it off the event loop
                await asyncio.to_thread(close)
        await self.registry.close()
        if self.llm is not None:
            await self.llm.aclose()
        self.store.close()
