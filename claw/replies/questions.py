"""Pure answers to the claw's own questions (ClawQuestion, "what's in the kitchen"), from the states read.

Each answer is worded from the devices' real state in the soul's Voice: casual ("Yep, …"), formal ("Yes, the …")
or concise. A device that did not answer is named as such, never guessed about."""

from __future__ import annotations

from typing import Any

from claw.events import Voice
from claw.intents.types import Plan, Query
from claw.intents.vocab import domain_of, label, noun_for, pluralize
from devices.models import Device, Kind

OPPOSITE = {"on": "off", "off": "on", "locked": "unlocked", "unlocked": "locked", "open": "closed",
            "closed": "open"}
_COUNT = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _num(value: Any) -> str:
    try:
        return f"{round(float(value), 1):g}"
    except (TypeError, ValueError):
        return str(value)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}" if items else ""


def _who(devices: list[Device], formal: bool) -> str:
    return _and([f"the {label(d)}" if formal else label(d) for d in devices])


def _up(state: dict[str, Any] | None) -> bool:
    return bool(state) and state.get("available", True) is not False  # type: ignore[union-attr]


def _be(devices: list[Device] | int) -> str:
    return "is" if (devices if isinstance(devices, int) else len(devices)) == 1 else "are"


# ---- one device's state, in words ---------------------------------------------------------------
def matches(state: dict[str, Any], expect: str) -> bool | None:
    """Whether a normalised state is in the asked-about state; None when the state does not tell."""
    playback = state.get("playback")
    if expect in ("on", "off"):
        if "power" in state:
            return bool(state["power"]) == (expect == "on")
        return None if playback is None else (playback == "playing") == (expect == "on")
    if expect in ("playing", "paused", "stopped"):
        return None if playback is None else playback == expect
    if expect in ("locked", "unlocked"):
        return None if "locked" not in state else bool(state["locked"]) == (expect == "locked")
    if expect in ("open", "closed"):
        return None if "position" not in state else (int(state["position"]) > 0) == (expect == "open")
    return None


def _position(state: dict[str, Any]) -> str:
    pos = int(state["position"])
    return "closed" if pos <= 0 else "fully open" if pos >= 100 else f"{pos}% open"


def actual(device: Device, state: dict[str, Any], expect: str) -> str:
    """What the device is, in the terms of the question ("off", "unlocked", "40% open", "stopped")."""
    if expect in ("locked", "unlocked") and "locked" in state:
        return "locked" if state["locked"] else "unlocked"
    if expect in ("open", "closed") and "position" in state:
        return _position(state)
    if "playback" in state and "power" not in state:
        return "playing" if state["playback"] == "playing" else str(state["playback"])
    if "power" in state:
        if state["power"] and domain_of(device) == "climate" and state.get("hvac_mode"):
            return f"on ({state['hvac_mode']} mode)"
        return "on" if state["power"] else "off"
    return "in a state I can't read"


def short(device: Device, state: dict[str, Any] | None) -> str:
    """A device's state in a few words, for lists: "off", "on at 40%", "playing “So What”, volume 20%"."""
    if not _up(state):
        return "not answering"
    assert state is not None
    parts: list[str] = []
    if "playback" in state:
        title = state.get("title")
        parts.append(f"playing “{title}”" if state["playback"] == "playing" and title else str(state["playback"]))
        if "volume" in state:
            parts.append(f"volume {state['volume']}%")
    elif "power" in state:
        on = bool(state["power"])
        if on and device.kind == Kind.LIGHT and "brightness" in state:
            parts.append(f"on at {state['brightness']}%")
        elif domain_of(device) == "climate":
            parts.append(f"{state.get('hvac_mode') or ('on' if on else 'off')}")
        else:
            parts.append("on" if on else "off")
    if "current_temperature" in state:
        parts.append(f"{_num(state['current_temperature'])} °C")
    if "target_temperature" in state:
        parts.append(f"set to {_num(state['target_temperature'])} °C")
    if "position" in state:
        parts.append(_position(state))
    if "locked" in state:
        parts.append("locked" if state["locked"] else "unlocked")
    return ", ".join(parts) or "up"


def _silent_note(silent: list[Device], voice: Voice) -> str:
    if not silent:
        return ""
    if voice.formal:
        return f" {_cap(_who(silent, True))} {_be(silent)} not responding."
    return f" ({_cap(_who(silent, False))} didn't answer.)"


