"""The Sonos driver: vocabulary commands and normalised state on the real soco, in its own worker threads."""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar
from xml.parsers.expat import ExpatError

import requests
import soco
from soco import config as soco_config
from soco.core import MUSIC_SRC_LINE_IN, MUSIC_SRC_RADIO
from soco.exceptions import NotSupportedException, SoCoException, SoCoSlaveException, SoCoUPnPException

from devices.drivers import sonos_http
from devices.errors import DeviceError, DeviceTimeout, DeviceUnavailable, InvalidArgument, UnsupportedCommand
from devices.models import Device, Kind

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_PORT = 1400
_PLAYBACK = {"PLAYING": "playing", "TRANSITIONING": "playing", "PAUSED_PLAYBACK": "paused"}
_UPNP_INVALID = {"402", "600", "601", "711", "714"}
_UPNP_UNSUPPORTED = {"401", "602", "701"}
_DEVICE_NS = "{urn:schemas-upnp-org:device-1-0}"
_PHRASES = {"next": "skip to the next track", "previous": "go back a track",
            "play_favorite": "play that favourite", "set_volume": "set the volume", "set_mute": "change mute",
            "turn_on": "start playing", "turn_off": "pause"}


# pure helpers -------------------------------------------------------------------------------------
def parse_address(address: str) -> tuple[str, int]:
    """"host:port" (or a bare host) -> (host, port); Sonos players listen on 1400 by default."""
    host, sep, port = address.strip().rpartition(":")
    if not sep:
        host, port = port, str(DEFAULT_PORT)
    try:
        number = int(port)
    except ValueError:
        raise DeviceUnavailable(f"invalid Sonos address {address!r}") from None
    if not host or not 0 < number < 65536:
        raise DeviceUnavailable(f"invalid Sonos address {address!r}")
    return host, number


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", text.casefold()).split())


def match_favorite(query: str, titles: Sequence[str]) -> str:
    """The favourite title `query` means: exact, then substring, then close match (case-insensitive).

    Raises InvalidArgument naming the choices when nothing (or more than one thing) matches.
    """
    if not titles:
        raise InvalidArgument("there are no Sonos favourites saved on this player")
    q = _norm(query)
    normed = [_norm(t) for t in titles]
    for title, n in zip(titles, normed, strict=True):
        if n == q:
            return title
    inside = [t for t, n in zip(titles, normed, strict=True)
              if q and (q in n or q.replace(" ", "") in n.replace(" ", ""))]
    if len(inside) == 1:
        return inside[0]
    if len(inside) > 1:
        raise InvalidArgument(f"“{query}” matches several favourites: {', '.join(inside)}; which one?")
    around = [t for t, n in zip(titles, normed, strict=True) if n and n in q]
    if around:
        return max(around, key=len)
    best, best_ratio = "", 0.0
    width = max(len(q.split()), 1)
    for title, n in zip(titles, normed, strict=True):
        words = n.split()
        pieces = [n] + [" ".join(words[i:i + width]) for i in range(max(len(words) - width + 1, 0))]
        ratio = max(difflib.SequenceMatcher(None, q, p).ratio() for p in pieces)
        if ratio > best_ratio:
            best, best_ratio = title, ratio
    if best_ratio >= 0.75:
        return best
    raise InvalidArgument(f"no Sonos favourite matches “{query}”; available: {', '.join(titles)}")


def translate(exc: BaseException, name: str, what: str) -> DeviceError:
    """Map a soco / requests / XML exception raised while doing `what` on `name` to a devices error."""
    if isinstance(exc, DeviceError):
        return exc
    if isinstance(exc, requests.exceptions.Timeout | TimeoutError):
        return DeviceTimeout(f"{name} did not answer in time")
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError):
        return DeviceUnavailable(f"{name} is unreachable")
    if isinstance(exc, requests.exceptions.RequestException):
        return DeviceUnavailable(f"{name} answered with an HTTP error ({exc.__class__.__name__})")
    if isinstance(exc, SoCoUPnPException):
        code = str(exc.error_code)
        if code in _UPNP_INVALID:
            return InvalidArgument(f"{name} refused {what}: invalid value (UPnP error {code})")
        if code in _UPNP_UNSUPPORTED:
            return UnsupportedCommand(f"{name} cannot {what} right now (UPnP error {code})")
        return DeviceUnavailable(f"{name} failed to {what} (UPnP error {code})")
    if isinstance(exc, SoCoSlaveException):
        return UnsupportedCommand(f"{name} is grouped and cannot {what} on its own")
    if isinstance(exc, NotSupportedException):
        return UnsupportedCommand(f"{name} does not support {what}")
    if isinstance(exc, SoCoException | ValueError | KeyError | SyntaxError | ExpatError | AttributeError):
        return DeviceUnavailable(f"{name} gave an unexpected answer to {what} ({exc.__class__.__name__})")
    if isinstance(exc, OSError):
        return DeviceUnavailable(f"{name} is unreachable ({exc.__class__.__name__})")
    return DeviceUnavailable(f"{name} failed to {what} ({exc.__class__.__name__})")


