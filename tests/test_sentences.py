"""Natural sentences through claw.agent.ask against the simulated home: real device state, tiers, safety, memory."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from claw.agent.policy import is_no, is_yes
from claw.events import InboundMessage, TurnResult
from claw.intents.engine import IntentEngine
from claw.intents.vocab import kelvin_to_rgb
from claw.runtime import Claw
from devices.sim.home import SimHome
from devices.sim.sonos import SonosSimPlayer
from devices.sim.sonos_xml import PLAYLIST
from tests.conftest import make_settings

LIGHTS = ("kitchen light", "living room lamp", "bedroom light", "hallway light")
SPEAKERS = ("Kitchen", "Living Room")
ALL_SIMS = (*LIGHTS, *SPEAKERS, "hallway thermostat", "bedroom shade", "front door", "garage door")
SECOND, LAST = PLAYLIST[1]["title"], PLAYLIST[-1]["title"]  # the queue starts at the first track


# The home starts once per module; every test gets it back in its initial state (a fresh claw each time).
@pytest.fixture
def home(shared_home: SimHome) -> SimHome:
    """The module's home back in its initial state, with empty command logs."""
    shared_home.reset()
    return shared_home


async def say(claw: Claw, text: str, sender: str = "owner") -> TurnResult:
    return await claw.agent.ask(InboundMessage("console", sender, text, standing="owner"))


def touched(home: SimHome) -> set[str]:
    """Names of the simulators that received at least one state-changing request."""
    return {name for name in ALL_SIMS if home.sim(name).commands}


def speaker(home: SimHome, name: str) -> SonosSimPlayer:
    sim = home.sim(name)
    assert isinstance(sim, SonosSimPlayer)
    return sim


def light(home: SimHome, name: str) -> dict[str, Any]:
    return home.sim(name).state


# ---- setups: put a simulator in a starting state without going through the claw -------------------
def lights_on(*names: str, **extra: Any) -> Callable[[SimHome], None]:
    def setup(home: SimHome) -> None:
        for name in names:
            home.sim(name).change({"on": True, **extra})
    return setup


def playing(*names: str) -> Callable[[SimHome], None]:
    def setup(home: SimHome) -> None:
        for name in names:
            speaker(home, name).state.handle("Play", {})
    return setup


def paused(*names: str) -> Callable[[SimHome], None]:
    def setup(home: SimHome) -> None:
        for name in names:
            speaker(home, name).state.handle("Play", {})
            speaker(home, name).state.handle("Pause", {})
    return setup


def muted(*names: str) -> Callable[[SimHome], None]:
    def setup(home: SimHome) -> None:
        for name in names:
            speaker(home, name).state.handle("SetMute", {"DesiredMute": "1", "Channel": "Master"})
    return setup


def sim_change(name: str, **changes: Any) -> Callable[[SimHome], None]:
    def setup(home: SimHome) -> None:
        home.sim(name).change(changes)
    return setup


# ---- checks: what the simulators must hold afterwards ---------------------------------------------
def light_is(name: str, on: bool, brightness: int | None = None, rgb: list[int] | None = None
             ) -> Callable[[SimHome], None]:
    def check(home: SimHome) -> None:
        state = light(home, name)
        assert state["on"] is on, state
        if brightness is not None:
            assert state["brightness"] == brightness, state
        if rgb is not None:
            assert state["rgb"] == rgb, state
    return check


def lights_are(on: bool, *names: str) -> Callable[[SimHome], None]:
    def check(home: SimHome) -> None:
        for name in names:
            assert light(home, name)["on"] is on, name
    return check


def transport(name: str, state: str, title: str | None = None) -> Callable[[SimHome], None]:
    def check(home: SimHome) -> None:
        player = speaker(home, name)
        assert player.transport_state == state
        if title is not None:
            assert player.current["title"] == title
    return check


def all_transport(state: str, *names: str) -> Callable[[SimHome], None]:
    def check(home: SimHome) -> None:
        for name in names:
            assert speaker(home, name).transport_state == state, name
    return check