# ---- readings: volume, humidity, brightness, position, "what's X at" -----------------------------
def _reading(what: str, device: Device, state: dict[str, Any], voice: Voice) -> str:
    formal = voice.formal
    who = f"the {label(device)}" if formal else label(device)
    if what == "level":
        kinds = {Kind.LIGHT: "brightness", Kind.SPEAKER: "volume", Kind.COVER: "position",
                 Kind.GARAGE: "position", Kind.SENSOR: "humidity"}
        what = kinds.get(device.kind, "setting")
    if what == "volume" and "volume" in state:
        muted = " (muted)" if state.get("muted") else ""
        return (f"The volume of {who} is {state['volume']}%{muted}." if formal
                else f"{_cap(who)} is at volume {state['volume']}%{muted}.")
    if what == "humidity" and state.get("humidity") is not None:
        return (f"{_cap(who)} reads {_num(state['humidity'])}% relative humidity." if formal
                else f"It's {_num(state['humidity'])}% humidity by the {label(device)}.")
    if what == "brightness" and "power" in state:
        if not state["power"]:
            return f"{_cap(who)} is off."
        level = state.get("brightness")
        return (f"{_cap(who)} is on, at {level}% brightness." if formal else f"{_cap(who)} is on at {level}%.")
    if what == "position" and "position" in state:
        return f"{_cap(who)} is {_position(state)}."
    if what == "setting" and "target_temperature" in state:
        mode = state.get("hvac_mode")
        tail = f" in {mode} mode" if mode and mode != "off" else " but switched off" if mode == "off" else ""
        reads = (f"; it reads {_num(state['current_temperature'])} °C"
                 if state.get("current_temperature") is not None else "")
        return f"{_cap(who)} is set to {_num(state['target_temperature'])} °C{tail}{reads}."
    if what == "humidity":
        return f"{_cap(who)} doesn't report humidity."
    return f"{_cap(who)} is {short(device, state)}."


def _readings(plan: Plan, devices: list[Device], states: dict[str, dict[str, Any]], voice: Voice) -> str:
    assert plan.query is not None
    what = plan.query.what
    up = [d for d in devices if _up(states.get(d.id))]
    silent = [d for d in devices if d not in up]
    if what == "humidity" and len(up) > 1:  # only the ones that report it, when some do
        up = [d for d in up if (states.get(d.id) or {}).get("humidity") is not None] or up
    if not up:
        return (f"{_cap(_who(silent, voice.formal))} {_be(silent)} not answering, so I can't tell."
                if not voice.formal else f"I'm afraid {_who(silent, True)} {_be(silent)} not responding.")
    body = " ".join(_reading(what, d, states[d.id], voice) for d in up)
    return body + _silent_note(silent, voice)


def _room(plan: Plan, devices: list[Device], states: dict[str, dict[str, Any]], voice: Voice) -> str:
    area = str(plan.slots.get("area") or "room")
    items = [f"{'the ' if voice.formal else ''}{label(d)} ({short(d, states.get(d.id))})" for d in devices]
    if voice.formal:
        return f"In the {area} there {_be(devices)} {_and(items)}."
    return f"In the {area}: {_and(items)}."


# ---- yes/no, any, all, which, how many ------------------------------------------------------------
def _group_noun(plan: Plan, devices: list[Device]) -> str:
    if plan.slots.get("domain") == "any":
        return "devices"
    if plan.slots.get("device_class"):
        return pluralize(noun_for({"cover"}, str(plan.slots["device_class"])))
    return pluralize(noun_for({domain_of(d) for d in devices}))


def _after(head: str, text: str) -> str:
    """The answer after a lead-in ("… Across the whole house, yes: …"), or alone."""
    if not head:
        return text
    first = text.split(" ", 1)[0].rstrip(",:")
    return head + (text[:1].lower() + text[1:] if first in ("Yes", "Yep", "No", "Nope", "None", "Nothing", "As")
                   else text)