def bound_request_timeout(seconds: float) -> None:
    """Lower soco's process-wide SOAP request timeout to `seconds` (it defaults to 20 s); never raise it."""
    current = soco_config.REQUEST_TIMEOUT
    if current is None or (isinstance(current, int | float) and current > seconds):
        soco_config.REQUEST_TIMEOUT = seconds


# blocking soco work (runs in worker threads) ------------------------------------------------------
def _transport_target(speaker: soco.SoCo) -> soco.SoCo:
    """The group coordinator, which is who takes play/pause/next on Sonos."""
    if speaker.is_coordinator:
        return speaker
    group = speaker.group
    return group.coordinator if group is not None and group.coordinator is not None else speaker


def _favorites(speaker: soco.SoCo) -> list[Any]:
    return list(speaker.music_library.get_sonos_favorites(complete_result=True))


def _play_favorite(speaker: soco.SoCo, query: str, timeout: float) -> str:
    favorites = _favorites(speaker)
    title = match_favorite(query, [str(f.title) for f in favorites])
    favorite = next(f for f in favorites if f.title == title)
    if not favorite.resources:
        raise UnsupportedCommand(f"the favourite {title!r} is a shortcut, not something to play")
    target = _transport_target(speaker)
    uri = favorite.get_uri()
    if target.music_source_from_uri(uri) in (MUSIC_SRC_RADIO, MUSIC_SRC_LINE_IN):
        target.play_uri(uri, favorite.resource_meta_data or "", timeout=timeout)
    else:  # albums, playlists, tracks: through the queue, as the Sonos app does
        target.get_speaker_info(timeout=timeout)  # play_from_queue would fetch it without a timeout
        target.clear_queue()
        target.add_to_queue(favorite.reference, timeout=timeout)
        target.play_from_queue(0)
    return title


def _pause(speaker: soco.SoCo) -> None:
    try:
        _transport_target(speaker).pause()
    except SoCoUPnPException as exc:
        if str(exc.error_code) != "701":  # 701: nothing is playing, so it is already "off"
            raise


def _read_state(speaker: soco.SoCo) -> dict[str, Any]:
    transport = speaker.get_current_transport_info()["current_transport_state"]
    track = speaker.get_current_track_info()
    return {"playback": _PLAYBACK.get(transport, "stopped"), "volume": int(speaker.volume),
            "muted": bool(speaker.mute), "title": track.get("title") or "",
            "artist": track.get("artist") or "", "available": True}


_COMMANDS: dict[str, Callable[[soco.SoCo, dict[str, Any], float], object]] = {
    "play": lambda s, a, t: _transport_target(s).play(timeout=t),
    "turn_on": lambda s, a, t: _transport_target(s).play(timeout=t),
    "pause": lambda s, a, t: _pause(s),
    "turn_off": lambda s, a, t: _pause(s),
    "stop": lambda s, a, t: _transport_target(s).stop(),
    "next": lambda s, a, t: _transport_target(s).next(),
    "previous": lambda s, a, t: _transport_target(s).previous(),
    "set_volume": lambda s, a, t: setattr(s, "volume", int(a["volume"])),
    "set_mute": lambda s, a, t: setattr(s, "mute", bool(a["muted"])),
    "play_favorite": lambda s, a, t: _play_favorite(s, str(a["favorite"]), t),
}


SONOS_MIN_READ_SECONDS = 0.5


