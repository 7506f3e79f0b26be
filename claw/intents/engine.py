"""The fast local intent tier: hassil with HA's sentences and the claw's own, slot lists, pending follow-ups.

The claw's own sentences are data, sentences/<language>.yaml in hassil's format, merged into Home Assistant's
at the first engine construction. Adding an intent touches only claw/intents/: that file and a handler in
plan.py. A plan that asks which device is meant is remembered per sender (claw.intents.followup), and the
sender's next message, when it names just a device or a room, finishes it."""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import yaml
from hassil import Intents, RecognizeResult, TextChunk, TextSlotList, TextSlotValue, recognize_best
from hassil.util import merge_dict
from home_assistant_intents import get_intents

from claw.errors import ConfigError
from claw.intents.compound import compound, gap
from claw.intents.followup import FollowUps, answer
from claw.intents.plan import HANDLERS, Plan, plan
from claw.intents.questions import tidy_question
from claw.intents.recent import Recent
from claw.intents.scope import quantified, stray_words
from claw.intents.vocab import domain_of, spoken_names
from devices.models import Device

log = logging.getLogger(__name__)

# Intents claw.intents.plan handles (timers: claw.intents.timers); every other HA intent (weather...) goes to the LLM.
_HA_INTENTS = frozenset(name for name in HANDLERS if name.startswith("Hass"))
_RESPONDS = frozenset({"hello", "commands"})  # HassRespond answers the local tier gives itself
_UNSUPPORTED_DOMAINS = frozenset({"person", "scene", "script", "button", "input_button", "valve",
                                  "binary_sensor", "input_boolean", "vacuum", "lawn_mower"})
# The area in the intent context lets sentences without a target ("set the temperature to 21", "pause
# the music") match. It is never passed on as a slot: claw.intents.plan.plan looks in default_area first
# and falls back to the whole home, so a chat without a room works too.
_HOME = "\x00home"
_PLACE_IN_QUERY = re.compile(r"\b(on|in)\s+(the|my|our)\b", re.IGNORECASE)


