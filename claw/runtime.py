"""Wires one running claw from Settings: store, registry, drivers, soul, intents, LLM, agent, outbox."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from claw.agent.loop import Agent
from claw.agent.settler import Settler
from claw.agent.turn import TurnHandler
from claw.channels.access import owner_numbers
from claw.channels.base import Channel, LocalChannel
from claw.channels.media import MediaStore, media_store_for
from claw.channels.notify import Notifier
from claw.channels.outbox import OutboxDispatcher
from claw.config import LLMSettings, Settings
from claw.errors import ConfigError
from claw.intents.engine import IntentEngine
from claw.soul.manager import SoulManager
from devices.drivers.base import Driver
from devices.drivers.http import HttpDriver
from devices.drivers.sonos import SonosDriver
from devices.models import Device
from devices.registry import Registry
from memory.store import Store

if TYPE_CHECKING:
    from claw.agent.llm import LLMClient

log = logging.getLogger(__name__)


DEVICES_FILE = "devices_file"  # origin of the devices loaded from settings.devices_file
GIVEN = "given"  # origin of the devices handed to Claw(devices=...): the simulated home of `claw demo`


def same_thing(device: Device) -> tuple[str, str, str | None]:
    """What a device drives: two entries with the same driver, address and adapter are one device."""
    return device.driver, device.address, device.adapter


def load_devices_file(path: Path, drivers: Collection[str] | None = None,
                      adapters: Collection[str] | None = None) -> list[Device]:
    """Devices listed in a YAML file (a list of Device fields, or a mapping with a `devices` list);
    a ConfigError naming the file and the bad entry when malformed, or when two entries share an id or drive
    the same thing. With `drivers`, a device naming another driver is malformed too; with `adapters`, an
    http device naming another adapter."""
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
        adapter = item.get("adapter")
        if adapters is not None and str(item["driver"]) == "http" and adapter not in (None, "") \
                and str(adapter) not in adapters:
            raise ConfigError(f"{where}: {label} has adapter {adapter!r}; "
                              f"known adapters: {', '.join(sorted(adapters)) or 'none'}")
        try:
            device = Device.from_dict(item)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{where}: {label}: {exc}") from exc
        for m, other in enumerate(out, 1):
            if other.id == device.id:
                raise ConfigError(f"{where}: {label} has the id {device.id!r} of device #{m} ({other.name}); "
                                  "ids must be unique")
            if same_thing(other) == same_thing(device):
                raise ConfigError(f"{where}: {label} drives the same device as device #{m} ({other.name}): "
                                  f"driver {device.driver} at {device.address}"
                                  f"{f', adapter {device.adapter}' if device.adapter else ''}; "
                                  "list it once (add names as aliases)")
        out.append(device)
    return out


def merge_devices(stored: Iterable[dict[str, Any]], current: dict[str, list[Device]]
                  ) -> tuple[list[Device], list[str]]:
    """The devices a claw knows, and the ids of stored devices to forget.

    Each origin in `current` (DEVICES_FILE, GIVEN) is authoritative for its own devices: a stored device of
    that origin which it no longer lists is dropped, and so is a stored device of any origin that drives the
    same thing (driver, address, adapter) as a current one under another id. One device per id: a current
    device replaces the stored one, a later origin an earlier one."""
    fresh: dict[str, Device] = {}
    for devices in current.values():
        for device in devices:
            fresh.pop(device.id, None)
            fresh[device.id] = device
    owners = {same_thing(d): d.id for d in fresh.values()}
    kept: dict[str, Device] = {}
    drop: list[str] = []
    for row in stored:
        device = Device.from_dict(row)
        if device.id in fresh:
            continue
        if row.get("source") in current or owners.get(same_thing(device), device.id) != device.id:
            drop.append(device.id)
        else:
            kept[device.id] = device
    return [*kept.values(), *fresh.values()], drop


def make_llm(llm: LLMSettings) -> LLMClient | None:
    """The LLM client when one is configured; openai is imported only then (it costs ~0.5 s at start)."""
    if not llm.enabled:
        return None
    from claw.agent.llm import LLMClient

    key = llm.api_key.get_secret_value() if llm.api_key else None
    return LLMClient(llm.base_url or "", llm.model or "", key, timeout=llm.timeout)


def owner_route(settings: Settings) -> tuple[str, str]:
    """Where messages for the owner from the system channel (routines, camera alerts) go: the first WhatsApp
    owner when WhatsApp is set up, else the web chat."""
    if settings.twilio.enabled:
        numbers = sorted(owner_numbers(settings.twilio.owners))
        if numbers:
            return "whatsapp", f"whatsapp:{numbers[0]}"
    return "web", settings.owner


class Claw:
    """One claw: everything `claw run`, `claw demo`, `claw ask` and the tests drive."""

    def __init__(self, settings: Settings, *, devices: Iterable[Device] = (),
                 drivers: dict[str, Driver] | None = None) -> None:
        self.settings = settings
        settings.ensure_data_dir()
        self.store = Store(settings.db_path)
        # one number bounds a device call: the registry's timeout and the HTTP driver's agree
        drivers = drivers or {"sonos": SonosDriver(), "http": HttpDriver(timeout=settings.device_timeout)}
        self._driver_names = frozenset(drivers)
        self._drivers = drivers
        self.registry = Registry(drivers, timeout=settings.device_timeout)
        self._initial_devices = list(devices)
        self.intents = IntentEngine()
        self.registry.on_change(lambda: self.intents.set_devices(self.registry.all()))
        self.soul = SoulManager(settings.soul_file, self.store)
        self.llm = make_llm(settings.llm)
        self.channels: dict[str, Channel] = {"console": LocalChannel("console"), "web": LocalChannel("web")}
        self.media: MediaStore | None = None
        if settings.twilio.enabled:
            from claw.channels.whatsapp.send import WhatsAppChannel

            self.media = media_store_for(settings)
            self.add_channel(WhatsAppChannel(settings.twilio, self.store, self.media))
        self.outbox = OutboxDispatcher(self.store, self.channels)
        self.handler = TurnHandler(store=self.store, registry=self.registry, intents=self.intents,
                                   soul=self.soul, llm=self.llm, settings=settings, channels=self.channels)
        self.notifier = Notifier(self.store, self.channels, max_messages=settings.max_reply_messages,
                                 owner_route=owner_route(settings), wake=self.outbox.wake)
        self.agent = Agent(self.store, self.handler, self.notifier)
        self.settler = Settler(self.store, self.registry, voice=lambda: self.soul.current().voice,
                               on_outbox=self.outbox.wake)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def start(self, *, dispatch: bool = True) -> None:
        """Load devices, resume unfinished turns and start the outbox dispatcher."""
        from_file: list[Device] = []
        if self.settings.devices_file:
            http = self._drivers.get("http")
            adapters = http.specs if isinstance(http, HttpDriver) else None
            from_file = load_devices_file(self.settings.devices_file, self._driver_names, adapters)
        current = {DEVICES_FILE: from_file, GIVEN: self._initial_devices}
        devices, dropped = merge_devices(self.store.devices_all(), current)
        for device in devices:
            self.registry.add(device)
        self.store.devices_sync([(d.to_dict(), origin) for origin, ds in current.items() for d in ds], dropped)
        if dropped:
            log.info("forgot %d stored device(s) no longer listed: %s", len(dropped), ", ".join(dropped))
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
        self._tasks.append(asyncio.create_task(self.settler.run(self._stop), name="settler"))
        if any(hasattr(c, "reconcile") for c in self.channels.values()):  # in the background: start is not slowed
            self._tasks.append(asyncio.create_task(self._reconcile_deliveries(), name="reconcile"))
        if dispatch:
            self.start_dispatch()

    async def _reconcile_deliveries(self) -> None:
        """Ask the channels that can (WhatsApp) for delivery reports missed while the claw was down."""
        for channel in list(self.channels.values()):
            reconcile = getattr(channel, "reconcile", None)
            if reconcile is None:
                continue
            try:
                await reconcile(stop=self._stop)
            except Exception:  # noqa: BLE001 - a bookkeeping round must never stop the claw
                log.exception("checking the delivery status of %s messages failed", channel.name)

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