class SonosDriver:
    """Drives Sonos players through soco. Every blocking call runs in this driver's own thread pool.

    soco's SOAP timeout is bounded process-wide to `request_timeout`. A player whose earlier request was
    abandoned (the caller timed out) and is still pending is refused at once with DeviceTimeout, so a hung
    player cannot use up the pool and stall the others. Each worker keeps its connections to the players alive
    between calls (devices/drivers/sonos_http.py).
    """

    name = "sonos"

    def __init__(self, request_timeout: float = 5.0, max_workers: int = 8) -> None:
        self.request_timeout = request_timeout
        bound_request_timeout(request_timeout)
        self._threads: list[threading.Thread] = []
        self._sessions: list[requests.Session] = []
        sonos_http.install()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sonos",
                                        initializer=self._worker_started)
        self._speakers: dict[str, soco.SoCo] = {}
        self._abandoned: dict[str, int] = {}
        self._inflight: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._closed = False

    def _worker_started(self) -> None:
        self._threads.append(threading.current_thread())
        self._sessions.append(sonos_http.attach())

    def min_read_seconds(self, device: Device) -> float:
        """A state read is four SOAP calls; a live view reads a player at most twice a second (its own changes
        still show at once: a command wakes the read)."""
        return SONOS_MIN_READ_SECONDS

    def speaker(self, device: Device) -> soco.SoCo:
        """The (cached) soco instance for the device's address."""
        with self._lock:
            found = self._speakers.get(device.address)
        if found is None:
            host, port = parse_address(device.address)
            try:
                found = soco.SoCo(host, port) if port != DEFAULT_PORT else soco.SoCo(host)
            except ValueError:
                raise DeviceUnavailable(f"{device.name} has an invalid address {device.address!r}") from None
            with self._lock:
                self._speakers[device.address] = found
        return found

    async def execute(self, device: Device, command: str, args: dict[str, Any]) -> None:
        action = _COMMANDS.get(command)
        if action is None:
            raise UnsupportedCommand(f"{device.name} (Sonos) cannot {command.replace('_', ' ')}")
        timeout = self.request_timeout
        what = _PHRASES.get(command, command.replace("_", " "))
        await self._call(device, what, lambda s: action(s, args, timeout))

    async def state(self, device: Device) -> dict[str, Any]:
        return await self._call(device, "report its state", _read_state)

    async def list_favorites(self, device: Device) -> list[str]:
        """Titles of the player's Sonos favourites, in the player's order."""
        favorites = await self._call(device, "list favourites", _favorites)
        return [str(f.title) for f in favorites]

    async def close(self, grace: float = 2.0) -> None:
        """Refuse new work and give running calls up to `grace` seconds to finish; never blocks longer."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = [asyncio.wrap_future(job) for job in self._inflight]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if running:
            await asyncio.wait(running, timeout=grace)
        while any(t.is_alive() for t in self._threads) and loop.time() < deadline:
            await asyncio.sleep(0.005)  # idle workers exit once they see the shutdown
        for session in self._sessions:  # their kept-alive connections
            session.close()

    async def _call(self, device: Device, what: str, fn: Callable[[soco.SoCo], T]) -> T:
        key = device.address
        with self._lock:
            if self._abandoned.get(key):
                raise DeviceTimeout(f"{device.name} is not answering (an earlier request is still pending)")
        if self._closed:
            raise DeviceUnavailable("the Sonos driver is closed")
        speaker = self.speaker(device)

        def work() -> T:
            try:
                return fn(speaker)
            except Exception as exc:  # translated at this single boundary
                raise translate(exc, device.name, what) from exc

        try:
            job: Future[T] = self._pool.submit(work)
        except RuntimeError:  # shut down meanwhile
            raise DeviceUnavailable("the Sonos driver is closed") from None
        with self._lock:
            self._inflight.add(job)
        job.add_done_callback(self._done)
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            if not job.cancel():  # already running in a thread: remember it until it returns
                with self._lock:
                    self._abandoned[key] = self._abandoned.get(key, 0) + 1
                job.add_done_callback(lambda _: self._release(key))
            raise

    def _done(self, job: Future[Any]) -> None:
        with self._lock:
            self._inflight.discard(job)

    def _release(self, key: str) -> None:
        with self._lock:
            left = self._abandoned.get(key, 0) - 1
            if left > 0:
                self._abandoned[key] = left
            else:
                self._abandoned.pop(key, None)


# building a Device from a live player ---------------------------------------------------------------
def describe(address: str, room: str | None = None, timeout: float = 5.0) -> Device:
    """Read a player's description (UUID, room, model) and favourites; blocking, for discovery threads."""
    host, port = parse_address(address)
    bound_request_timeout(timeout)
    try:
        response = requests.get(f"http://{host}:{port}/xml/device_description.xml", timeout=timeout)
        response.raise_for_status()
        dev = ET.fromstring(response.content).find(f"{_DEVICE_NS}device")
        if dev is None:
            raise DeviceUnavailable(f"{address} is not a Sonos player (no device in its description)")
        udn = dev.findtext(f"{_DEVICE_NS}UDN") or ""
        uuid = udn.removeprefix("uuid:")
        if not uuid.startswith("RINCON_"):
            raise DeviceUnavailable(f"{address} is not a Sonos player (UDN {udn!r})")
        zone = dev.findtext(f"{_DEVICE_NS}roomName") or uuid
        speaker = soco.SoCo(host, port) if port != DEFAULT_PORT else soco.SoCo(host)
        favorites = [str(f.title) for f in _favorites(speaker)]
    except Exception as exc:
        raise translate(exc, address, "describe itself") from exc
    return Device(
        id=f"sonos:{uuid}", name=zone, kind=Kind.SPEAKER, room=room or zone,
        capabilities=frozenset({"media", "power"}), driver="sonos", address=f"{host}:{port}",
        aliases=(f"{zone} speaker", f"{zone} Sonos"),
        attrs={"model": dev.findtext(f"{_DEVICE_NS}modelName") or "Sonos",
               "model_number": dev.findtext(f"{_DEVICE_NS}modelNumber") or "",
               "software_version": dev.findtext(f"{_DEVICE_NS}softwareVersion") or "",
               "serial": dev.findtext(f"{_DEVICE_NS}serialNum") or "", "favorites": favorites},
    )


async def sonos_device_from_player(address: str, room: str | None = None, timeout: float = 5.0) -> Device:
    """`describe` without blocking the event loop."""
    return await asyncio.wait_for(asyncio.to_thread(describe, address, room, timeout), timeout * 3)
