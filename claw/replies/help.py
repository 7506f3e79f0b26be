"""Pure help, inventory, greeting and "I didn't get that" replies, built from the devices this home has.

Examples are sentences made from the home's own device names and rooms; the agent keeps only those the
intent engine really turns into an action (`works`), so a suggestion always works in THIS home."""

from __future__ import annotations

from collections.abc import Callable

from claw.events import Voice
from claw.intents.unmatched import Guess
from claw.intents.vocab import cover_class, label, pluralize, spoken_names
from devices.models import Device, Kind
from devices.registry import normalize_name

# Per kind, the nouns (one, several) and the commands worth suggesting; {n} a name only that device answers to.
_KINDS: dict[Kind, tuple[str, str]] = {
    Kind.LIGHT: ("light", "lights"), Kind.SPEAKER: ("speaker", "speakers"),
    Kind.CLIMATE: ("thermostat", "thermostats"), Kind.COVER: ("blind or shade", "blinds and shades"),
    Kind.GARAGE: ("garage door", "garage doors"), Kind.LOCK: ("lock", "locks"), Kind.HEATER: ("heater", "heaters"),
    Kind.SWITCH: ("switch", "switches"), Kind.SENSOR: ("sensor", "sensors"), Kind.CAMERA: ("camera", "cameras"),
}
_COMMANDS: dict[Kind, tuple[str, ...]] = {
    Kind.LIGHT: ("turn on the {n}", "dim the {n} to 30%", "set the {n} to blue"),
    Kind.SPEAKER: ("set the {n} volume to 30%", "pause the {n}", "skip to the next song on the {n}"),
    Kind.CLIMATE: ("set the {n} to 21 degrees",),
    Kind.COVER: ("open the {n}", "set the {n} to 50%"),
    Kind.LOCK: ("lock the {n}",),
    Kind.SWITCH: ("turn off the {n}",), Kind.HEATER: ("turn off the {n}",),
}
_DOING = {Kind.LIGHT: "switch the lights", Kind.SPEAKER: "play music", Kind.CLIMATE: "check the heating",
          Kind.COVER: "open the blinds", Kind.LOCK: "lock the doors", Kind.SWITCH: "switch things"}
_NAMES = 12  # device names listed when none is close
# The sentence's own verb, when it says more than the intent ("lock" is HassTurnOn for a lock).
_OWN_VERBS = {"lock": "lock something", "unlock": "unlock something", "open": "open something",
              "close": "close something", "shut": "close something", "dim": "dim a light",
              "brighten": "brighten a light"}
# Verbs that make a command with just a device after them ("lock the front door").
_PLAIN_VERBS = frozenset({"lock", "unlock", "open", "close", "shut", "dim", "brighten", "pause", "resume", "mute",
                          "unmute", "turn on", "turn off", "switch on", "switch off"})
# What the reply says was understood, per intent the sentence looked like.
_UNDERSTOOD = {
    "HassTurnOn": "switch something on", "HassTurnOff": "switch something off", "HassLightSet": "set a light",
    "ClawLightStep": "change a light's brightness", "HassClimateSetTemperature": "set a temperature",
    "HassSetPosition": "move a blind or a door", "HassMediaPause": "pause something",
    "HassMediaUnpause": "resume playback", "HassMediaNext": "skip a track", "HassMediaPrevious": "go back a track",
    "HassSetVolume": "change a volume", "HassSetVolumeRelative": "change a volume",
    "HassMediaPlayerMute": "mute something", "HassMediaPlayerUnmute": "unmute something",
    "HassMediaSearchAndPlay": "play something",
}


def _and(items: list[str], word: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}" if items else ""


def _one_name(device: Device, devices: list[Device]) -> str | None:
    """A name only this device answers to (its label first), or None."""
    counts: dict[str, int] = {}
    for other in devices:
        for spoken in {normalize_name(s) for s in spoken_names(other)}:
            counts[spoken] = counts.get(spoken, 0) + 1
    for name in (label(device), *device.names()):
        if counts.get(normalize_name(name)) == 1:
            return name
    return None


