"""A simulated Sonos player on loopback: UPnP/SOAP over HTTP (what soco drives) and an optional SSDP reply."""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from devices.sim import sonos_xml as X

log = logging.getLogger(__name__)


class PlayerState:
    """The player's transport, rendering and content state; pure (no I/O) and thread-safe."""

    def __init__(self, uuid: str, favorites: list[dict[str, str]]) -> None:
        self._lock = threading.RLock()
        self.uuid = uuid
        self.transport = "STOPPED"
        self.volume = 20
        self.muted = False
        self.queue: list[dict[str, str]] = [
            {**t, "uri": f"x-file-cifs://nas/music/{t['title'].lower().replace(' ', '_')}.flac"}
            for t in X.PLAYLIST
        ]
        self.index = 0
        self.stream: tuple[str, str] | None = None  # (uri, metadata) when not playing from the queue
        self.rel_time = "0:00:00"
        self.favorites = [
            {**f, "metadata": f.get("metadata") or X.radio_didl(f["title"]),
             "description": f.get("description", "")}
            for f in favorites
        ]

    # readable snapshot ------------------------------------------------------------------------
    def current(self) -> dict[str, str]:
        """uri, title and artist of what is current (a queue track or a stream)."""
        with self._lock:
            if self.stream is not None:
                title, artist = X.didl_fields(self.stream[1])
                return {"uri": self.stream[0], "title": title, "artist": artist}
            if not self.queue:
                return {"uri": "", "title": "", "artist": ""}
            t = self.queue[self.index]
            return {"uri": t["uri"], "title": t["title"], "artist": t.get("artist", "")}

    # dispatch ---------------------------------------------------------------------------------
    def handle(self, action: str, args: dict[str, str]) -> dict[str, object]:
        """Run one AVTransport / RenderingControl / ContentDirectory action; raise X.UPnPFault to refuse."""
        method: Callable[[dict[str, str]], dict[str, object]] | None = getattr(self, f"_do_{action}", None)
        if method is None:
            raise X.UPnPFault(401)
        with self._lock:
            return method(args)

    # AVTransport ------------------------------------------------------------------------------
    def _do_Play(self, args: dict[str, str]) -> dict[str, object]:
        if self.stream is None and not self.queue:
            raise X.UPnPFault(701, "nothing to play")
        self.transport = "PLAYING"
        return {}

    def _do_Pause(self, args: dict[str, str]) -> dict[str, object]:
        if self.transport == "PLAYING":
            self.transport = "PAUSED_PLAYBACK"
        return {}

    def _do_Stop(self, args: dict[str, str]) -> dict[str, object]:
        self.transport = "STOPPED"
        self.rel_time = "0:00:00"
        return {}

    def _skip(self, step: int) -> dict[str, object]:
        if self.stream is not None or not self.queue:
            raise X.UPnPFault(701, "cannot skip on this source")
        self.index = (self.index + step) % len(self.queue)
        self.rel_time = "0:00:00"
        return {}

    def _do_Next(self, args: dict[str, str]) -> dict[str, object]:
        return self._skip(1)

    def _do_Previous(self, args: dict[str, str]) -> dict[str, object]:
        return self._skip(-1)

    def _do_Seek(self, args: dict[str, str]) -> dict[str, object]:
        unit = args.get("Unit", "")
        if unit == "TRACK_NR":
            if self.stream is not None:
                raise X.UPnPFault(701)
            self.index = X.int_arg(args, "Target", 1, max(len(self.queue), 1)) - 1
        elif unit == "REL_TIME":
            self.rel_time = args.get("Target", "0:00:00")
        else:
            raise X.UPnPFault(711)
        return {}

    def _do_GetTransportInfo(self, args: dict[str, str]) -> dict[str, object]:
        return {"CurrentTransportState": self.transport, "CurrentTransportStatus": "OK", "CurrentSpeed": "1"}

    def _do_GetPositionInfo(self, args: dict[str, str]) -> dict[str, object]:
        if self.stream is not None:
            uri, meta = self.stream
            track, duration = 1, "0:00:00"
        elif self.queue:
            t = self.queue[self.index]
            uri, track, duration = t["uri"], self.index + 1, t["duration"]
            meta = X.track_didl(item_id=f"Q:0/{track}", title=t["title"], artist=t.get("artist", ""),
                                album=t.get("album", ""), uri=uri, duration=duration)
        else:
            uri, meta, track, duration = "", "", 0, "0:00:00"
        return {"Track": track, "TrackDuration": duration, "TrackMetaData": meta, "TrackURI": uri,
                "RelTime": self.rel_time, "AbsTime": "NOT_IMPLEMENTED", "RelCount": 2147483647,
                "AbsCount": 2147483647}

    def _do_GetMediaInfo(self, args: dict[str, str]) -> dict[str, object]:
        if self.stream is not None:
            uri, meta, count = self.stream[0], self.stream[1], 1
        else:
            uri, meta, count = f"x-rincon-queue:{self.uuid}#0", "", len(self.queue)
        return {"NrTracks": count, "MediaDuration": "NOT_IMPLEMENTED", "CurrentURI": uri,
                "CurrentURIMetaData": meta, "NextURI": "", "NextURIMetaData": "", "PlayMedium": "NETWORK",
                "RecordMedium": "NOT_IMPLEMENTED", "WriteStatus": "NOT_IMPLEMENTED"}

    def _do_SetAVTransportURI(self, args: dict[str, str]) -> dict[str, object]:
        uri = args.get("CurrentURI", "")
        if not uri:
            raise X.UPnPFault(402, "missing CurrentURI")
        self.stream = None if uri.startswith("x-rincon-queue:") else (uri, args.get("CurrentURIMetaData", ""))
        self.transport = "STOPPED"
        self.rel_time = "0:00:00"
        return {}

    def _do_AddURIToQueue(self, args: dict[str, str]) -> dict[str, object]:
        uri = args.get("EnqueuedURI", "")
        if not uri:
            raise X.UPnPFault(402, "missing EnqueuedURI")
        title, artist = X.didl_fields(args.get("EnqueuedURIMetaData", ""))
        position = X.int_arg(args, "DesiredFirstTrackNumberEnqueued", 0, 1_000_000) if args.get(
            "DesiredFirstTrackNumberEnqueued") else 0
        at = len(self.queue) if position == 0 or position > len(self.queue) else position - 1
        self.queue.insert(at, {"title": title or uri.rsplit("/", 1)[-1], "artist": artist, "album": "",
                               "duration": "0:03:00", "uri": uri})
        return {"FirstTrackNumberEnqueued": at + 1, "NumTracksAdded": 1, "NewQueueLength": len(self.queue)}

    def _do_RemoveAllTracksFromQueue(self, args: dict[str, str]) -> dict[str, object]:
        self.queue.clear()
        self.index = 0
        if self.stream is None:
            self.transport = "STOPPED"
        return {}

    # RenderingControl -------------------------------------------------------------------------
    def _do_GetVolume(self, args: dict[str, str]) -> dict[str, object]:
        return {"CurrentVolume": self.volume}

    def _do_SetVolume(self, args: dict[str, str]) -> dict[str, object]:
        self.volume = X.int_arg(args, "DesiredVolume", 0, 100)
        return {}

    def _do_SetRelativeVolume(self, args: dict[str, str]) -> dict[str, object]:
        self.volume = max(0, min(100, self.volume + X.int_arg(args, "Adjustment", -100, 100)))
        return {"NewVolume": self.volume}

    def _do_GetMute(self, args: dict[str, str]) -> dict[str, object]:
        return {"CurrentMute": int(self.muted)}

    def _do_SetMute(self, args: dict[str, str]) -> dict[str, object]:
        value = args.get("DesiredMute", "").strip().lower()
        if value not in ("0", "1", "true", "false"):
            raise X.UPnPFault(600, "DesiredMute must be 0 or 1")
        self.muted = value in ("1", "true")
        return {}

    # ContentDirectory -------------------------------------------------------------------------
    def _do_Browse(self, args: dict[str, str]) -> dict[str, object]:
        object_id = args.get("ObjectID", "")
        items: list[dict[str, str]]
        if object_id == "FV:2":
            items, render = self.favorites, X.favorites_didl
        elif object_id == "Q:0":
            items, render = self.queue, X.queue_didl
        else:
            raise X.UPnPFault(701, f"no such object {object_id!r}")
        start = X.int_arg(args, "StartingIndex", 0, 1_000_000) if args.get("StartingIndex") else 0
        count = X.int_arg(args, "RequestedCount", 0, 1_000_000) if args.get("RequestedCount") else 0
        page = items[start:start + count] if count else items[start:]
        return {"Result": render(page), "NumberReturned": len(page), "TotalMatches": len(items),
                "UpdateID": 1}


