"""Pure templated replies of the local tier, phrased by the soul's Voice (name, formal, concise)."""

from __future__ import annotations

import logging
from typing import Any

from claw.channels.whatsapp.numbers import mask
from claw.events import Voice
from claw.intents.types import Plan, Query, Step
from claw.intents.vocab import COLORS, label
from claw.permissions import Standing, may
from claw.untrusted import shown_text
from devices.models import Device, Kind

log = logging.getLogger(__name__)

# Per command: (casual, formal). {who} is the device list, {is}/{has} agree with it.
_DONE: dict[str, tuple[str, str]] = {
    "turn_on": ("{who} {is} on", "{who} {has} been switched on"),
    "turn_off": ("{who} {is} off", "{who} {has} been switched off"),
    "set_brightness": ("{who} {is} at {brightness}%", "{who} {has} been set to {brightness}% brightness"),
    "set_color": ("{who} {is} {color} now", "{who} {has} been set to {color}"),
    "play": ("{who} {is} playing", "playback has resumed on {who}"),
    "pause": ("{who} {is} paused", "{who} {has} been paused"),
    "stop": ("{who} {is} stopped", "{who} {has} been stopped"),
    "next": ("skipped to the next track on {who}", "{who} {has} moved on to the next track"),
    "previous": ("went back a track on {who}", "{who} {has} gone back to the previous track"),
    "set_volume": ("{who} {is} at volume {volume}%", "the volume of {who} has been set to {volume}%"),
    "set_mute": ("{who} {is} {muted}", "{who} {has} been {muted}"),
    "play_favorite": ("playing {favorite} on {who}", "{favorite} is now playing on {who}"),
    "set_temperature": ("{who} {is} set to {temperature} °C", "{who} {has} been set to {temperature} °C"),
    "set_hvac_mode": ("{who} {is} set to {mode}", "{who} {has} been set to {mode}"),
    "open": ("{who} {is} opening", "{who} {is} being opened"),
    "close": ("{who} {is} closing", "{who} {is} being closed"),
    "set_position": ("{who} {is} going to {position}% open", "{who} {is} being set to {position}% open"),
    "lock": ("{who} {is} locked", "{who} {has} been locked"),
    "unlock": ("{who} {is} unlocked", "{who} {has} been unlocked"),
}
EXAMPLES = ("“turn on the kitchen light”",)  # the help reply builds its examples from the home (claw.replies.help)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first == "I" or first.startswith("I'") or first.isupper():
        return text
    return text[:1].lower() + text[1:]


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _num(value: Any) -> str:
    """A number as people say it: at most one decimal (19.01 -> "19", 20.5 -> "20.5")."""
    try:
        return f"{round(float(value), 1):g}"
    except (TypeError, ValueError):
        return str(value)


def _who(devices: list[Device], formal: bool) -> str:
    names = [label(d) for d in devices]
    return _and([f"the {n}" if formal else n for n in names])


def _color_name(step: Step, slots: dict[str, Any]) -> str:
    if slots.get("color"):
        return str(slots["color"])
    if slots.get("temperature"):
        return f"{_num(slots['temperature'])} K white"
    rgb = tuple(step.args.get("rgb") or ())
    for name, value in COLORS.items():
        if value == rgb:
            return name
    return "the new colour"