def volume(name: str, level: int) -> Callable[[SimHome], None]:
    return lambda home: _eq(speaker(home, name).volume, level)


def is_muted(name: str, value: bool) -> Callable[[SimHome], None]:
    return lambda home: _eq(speaker(home, name).muted, value)


def thermostat(target: float | None = None, mode: str | None = None) -> Callable[[SimHome], None]:
    def check(home: SimHome) -> None:
        state = home.sim("hallway thermostat").state
        if target is not None:
            assert state["target"] == target, state
        if mode is not None:
            assert state["mode"] == mode, state
    return check


def shade(position: int) -> Callable[[SimHome], None]:
    return lambda home: _eq(home.sim("bedroom shade").state["position"], position)


def locked(value: bool) -> Callable[[SimHome], None]:
    return lambda home: _eq(home.sim("front door").state["locked"], value)


def _eq(got: object, want: object) -> None:
    assert got == want


@dataclass(frozen=True)
class Case:
    """A sentence, the simulators it may touch, and what they must hold afterwards."""

    text: str
    check: Callable[[SimHome], None]
    targets: tuple[str, ...]
    setup: Callable[[SimHome], None] | None = None
    reply: str | None = None  # a fragment the reply must contain (case-insensitive)


K, LR = "Kitchen", "Living Room"
KL, LAMP, BL, HL = LIGHTS
T, SH = "hallway thermostat", "bedroom shade"

