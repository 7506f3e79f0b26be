"""The pure side of a simulated Sonos player: its data, service table and XML (SCPD, SOAP, DIDL, ZGS)."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

log = logging.getLogger(__name__)

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
DIDL_OPEN = (
    '<DIDL-Lite xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" '
    'xmlns:r="urn:schemas-rinconnetworks-com:metadata-1-0/" '
    'xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/">'
)
DIDL_CLOSE = "</DIDL-Lite>"
UPNP_ERRORS = {
    401: "Invalid Action", 402: "Invalid Args", 501: "Action Failed", 600: "Argument Value Invalid",
    601: "Argument Value Out of Range", 701: "Transition not available", 711: "Illegal seek target",
    714: "Illegal MIME-type", 800: "Command not supported",
}
SOFTWARE_VERSION = "79.1-56030"
MODEL_NAME = "Sonos One"
MODEL_NUMBER = "S18"
DEFAULT_FAVORITES: tuple[dict[str, str], ...] = (
    {"title": "Jazz Classics", "uri": "x-sonosapi-stream:s17488?sid=254&flags=8224&sn=0",
     "description": "TuneIn Station"},
    {"title": "Morning News", "uri": "x-sonosapi-stream:s24940?sid=254&flags=8224&sn=0",
     "description": "TuneIn Station"},
    {"title": "Lo-Fi Beats", "uri": "x-sonosapi-stream:s288329?sid=254&flags=8224&sn=0",
     "description": "TuneIn Station"},
)
PLAYLIST: tuple[dict[str, str], ...] = (
    {"title": "So What", "artist": "Miles Davis", "album": "Kind of Blue", "duration": "0:09:22"},
    {"title": "Take Five", "artist": "The Dave Brubeck Quartet", "album": "Time Out", "duration": "0:05:24"},
    {"title": "Clair de Lune", "artist": "Claude Debussy", "album": "Suite bergamasque",
     "duration": "0:05:03"},
    {"title": "Blue in Green", "artist": "Bill Evans", "album": "Kind of Blue", "duration": "0:05:37"},
)
STATE_CHANGING = frozenset({
    "Play", "Pause", "Stop", "Next", "Previous", "Seek", "SetAVTransportURI", "AddURIToQueue",
    "RemoveAllTracksFromQueue", "SetVolume", "SetRelativeVolume", "SetMute",
})


class UPnPFault(Exception):
    """An action refused the way a Sonos player refuses it: HTTP 500 with a UPnPError code."""

    def __init__(self, code: int, description: str = "") -> None:
        super().__init__(f"UPnP error {code}")
        self.code = code
        self.description = description or UPNP_ERRORS.get(code, "")


def didl_fields(metadata: str) -> tuple[str, str]:
    """(title, artist) from a DIDL-Lite string; empty strings when absent or unparsable."""
    if not metadata:
        return "", ""
    try:
        root = ET.fromstring(metadata)
    except ET.ParseError:
        return "", ""
    dc = "{http://purl.org/dc/elements/1.1/}"
    return root.findtext(f".//{dc}title") or "", root.findtext(f".//{dc}creator") or ""


def int_arg(args: dict[str, str], name: str, low: int, high: int) -> int:
    try:
        value = int(args[name])
    except KeyError:
        raise UPnPFault(402, f"missing {name}") from None
    except ValueError:
        raise UPnPFault(600, f"{name} is not a number") from None
    if not low <= value <= high:
        raise UPnPFault(601, f"{name} out of range")
    return value


@dataclass(frozen=True)
class Service:
    """One UPnP service: where it is controlled and described, and each action's (in, out) arguments."""

    name: str
    parent: str  # "" for the root device, else "MediaServer" / "MediaRenderer"
    actions: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]

    @property
    def urn(self) -> str:
        return f"urn:schemas-upnp-org:service:{self.name}:1"

    @property
    def control_url(self) -> str:
        prefix = f"/{self.parent}" if self.parent else ""
        return f"{prefix}/{self.name}/Control"

    @property
    def event_url(self) -> str:
        prefix = f"/{self.parent}" if self.parent else ""
        return f"{prefix}/{self.name}/Event"

    @property
    def scpd_url(self) -> str:
        return f"/xml/{self.name}1.xml"