class SonosHousehold:
    """Players that see each other in their zone group state (each its own coordinator)."""

    def __init__(self, household_id: str | None = None) -> None:
        self.id = household_id or "Sonos_" + hashlib.sha1(str(id(self)).encode()).hexdigest()[:22]
        self._members: list[SonosSimPlayer] = []
        self._lock = threading.Lock()

    def join(self, player: SonosSimPlayer) -> None:
        with self._lock:
            if player not in self._members:
                self._members.append(player)

    def leave(self, player: SonosSimPlayer) -> None:
        with self._lock:
            if player in self._members:
                self._members.remove(player)

    def zone_group_state(self) -> str:
        with self._lock:
            members = [X.ZoneMember(p.uuid, p.location, p.name) for p in self._members]
        return X.zone_group_state(members)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True  # server_close() joins handler threads (hung ones are released by stop())
    sim: SonosSimPlayer

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sonos sim %s: error serving %s", self.sim.address, client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5
    server_version = f"Linux UPnP/1.0 Sonos/{X.SOFTWARE_VERSION} (ZPS18)"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sonos sim %s: " + format, self.server.sim.address, *args)

    def _reply(self, status: int, body: str, content_type: str = 'text/xml; charset="utf-8"') -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        sim = self.server.sim
        if not sim.wait_if_hung():
            return
        path = self.path.split("?", 1)[0]
        if path == "/xml/device_description.xml":
            self._reply(200, X.device_description(ip=sim.ip, uuid=sim.uuid, room=sim.name, mac=sim.mac))
        elif path in X.SERVICE_BY_SCPD:
            self._reply(200, X.scpd(X.SERVICE_BY_SCPD[path]))
        else:
            self._reply(404, "not found", "text/plain")

    def do_POST(self) -> None:
        sim = self.server.sim
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= 1_000_000:
            self._reply(400, "bad Content-Length", "text/plain")
            return
        body = self.rfile.read(length) if length else b""
        if not sim.wait_if_hung():
            return
        service = X.SERVICE_BY_CONTROL.get(self.path)
        urn, _, action = (self.headers.get("SOAPACTION") or "").strip('"').partition("#")
        if service is None or urn != service.urn:
            self._reply(404, "not found", "text/plain")
            return
        try:
            args = _soap_args(body, action)
            values = sim.dispatch(service.name, action, args)
        except X.UPnPFault as fault:
            self._reply(500, X.soap_fault(fault.code, fault.description))
            return
        self._reply(200, X.soap_response(service, action, values))


