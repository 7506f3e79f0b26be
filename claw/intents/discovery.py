"""Discovery in words (pure): "scan my network", "add the WLED strip as the desk light in the office", "ignore …"."""

from __future__ import annotations

from typing import Any

from claw.intents.types import Plan
from devices.models import Device

DISCOVERY_INTENTS = frozenset({"ClawDiscover"})
TOPICS = ("scan", "add", "ignore", "unignore", "list")
_ARTICLES = ("the ", "a ", "an ", "my ", "our ")
MAX_WORDS = 60


def _clean(value: Any) -> str:
    text = " ".join(str(value or "").split()).strip(" .,!?\"'“”")[:MAX_WORDS]
    return text


def _drop_article(text: str) -> str:
    low = text.lower()
    for article in _ARTICLES:
        if low.startswith(article):
            return text[len(article):]
    return text


def _split_place(text: str, word: str) -> tuple[str, str]:
    """"desk light in the office" -> ("desk light", "office"); no `word` in it: (text, "")."""
    head, sep, tail = text.rpartition(word)
    if not sep or not head.strip() or not tail.strip():
        return text, ""
    return head.strip(), _drop_article(tail.strip())


def discovery_plan(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """ClawDiscover: topic scan | list (the last scan) | add (disc_ref as disc_name in disc_room) | ignore |
    unignore (disc_ref). The slots are cleaned here; which device `disc_ref` means is decided against the last
    scan by claw.discovery.chat."""
    topic = str(slots.get("topic") or "")
    if topic not in TOPICS:
        return Plan(intent, problem="I understood that was about finding devices, but not what to do.", slots=slots)
    out: dict[str, Any] = {"topic": topic}
    if topic in ("add", "ignore", "unignore"):
        ref = _clean(slots.get("disc_ref"))
        if not ref:
            return Plan(intent, problem="Which device? Say its number in the scan list or what it is.", slots=slots)
        out["ref"] = ref
    if topic == "add":
        name = _drop_article(_clean(slots.get("disc_name")))
        if not name:  # "add number 3 as the desk light" read as "add number {disc_ref}"
            out["ref"], name = _split_place(out["ref"], " as ")
        room = _drop_article(_clean(slots.get("disc_room")))
        if not room:  # "… as the desk light in the office", "add the shelly to the office as …"
            name, room = _split_place(name, " in ")
            if not room:
                out["ref"], room = _split_place(out["ref"], " to ")
        room = room or default_area
        if name:
            out["name"] = name
        if room:
            out["room"] = room
    return Plan(intent, slots=out)