def _ordered(devices: list[Device]) -> list[Device]:
    """Devices in the order replies talk about them: lights, speakers, heating, covers, locks, the rest."""
    order = list(_KINDS)
    return sorted(devices, key=lambda d: order.index(d.kind) if d.kind in order else len(order))


def command_examples(devices: list[Device]) -> list[str]:
    """Commands for this home, one kind of device after another (a light, a speaker, the thermostat …)."""
    rounds: list[list[str]] = []
    seen: set[Kind] = set()
    for device in _ordered(devices):
        name = _one_name(device, devices)
        templates = _COMMANDS.get(device.kind, ())
        if name is None or not templates or device.kind in seen:
            continue
        seen.add(device.kind)
        caps = device.capabilities
        usable = [t for t in templates if ("dim" not in t or "brightness" in caps) and ("blue" not in t or
                                                                                         "color" in caps)]
        rounds.append([t.format(n=name) for t in usable])
    lit = sorted({d.room for d in devices if d.kind == Kind.LIGHT and d.room})
    out = [r[0] for r in rounds if r] + [f"turn off the lights in the {room}" for room in lit[:1]]
    return out + [t for r in rounds for t in r[1:]]


def question_examples(devices: list[Device]) -> list[str]:
    """Questions for this home: a lock, the lights, a speaker's room, a thermostat's room."""
    out: list[str] = []
    by_kind: dict[Kind, list[Device]] = {}
    for device in devices:
        by_kind.setdefault(device.kind, []).append(device)
    lock = next((n for d in by_kind.get(Kind.LOCK, []) if (n := _one_name(d, devices))), None)
    if lock:
        out.append(f"is the {lock} locked?")
    if by_kind.get(Kind.LIGHT):
        out.append("which lights are on?")
    rooms = [d.room for d in by_kind.get(Kind.SPEAKER, []) if d.room]
    if rooms:
        out.append(f"what's playing in the {rooms[0]}?")
    warm = [d.room for d in by_kind.get(Kind.CLIMATE, []) if d.room]
    if warm:
        out.append(f"what's the temperature in the {warm[0]}?")
    return out


def working(candidates: list[str], works: Callable[[str], bool] | None, limit: int) -> list[str]:
    """The first `limit` candidates the engine really acts on (all of them, unchecked, without `works`)."""
    out: list[str] = []
    for text in candidates:
        if len(out) >= limit:
            break
        if works is None or works(text):
            out.append(text)
    return out


def inventory(devices: list[Device]) -> str:
    """"4 lights (kitchen light, …), 2 speakers (…) and a lock (front door)"."""
    groups: dict[Kind, list[Device]] = {}
    for device in _ordered(devices):
        groups.setdefault(device.kind, []).append(device)
    parts = []
    for kind, items in groups.items():
        one, many = _KINDS.get(kind, ("device", "devices"))
        classes = {cover_class(d) for d in items}
        if kind == Kind.COVER and len(classes) == 1 and None not in classes:
            one = str(classes.pop())
            many = pluralize(one)
        names = ", ".join(label(d) for d in items)
        article = "an" if one[0] in "aeiou" else "a"
        parts.append(f"{len(items)} {many} ({names})" if len(items) > 1 else f"{article} {one} ({names})")
    return _and(parts)


def help_reply(voice: Voice, devices: list[Device], commands: list[str], questions: list[str]) -> str:
    """"What can you do?": the devices this home has, 3-5 commands that work here, a question, memory."""
    if not devices:
        return (f"{voice.name} has no devices yet: add some (`claw devices --help`), then ask again. "
                "I can already remember things: “remember that …”.")
    lines = "\n".join(f"- “{c}”" for c in commands)
    ask = [f"Or ask: “{questions[0]}”"] if questions else []
    have = inventory(devices)
    if voice.concise:
        return "\n".join([f"I control {have}. Try:", lines, *ask])
    if voice.formal:
        head, notes = (f"{voice.name} looks after {have}. You may say, for instance:",
                       "I can also keep notes for you: “remember that …”.")
    else:
        head, notes = f"I look after {have}. Try:", "I can remember things too: “remember that …”."
    return "\n".join([head, lines, " ".join([*ask, notes])])


