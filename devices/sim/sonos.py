"""A simulated Sonos player on loopback: UPnP/SOAP over HTTP (what soco drives) and an optional SSDP reply."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

from devices.sim import sonos_xml as X
from devices.sim.http_devices import LoopbackHTTPServer
from devices.sim.sonos_state import PlayerState
from devices.sim.ssdp_responder import SsdpResponder

log = logging.getLogger(__name__)


class SonosHousehold:
    """Players that see each other in their zone group state (each its own coordinator)."""

    def __init__(self, household_id: str | None = None) -> None:
        # Random, not derived from id(self): soco caches zone group state per household id process-wide,
        # and a reused id() would hand a new home the previous home's (stale) groups.
        self.id = household_id or "Sonos_" + secrets.token_hex(11)
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


class _Server(LoopbackHTTPServer):
    daemon_threads = True
    block_on_close = True  # server_close() shuts open connections, waits for their threads (stop() frees hung ones)
    sim: SonosSimPlayer

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sonos sim %s: error serving %s", self.sim.address, client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stall)
    server_version = f"Linux UPnP/1.0 Sonos/{X.SOFTWARE_VERSION} (ZPS18)"
    protocol_version = "HTTP/1.1"  # players keep connections alive

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
            self.close_connection = True
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
            self.close_connection = True  # the body is left unread
            self._reply(400, "bad Content-Length", "text/plain")
            return
        body = self.rfile.read(length) if length else b""
        if not sim.wait_if_hung():
            self.close_connection = True
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
        self._favorites = list(favorites if favorites is not None else X.DEFAULT_FAVORITES)
        self.state = PlayerState(self.uuid, list(self._favorites))
        self.commands: list[tuple[str, dict[str, str]]] = []
        self.hang = False
        self._ssdp_wanted = ssdp
        self._ssdp: SsdpResponder | None = None
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._log_lock = threading.Lock()

    def reset(self) -> None:
        """Back to a fresh transport/volume/queue state with the same favourites; empty log; not hung."""
        self.state = PlayerState(self.uuid, list(self._favorites))
        self.commands.clear()
        self.hang = False

    # lifecycle --------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def connections(self) -> int:
        """Connections accepted since the last start (0 while stopped)."""
        return self._server.accepted if self._server is not None else 0

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
            st = "urn:schemas-upnp-org:device:ZonePlayer:1"  # what a real player answers, as soco expects
            self._ssdp = SsdpResponder(st, self.ip, lambda: {
                "LOCATION": self.location, "SERVER": _Handler.server_version, "USN": f"uuid:{self.uuid}::{st}",
                "X-RINCON-BOOTSEQ": "1", "X-RINCON-HOUSEHOLD": self.household.id},
                silent=lambda: self.hang, max_age=1800).start()
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