def own_sentences(language: str) -> dict[str, Any] | None:
    """The claw's sentences for the language, hassil's format: sentences/<language>.yaml and every
    sentences/<language>/*.yaml (one file per family of phrasings), merged in name order; None when none."""
    folder = resources.files("claw.intents") / "sentences"
    files = [folder / f"{language}.yaml"]
    extra = folder / language
    if extra.is_dir():
        files += sorted((f for f in extra.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    merged: dict[str, Any] | None = None
    for resource in files:
        if not resource.is_file():
            continue
        data = yaml.safe_load(resource.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("language") != language:
            raise ConfigError(f"{resource}: not hassil sentences for language {language!r}")
        unmapped = sorted(set(data.get("intents") or {}) - set(HANDLERS))
        if unmapped:
            raise ConfigError(f"{resource}: no handler in claw.intents.plan for {', '.join(unmapped)}")
        if merged is None:
            merged = data
        else:
            merge_dict(merged, data)
    return merged


def _ha_data(language: str) -> dict[str, Any]:
    """A copy of HA's sentences for the language, only the intents claw.intents.plan maps."""
    data = get_intents(language)
    if data is None:
        raise ConfigError(f"no Home Assistant intents for language {language!r}")
    data = copy.deepcopy(data)
    data["intents"] = {k: v for k, v in data["intents"].items() if k in _HA_INTENTS}
    return data


def ha_only_intents(language: str) -> Intents:
    """HA's sentences alone (the intents we map), without the claw's: the baseline bench/turns.py compares."""
    return Intents.from_dict(_ha_data(language))


@cache
def _load(language: str) -> Intents:
    """HA's sentences for the language (only the intents we map) merged with the claw's own; loaded once."""
    data = _ha_data(language)
    own = own_sentences(language)
    if own is not None:
        merge_dict(data, copy.deepcopy(own))  # data added per intent, lists extended or overridden
    return Intents.from_dict(data)


def _variants(name: str) -> list[str]:
    """A name as written plus the ways it is typed without punctuation: "Bob's Lamp (old)" -> "bobs lamp old"."""
    plain = " ".join(re.sub(r"[^\w\s]", " ", name.replace("'s", "s")).split())
    return [name] if not plain or plain.lower() == name.lower() else [name, plain]


def _value(text: str, value: Any, context: dict[str, Any] | None = None) -> TextSlotValue:
    # Plain TextChunk, not a template: device names may contain brackets or pipes.
    return TextSlotValue(text_in=TextChunk(text), value_out=value, context=context)


_CONTROL_VERB = re.compile(r"^(please\s+)?(turn|switch|set|dim|brighten|open|close|lock|unlock|pause|play|"
                           r"stop|mute|unmute)\b", re.I)
_CONTROL_INTENTS = frozenset({"HassTurnOn", "HassTurnOff", "HassLightSet", "HassSetPosition",
                              "HassClimateSetTemperature", "HassMediaPause", "HassMediaUnpause",
                              "HassSetVolume", "HassMediaPlayerMute", "HassMediaPlayerUnmute"})


class IntentEngine:
    """Recognises a sentence against the HA sentences and turns the best match into a Plan.

    `followups` holds what each sender was last asked back (in memory, expiring; see claw.intents.followup)."""

    def __init__(self, language: str = "en", *, followups: FollowUps | None = None,
                 recent: Recent | None = None) -> None:
        self.language = language
        self._intents = _load(language)
        self.followups = followups if followups is not None else FollowUps()
        self.recent = recent if recent is not None else Recent()
        self._lock = threading.Lock()
        self._devices: list[Device] = []
        self._slot_lists: dict[str, Any] = {}
        self._cameras: list[TextSlotValue] = []  # the `camera` slot list (set_cameras)
        self._camera_lists: dict[str, TextSlotList] = {}  # `camera_zone` with the configured zones (set_cameras)
        self.set_devices([])
        self.recognize("set the brightness to 50%")  # warm hassil's caches (~60 ms once, not per turn)

    @property
    def intents(self) -> Intents:
        """The loaded hassil Intents (HA's sentences plus the claw's own)."""
        return self._intents

    @property
    def slot_lists(self) -> dict[str, Any]:
        """The current slot lists (`name`, `area`, `floor`) built by set_devices."""
        with self._lock:
            return self._slot_lists

    def set_devices(self, devices: list[Device]) -> None:
        """Rebuild the `name` and `area` slot lists from the current device inventory."""
        names: list[TextSlotValue] = []
        rooms: dict[str, str] = {}
        for device in devices:
            for spoken in spoken_names(device):
                for variant in _variants(spoken):  # the value stays the name itself, for plan.py
                    names.append(_value(variant, spoken, {"domain": domain_of(device)}))
            if device.room:
                rooms.setdefault(device.room.lower(), device.room)
        slot_lists = {
            "name": TextSlotList(name="name", values=names),
            "area": TextSlotList(name="area", values=[_value(v, r) for r in rooms.values() for v in _variants(r)]),
            "floor": TextSlotList(name="floor", values=[]),
            "camera": TextSlotList(name="camera", values=self._cameras),
            **self._camera_lists,
        }
        with self._lock:
            self._devices = list(devices)
            self._slot_lists = slot_lists

    def set_cameras(self, names: list[str], zones: Sequence[str] = ()) -> None:
        """The `camera` slot list: each camera's name, and with "camera" after it (claw.intents.cameras); the
        cameras' zone names join the place words of `camera_zone` (claw.intents.camera_rules)."""
        from claw.intents.cameras import camera_names

        values = [_value(v, name) for name in names for spoken in camera_names(name) for v in _variants(spoken)]
        lists = {"camera": TextSlotList(name="camera", values=values)}
        places = self._intents.slot_lists.get("camera_zone")
        if zones and isinstance(places, TextSlotList):
            known = {str(v.value_out).lower() for v in places.values}
            extra = [_value(v, zone) for zone in dict.fromkeys(zones) if zone.lower() not in known
                     for v in _variants(zone)]
            lists["camera_zone"] = TextSlotList(name="camera_zone", values=[*places.values, *extra])
        with self._lock:
            self._cameras = values
            self._camera_lists = {k: v for k, v in lists.items() if k != "camera"}
            self._slot_lists = {**self._slot_lists, **lists}

    def recognize(self, text: str, default_area: str | None = None) -> RecognizeResult | None:
        """The best hassil match for the text, or None."""
        with self._lock:
            slot_lists = self._slot_lists
        area = default_area or _HOME
        return recognize_best(
            text, self._intents, slot_lists=slot_lists,
            intent_context={"area": {"value": area, "text": ""}},
            language=self.language, best_slot_name="name",
        )

    def unknown_target(self, text: str) -> str | None:
        """For a device command naming no device or room we know ("turn on the disco ball"), that name.

        Only for plain control sentences (turn/switch/set/dim/open/close/lock/unlock ...): hassil's
        wildcard matching would otherwise read "write me a poem" as a device name."""
        text = " ".join(text.split())
        if not _CONTROL_VERB.match(text):
            return None
        result = recognize_best(text, self._intents, slot_lists=self._slot_lists,
                                intent_context={"area": {"value": _HOME, "text": ""}},
                                allow_unmatched_entities=True, language=self.language)
        if result is None or result.intent.name not in _CONTROL_INTENTS:
            return None
        for slot in ("name", "area"):
            entity = result.unmatched_entities.get(slot)
            words = entity.text.strip(" .!?,'\"") if entity is not None else ""
            words = stray_words(words)  # "every", "all the rooms", "house": never a device (claw.intents.scope)
            if words and len(words.split()) <= 4:
                return words
        return None

    def parse(self, text: str, default_area: str | None = None, *, sender: str | None = None) -> Plan | None:
        """A Plan for the sentence, or None when it is not a local intent (the LLM tier takes it).

        With a sender: a message that only names a device or room ("kitchen speaker", "in the kitchen")
        answers the question this sender was asked last, and finishes that intent; any other message drops
        the question. A plan that asks which device is meant is remembered for the sender's next message."""
        text = " ".join(text.split())
        pending = self.followups.pop(sender) if sender else None
        if not text:
            return None
        with self._lock:
            devices = self._devices
        found = answer(pending, text, devices, default_area) if pending is not None else None
        if found is None:  # "… and …": every half a local command, else the sentence as one (claw.intents.compound)
            found = (compound(text, lambda half: self._parse(half, default_area, devices), devices, default_area)
                     or self._parse(text, default_area, devices))
        elif pending is not None:
            log.debug("follow-up %s %s answered by %r -> %s", pending.intent, pending.slots, text, found)
        if sender and found is not None:  # "turn it off", "a bit more": the sender's last command (claw.intents.recent)
            found = self.recent.follow(sender, found, devices)
        if sender and found is not None and found.followup is not None:
            self.followups.put(sender, found.followup)
        return found

    def _parse(self, text: str, default_area: str | None, devices: list[Device]) -> Plan | None:
        result = self.recognize(tidy_question(text), default_area)  # "…locked right now?" -> "…locked?"
        if result is None:
            return None
        slots = slots_of(result)
        if quantified(text, (e.text for e in result.entities_list)):  # "every light", "everywhere"
            slots["all"] = True
        intent = result.intent.name
        if intent == "HassRespond" and slots.get("response") not in _RESPONDS:
            return None
        if slots.get("domain") in _UNSUPPORTED_DOMAINS:
            return None
        fact = str(slots.get("fact", "")).lower()
        if intent == "ClawRemember" and fact.startswith(("to ", "me to ")):
            return None  # "remember to water the plants" is a reminder: a routine, for the LLM tier
        if fact in ("that", "this", "it", "what i said"):
            return None  # "remember that": refers to the conversation, which only the LLM tier sees
        if intent == "HassMediaSearchAndPlay" and _PLACE_IN_QUERY.search(str(slots.get("search_query", ""))):
            return None  # "play jazz on the living room and kitchen": targets the grammar can't take
        found = plan(intent, slots, devices, default_area)
        log.debug("intent %s %s -> %s", intent, slots, found)
        return found


    def compound_gap(self, text: str, default_area: str | None = None) -> tuple[list[str], list[str]] | None:
        """For a sentence not understood as a whole: its parts that are local commands and those that are not."""
        with self._lock:
            devices = self._devices
        text = " ".join(text.split())
        return gap(text, lambda part: self._parse(part, default_area, devices), devices, default_area)


def slots_of(result: RecognizeResult) -> dict[str, Any]:
    """Entity values by slot name (wildcards as cleaned text), the matched name's domain and response."""
    slots: dict[str, Any] = {}
    for entity in result.entities_list:
        value = entity.text_clean if entity.is_wildcard else entity.value
        if entity.name == "area" and (value == _HOME or not entity.text):
            continue  # copied from the intent context: claw.intents.plan applies default_area itself
        slots[entity.name] = value
    if "name" in slots and result.context.get("domain"):
        slots["name_domain"] = result.context["domain"]
    if result.response and result.response != "default":
        slots["response"] = result.response
    return slots