CASES: list[Case] = [
    # lights by name, alias, room and the whole home; punctuation, capitals, "please"
    Case("turn on the kitchen light", light_is(KL, True), (KL,), reply="kitchen light"),
    Case("Turn off the living room lamp.", light_is(LAMP, False), (LAMP,), setup=lights_on(LAMP)),
    Case("please turn on the lamp", light_is(LAMP, True), (LAMP,), reply="living room lamp"),
    Case("Switch off the lamp", light_is(LAMP, False), (LAMP,), setup=lights_on(LAMP)),
    Case("switch on the bedroom light please", light_is(BL, True), (BL,)),
    Case("TURN ON THE KITCHEN LIGHT!", light_is(KL, True), (KL,)),
    Case("Kitchen light on please", light_is(KL, True), (KL,)),
    Case("turn on the hallway light, please.", light_is(HL, True), (HL,)),
    Case("turn on the lights in the kitchen", light_is(KL, True), (KL,)),
    Case("turn on the bedroom lights", light_is(BL, True), (BL,)),
    Case("turn off the lights in the hallway", light_is(HL, False), (HL,), setup=lights_on(HL)),
    Case("turn off all the lights", lights_are(False, *LIGHTS), LIGHTS, setup=lights_on(*LIGHTS)),
    # brightness: "%", " %", "percent", dim/brighten; dimming an off light switches it on
    Case("set the kitchen light to 40%", light_is(KL, True, brightness=40), (KL,), reply="40%"),
    Case("set the bedroom light brightness to 25 percent", light_is(BL, True, brightness=25), (BL,)),
    Case("Set the hallway light to 30 %", light_is(HL, True, brightness=30), (HL,)),
    Case("dim the kitchen light to 10%", light_is(KL, True, brightness=10), (KL,), setup=lights_on(KL)),
    Case("brighten the bedroom light to 90%", light_is(BL, True, brightness=90), (BL,),
         setup=lights_on(BL, brightness=20)),
    Case("set the lamp brightness to 75 percent", light_is(LAMP, True, brightness=75), (LAMP,)),
    # relative brightness: read the light, step it by 25 %
    Case("dim the kitchen light", light_is(KL, True, brightness=50), (KL,), setup=lights_on(KL, brightness=75)),
    Case("make the lamp brighter", light_is(LAMP, True, brightness=65), (LAMP,),
         setup=lights_on(LAMP, brightness=40)),
    Case("brighten the bedroom light", light_is(BL, True, brightness=25), (BL,)),  # off: on at 25 %
    Case("dim the lights in the hallway", light_is(HL, False), (HL,), setup=lights_on(HL, brightness=20)),
    # colour by name
    Case("set the kitchen light to red", light_is(KL, True, rgb=[255, 0, 0]), (KL,), reply="red"),
    Case("make the bedroom light blue", light_is(BL, True, rgb=[0, 0, 255]), (BL,)),
    Case("turn the kitchen light green", light_is(KL, True, rgb=[0, 255, 0]), (KL,)),
    Case("set the bedroom light to purple", light_is(BL, True, rgb=[160, 32, 240]), (BL,)),
    Case("change the living room lamp to warm white", light_is(LAMP, True, rgb=kelvin_to_rgb(2700)), (LAMP,)),
    # Sonos: pause / resume / next / previous
    Case("pause the music in the kitchen", transport(K, "PAUSED_PLAYBACK"), (K,), setup=playing(K, LR)),
    Case("Pause the Kitchen speaker.", transport(K, "PAUSED_PLAYBACK"), (K,), setup=playing(K)),
    Case("stop the music in the living room", transport(LR, "PAUSED_PLAYBACK"), (LR,), setup=playing(LR)),
    Case("pause the music", all_transport("PAUSED_PLAYBACK", K, LR), (K, LR), setup=playing(K, LR)),
    Case("resume the music in the kitchen", transport(K, "PLAYING"), (K,), setup=paused(K), reply="playing"),
    Case("unpause the music in the living room", transport(LR, "PLAYING"), (LR,), setup=paused(LR)),
    Case("resume the kitchen speaker", transport(K, "PLAYING"), (K,), setup=paused(K)),
    Case("next track in the kitchen", transport(K, "PLAYING", SECOND), (K,), setup=playing(K)),
    Case("skip to the next song in the kitchen", transport(K, "PLAYING", SECOND), (K,), setup=playing(K)),
    Case("skip this song in the living room", transport(LR, "PLAYING", SECOND), (LR,), setup=playing(LR)),
    Case("previous track in the kitchen", transport(K, "PLAYING", LAST), (K,), setup=playing(K)),
    Case("play the previous song in the kitchen", transport(K, "PLAYING", LAST), (K,), setup=playing(K)),
    # volume: absolute, relative, mute / unmute (the simulated players start at volume 20, unmuted)
    Case("set the volume in the kitchen to 35", volume(K, 35), (K,), reply="35%"),
    Case("set the kitchen speaker volume to 60%", volume(K, 60), (K,)),
    Case("set the living room volume to 15%", volume(LR, 15), (LR,)),
    Case("turn up the volume in the kitchen", volume(K, 30), (K,), reply="30%"),
    Case("louder in the kitchen", volume(K, 30), (K,)),
    Case("turn it down in the living room", volume(LR, 10), (LR,)),
    Case("quieter in the kitchen", volume(K, 10), (K,)),
    Case("turn down the volume in the kitchen", volume(K, 10), (K,)),
    Case("mute the kitchen speaker", is_muted(K, True), (K,), reply="muted"),
    Case("mute the living room", is_muted(LR, True), (LR,)),
    Case("unmute the kitchen", is_muted(K, False), (K,), setup=muted(K), reply="unmuted"),
    Case("unmute the living room speaker", is_muted(LR, False), (LR,), setup=muted(LR)),
    # favourites
    Case("play my jazz favourite in the kitchen", transport(K, "PLAYING", "Jazz Classics"), (K,), reply="jazz"),
    Case("Play my Jazz favorite on the kitchen speaker please", transport(K, "PLAYING", "Jazz Classics"), (K,)),
    Case("play lo-fi beats on the living room speaker", transport(LR, "PLAYING", "Lo-Fi Beats"), (LR,)),
    Case("play morning news in the living room", transport(LR, "PLAYING", "Morning News"), (LR,)),
    # thermostat: targets inside the safe range 16-26 °C run at once; modes
    Case("set the thermostat to 22 degrees", thermostat(22.0), (T,), reply="22 °C"),
    Case("set the temperature to 21.5", thermostat(21.5), (T,), reply="21.5"),
    Case("set the hallway thermostat to 18°", thermostat(18.0), (T,)),
    Case("set the thermostat to 21 degrees please", thermostat(21.0), (T,)),
    Case("Set the heating to 23.5 degrees", thermostat(23.5), (T,)),
    Case("set the temperature in the hallway to 19 degrees", thermostat(19.0), (T,)),
    Case("set the thermostat to 26 degrees", thermostat(26.0), (T,)),
    Case("set the thermostat to 16 degrees", thermostat(16.0), (T,)),
    Case("turn off the heating", thermostat(mode="off"), (T,)),
    Case("turn off the thermostat", thermostat(mode="off"), (T,)),
    Case("turn on the heating", thermostat(mode="heat"), (T,), setup=sim_change(T, mode="off")),
    Case("turn on the ac", thermostat(mode="cool"), (T,)),
    # shades: open / close / position
    Case("open the bedroom shade", shade(100), (SH,)),
    Case("open the bedroom blind", shade(100), (SH,)),
    Case("close the bedroom blind", shade(0), (SH,), setup=sim_change(SH, position=100)),
    Case("close the shade in the bedroom", shade(0), (SH,), setup=sim_change(SH, position=100)),
    Case("close the blinds", shade(0), (SH,), setup=sim_change(SH, position=60)),
    Case("set the bedroom shade to 50%", shade(50), (SH,), reply="50%"),
    Case("set the bedroom shade to 30 percent", shade(30), (SH,)),
    Case("open the bedroom shade to 75%", shade(75), (SH,)),
    # locking is the safe direction: no confirmation
    Case("lock the front door", locked(True), ("front door",), setup=sim_change("front door", locked=False)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.text for c in CASES])
