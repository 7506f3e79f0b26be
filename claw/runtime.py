"""Wires one running claw from Settings: store, registry, drivers, soul, intents, LLM, agent, cameras, workers."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from claw.agent.loop import Agent
from claw.agent.routines import RoutineTalk
from claw.agent.settler import Settler
from claw.agent.timers import Timers
from claw.agent.turn import TurnHandler
from claw.channels.base import Channel, LocalChannel
from claw.channels.media import MediaStore, media_store_for
from claw.channels.notify import Notifier
from claw.channels.outbox import OutboxDispatcher
from claw.channels.registry import build_channels, media_for
from claw.channels.whatsapp.numbers import owner_numbers
from claw.config import CameraSettings, LLMSettings, Settings
from claw.devices_file import DEVICES_FILE, GIVEN, load_devices_file, merge_devices, same_thing
from claw.discovery.chat import DiscoveryChat
from claw.intents.engine import IntentEngine
from claw.routines.chat import RoutineChat
from claw.routines.clock import Clock, SystemClock
from claw.routines.runner import Runner
from claw.routines.scheduler import RoutineScheduler
from claw.routines.service import Routines
from claw.routines.triggers import Location
from claw.scenes.book import SceneBook
from claw.soul.manager import SoulManager
from claw.supervisor import Backoff, Supervisor
from devices.adapters.credentials import CredentialStore
from devices.drivers import build_drivers
from devices.drivers.base import Driver
from devices.drivers.http import HttpDriver
from devices.models import Device
from devices.registry import Registry
from memory.store import Store

if TYPE_CHECKING:
    from claw.agent.llm import LLMClient
    from claw.cameras.service import CameraService
    from claw.discovery.service import Discovery
    from claw.learn.chat import LearnChat
    from devices.discovery.scan import ScanResult

log = logging.getLogger(__name__)

# claw.cli (and older callers) import the devices-file helpers from here
__all__ = ["DEVICES_FILE", "GIVEN", "Claw", "load_devices_file", "make_llm", "merge_devices", "owner_route",
           "same_thing"]

STOP_GRACE = 5.0  # seconds the workers get to finish by themselves at stop() before they are cancelled


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


def _learning(claw: Claw, settings: Settings) -> LearnChat:
    """The learning service and its chat (claw.learn), wired into the turn handler and the confirmations."""
    from claw.learn.chat import LearnChat
    from claw.learn.service import LearnService

    http = claw._drivers.get("http")
    service = LearnService(claw.store, claw.registry, http if isinstance(http, HttpDriver) else None, claw.llm,
                           settings)
    chat = LearnChat(service, ttl=settings.safety.confirm_seconds)
    claw.handler.learning = chat
    claw.handler.confirmations.kinds.update(chat.kinds())
    claw.handler.confirmations.declines.update(chat.declines())
    return chat


class Claw:
    """One claw: everything `claw run`, `claw demo`, `claw ask` and the tests drive."""

    def __init__(self, settings: Settings, *, devices: Iterable[Device] = (),
                 drivers: dict[str, Driver] | None = None, cameras: Iterable[CameraSettings] = (),
                 clock: Clock | None = None) -> None:
        self.settings = settings
        settings.ensure_data_dir()
        self.store = Store(settings.db_path)
        # one number bounds a device call: the registry's timeout and the HTTP driver's agree
        if not drivers:
            drivers = build_drivers(settings.device_timeout)
            http = drivers.get("http")
            if isinstance(http, HttpDriver):  # secrets from `claw pair device` (a Hue bridge's username)
                http.credentials = CredentialStore(settings.data_dir / "device_credentials.json")
        self._driver_names = frozenset(drivers)
        self._drivers = drivers
        self.registry = Registry(drivers, timeout=settings.device_timeout)
        self._initial_devices = list(devices)
        self.intents = IntentEngine()
        self.registry.on_change(lambda: self.intents.set_devices(self.registry.all()))
        self.soul = SoulManager(settings.soul_file, self.store)
        self.llm = make_llm(settings.llm)
        self.channels: dict[str, Channel] = {"console": LocalChannel("console"), "web": LocalChannel("web")}
        cameras = [*settings.cameras, *cameras]
        self.media: MediaStore | None = media_for(settings)  # shared: inbound images, outbound snapshots
        if self.media is None and cameras:  # alerts carry their snapshot, served at signed URLs
            self.media = media_store_for(settings)
        for channel in build_channels(settings, self.store, self.media):  # the channel table: claw.channels.registry
            self.add_channel(channel)
        self.outbox = OutboxDispatcher(self.store, self.channels)
        self.handler = TurnHandler(store=self.store, registry=self.registry, intents=self.intents,
                                   soul=self.soul, llm=self.llm, settings=settings, channels=self.channels,
                                   route=lambda channel, sender: self.notifier.route(channel, sender),
                                   notify=lambda channel, to, text: self.notifier.send(channel, to, text))
        self.notifier = Notifier(self.store, self.channels, max_messages=settings.max_reply_messages,
                                 owner_route=owner_route(settings), wake=self.outbox.wake,
                                 web_owner=settings.owner)
        self.agent = Agent(self.store, self.handler, self.notifier)
        self.cameras: CameraService | None = None  # OpenCV is imported only when there are cameras
        if cameras:
            from claw.cameras.service import CameraService

            self.cameras = CameraService(settings, cameras, self.store, self.notifier, self.media)
            self.handler.cameras.service = self.cameras  # "show me the front door" (claw.agent.cameras)
            self.intents.set_cameras([c.name for c in cameras], [z for c in cameras for z in c.zones])
        self.settler = Settler(self.store, self.registry, self.notifier, voice=lambda: self.soul.current().voice)
        # routines: the API (chat, CLI, tools), the runner (steps through the same actuator as chat) and the
        # scheduler worker (APScheduler, jobs rebuilt from the routines table at start)
        where = settings.routines
        location = None if where.latitude is None or where.longitude is None else Location(where.latitude,
                                                                                             where.longitude)
        clock = clock or SystemClock()  # tests drive time by hand (claw.routines.clock.ManualClock)
        self.routines = Routines(self.store, zone_name=where.zone_name, location=location, safety=settings.safety,
                                 devices=self.registry.all, clock=clock)
        self.scenes = SceneBook(self.store, self.registry)  # scenes (claw.scenes): steps of routines, chat
        self.routines.scene_calls = self.scenes.calls
        self.routine_runner = Runner(self.store, self.handler.actuator, self.notifier, ask=self.agent.ask,
                                     clock=clock, voice=lambda: self.soul.current().voice,
                                     give_way=self.agent.people_idle,  # chat turns first: see the README
                                     scenes=self.scenes)
        self.scheduler = RoutineScheduler(self.store, self.routine_runner, self.notifier, where=self.routines.where,
                                          clock=clock)
        self.routines.scheduler = self.scheduler
        self.routine_chat = RoutineChat(self.routines, self.store, ttl=settings.safety.confirm_seconds)
        self.handler.confirmations.kinds.update(self.routine_chat.kinds())
        if self.handler.model is not None:  # the LLM's propose_routine tool (claw.agent.tools.routines)
            self.handler.model.routine_chat = self.routine_chat
        self.handler.routine_talk = RoutineTalk(self.routine_chat, self.scenes, registry=self.registry,
                                                local=self.handler.local, parse=self.intents.parse,
                                                default_area=settings.default_area)
        # timers and delayed commands (claw.agent.timers): told once by their worker; commands are one-shot routines
        self.timers = Timers(self.store, self.notifier, self.routines, self.handler.actuator, self.intents.parse,
                             default_area=settings.default_area, ttl=settings.safety.confirm_seconds)
        self.handler.timers = self.timers
        self.handler.confirmations.kinds.update(self.timers.kinds())
        self.handler.discovery = DiscoveryChat(self._discovery, store=self.store,  # "scan my network": built
                                               ttl=settings.safety.confirm_seconds)  # on first use
        self.handler.confirmations.kinds.update(self.handler.discovery.kinds())  # YES to an nmap sweep
        self.learning = _learning(self, settings)  # learning unknown devices by chat (claw.learn)
        self.learning.service.scanner = self._scan_for_learning  # one discovery service, one record of scans
        self._stop = asyncio.Event()
        # the long-running workers (outbox, settler, routines, delivery reconciliation): a crashed one is restarted
        self.supervisor = Supervisor(backoff=Backoff(initial=1.0, maximum=60.0, healthy_after=60.0))

    def _start_scheduled_scans(self, line: str) -> None:
        from claw.discovery.schedule import cron_waits, scheduled_scans

        chat, wait = self.handler.discovery, cron_waits(line, self.settings.routines.timezone)
        if chat is not None:
            self.supervisor.start("discovery", lambda: scheduled_scans(chat, self.notifier.tell_owner, wait,
                                                                       self._stop))

    def _discovery(self) -> Discovery:
        """The discovery service on this claw's registry and adapters (zeroconf and soco load only now)."""
        from claw.discovery.service import Discovery

        http = self._drivers.get("http")
        service = Discovery(self.store, self.settings.discovery, devices=self.registry.all, registry=self.registry,
                            specs=(lambda: http.specs) if isinstance(http, HttpDriver) else None)
        service.listeners.append(self.learning.service.remember)  # "learn the …" after "scan my network"
        return service

    async def _scan_for_learning(self) -> ScanResult:
        """A scan through the discovery chat's service (recorded by identity, on the configured interfaces)."""
        chat = self.handler.discovery
        assert chat is not None
        report = await chat.service.scan()
        assert report.result is not None
        return report.result

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def start(self, *, dispatch: bool = True, routines: bool = True) -> None:
        """Load devices, resume unfinished turns, start the routine scheduler (`routines`: off for one-shot
        commands such as `claw ask`, so that only the serving claw runs them) and the outbox dispatcher."""
        from_file: list[Device] = []
        self.learning.service.load_adapters()  # adapters_dir and approved learned versions, before devices
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
        self.supervisor.start("settler", lambda: self.settler.run(self._stop))
        if self.cameras:  # a watcher per camera (camera:<name>) and the retention of events and snapshots
            self.cameras.start(self.supervisor, self._stop)
        if routines:
            self.supervisor.start("routines", lambda: self.scheduler.run(self._stop))
            self.supervisor.start("timers", lambda: self.timers.run(self._stop))
        if routines and self.settings.discovery.schedule:  # [discovery] schedule (claw.discovery.schedule)
            self._start_scheduled_scans(self.settings.discovery.schedule)
        if any(hasattr(c, "reconcile") for c in self.channels.values()):  # in the background: start is not slowed
            self.supervisor.start("reconcile", self._reconcile_deliveries)  # one-shot: done once it returns
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
        self.supervisor.start("outbox", lambda: self.outbox.run(self._stop))  # no-op when already started

    async def stop(self) -> None:
        self._stop.set()
        await self.agent.close()
        await self.supervisor.stop(grace=STOP_GRACE, timeout=STOP_GRACE)
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
