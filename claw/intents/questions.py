"""Questions about the home, pure: tidying a question's extra words, and ClawQuestion/ClawHelp slots -> a Plan.

The sentences are data (sentences/en/questions.yaml, help.yaml); the answers are worded by claw.replies.questions
and claw.replies.help. Nothing here reads a device: a Plan's Query names the devices whose state the answer needs.
"""

from __future__ import annotations

import re
from typing import Any

from claw.intents.types import Plan, Query
from claw.intents.vocab import SWITCHABLE, class_matches, domain_of, label, noun_for, pluralize, spoken_names
from devices.models import Device
from devices.registry import normalize_name

# ---- tidying a question before hassil ------------------------------------------------------------
_QUESTION = re.compile(r"^(is|are|was|were|what|what's|whats|which|how|how's|do|does|did|any|have|has|"
                       r"tell me|(?:do|does) (?:you|anyone) know|i wonder)\b", re.I)
_ASKED = r"(?=(?:if|whether|what|what's|whats|which|how|is|are|who|when|where)\b)"
_LEAD = re.compile(r"^(?:(?:hey|ok|okay|so|um|uh|quick question|excuse me)\b[,]?\s*|please\s+|"
                   r"(?:can|could|would|will) you (?:please )?(?:tell|let) me (?:know )?" + _ASKED + "|"
                   r"(?:do|does) (?:you|anyone) (?:happen to )?know " + _ASKED + "|"
                   r"(?:please )?tell me " + _ASKED + "|"
                   r"i(?: want|'d like| would like) to know " + _ASKED + "|i wonder " + _ASKED + ")", re.I)
_EMBEDDED_YESNO = re.compile(r"^(?:if|whether) (.+?) (is|are) (.+)$", re.I)  # "if the garage is open"
_EMBEDDED_WHAT = re.compile(r"^what ((?:the|my|our) .+?) (is|are)\b(.*)$", re.I)  # "what the volume is"
_EMBEDDED_HOW = re.compile(r"^how (\w+) it is\b(.*)$", re.I)  # "how warm it is in here"
_FILLER = re.compile(r"\b(?:currently|presently|still|actually|right now|at the moment|at present|"
                     r"by any chance|just now)\b", re.I)
_TAIL = re.compile(r"(?:\s+(?:now|please|for me|at all))+$", re.I)
# The claw's memory ("what do you know about my car?", "remember that …?"): its words are facts, kept as said.
_MEMORY = re.compile(r"\b(?:remember|forget|told you|tell you|know about|note)\b", re.I)


def tidy_question(text: str) -> str:
    """A question without the words around it that hassil's sentences don't carry: "can you tell me if the
    front door is locked right now?" -> "is the front door locked?". Anything not shaped like a question (no
    question word first) or about the claw's memory is returned as it is."""
    said = text = " ".join(text.split())
    before = None
    while before != text:
        before, text = text, _LEAD.sub("", text, count=1)
    if not (_QUESTION.match(text) or re.match(r"^(if|whether)\b", text, re.I)) or _MEMORY.search(text):
        return said
    mark = "?" if text.endswith("?") else ""
    core = text.rstrip(" ?!.")
    core = _FILLER.sub("", core)
    core = " ".join(_TAIL.sub("", " ".join(core.split())).split())
    for pattern, order in ((_EMBEDDED_YESNO, "{1} {0} {2}"), (_EMBEDDED_WHAT, "what {1} {0}{2}"),
                           (_EMBEDDED_HOW, "how {0} is it{1}")):
        found = pattern.match(core)
        if found:
            core = order.format(*found.groups())
            break
    return (core + mark) if core else text


# ---- which devices a question is about -----------------------------------------------------------
# What each kind of question reads, by the domains that can answer it.
_DOMAINS: dict[str, frozenset[str]] = {
    "volume": frozenset({"media_player"}), "brightness": frozenset({"light"}), "position": frozenset({"cover"}),
    "humidity": frozenset({"climate", "sensor"}), "state": SWITCHABLE | {"sensor"},
}
_CANNOT = {"volume": "has no volume", "brightness": "has no brightness", "position": "doesn't open or close",
           "humidity": "doesn't report humidity", "state": "doesn't report that"}
_MODES = frozenset({"one", "one_yesno", "any", "all", "which", "how_many"})


def _in_room(device: Device, area: str) -> bool:
    return bool(device.room) and normalize_name(device.room or "") == normalize_name(area)


