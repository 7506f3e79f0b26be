"""The words of the local tier: Home Assistant domains per device kind, spoken names, colours, nouns."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from devices.models import Device, Kind
from devices.registry import normalize_name

DOMAIN_BY_KIND: dict[Kind, str] = {
    Kind.LIGHT: "light", Kind.SPEAKER: "media_player", Kind.CLIMATE: "climate", Kind.COVER: "cover",
    Kind.GARAGE: "cover", Kind.LOCK: "lock", Kind.HEATER: "switch", Kind.SWITCH: "switch",
    Kind.SENSOR: "sensor", Kind.CAMERA: "camera", Kind.OTHER: "other",
}
NOUN_BY_DOMAIN = {"light": "light", "media_player": "speaker", "climate": "thermostat", "cover": "cover",
                  "lock": "lock", "switch": "switch", "fan": "fan", "sensor": "sensor", "camera": "camera"}
SWITCHABLE = frozenset({"light", "switch", "fan", "media_player", "climate", "cover", "lock"})
COVER_FAMILIES = ({"awning", "blind", "curtain", "shade", "shutter", "window"}, {"door", "garage", "gate"})
COVER_CLASSES = frozenset().union(*COVER_FAMILIES)

COLORS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255), "black": (0, 0, 0), "red": (255, 0, 0), "orange": (255, 165, 0),
    "yellow": (255, 255, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "purple": (160, 32, 240),
    "brown": (165, 42, 42), "pink": (255, 192, 203), "turquoise": (64, 224, 208), "cyan": (0, 255, 255),
    "magenta": (255, 0, 255), "violet": (238, 130, 238), "indigo": (75, 0, 130), "gold": (255, 215, 0),
    "teal": (0, 128, 128), "lime": (50, 205, 50), "amber": (255, 191, 0), "lavender": (230, 230, 250),
}
PLAY_FILLER = frozenset({"my", "our", "the", "some", "a", "an", "favourite", "favorite", "favourites",
                          "favorites", "fave", "fav", "playlist", "station", "please"})
# A device alias that is only a noun ("lamp"): "the bedroom lamp" means the bedroom's lights, not that device.
GENERIC_NAMES = frozenset({"lamp", "light", "speaker", "thermostat", "blind", "shade", "curtain", "shutter", "lock"})
MEDIA_TYPES = frozenset({"playlist", "playlists", "station", "album", "please"})


def domain_of(device: Device) -> str:
    return DOMAIN_BY_KIND.get(device.kind, "other")


def label(device: Device) -> str:
    """How a device is called in replies: its name, plus "speaker" for speakers named after a room."""
    if device.kind == Kind.SPEAKER and "speaker" not in device.name.lower():
        return f"{device.name} speaker"
    return device.name


def distinct_labels(devices: list[Device]) -> list[str]:
    """The devices' labels, with the room added where two would read the same ("thermostat in the hallway")."""
    labels = [label(d) for d in devices]
    return [f"{text} in the {d.room}" if d.room and labels.count(text) > 1 else text
            for text, d in zip(labels, devices, strict=True)]


def spoken_names(device: Device) -> tuple[str, ...]:
    """Every name the owner may use for a device: name, aliases and "<name> speaker" for speakers."""
    out: dict[str, str] = {}
    for name in (*device.names(), label(device)):
        if name.strip():
            out.setdefault(normalize_name(name), name)
    return tuple(out.values())


def cover_class(device: Device) -> str | None:
    """The Home Assistant cover device class a cover/garage/lock answers to ("shade", "garage", ...)."""
    if device.kind == Kind.GARAGE:
        return "garage"
    if device.kind != Kind.COVER:
        return None
    declared = str(device.attrs.get("device_class") or "").lower()
    if declared in COVER_CLASSES:
        return declared
    for name in device.names():
        for word in normalize_name(name).split():
            if word.rstrip("s") in COVER_CLASSES:
                return word.rstrip("s")
    return "shade"


def class_matches(device: Device, wanted: str | None) -> bool:
    if wanted is None:
        return True
    have = cover_class(device)
    if have is None:
        return False
    return have == wanted or any(have in fam and wanted in fam for fam in COVER_FAMILIES)


def kelvin_to_rgb(kelvin: float) -> list[int]:
    """Approximate an RGB colour for a white colour temperature (Tanner Helland's fit)."""
    t = max(1000.0, min(40000.0, float(kelvin))) / 100.0
    if t <= 66:
        r, g = 255.0, 99.4708025861 * math.log(t) - 161.1195681661
        b = 0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307
    else:
        r = 329.698727446 * (t - 60) ** -0.1332047592
        g = 288.1221695283 * (t - 60) ** -0.0755148492
        b = 255.0
    return [int(max(0, min(255, round(v)))) for v in (r, g, b)]


def clean_search(text: str, typed: bool = False) -> str:
    """Turn "my jazz favourite" / "some jazz playlist" into the favourite's name ("jazz"). When every word
    is a filler but the sentence said what it is ("My Favorites playlist", `typed`: HA's media_class), the
    name is those words without the type and a leading article ("My Favorites")."""
    words = [w for w in re.sub(r"[^\w\s'&-]", " ", text).split()]
    kept = [w for w in words if w.lower() not in PLAY_FILLER]
    if not kept and (typed or any(w.lower() in MEDIA_TYPES for w in words)):
        kept = [w for w in words if w.lower() not in MEDIA_TYPES]
        kept = kept[1:] if kept and kept[0].lower() in ("the", "a", "an", "some") else kept
    if len(kept) > 1 and kept[-1].lower() == "music":
        kept = kept[:-1]
    return " ".join(kept)


def join_or(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} or {names[-1]}"


def noun_for(domains: Iterable[str], device_class: str | None = None) -> str:
    if device_class:
        return "garage door" if device_class == "garage" else device_class
    nouns = sorted({NOUN_BY_DOMAIN.get(d, "device") for d in domains})
    return nouns[0] if len(nouns) == 1 else "device"


def pluralize(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "sh", "ch")) else "s")