_ID = ("InstanceID",)
_CH = ("InstanceID", "Channel")
SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("AVTransport", "MediaRenderer", {
            "Play": (("InstanceID", "Speed"), ()),
            "Pause": (_ID, ()),
            "Stop": (_ID, ()),
            "Next": (_ID, ()),
            "Previous": (_ID, ()),
            "Seek": (("InstanceID", "Unit", "Target"), ()),
            "GetTransportInfo": (_ID, ("CurrentTransportState", "CurrentTransportStatus", "CurrentSpeed")),
            "GetPositionInfo": (_ID, ("Track", "TrackDuration", "TrackMetaData", "TrackURI", "RelTime",
                                      "AbsTime", "RelCount", "AbsCount")),
            "GetMediaInfo": (_ID, ("NrTracks", "MediaDuration", "CurrentURI", "CurrentURIMetaData", "NextURI",
                                   "NextURIMetaData", "PlayMedium", "RecordMedium", "WriteStatus")),
            "SetAVTransportURI": (("InstanceID", "CurrentURI", "CurrentURIMetaData"), ()),
            "AddURIToQueue": (("InstanceID", "EnqueuedURI", "EnqueuedURIMetaData",
                               "DesiredFirstTrackNumberEnqueued", "EnqueueAsNext"),
                              ("FirstTrackNumberEnqueued", "NumTracksAdded", "NewQueueLength")),
            "RemoveAllTracksFromQueue": (_ID, ()),
        }),
        Service("RenderingControl", "MediaRenderer", {
            "GetVolume": (_CH, ("CurrentVolume",)),
            "SetVolume": ((*_CH, "DesiredVolume"), ()),
            "SetRelativeVolume": ((*_CH, "Adjustment"), ("NewVolume",)),
            "GetMute": (_CH, ("CurrentMute",)),
            "SetMute": ((*_CH, "DesiredMute"), ()),
        }),
        Service("ContentDirectory", "MediaServer", {
            "Browse": (("ObjectID", "BrowseFlag", "Filter", "StartingIndex", "RequestedCount",
                        "SortCriteria"), ("Result", "NumberReturned", "TotalMatches", "UpdateID")),
        }),
        Service("DeviceProperties", "", {
            "GetHouseholdID": ((), ("CurrentHouseholdID",)),
            "GetZoneAttributes": ((), ("CurrentZoneName", "CurrentIcon", "CurrentConfiguration",
                                       "CurrentTargetRoomName")),
        }),
        Service("ZoneGroupTopology", "", {
            "GetZoneGroupState": ((), ("ZoneGroupState",)),
        }),
    )
}
SERVICE_BY_URN = {s.urn: s for s in SERVICES.values()}
SERVICE_BY_CONTROL = {s.control_url: s for s in SERVICES.values()}
SERVICE_BY_SCPD = {s.scpd_url: s for s in SERVICES.values()}


def scpd(service: Service) -> str:
    """The service description: every action with an <argumentList>, each argument with its state variable."""
    actions = []
    variables: set[str] = set()
    for action, (ins, outs) in service.actions.items():
        args = []
        for direction, names in (("in", ins), ("out", outs)):
            for arg in names:
                variables.add(arg)
                args.append(f"<argument><name>{arg}</name><direction>{direction}</direction>"
                            f"<relatedStateVariable>A_ARG_TYPE_{arg}</relatedStateVariable></argument>")
        actions.append(f"<action><name>{action}</name><argumentList>{''.join(args)}</argumentList></action>")
    state = "".join(
        f'<stateVariable sendEvents="no"><name>A_ARG_TYPE_{v}</name><dataType>string</dataType>'
        "</stateVariable>"
        for v in sorted(variables)
    )
    return ('<?xml version="1.0" encoding="utf-8"?><scpd xmlns="urn:schemas-upnp-org:service-1-0">'
            "<specVersion><major>1</major><minor>0</minor></specVersion>"
            f"<actionList>{''.join(actions)}</actionList><serviceStateTable>{state}</serviceStateTable></scpd>")