def _domains(ask: str, slots: dict[str, Any]) -> frozenset[str]:
    domain = slots.get("domain")
    if domain and domain != "any":
        return frozenset({str(domain)})
    if ask == "state" and slots.get("state") in ("open", "closed"):
        return frozenset({"cover"})
    if ask == "state" and slots.get("state") in ("locked", "unlocked"):
        return frozenset({"lock"})
    if ask == "state" and slots.get("state") in ("playing", "paused", "stopped"):
        return frozenset({"media_player"})
    if ask == "state" and domain == "any":  # "is anything on": what switches on and off
        return SWITCHABLE - {"lock", "cover"}
    return _DOMAINS.get(ask, frozenset(SWITCHABLE | {"sensor"}))


def targets(ask: str, slots: dict[str, Any], devices: list[Device],
            default_area: str | None) -> tuple[list[Device], str | None]:
    """The devices a question is about, or a problem (owner-facing). Unlike a command, a question about
    several devices is never ambiguous: it is asked of all of them."""
    name, area = slots.get("name"), slots.get("area")
    domains = _domains(ask, slots)
    if name:
        want = normalize_name(str(name))
        found = [d for d in devices if want in {normalize_name(n) for n in spoken_names(d)}]
        if not found:
            return [], f"I don't know a device called “{name}”."
        if area:
            found = [d for d in found if _in_room(d, str(area))]
            if not found:
                return [], f"There is no {name} in the {area}."
        fitting = [d for d in found if ask == "level" or domain_of(d) in domains]
        room = next((d.room for d in devices if d.room and _in_room(d, str(name))), None)
        if not fitting and room and not area:  # "humidity in the kitchen": the room, not the Kitchen speaker
            return targets(ask, {k: v for k, v in slots.items() if k != "name"} | {"area": room}, devices,
                           default_area)
        if not fitting:
            return [], f"The {label(found[0])} {_CANNOT.get(ask, 'does not report that')}."
        if len(fitting) > 1 and slots.get("name_domain"):
            fitting = [d for d in fitting if domain_of(d) == slots["name_domain"]] or fitting
        if len(fitting) > 1 and default_area:
            fitting = [d for d in fitting if _in_room(d, default_area)] or fitting
        return fitting, None
    wanted = slots.get("device_class")
    candidates = [d for d in devices if domain_of(d) in domains and class_matches(d, wanted)]
    noun = "thermostat or sensor" if ask == "humidity" else noun_for(domains, wanted)
    if area:
        here = [d for d in candidates if _in_room(d, str(area))]
        if not here:
            there = "nothing that switches on" if slots.get("domain") == "any" else f"no {noun}"
            return [], f"There is {there} in the {area}."
        return here, None
    if default_area and not slots.get("question_floor"):
        here = [d for d in candidates if _in_room(d, default_area)]
        if here:
            return here, None
    if not candidates:
        return [], f"There are no {pluralize(noun)} in the house."
    return candidates, None


# ---- handlers ------------------------------------------------------------------------------------
def question(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """ClawQuestion: volume, humidity, brightness, position, "what's X at" (level) or a state over devices.

    A yes/no, any or all question about a single device is answered as that device's yes/no."""
    ask = str(slots.get("ask") or "state")
    found, problem = targets(ask, slots, devices, None if slots.get("question_floor") else default_area)
    if problem:
        return Plan(intent, problem=problem, slots=slots)
    if ask != "state":
        return Plan(intent, query=Query(tuple(d.id for d in found), ask), slots=slots)
    mode = str(slots.get("response") or ("one_yesno" if slots.get("state") else "one"))
    mode = mode if mode in _MODES else "one"
    if mode in ("any", "all") and len(found) == 1 and (slots.get("name") or slots.get("area")):
        mode = "one_yesno"  # "are the kitchen lights on", and the kitchen has one light
    elif mode == "one_yesno" and len(found) > 1:
        mode = "any"  # "is music playing", and there are two speakers
    expect = str(slots["state"]) if slots.get("state") else None
    return Plan(intent, query=Query(tuple(d.id for d in found), "state", expect=expect, mode=mode), slots=slots)


def help_topic(intent: str, slots: dict[str, Any], devices: list[Device], default_area: str | None) -> Plan:
    """ClawHelp: "help"/"what can you do" (topic help), "what devices do you have" (devices), "what's in the
    kitchen" (room: a query, so the answer can give each device's state) and greetings (greet)."""
    topic = str(slots.get("topic") or "help")
    if topic == "room":
        area = slots.get("area") or default_area
        here = [d for d in devices if area and _in_room(d, str(area))]
        if not here:
            return Plan(intent, problem=f"I have no devices in the {area}." if area else
                        "Which room do you mean?", slots=slots)
        return Plan(intent, query=Query(tuple(d.id for d in here), "room"), slots={**slots, "area": area})
    return Plan(intent, slots={**slots, "topic": topic})


QUESTION_HANDLERS = {"ClawQuestion": question, "ClawHelp": help_topic}
QUESTION_INTENTS = frozenset(QUESTION_HANDLERS)
