"""What a sentence no intent took still tells, pure: the command it looks like, a name worth quoting, near names.

The reply (claw.replies.help.unmatched_reply) says what was understood and offers the closest device names; it
never quotes a stray word ("the", "11pm", "up") as if it were a device."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from hassil import Intents, recognize_best

from claw.intents.vocab import domain_of, label, spoken_names
from devices.models import Device

_HOME = "\x00home"  # the same placeholder area claw.intents.engine passes: "no room"
_VERB = re.compile(r"^(?:please\s+)?((?:turn|switch)(?: on| off)?|set|dim|brighten|open|close|shut|lock|unlock|"
                   r"pause|play|stop|mute|unmute|resume|skip|raise|lower|start|make|put|change|adjust)\b", re.I)
_ASKS = re.compile(r"^(?:is|are|was|what|what's|whats|which|who|when|where|why|how|do|does|did|can|could|will|"
                   r"would|should)\b", re.I)
_LATER = re.compile(r"\b(?:at \d|\d{1,2}(?::\d\d)? ?(?:am|pm)\b|in (?:\d+|an?|half an) (?:minutes?|hours?|mins?)\b|"
                    r"tonight|tomorrow|later|at (?:noon|midnight|sunset|sunrise)|every (?:day|morning|night))", re.I)
# Words that are never a device's name on their own: articles, particles, quantities, times, fillers.
_STRAY = frozenset({"the", "a", "an", "my", "our", "your", "this", "that", "these", "those", "it", "them", "some",
                    "all", "every", "please", "now", "up", "down", "on", "off", "in", "at", "to", "of", "for",
                    "and", "with", "by", "then", "just", "again", "too", "also", "bit", "little", "more", "less",
                    "turn", "switch", "set", "make", "put", "everything", "something", "anything", "here", "there",
                    "percent", "degrees", "degree", "way", "lot", "much", "very", "really", "thing", "stuff"})
# Words for a kind of device: understood, so never "a device called …"; they point at the devices of that kind.
GENERIC: dict[str, frozenset[str]] = {
    **dict.fromkeys(("heating", "heater", "heat", "thermostat", "temperature", "ac", "hvac", "cooling"),
                    frozenset({"climate"})),
    **dict.fromkeys(("music", "speaker", "speakers", "volume", "song", "track", "sound", "radio", "tv"),
                    frozenset({"media_player"})),
    **dict.fromkeys(("light", "lights", "lamp", "lamps", "lighting"), frozenset({"light"})),
    **dict.fromkeys(("blind", "blinds", "shade", "shades", "curtain", "curtains", "shutter", "shutters",
                     "window", "windows", "garage"), frozenset({"cover"})),
    **dict.fromkeys(("door", "doors", "lock", "locks"), frozenset({"lock", "cover"})),
}


# Verbs that fit only some kinds of device.
_FITS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("lock", "unlock"), frozenset({"lock"})),
    **dict.fromkeys(("open", "close", "shut"), frozenset({"cover", "lock"})),
    **dict.fromkeys(("dim", "brighten"), frozenset({"light"})),
    **dict.fromkeys(("pause", "play", "resume", "skip", "mute", "unmute"), frozenset({"media_player"})),
}


@dataclass(frozen=True)
class Guess:
    """`intent`: the device command the sentence looks like (None: not a device command); `stray`: words in
    the place of a device that could be a name ("disco ball"); `close`: the nearest device names; `later`: it
    asks for something at a time ("at 11pm"), which is a routine; `verb` the sentence's own verb, `asks` whether
    it is a question."""

    intent: str | None = None
    stray: str | None = None
    close: tuple[str, ...] = ()
    later: bool = False
    verb: str | None = None  # the sentence's own verb ("lock", "turn on"), for the example
    asks: bool = False  # it is a question ("what's the capital of France?")


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s'-]", " ", text.lower()).split()


def quotable(words: str | None) -> str | None:
    """The words as a name worth quoting ("disco ball"), or None for strays ("the", "11pm", "heating up")."""
    if not words:
        return None
    kept = [w for w in _words(words) if w not in _STRAY and not any(c.isdigit() for c in w)]
    if not kept or all(w in GENERIC for w in kept) or len(kept) > 4:
        return None
    return " ".join(kept)


def closest(text: str, devices: list[Device], n: int = 3, verb: str | None = None) -> tuple[str, ...]:
    """The device labels nearest to some run of the text's words ("kichen light" -> "kitchen light"), best
    first; else the devices of a kind the text names ("heating" -> the thermostats). A verb that only fits
    some kinds ("lock", "dim") keeps the devices of those kinds, when there are any."""
    fits = [d for d in devices if domain_of(d) in _FITS.get(verb or "", frozenset({domain_of(d)}))]
    devices = fits or devices
    words = _words(text)
    grams = {" ".join(words[i:i + k]) for k in range(1, 5) for i in range(len(words) - k + 1)}
    grams = {g for g in grams if not set(g.split()) <= _STRAY}
    scored: dict[str, float] = {}
    for device in devices:
        for name in (*spoken_names(device), *([device.room] if device.room else [])):
            spoken = name.lower()
            for gram in grams:
                ratio = difflib.SequenceMatcher(None, gram, spoken).ratio()
                if ratio >= 0.75 and gram != spoken:
                    scored[label(device)] = max(scored.get(label(device), 0.0), ratio)
    if scored:
        best = max(scored.values())  # only the nearest: "kichen light" -> kitchen light, not the Kitchen speaker
        return tuple(sorted((k for k in scored if scored[k] >= best - 0.03), key=lambda k: -scored[k])[:n])
    kinds = frozenset().union(*(GENERIC.get(w, frozenset()) for w in words))
    return tuple(label(d) for d in devices if domain_of(d) in kinds)[:n]


def guess(text: str, intents: Intents, slot_lists: dict[str, Any], devices: list[Device],
          unknown: str | None = None, language: str = "en") -> Guess:
    """What the sentence tells although no intent took it. `unknown` is claw.intents.engine.unknown_target's
    answer (the words in the place of a device), quoted only when they could be a name."""
    text = " ".join(text.split())
    later, asks = bool(_LATER.search(text)), bool(_ASKS.match(text) or text.endswith("?"))
    verb = _VERB.match(text)
    if verb is None:
        return Guess(close=closest(text, devices) if unknown else (), later=later, asks=asks)
    result = recognize_best(text, intents, slot_lists=slot_lists, intent_context={"area": {"value": _HOME,
                            "text": ""}}, allow_unmatched_entities=True, language=language)
    intent = result.intent.name if result is not None else None
    first = text.split()[0].lower()
    if result is not None and any(len(text_of.split()) >= 3 and text_of.lower().startswith(first)
                                  for e in result.unmatched_entities.values()
                                  for text_of in [str(getattr(e, "text", ""))]):  # a range entity has no text
        intent = None  # the whole sentence taken for a name ("set an alarm for 11pm"): no command understood
    said = verb.group(1).lower()
    return Guess(intent, quotable(unknown), closest(text, devices, verb=said), later, said, asks)