def _service_list(parent: str) -> str:
    items = "".join(
        f"<service><serviceType>{s.urn}</serviceType><serviceId>urn:upnp-org:serviceId:{s.name}</serviceId>"
        f"<controlURL>{s.control_url}</controlURL><eventSubURL>{s.event_url}</eventSubURL>"
        f"<SCPDURL>{s.scpd_url}</SCPDURL></service>"
        for s in SERVICES.values() if s.parent == parent
    )
    return f"<serviceList>{items}</serviceList>"


def device_description(*, ip: str, uuid: str, room: str, mac: str) -> str:
    """The root device description Sonos serves at /xml/device_description.xml."""
    sub = "".join(
        f"<device><deviceType>urn:schemas-upnp-org:device:{kind}:1</deviceType>"
        f"<friendlyName>{escape(ip)} - {MODEL_NAME} - {kind}</friendlyName>"
        f"<manufacturer>Sonos, Inc.</manufacturer><modelName>{MODEL_NAME}</modelName>"
        f"<UDN>uuid:{uuid}_{'MS' if kind == 'MediaServer' else 'MR'}</UDN>{_service_list(kind)}</device>"
        for kind in ("MediaServer", "MediaRenderer")
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><root xmlns="urn:schemas-upnp-org:device-1-0">'
        "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
        "<deviceType>urn:schemas-upnp-org:device:ZonePlayer:1</deviceType>"
        f"<friendlyName>{escape(ip)} - {MODEL_NAME} - {uuid}</friendlyName>"
        "<manufacturer>Sonos, Inc.</manufacturer><manufacturerURL>http://www.sonos.com</manufacturerURL>"
        f"<modelNumber>{MODEL_NUMBER}</modelNumber><modelDescription>{MODEL_NAME}</modelDescription>"
        f"<modelName>{MODEL_NAME}</modelName><softwareVersion>{SOFTWARE_VERSION}</softwareVersion>"
        "<swGen>2</swGen><hardwareVersion>1.20.1.6-2.1</hardwareVersion>"
        f"<serialNum>{mac.replace(':', '-')}:A</serialNum><MACAddress>{mac}</MACAddress>"
        f"<UDN>uuid:{uuid}</UDN><iconList><icon><id>0</id><mimetype>image/png</mimetype><width>48</width>"
        f"<height>48</height><depth>24</depth><url>/img/icon-{MODEL_NUMBER}.png</url></icon></iconList>"
        "<minCompatibleVersion>78.0-00000</minCompatibleVersion><displayVersion>16.2</displayVersion>"
        f"<roomName>{escape(room)}</roomName><displayName>One</displayName>"
        f"{_service_list('')}<deviceList>{sub}</deviceList></device></root>"
    )


def soap_response(service: Service, action: str, values: Mapping[str, object]) -> str:
    args = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in values.items())
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP_NS}" '
            f's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
            f'<u:{action}Response xmlns:u="{service.urn}">{args}</u:{action}Response></s:Body></s:Envelope>')


def soap_fault(code: int, description: str = "") -> str:
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP_NS}" '
            f's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault>'
            "<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
            f'<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>{code}</errorCode>'
            f"<errorDescription>{escape(description)}</errorDescription></UPnPError>"
            "</detail></s:Fault></s:Body></s:Envelope>")


def track_didl(*, item_id: str, title: str, artist: str = "", album: str = "", uri: str = "",
               upnp_class: str = "object.item.audioItem.musicTrack", duration: str = "") -> str:
    """A DIDL-Lite document with one item (track metadata, queue entries)."""
    res = ""
    if uri:
        dur = f" duration={quoteattr(duration)}" if duration else ""
        res = f'<res protocolInfo="{escape(uri.split(":", 1)[0])}:*:*:*"{dur}>{escape(uri)}</res>'
    creator = f"<dc:creator>{escape(artist)}</dc:creator>" if artist else ""
    album_el = f"<upnp:album>{escape(album)}</upnp:album>" if album else ""
    return (f'{DIDL_OPEN}<item id={quoteattr(item_id)} parentID="-1" restricted="true">{res}'
            f"<dc:title>{escape(title)}</dc:title><upnp:class>{upnp_class}</upnp:class>"
            f"{creator}{album_el}</item>{DIDL_CLOSE}")