def _soap_args(body: bytes, action: str) -> dict[str, str]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise X.UPnPFault(402, "malformed SOAP body") from None
    request = root.find(f"{{{X.SOAP_NS}}}Body/*")
    if request is None or request.tag.rsplit("}", 1)[-1] != action:
        raise X.UPnPFault(401, "SOAPACTION does not match the body")
    return {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in request}


class SonosSimPlayer:
    """One simulated Sonos player served at http://ip:port, driven by the real soco.

    `commands` logs every state-changing action received, as (action, args). Set `hang = True` to make it
    accept requests and never answer them (until `hang` is cleared or the player stops).
    """

    def __init__(self, ip: str, port: int = 1400, name: str = "Living Room", room: str | None = None,
                 uuid: str | None = None, favorites: list[dict[str, str]] | None = None,
                 household: SonosHousehold | None = None, ssdp: bool = False) -> None:
        self.ip = ip
        self.port = port
        self.name = name  # the Sonos room name (roomName / ZoneName on the wire)
        self.room = room or name
        digest = hashlib.sha1(f"{ip}:{port}".encode()).hexdigest()[:6].upper()
        self.uuid = uuid or f"RINCON_000E58{digest}01400"
        mac_hex = self.uuid.removeprefix("RINCON_")[:12].ljust(12, "0")
        self.mac = ":".join(mac_hex[i:i + 2] for i in range(0, 12, 2))
        self.household = household or SonosHousehold()
        self.state = PlayerState(self.uuid, list(favorites if favorites is not None else X.DEFAULT_FAVORITES))
        self.commands: list[tuple[str, dict[str, str]]] = []
        self.hang = False
        self._ssdp_wanted = ssdp
        self._ssdp: _SsdpResponder | None = None
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log_lock = threading.Lock()

    # lifecycle --------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def location(self) -> str:
        return f"http://{self.address}/xml/device_description.xml"

    def start(self) -> SonosSimPlayer:
        self._stopping.clear()
        server = _Server((self.ip, self.port), _Handler)
        server.sim = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sonos-sim-{self.address}", daemon=True)
        self._thread.start()
        self.household.join(self)
        if self._ssdp_wanted:
            self._ssdp = _SsdpResponder(self)
            self._ssdp.start()
        log.debug("sonos sim %s (%s) started", self.address, self.name)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.household.leave(self)
        if self._ssdp is not None:
            self._ssdp.stop()
            self._ssdp = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SonosSimPlayer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def wait_if_hung(self) -> bool:
        """Block while `hang` is set; False if the player stopped meanwhile (drop the request unanswered)."""
        while self.hang and not self._stopping.is_set():
            self._stopping.wait(0.05)
        return not self._stopping.is_set()

    # protocol ---------------------------------------------------------------------------------
    def dispatch(self, service: str, action: str, args: dict[str, str]) -> dict[str, object]:
        if action not in X.SERVICES[service].actions:
            raise X.UPnPFault(401)
        if action in X.STATE_CHANGING:
            with self._log_lock:
                self.commands.append((action, dict(args)))
        if action == "GetHouseholdID":
            return {"CurrentHouseholdID": self.household.id}
        if action == "GetZoneAttributes":
            return {"CurrentZoneName": self.name, "CurrentIcon": "x-rincon-roomicon:living",
                    "CurrentConfiguration": "1", "CurrentTargetRoomName": self.name}
        if action == "GetZoneGroupState":
            return {"ZoneGroupState": self.household.zone_group_state()}
        return self.state.handle(action, args)

    # what tests read ----------------------------------------------------------------------------
    @property
    def transport_state(self) -> str:
        return self.state.transport

    @property
    def volume(self) -> int:
        return self.state.volume

    @property
    def muted(self) -> bool:
        return self.state.muted

    @property
    def current(self) -> dict[str, str]:
        return self.state.current()

    def actions(self) -> list[str]:
        """Names of the state-changing actions received so far, in order."""
        with self._log_lock:
            return [name for name, _ in self.commands]