def devices_reply(voice: Voice, devices: list[Device]) -> str:
    """"What devices do you have?": every device by kind, and the rooms."""
    if not devices:
        return "No devices are set up yet." if not voice.formal else "No devices have been set up yet."
    rooms = sorted({d.room for d in devices if d.room})
    where = f" Rooms: {', '.join(rooms)}." if rooms else ""
    if voice.formal:
        return f"There are {len(devices)} devices: {inventory(devices)}.{where}"
    return f"{len(devices)} devices: {inventory(devices)}.{where}"


def greeting_reply(voice: Voice, said: str | None, devices: list[Device]) -> str:
    """A greeting back ("good morning" gets "Good morning"), and what to ask."""
    hello = " ".join((said or "").split()).strip(" !.,").lower()
    opening = hello.capitalize() if hello.startswith("good ") else ("Hello" if voice.formal else "Hi")
    doings = list(dict.fromkeys(_DOING[d.kind] for d in _ordered(devices) if d.kind in _DOING))[:3]
    what = _and([*doings, "remember things"])
    if voice.concise:
        return f"{opening}. {voice.name} here."
    if voice.formal:
        return f"{opening}. {voice.name}, at your service: I can {what}. Say “help” for examples."
    return f"{opening}! I'm {voice.name}: I can {what}. Say “help” for ideas."


def unmatched_reply(voice: Voice, found: Guess, names: list[str], example: str | None, *,
                    llm: bool = False) -> str:
    """Nothing matched: what was understood (the command it looked like), the closest device names and, as
    no LLM is configured, one example that works here. Never quotes a stray word as a device."""
    verb = _OWN_VERBS.get(found.verb or "") if found.intent else None
    verb = verb or _UNDERSTOOD.get(found.intent or "")
    routine = "doing things at a set time is a routine, which I can't set up on my own yet"
    said: list[str] = []
    if verb:
        head = f"I understood that you want to {verb}{' at a set time' if found.later else ''}"
        if found.later:
            said.append(f"{head}, but {routine}.")
        elif found.stray and not found.close:
            said.append(f"{head}, but I don't know a device or room called “{found.stray}”.")
        else:
            said.append(f"{head}, but not which device.")
    elif found.stray and not found.close:
        said.append(f"I don't know a device or room called “{found.stray}”.")
    else:
        said.append(f"I can't {'answer' if found.asks else 'do'} that on my own yet: without an LLM, {voice.name} "
                    "understands commands and questions about this home's devices.")
        if found.later and not found.asks:  # "remind me tomorrow", not "what's on TV tonight?"
            said.append(f"And {routine}.")
    if found.close:
        said.append(f"Did you mean the {_and(list(found.close), 'or')}?")
    elif verb or found.stray:
        shown = names[:_NAMES] + ([f"{len(names) - _NAMES} more"] if len(names) > _NAMES else [])
        said.append(f"I know: {', '.join(shown) or 'no devices yet'}.")
    if example:
        said.append(f"For example: “{example}”.")
    if not llm and not verb and not found.stray:
        said.append("For anything else, configure an LLM (see README).")
    text = " ".join(said)
    return text if not voice.formal else text.replace("I can't", "I cannot").replace("don't", "do not")


def pick_example(found: Guess, devices: list[Device], works: Callable[[str], bool] | None) -> str | None:
    """One example that works here, for the closest device and the command it looked like when possible."""
    by_label = {label(d): d for d in devices}
    near = [by_label[c] for c in found.close if c in by_label]
    verbs: dict[str, tuple[str, ...]] = {
        "HassTurnOn": ("turn on the {n}", "open the {n}", "lock the {n}"),
        "HassTurnOff": ("turn off the {n}", "close the {n}", "lock the {n}"),
    }
    own = (f"{found.verb} the {{n}}",) if found.verb in _PLAIN_VERBS else ()  # "pause the kitchn" -> "pause the …"
    first: list[str] = []
    for device in near:
        name = _one_name(device, devices)
        if name is None:
            continue
        first += [t.format(n=name) for t in (*own, *verbs.get(found.intent or "", ()))]
        first += [t.format(n=name) for t in _COMMANDS.get(device.kind, ())]
    got = working([*first, *command_examples(devices)], works, 1)
    return got[0] if got else None