def _state(plan: Plan, devices: list[Device], states: dict[str, dict[str, Any]], voice: Voice) -> str:
    assert plan.query is not None and plan.query.expect is not None
    query, formal, expect = plan.query, voice.formal, plan.query.expect
    silent = [d for d in devices if not _up(states.get(d.id))]
    answers = {d.id: matches(states[d.id], expect) for d in devices if d not in silent}
    yes = [d for d in devices if answers.get(d.id) is True]
    no = [d for d in devices if answers.get(d.id) is False]
    note = _silent_note(silent, voice)
    area = plan.slots.get("area")
    where = f" in the {area}" if area else ""
    noun = _group_noun(plan, devices)
    anything = plan.slots.get("domain") == "any"
    floor = plan.slots.get("question_floor")
    head = ""
    if floor:
        head = (f"I do not know which rooms are {floor}, as no floors are set up. Across the whole house, "
                if formal else f"I don't know which rooms are {floor} (no floors are set up). Across the whole house, ")

    def no_list(items: list[Device]) -> str:
        groups: dict[str, list[Device]] = {}
        for d in items:
            groups.setdefault(actual(d, states[d.id], expect), []).append(d)
        return "; ".join(f"{_who(g, formal)} {_be(g)} {how}" for how, g in groups.items())

    if query.mode == "one_yesno" or (len(devices) == 1 and query.mode in ("any", "all", "how_many")):
        if not answers:
            return f"{_cap(_who(devices, formal))} {_be(devices)} not answering, so I can't tell."
        device = next(d for d in devices if d.id in answers)
        if answers[device.id] is None:
            return f"{_cap(_who([device], formal))} is {short(device, states[device.id])}."
        who, now = _who([device], formal), actual(device, states[device.id], expect)
        if yes:
            more = now.removeprefix(expect).strip()  # "on (heat mode)": the mode is worth saying
            said = f"{who} is {expect}{' ' + more if more else ''}."
            return (f"Yes, {said}" if formal or voice.concise else f"Yep — {said}") + note
        other = "" if now == OPPOSITE.get(expect) else now  # "isn't closed — it's 40% open"
        if formal:
            return f"No, {who} is not {expect} at the moment{'; it is ' + other if other else ''}.{note}"
        tail = f" — it's {other}" if other else ""
        return f"{'No' if voice.concise else 'Nope'}, {who} isn't {expect}{tail}.{note}"
    if query.mode == "any":
        if yes:
            return _after(head, f"Yes: {_who(yes, formal)} {_be(yes)} {expect}.{note}")
        none = f"nothing{where} is {expect}" if anything else f"none of the {noun}{where} are {expect}"
        if not anything and 0 < len(no) <= 2:  # a few devices: say what each is ("Nope: front door is locked")
            none = no_list(no)
        return _after(head, (f"No, {none}.{note}" if formal or voice.concise else f"Nope, {none}.{note}"))
    if query.mode == "all":
        if not no and not silent and yes:
            count = _COUNT.get(len(yes), str(len(yes)))
            every = "both" if len(yes) == 2 else f"all {count}"
            if len(yes) == 1:
                return _after(head, f"Yes, {_who(yes, formal)} is {expect}.")
            return _after(head, f"Yes, {every} {noun}{where} are {expect}.")
        if not no:
            return _after(head, f"As far as I can tell, yes.{note}")
        return _after(head, f"No: {no_list(no)}.{note}")
    if query.mode == "how_many":
        total = f"{len(devices)} {noun}" if len(devices) != 1 else f"1 {noun.removesuffix('s')}"
        if not yes:
            return _after(head, f"None of the {total}{where} are {expect}.{note}")
        return _after(head, f"{len(yes)} of the {total}{where} {_be(yes)} {expect}: {_who(yes, formal)}.{note}")
    # which
    if yes:
        return _after(head, f"{_cap(_who(yes, formal))} {_be(yes)} {expect}{where}.{note}")
    none = f"Nothing{where} is {expect}" if anything else f"None of the {noun}{where} are {expect}"
    return _after(head, f"{none}.{note}")


def answer(plan: Plan, devices_by_id: dict[str, Device], states: dict[str, dict[str, Any]], voice: Voice) -> str:
    """The answer to a ClawQuestion or ClawHelp query plan, from the states read."""
    query: Query | None = plan.query
    if query is None:
        return "I have nothing to look at." if not voice.formal else "I have nothing to look at for that."
    devices = [devices_by_id[i] for i in query.device_ids if i in devices_by_id]
    if not devices:
        return "I have no device to ask." if not voice.formal else "I have no device to ask about that."
    if query.what == "room":
        return _room(plan, devices, states, voice)
    if query.what == "state" and query.expect:
        return _state(plan, devices, states, voice)
    if query.what == "state":
        return " ".join(f"{_cap(_who([d], voice.formal))} is {short(d, states.get(d.id))}." for d in devices)
    return _readings(plan, devices, states, voice)