async def test_sentence_changes_the_simulated_home(case: Case, home: SimHome, claw: Claw) -> None:
    assert claw.intents.parse(case.text) is not None, "not a local intent: the table must hold only those"
    if case.setup is not None:
        case.setup(home)
    for name in ALL_SIMS:
        home.sim(name).commands.clear()
    result = await say(claw, case.text)
    assert result.tier == "intent", result.reply
    assert result.reply.startswith("Done"), result.reply
    if case.reply:
        assert case.reply.lower() in result.reply.lower()
    case.check(home)
    assert touched(home) == set(case.targets)
    assert len(result.actions) >= len(case.targets)
    assert claw.store.inbox_get(result.inbox_id)["status"] == "done"


def test_every_sentence_of_the_table_is_a_local_intent(shared_home: SimHome) -> None:
    """IntentEngine().parse matches every sentence of the table to a plan without a problem."""
    engine = IntentEngine()
    engine.set_devices(shared_home.devices)
    assert len(CASES) >= 45
    assert len({c.text.lower() for c in CASES}) == len(CASES)
    for case in CASES:
        found = engine.parse(case.text)
        assert found is not None, case.text
        assert found.problem is None and (found.steps or found.query), (case.text, found)


# ---- risky actions: confirm first, then YES runs it, NO or an expired request does nothing ---------
RISKY = [
    ("open the garage door", "garage door", {"door": "open"}, "open the garage door", None),
    ("Please open the garage.", "garage door", {"door": "open"}, "open the garage door", None),
    ("close the garage door", "garage door", {"door": "closed"}, "close the garage door", {"door": "open"}),
    ("unlock the front door", "front door", {"locked": False}, "unlock the front door", None),
    ("set the thermostat to 30 degrees", "hallway thermostat", {"target": 30.0}, "30 °C", None),
    ("set the thermostat to 12 degrees", "hallway thermostat", {"target": 12.0}, "12 °C", None),
]


def _subset(state: dict[str, Any], want: dict[str, Any]) -> bool:
    return all(state.get(k) == v for k, v in want.items())


