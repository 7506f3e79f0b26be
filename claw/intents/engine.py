"""The fast local intent tier: hassil with Home Assistant's sentences, slot lists from the devices."""

from __future__ import annotations

import copy
import logging
import re
import threading
from functools import cache
from typing import Any

from hassil import Intents, RecognizeResult, TextChunk, TextSlotList, TextSlotValue, recognize_best
from hassil.util import merge_dict
from home_assistant_intents import get_intents

from claw.errors import ConfigError
from claw.intents.plan import HANDLERS, Plan, plan
from claw.intents.vocab import domain_of, spoken_names
from devices.models import Device

log = logging.getLogger(__name__)

# Intents claw.intent_map handles; every other HA intent (timers, weather, lists...) goes to the LLM.
_HA_INTENTS = frozenset(name for name in HANDLERS if name.startswith("Hass"))
_RESPONDS = frozenset({"hello", "commands"})  # HassRespond answers the local tier gives itself
_UNSUPPORTED_DOMAINS = frozenset({"person", "scene", "script", "button", "input_button", "valve",
                                  "binary_sensor", "input_boolean", "vacuum", "lawn_mower"})
# The area in the intent context lets sentences without a target ("set the temperature to 21", "pause
# the music") match. It is never passed on as a slot: claw.intent_map.plan looks in default_area first
# and falls back to the whole home, so a chat without a room works too.
_HOME = "\x00home"
_PLACE_IN_QUERY = re.compile(r"\b(on|in)\s+(the|my|our)\b", re.IGNORECASE)

_ALL_DOMAINS = ["light", "switch", "media_player", "climate", "cover", "lock", "sensor"]
_HERE: dict[str, Any] = {"area": {"slot": True}}  # filled from default_area, or the whole home
CLAW_INTENTS: dict[str, Any] = {
    "language": "en",
    "intents": {
        "ClawRemember": {"data": [{"sentences": [
            "remember [that] {fact}",
            "(please|do) remember [that] {fact}",
            "(note|keep in mind|bear in mind|don't forget) that {fact}",
            "make a note [that] {fact}",
        ]}]},
        "ClawRecall": {"data": [{"sentences": [
            "what do you (know|remember) [about me]",
            "what do you remember about {topic}",
            "what have I told you [about {topic}]",
            "what (do you know|have you learned|have you learnt) about my {topic}",
            "(do you remember|what did I (say|tell you)) about {topic}",
        ]}]},
        "ClawForget": {"data": [{"sentences": [
            "forget [(that|about)] {fact}",
            "(please|do) forget [(that|about)] {fact}",
        ]}]},
        # Relative brightness: HA has no intent for it; the claw reads the light and steps it by 25 %.
        "ClawLightStep": {"data": [
            {"sentences": ["(dim|darken) [the] {name} [<light>]", "make [the] {name} [<light>] (dimmer|darker)",
                           "turn down [the] {name} [<light>]"],
             "requires_context": {"domain": ["light"]}, "slots": {"brightness_step": "down"}},
            {"sentences": ["brighten [up] [the] {name} [<light>]", "make [the] {name} [<light>] brighter",
                           "turn up [the] {name} [<light>]"],
             "requires_context": {"domain": ["light"]}, "slots": {"brightness_step": "up"}},
            {"sentences": ["(dim|darken) [(<all>|<the>)] [{area}] <light> [<in> [the] {area}]",
                           "make [the] [{area}] <light> [<in> [the] {area}] (dimmer|darker)"],
             "slots": {"brightness_step": "down", "domain": "light"}},
            {"sentences": ["brighten [up] [(<all>|<the>)] [{area}] <light> [<in> [the] {area}]",
                           "make [the] [{area}] <light> [<in> [the] {area}] brighter"],
             "slots": {"brightness_step": "up", "domain": "light"}},
        ]},
        "ClawThanks": {"data": [{"sentences": [
            "(thanks|thank you|cheers|ta) [a lot|so much|very much] [claw]",
            "(great|perfect|awesome|nice|lovely) [(thanks|thank you)]",
        ]}]},
        # Common phrasings HA's sentences miss, as data on HA's own intents (same slots, same mapping).
        "HassTurnOn": {"data": [
            {"sentences": ["<turn> on [the] (heating|heater|heat)"], "requires_context": _HERE,
             "slots": {"domain": "climate", "hvac_mode": "heat"}},
            {"sentences": ["<turn> on [the] (ac|a/c|air conditioning|air con|cooling)"],
             "requires_context": _HERE, "slots": {"domain": "climate", "hvac_mode": "cool"}},
            {"sentences": ["lock [(<all>|<the>)] (door|doors|locks)"], "requires_context": _HERE,
             "slots": {"domain": "lock"}},
            {"sentences": ["<open> [the] {area} [door]"], "slots": {"domain": "cover"}},
            {"sentences": ["<open> <all> {cover_classes:device_class}"], "slots": {"domain": "cover", "all": True}},
        ]},
        "HassTurnOff": {"data": [
            {"sentences": ["<turn> off [the] (heating|heater|heat|ac|a/c|air conditioning|air con|cooling"
                           "|thermostat)"], "requires_context": _HERE, "slots": {"domain": "climate"}},
            {"sentences": ["<close> [the] {area} [door]"], "slots": {"domain": "cover"}},
            {"sentences": ["<close> <all> {cover_classes:device_class}"], "slots": {"domain": "cover", "all": True}},
        ]},
        "HassLightSet": {"data": [
            {"sentences": ["(dim|brighten) [the] {name} [<light>] to {brightness}[([ ]%)| percent]"],
             "requires_context": {"domain": ["light"]}},
            {"sentences": ["<set> [<the>] {name} [<light>] [to] {color_temperature_names:temperature}"],
             "requires_context": {"domain": ["light"]}},
            {"sentences": ["(dim|brighten) [(<all>|<the>)] [{area}] <light> [<in> [the] {area}] "
                           "to {brightness}[([ ]%)| percent]"], "slots": {"domain": "light"}},
        ]},
        "HassMediaNext": {"data": [
            {"sentences": ["play [the] next [<track>]"], "requires_context": _HERE},
            {"sentences": ["play [the] next [<track>] (in|on) [<the>] {area}"]},
        ]},
        "HassClimateSetTemperature": {"data": [
            {"sentences": ["(<numeric_value_set>|adjust) [the] (thermostat|heating|heat) to "
                           "{temperature}[([ ]\u00b0)|( degree[s])]"], "requires_context": _HERE},
        ]},
        "HassMediaPause": {"data": [
            {"sentences": ["stop [playing] [[the] <media>] [in] [<the>] {area}"]},
        ]},
        "HassSetVolumeRelative": {"data": [
            {"sentences": ["(louder|turn it up)"], "requires_context": _HERE, "slots": {"volume_step": "up"}},
            {"sentences": ["(louder|turn it up) (in|on) [<the>] {area}"], "slots": {"volume_step": "up"}},
            {"sentences": ["(quieter|softer|turn it down)"], "requires_context": _HERE,
             "slots": {"volume_step": "down"}},
            {"sentences": ["(quieter|softer|turn it down) (in|on) [<the>] {area}"],
             "slots": {"volume_step": "down"}},
        ]},
        "HassGetState": {"data": [
            {"sentences": ["(what's|whats|what is) playing"], "requires_context": _HERE,
             "slots": {"domain": "media_player"}},
            {"sentences": ["(what's|whats|what is) playing (in|on) [<the>] {area}"],
             "slots": {"domain": "media_player"}},
            {"sentences": ["(what's|whats|what is) playing on [<the>] {name}"],
             "requires_context": {"domain": ["media_player"]}},
            {"sentences": ["(<what_is>|how is) the (status|state) of [<the>] {name}"],
             "requires_context": {"domain": _ALL_DOMAINS}, "response": "one"},
        ]},
    },
    "lists": {"fact": {"wildcard": True}, "topic": {"wildcard": True}},
}
# Wider than HA's 0-100 so "150%" is recognised and answered with the allowed range instead of the LLM.
_WIDER_LISTS = {
    "brightness": {"range": {"type": "percentage", "from": 0, "to": 300}},
    "volume": {"range": {"type": "percentage", "from": 0, "to": 300}},
    "position": {"range": {"type": "percentage", "from": 0, "to": 300}},
    "temperature": {"range": {"type": "temperature", "from": 0, "to": 120, "fractions": "halves"}},
}
_EXTRA_COLORS = ("cyan", "magenta", "violet", "indigo", "gold", "teal", "lime", "amber", "lavender")