def radio_didl(title: str, item_id: str = "R:0/0/0") -> str:
    """Metadata for a radio-style stream, as the Sonos app stores it in a favourite's resMD."""
    return (f'{DIDL_OPEN}<item id={quoteattr(item_id)} parentID="R:0/0" restricted="true">'
            f"<dc:title>{escape(title)}</dc:title><upnp:class>object.item.audioItem.audioBroadcast</upnp:class>"
            '<desc id="cdudn" nameSpace="urn:schemas-rinconnetworks-com:metadata-1-0/">SA_RINCON65031_</desc>'
            f"</item>{DIDL_CLOSE}")


def favorites_didl(favorites: Iterable[Mapping[str, str]]) -> str:
    """The FV:2 container's children, shaped like a real player's Browse result."""
    items = []
    for n, fav in enumerate(favorites):
        uri = fav["uri"]
        items.append(
            f'<item id="FV:2/{n + 1}" parentID="FV:2" restricted="false">'
            f"<dc:title>{escape(fav['title'])}</dc:title>"
            "<upnp:class>object.itemobject.item.sonos-favorite</upnp:class>"
            f"<r:ordinal>{n}</r:ordinal>"
            f'<res protocolInfo="{escape(uri.split(":", 1)[0])}:*:*:*">{escape(uri)}</res>'
            f"<r:type>instantPlay</r:type><r:description>{escape(fav.get('description', ''))}</r:description>"
            f"<r:resMD>{escape(fav['metadata'])}</r:resMD></item>"
        )
    return DIDL_OPEN + "".join(items) + DIDL_CLOSE


def queue_didl(tracks: Iterable[Mapping[str, str]]) -> str:
    items = []
    for n, t in enumerate(tracks):
        res = (f'<res protocolInfo="x-file-cifs:*:audio/flac:*" duration="{t["duration"]}">'
               f'{escape(t["uri"])}</res>')
        items.append(
            f'<item id="Q:0/{n + 1}" parentID="Q:0" restricted="true">{res}'
            f"<dc:title>{escape(t['title'])}</dc:title><upnp:class>object.item.audioItem.musicTrack</upnp:class>"
            f"<dc:creator>{escape(t.get('artist', ''))}</dc:creator>"
            f"<upnp:album>{escape(t.get('album', ''))}</upnp:album></item>"
        )
    return DIDL_OPEN + "".join(items) + DIDL_CLOSE


@dataclass(frozen=True)
class ZoneMember:
    uuid: str
    location: str  # http://ip:port/xml/device_description.xml
    name: str
    boot_seq: int = 1


def zone_group_state(members: Iterable[ZoneMember]) -> str:
    """Every member is the coordinator of its own group (nothing grouped), as a fresh Sonos household."""
    groups = "".join(
        f'<ZoneGroup Coordinator="{m.uuid}" ID="{m.uuid}:1">'
        f'<ZoneGroupMember UUID="{m.uuid}" Location={quoteattr(m.location)} ZoneName={quoteattr(m.name)} '
        f'Icon="x-rincon-roomicon:living" Configuration="1" SoftwareVersion="{SOFTWARE_VERSION}" '
        f'MinCompatibleVersion="78.0-00000" LegacyCompatibleVersion="58.0-00000" BootSeq="{m.boot_seq}" '
        'TVConfigurationError="0" HdmiCecAvailable="0" WirelessMode="0" WirelessLeafOnly="0" '
        'ChannelFreq="2437" BehindWifiExtender="0" WifiEnabled="1" EthLink="1" Orientation="0" '
        'RoomCalibrationState="4" SecureRegState="3" VoiceConfigState="0" MicEnabled="0" '
        'AirPlayEnabled="1" IdleState="1" MoreInfo=""/></ZoneGroup>'
        for m in members
    )
    return f"<ZoneGroupState><ZoneGroups>{groups}</ZoneGroups><VanishedDevices/></ZoneGroupState>"