# ---- replies ------------------------------------------------------------------------------------
def done_reply(plan: Plan, devices_by_id: dict[str, Device], voice: Voice) -> str:
    """What was done, one clause per distinct command. Pass a Plan holding only the steps that worked."""
    if not plan.steps:
        return ack_reply(voice, plan)
    groups: dict[tuple[str, str], list[Step]] = {}
    for step in plan.steps:
        groups.setdefault((step.command, repr(sorted(step.args.items()))), []).append(step)
    clauses = []
    for (command, _), steps in groups.items():
        devices = [devices_by_id[s.device_id] for s in steps if s.device_id in devices_by_id]
        if not devices:
            continue
        args = dict(steps[0].args)
        fields = {
            "who": _who(devices, voice.formal), "is": "are" if len(devices) > 1 else "is",
            "has": "have" if len(devices) > 1 else "has", "color": _color_name(steps[0], plan.slots),
            "muted": "muted" if args.get("muted") else "unmuted",
            **{k: _num(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
               for k, v in args.items() if k not in ("muted", "rgb")},
        }
        if command == "set_hvac_mode":
            fields["mode"] = "off" if args.get("mode") == "off" else f"{args.get('mode')} mode"
        casual, formal = _DONE.get(command, ("{who}: " + command.replace("_", " ") + " done",
                                             "{who} {has} carried out " + command.replace("_", " ")))
        clauses.append((formal if voice.formal else casual).format(**fields))
    if not clauses:
        return ack_reply(voice, plan)
    if voice.formal:
        body = " ".join(_cap(c) + "." for c in clauses)
        return body if voice.concise else f"Certainly. {body}"
    body = ", and ".join(clauses) + "."
    return _cap(body) if voice.concise else f"Done — {body}"


def _matches(device: Device, state: dict[str, Any], expect: str) -> bool | None:
    """Whether a normalised state is in the asked-about state; None when the state does not say."""
    if expect in ("on", "off"):
        if "power" in state:
            return bool(state["power"]) == (expect == "on")
        if "playback" in state:
            return (state["playback"] == "playing") == (expect == "on")
        return None
    if expect in ("locked", "unlocked"):
        return None if "locked" not in state else bool(state["locked"]) == (expect == "locked")
    if expect in ("open", "closed"):
        if "position" not in state:
            return None
        return (int(state["position"]) > 0) == (expect == "open")
    return None


def _available(state: dict[str, Any] | None) -> bool:
    return bool(state) and state.get("available", True) is not False


def _describe(device: Device, state: dict[str, Any], formal: bool) -> str:
    """One sentence on a device's state, in the voice's register."""
    who = f"The {label(device)}" if formal else _cap(label(device))
    if not _available(state):
        return f"{who} is not responding at the moment." if formal else f"{who} isn't answering."
    parts: list[str] = []
    if "playback" in state:
        playing = state["playback"] == "playing"
        title = state.get("title")
        parts.append(f"playing “{title}”" if playing and title else str(state["playback"]))
    elif "power" in state:
        parts.append("on" if state["power"] else "off")
    if state.get("power", True) and "brightness" in state and device.kind == Kind.LIGHT:
        parts.append(f"at {state['brightness']}% brightness" if formal else f"at {state['brightness']}%")
    if "volume" in state:
        parts.append(f"at volume {state['volume']}%")
    if state.get("muted"):
        parts.append("muted")
    if "current_temperature" in state:
        parts.append(f"reading {_num(state['current_temperature'])} °C")
    if "target_temperature" in state:
        parts.append(f"set to {_num(state['target_temperature'])} °C")
    if state.get("hvac_mode"):
        parts.append(f"in {state['hvac_mode']} mode")
    if "position" in state:
        pos = int(state["position"])
        parts.append("closed" if pos == 0 else "open" if pos >= 100 else f"{pos}% open")
    if "locked" in state:
        parts.append("locked" if state["locked"] else "unlocked")
    if not parts:
        return f"{who} is available, but reports nothing more." if formal else f"{who} is up, nothing to say."
    if formal:
        return f"{who} is currently {', '.join(parts)}."
    return f"{who} is {', '.join(parts)}."


def _temperature(device: Device, state: dict[str, Any], formal: bool) -> str:
    who = f"the {label(device)}" if formal else label(device)
    if not _available(state):
        return _describe(device, state, formal)
    current, target = state.get("current_temperature"), state.get("target_temperature")
    if current is None:
        if target is not None:
            return (f"{_cap(who)} is set to {_num(target)} °C, but does not report a reading." if formal
                    else f"{_cap(who)} is set to {_num(target)} °C (no reading).")
        return f"{_cap(who)} does not report a temperature." if formal else f"{_cap(who)} has no reading."
    if formal:
        tail = f", with the target set to {_num(target)} °C" if target is not None else ""
        return f"{_cap(who)} reads {_num(current)} °C{tail}."
    tail = f" (set to {_num(target)} °C)" if target is not None else ""
    return f"It's {_num(current)} °C by the {who}{tail}."


def state_reply(query: Query, devices_by_id: dict[str, Device], states: dict[str, dict[str, Any]],
                voice: Voice) -> str:
    """Answer a Query from the states read (a state with available False: that device isn't answering)."""
    devices = [devices_by_id[i] for i in query.device_ids if i in devices_by_id]
    if not devices:
        return "I have no device to ask." if not voice.formal else "I have no device to ask about that."
    formal = voice.formal
    if query.what == "temperature":
        return " ".join(_temperature(d, states.get(d.id) or {}, formal) for d in devices)
    if query.mode == "one" or not query.expect:
        return " ".join(_describe(d, states.get(d.id) or {}, formal) for d in devices)
    expect = query.expect
    silent = [d for d in devices if not _available(states.get(d.id))]
    answers = {d.id: _matches(d, states[d.id], expect) for d in devices if d not in silent}
    yes = [d for d in devices if answers.get(d.id) is True]
    no = [d for d in devices if answers.get(d.id) is False]
    note = ""
    if silent:
        note = (f" {_cap(_who(silent, formal))} {'is' if len(silent) == 1 else 'are'} not responding."
                if formal else f" ({_cap(_who(silent, False))} didn't answer.)")
    if query.mode == "one_yesno":
        if not answers or answers.get(devices[0].id) is None:
            return " ".join(_describe(d, states.get(d.id) or {}, formal) for d in devices)
        who = _who(devices[:1], formal)
        if yes:
            return f"Yes, {who} is {expect}." if formal or voice.concise else f"Yep — {who} is {expect}."
        return (f"No, {who} is not {expect} at the moment." if formal else f"Nope, {who} isn't {expect}.")
    verb = "is" if len(yes) == 1 else "are"
    if query.mode == "any":
        if yes:
            return f"Yes: {_who(yes, formal)} {verb} {expect}.{note}"
        return (f"No, none of them are {expect}.{note}" if formal else f"Nope, none are {expect}.{note}")
    if query.mode == "all":
        if not no and not silent:
            return f"Yes, all of them are {expect}." if formal else f"Yep, all {expect}."
        if not no:
            return f"As far as I can tell, yes.{note}"
        return f"No: {_who(no, formal)} {'is' if len(no) == 1 else 'are'} not {expect}.{note}"
    if query.mode == "how_many":
        listed = f": {_who(yes, formal)}" if yes else ""
        return f"{len(yes)} of {len(devices)} {'is' if len(yes) == 1 else 'are'} {expect}{listed}.{note}"
    # which
    if yes:
        return f"{_cap(_who(yes, formal))} {verb} {expect}.{note}"
    return f"None of them are {expect}.{note}" if formal else f"None are {expect}.{note}"


def problem_reply(text: str, voice: Voice) -> str:
    """Wrap a Plan.problem (already owner-facing) in the voice."""
    text = text.strip()
    if voice.concise:
        return text
    if text.endswith("?"):
        return f"Forgive me, {_lower_first(text)}" if voice.formal else text
    return f"I'm afraid {_lower_first(text)}" if voice.formal else f"Hmm, {_lower_first(text)}"


ERROR_CHARS = 240


def error_reply(device_name: str, error_text: str, voice: Voice) -> str:
    """A device command failed (a devices.errors message).

    The message may quote the device's own words (an HTTP error body, a UPnP fault) and the device name may
    come from the device too. They are kept, because "the target must be between 7 and 32" is what tells
    the owner how to ask again, but made inert (claw.untrusted.shown_text): one printable line, at most
    ERROR_CHARS, no template tokens or fence markers (the reply is replayed to the model as history), no
    links (a device must not send phishing links in the claw's voice); the HTTP driver quotes the body
    with its own double quotes turned into single ones, so the device cannot end the quote and go on
    as if the claw were speaking."""
    device_name = shown_text(device_name, 80)
    error_text = shown_text(error_text, ERROR_CHARS, links=False).rstrip(".")
    if voice.formal:
        head = "" if voice.concise else "I'm sorry. "
        return f"{head}The {device_name} could not carry that out: {error_text}."
    if voice.concise:
        return f"{_cap(device_name)} failed: {error_text}."
    return f"That didn't work on {device_name}: {error_text}."


def memory_reply(op: str, facts: list[str] | int, voice: Voice, *, about_me: bool = False) -> str:
    """Acknowledge remember/forget, or list what was recalled (facts), or how many were forgotten (int).
    `about_me`: the recall asked for everything ("what do you know about me?"), not about a topic."""
    formal, concise = voice.formal, voice.concise
    count = facts if isinstance(facts, int) else len(facts)
    if op == "remember":
        if concise:
            return "Noted."
        return "Noted. I shall remember that." if formal else "Got it — I'll remember that."
    if op == "forget":
        if count == 0:
            return ("I had nothing of that kind on record." if formal
                    else "I didn't have anything like that to forget.")
        things = f"{count} {'item' if formal else 'thing'}{'s' if count != 1 else ''}"
        if concise:
            return f"Forgotten ({things})."
        return f"Very well. I have forgotten {things}." if formal else f"Done — forgot {things}."
    if op == "recall":
        if isinstance(facts, int):
            return (f"I have {count} item{'s' if count != 1 else ''} on record." if formal
                    else f"I know {count} thing{'s' if count != 1 else ''} about that.")
        if not facts and about_me:  # say plainly that nothing is stored (after a forget, too)
            return ("I have nothing on record about you at present." if formal
                    else "Nothing is stored about you right now.")
        if not facts:
            return ("I have nothing on record about that yet." if formal
                    else "I don't know anything about that yet.")
        bullets = "\n".join(f"- {f}" for f in facts)
        if concise:
            return bullets
        return (f"Here is what I have on record:\n{bullets}" if formal else f"Here's what I know:\n{bullets}")
    return "Very well." if formal else "OK."


def recalled_line(fact: dict[str, Any], standing: Standing) -> str:
    """One remembered fact in a recall reply. The owner sees whose a fact is when it is not their own or the
    claw's note, and that text, someone else's words in the owner's chat, is made inert; a guest is only
    ever shown their own facts (claw.permissions.fact_scope)."""
    text, source = str(fact.get("text") or ""), fact.get("source")
    if source in (None, "owner", "agent") or not may(standing, "owner_memory"):
        return text
    if source == "guest":
        return f"{shown_text(text, 300)} (told by a guest, {mask(fact.get('sender'))})"
    return f"{shown_text(text, 300)} (from a {shown_text(str(source), 20)})"


def greeting(voice: Voice) -> str:
    name = voice.name
    if voice.formal:
        if voice.concise:
            return f"{name}, at your service."
        return (f"Good day. I am {name}, at your service. I can look after your lights, music and heating, "
                f"and keep notes for you.")
    if voice.concise:
        return f"Hi, I'm {name}."
    return f"Hi, I'm {name}! Ask me to switch lights, play music, check the temperature, or remember things."


def ack_reply(voice: Voice, plan: Plan | None = None) -> str:
    """Replies for plans that change nothing: never mind, thanks, hello, "what can I say"."""
    intent = plan.intent if plan is not None else ""
    if intent == "HassRespond":  # "what can I say" and "hello" are answered by claw.agent.questions
        return greeting(voice)
    if intent == "ClawThanks":
        if voice.concise:
            return "Any time."
        return "You are most welcome." if voice.formal else "Any time!"
    if voice.concise:
        return "OK."
    return "Very well." if voice.formal else "No worries."


# ---- confirmations, soul edits, LLM trouble -----------------------------------------------------