@cache
def _load(language: str) -> Intents:
    """HA's sentences for the language (only the intents we map) merged with the claw's own; loaded once."""
    data = get_intents(language)
    if data is None:
        raise ConfigError(f"no Home Assistant intents for language {language!r}")
    data = copy.deepcopy(data)
    data["intents"] = {k: v for k, v in data["intents"].items() if k in _HA_INTENTS}
    if language == "en":
        merge_dict(data, copy.deepcopy(CLAW_INTENTS))
        data["lists"].update(copy.deepcopy(_WIDER_LISTS))
        data["lists"]["color"]["values"].extend({"in": c, "out": c} for c in _EXTRA_COLORS)
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
    """Recognises a sentence against the HA sentences and turns the best match into a Plan."""

    def __init__(self, language: str = "en") -> None:
        self.language = language
        self._intents = _load(language)
        self._lock = threading.Lock()
        self._devices: list[Device] = []
        self._slot_lists: dict[str, Any] = {}
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
                for variant in _variants(spoken):  # the value stays the name itself, for intent_map
                    names.append(_value(variant, spoken, {"domain": domain_of(device)}))
            if device.room:
                rooms.setdefault(device.room.lower(), device.room)
        slot_lists = {
            "name": TextSlotList(name="name", values=names),
            "area": TextSlotList(name="area", values=[_value(v, r) for r in rooms.values() for v in _variants(r)]),
            "floor": TextSlotList(name="floor", values=[]),
        }
        with self._lock:
            self._devices = list(devices)
            self._slot_lists = slot_lists

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
            if words and len(words.split()) <= 4:
                return words
        return None

    def parse(self, text: str, default_area: str | None = None) -> Plan | None:
        """A Plan for the sentence, or None when it is not a local intent (the LLM tier takes it)."""
        text = " ".join(text.split())
        if not text:
            return None
        result = self.recognize(text, default_area)
        if result is None:
            return None
        slots = slots_of(result)
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
        with self._lock:
            devices = self._devices
        found = plan(intent, slots, devices, default_area)
        log.debug("intent %s %s -> %s", intent, slots, found)
        return found


def slots_of(result: RecognizeResult) -> dict[str, Any]:
    """Entity values by slot name (wildcards as cleaned text), the matched name's domain and response."""
    slots: dict[str, Any] = {}
    for entity in result.entities_list:
        value = entity.text_clean if entity.is_wildcard else entity.value
        if entity.name == "area" and (value == _HOME or not entity.text):
            continue  # copied from the intent context: claw.intent_map applies default_area itself
        slots[entity.name] = value
    if "name" in slots and result.context.get("domain"):
        slots["name_domain"] = result.context["domain"]
    if result.response and result.response != "default":
        slots["response"] = result.response
    return slots