class _SsdpResponder:
    """Answers ZonePlayer M-SEARCHes to 239.255.255.250:1900 on 127.0.0.1, unicast from the player's ip."""

    GROUP = "239.255.255.250"

    def __init__(self, player: SonosSimPlayer) -> None:
        self.player = player
        self._stop = threading.Event()
        self._listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._listen.bind((self.GROUP, 1900))
        self._listen.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                                socket.inet_aton(self.GROUP) + socket.inet_aton("127.0.0.1"))
        self._listen.settimeout(0.05)
        self._reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self._reply.bind((player.ip, 0))
        self._thread = threading.Thread(target=self._run, name=f"sonos-ssdp-{player.address}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listen.close()
        self._reply.close()

    def _run(self) -> None:
        p = self.player
        st = "urn:schemas-upnp-org:device:ZonePlayer:1"
        answer = (f"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age = 1800\r\nEXT:\r\nLOCATION: {p.location}\r\n"
                  f"SERVER: {_Handler.server_version}\r\nST: {st}\r\nUSN: uuid:{p.uuid}::{st}\r\n"
                  f"X-RINCON-BOOTSEQ: 1\r\nX-RINCON-HOUSEHOLD: {p.household.id}\r\n\r\n").encode()
        while not self._stop.is_set():
            try:
                data, sender = self._listen.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            text = data.decode("utf-8", "replace").lower()
            if text.startswith("m-search") and (st.lower() in text or "ssdp:all" in text) and not p.hang:
                try:
                    self._reply.sendto(answer, sender)
                except OSError as exc:
                    log.debug("ssdp reply to %s failed: %s", sender, exc)