@pytest.mark.parametrize(("text", "device", "after", "what", "before"), RISKY, ids=[r[0] for r in RISKY])
async def test_risky_command_asks_first_and_yes_carries_it_out(
        text: str, device: str, after: dict[str, Any], what: str, before: dict[str, Any] | None,
        home: SimHome, claw: Claw) -> None:
    sim = home.sim(device)
    if before:
        sim.change(before)
        sim.commands.clear()
    start = sim.state
    asked = await say(claw, text)
    assert asked.tier == "confirm", asked.reply
    assert "YES" in asked.reply and what in asked.reply
    assert sim.state == start and sim.commands == []
    assert home.physical_commands() == 0
    done = await say(claw, "yes")
    assert done.tier == "confirm", done.reply
    assert _subset(sim.state, after), sim.state
    assert len(sim.commands) == 1
    assert home.physical_commands() == 1
    for result in (asked, done):
        assert claw.store.inbox_get(result.inbox_id)["status"] == "done"


@pytest.mark.parametrize("answer", ["no", "No.", "cancel", "nope"])
async def test_no_leaves_the_risky_action_undone(answer: str, home: SimHome, claw: Claw) -> None:
    asked = await say(claw, "unlock the front door")
    assert asked.tier == "confirm"
    declined = await say(claw, answer)
    assert declined.tier == "confirm"
    assert "cancel" in declined.reply.lower()
    assert home.sim("front door").state["locked"] is True
    assert home.physical_commands() == 0
    # the request is gone: a later YES does not unlock either
    await say(claw, "yes")
    assert home.sim("front door").state["locked"] is True
    assert home.physical_commands() == 0
    assert is_no(answer) and not is_yes(answer)


async def test_a_yes_from_someone_else_does_not_confirm(home: SimHome, claw: Claw) -> None:
    await say(claw, "open the garage door", sender="owner")
    other = await say(claw, "yes", sender="whatsapp:+15550000000")
    assert other.tier != "confirm"
    assert home.sim("garage door").state["door"] == "closed"
    assert home.physical_commands() == 0


async def test_expired_confirmation_does_nothing(home: SimHome, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, device_timeout=2.0, safety={"confirm_seconds": 0.05})
    c = Claw(settings, devices=home.devices)
    await c.start()
    try:
        asked = await say(c, "unlock the front door")
        assert asked.tier == "confirm"
        assert "seconds" in asked.reply  # a short lifetime is stated as such
        await asyncio.sleep(0.2)  # well past the 0.05 s lifetime
        late = await say(c, "yes")
        assert home.sim("front door").state["locked"] is True
        assert home.physical_commands() == 0
        assert not late.reply.startswith("Done") and "unlocked" not in late.reply
        assert "expired" in late.reply and "unlock the front door" in late.reply  # told why nothing happened
        assert c.store.confirmation_pending("owner", time.time()) is None
        assert c.store.inbox_get(late.inbox_id)["status"] == "done"
    finally:
        await c.stop()


async def test_expired_confirmation_with_patched_clock(home: SimHome, claw: Claw,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import claw.agent.confirm as turn_module

    asked = await say(claw, "open the garage door")
    assert asked.tier == "confirm"
    later = time.time() + claw.settings.safety.confirm_seconds + 5
    monkeypatch.setattr(turn_module, "time", type("Clock", (), {"time": staticmethod(lambda: later)}))
    await say(claw, "yes")
    assert home.sim("garage door").state["door"] == "closed"
    assert home.physical_commands() == 0


# ---- questions about state: the reply carries the simulator's real value, nothing is changed -------
@pytest.mark.parametrize("text", ["what's the temperature in the hallway?", "What is the temperature in the hallway",
                                  "how warm is it in the hallway", "what is the temperature"])
async def test_temperature_question_reports_the_simulated_reading(text: str, home: SimHome, claw: Claw) -> None:
    sim = home.sim("hallway thermostat")
    sim.change({"mode": "off", "target": 21.5})  # off: the reading holds still while we compare
    sim.commands.clear()
    result = await say(claw, text)
    assert result.tier == "intent"
    reading = sim.state["sensors"]["temperature"]
    said = [float(n) for n in re.findall(r"(\d+(?:\.\d+)?) ?°C", result.reply)]
    assert any(abs(n - reading) <= 0.05 + 1e-9 for n in said), (reading, result.reply)  # said to 0.1 °C
    assert 21.5 in said
    assert home.physical_commands() == 0


@pytest.mark.parametrize(("on", "text"), [(True, "is the kitchen light on?"), (False, "is the kitchen light on?"),
                                          (True, "Is the kitchen light on"), (False, "is the kitchen light on ?")])
async def test_is_the_light_on_answers_from_the_device(on: bool, text: str, home: SimHome, claw: Claw) -> None:
    home.sim("kitchen light").change({"on": on})
    home.sim("kitchen light").commands.clear()
    result = await say(claw, text)
    assert result.tier == "intent"
    words = set(re.findall(r"[a-z']+", result.reply.lower()))
    if on:
        assert words & {"yes", "yep"} and "isn't" not in words, result.reply
    else:
        assert words & {"no", "nope"} and ("isn't" in words or "not" in words), result.reply
    assert home.physical_commands() == 0


async def test_state_questions_read_the_simulators(home: SimHome, claw: Claw) -> None:
    await say(claw, "play my jazz favourite in the kitchen")
    await say(claw, "set the bedroom light to 35%")
    home.sim("front door").change({"locked": False})
    for name in ALL_SIMS:
        home.sim(name).commands.clear()
    playing_now = await say(claw, "what's playing in the kitchen?")
    assert "Jazz Classics" in playing_now.reply
    any_on = await say(claw, "are any lights on?")
    assert "bedroom light" in any_on.reply and "kitchen light" not in any_on.reply
    door = await say(claw, "is the front door locked?")
    assert re.search(r"\b(no|nope)\b", door.reply.lower()), door.reply
    garage = await say(claw, "what's the status of the garage door?")
    assert "closed" in garage.reply
    for result in (playing_now, any_on, door, garage):
        assert result.tier == "intent"
    assert home.physical_commands() == 0


# ---- memory --------------------------------------------------------------------------------------
async def test_remember_then_recall_with_owner_provenance(home: SimHome, claw: Claw) -> None:
    stored = await say(claw, "remember that I like it cool at night")
    assert stored.tier == "intent"
    facts = claw.store.fact_list()
    assert [(f["text"], f["source"]) for f in facts] == [("I like it cool at night", "owner")]
    assert facts[0]["sender"] == "owner"
    for question in ("what do you know about me?", "What do you remember about me", "what have I told you?"):
        recalled = await say(claw, question)
        assert recalled.tier == "intent"
        assert "I like it cool at night" in recalled.reply, question
    assert home.physical_commands() == 0


# ---- the soul's voice shapes the local tier's replies ---------------------------------------------
FORMAL_SOUL = """# Jeeves

You are the household's butler.

## Voice

- Tone: formal
- Length: normal
"""


async def test_soul_voice_changes_local_replies(home: SimHome, claw: Claw) -> None:
    casual_hello = await say(claw, "hello")
    casual_done = await say(claw, "turn on the kitchen light")
    assert "Claw" in casual_hello.reply and "Jeeves" not in casual_hello.reply
    assert home.sim("kitchen light").state["on"] is True

    claw.soul.path.write_text(FORMAL_SOUL, encoding="utf-8")

    formal_hello = await say(claw, "hello")
    formal_done = await say(claw, "turn off the kitchen light")
    assert formal_hello.tier == formal_done.tier == "intent"
    assert "Jeeves" in formal_hello.reply and "Claw" not in formal_hello.reply
    assert formal_hello.reply != casual_hello.reply.replace("Claw", "Jeeves")
    assert home.sim("kitchen light").state["on"] is False
    # same kind of action, phrased in the other register
    assert casual_done.reply.startswith("Done")
    assert not formal_done.reply.startswith("Done") and "the kitchen light" in formal_done.reply.lower()
    assert "switched off" in formal_done.reply
    assert claw.soul.current().voice.formal is True
