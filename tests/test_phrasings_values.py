"""Relative and vague values, synonyms, terse commands and short follow-ups, through the claw to the simulated home.

Every table sentence goes the real way (hassil -> plan -> claw.intents.recent -> the agent -> the simulators)
and the test asserts what the simulators hold afterwards; the sentences that must not act assert the reply
and that no device received a command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from claw.config import LLMSettings
from claw.events import InboundMessage, TurnResult
from claw.intents.engine import IntentEngine
from claw.intents.recent import Last, Recent, acted
from claw.intents.relative import resolve_relative
from claw.intents.types import Plan, Query, Step
from claw.intents.values import STEPS, step_delta, stepped
from claw.runtime import Claw
from devices.models import Device, Kind
from devices.sim.home import SimHome, random_loopback_base
from devices.sim.sonos import SonosSimPlayer
from devices.sim.sonos_xml import DEFAULT_FAVORITES, PLAYLIST
from tests.conftest import running_claw
from tests.fakes.openai_server import ScriptedOpenAI, reply
from tests.module_claw import module_claw

IN_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # the async tests share the module's claw

KL, LAMP, BL, HL = "kitchen light", "living room lamp", "bedroom light", "hallway light"
K, LR = "Kitchen", "Living Room"
T, SH, DOOR, GARAGE = "hallway thermostat", "bedroom shade", "front door", "garage door"
ALL_SIMS = (KL, LAMP, BL, HL, K, LR, T, SH, DOOR, GARAGE)
SECOND, LAST = PLAYLIST[1]["title"], PLAYLIST[-1]["title"]
MINE = {"title": "My Favorites", "uri": "x-sonosapi-stream:s99999?sid=254&flags=8224&sn=0",
        "description": "TuneIn Station"}


# ---- one home (the demo home, plus a favourite called "My Favorites") and one claw for the module ------


@pytest.fixture(scope="module")
def shared_home() -> Iterator[SimHome]:
    sim = SimHome.load(ip_base=random_loopback_base())
    for spec in sim.spec.devices:
        if spec.type == "sonos":
            spec.favorites = [*DEFAULT_FAVORITES, MINE]
    sim.start()
    yield sim
    sim.stop()



isolated_env, mclaw, home = module_claw('shared_home', 'values')


_senders = iter(range(1, 1_000_000))


def new_sender() -> str:
    return f"owner-{next(_senders)}"


async def say(claw: Claw, text: str, sender: str, standing: str = "owner") -> TurnResult:
    return await claw.agent.ask(InboundMessage("console", sender, text, standing=standing))  # type: ignore[arg-type]


def touched(home: SimHome) -> set[str]:
    return {name for name in ALL_SIMS if home.sim(name).commands}


def clear(home: SimHome) -> None:
    for name in ALL_SIMS:
        home.sim(name).commands.clear()


def speaker(home: SimHome, name: str) -> SonosSimPlayer:
    sim = home.sim(name)
    assert isinstance(sim, SonosSimPlayer)
    return sim


# ---- setups and checks -----------------------------------------------------------------------------
Setup = Callable[[SimHome], None]
Check = Callable[[SimHome], None]


def sim(name: str, **changes: Any) -> Setup:
    return lambda home: home.sim(name).change(changes)


def lights_on(*names: str, brightness: int = 50) -> Setup:
    def setup(home: SimHome) -> None:
        for name in names:
            home.sim(name).change({"on": True, "brightness": brightness})
    return setup


def playing(*names: str, paused: bool = False) -> Setup:
    def setup(home: SimHome) -> None:
        for name in names:
            speaker(home, name).state.handle("Play", {})
            if paused:
                speaker(home, name).state.handle("Pause", {})
    return setup


def _eq(got: Any, want: Any, what: str) -> None:
    assert got == want, f"{what}: {got!r}, expected {want!r}"


def target(value: float) -> Check:
    return lambda home: _eq(home.sim(T).state["target"], value, "thermostat target")


def mode(value: str) -> Check:
    return lambda home: _eq(home.sim(T).state["mode"], value, "thermostat mode")


def bright(name: str, level: int) -> Check:
    def check(home: SimHome) -> None:
        _eq(home.sim(name).state["on"], True, f"{name} on")
        _eq(home.sim(name).state["brightness"], level, f"{name} brightness")
    return check


def power(name: str, on: bool) -> Check:
    return lambda home: _eq(home.sim(name).state["on"], on, f"{name} on")


def volume(name: str, level: int) -> Check:
    return lambda home: _eq(speaker(home, name).volume, level, f"{name} volume")


def track(name: str, title: str) -> Check:
    def check(home: SimHome) -> None:
        _eq(speaker(home, name).transport_state, "PLAYING", f"{name} transport")
        _eq(speaker(home, name).current["title"], title, f"{name} title")
    return check


def transport(name: str, state: str) -> Check:
    return lambda home: _eq(speaker(home, name).transport_state, state, f"{name} transport")


def shade(position: int) -> Check:
    return lambda home: _eq(home.sim(SH).state["position"], position, "shade position")


def locked(value: bool) -> Check:
    return lambda home: _eq(home.sim(DOOR).state["locked"], value, "front door locked")


@dataclass(frozen=True)
class Case:
    """A sentence (after `before`, said by the same sender), what the simulators hold afterwards, and the
    simulators its turn alone touched."""

    text: str
    check: Check
    targets: tuple[str, ...]
    setup: Setup | None = None
    before: tuple[str, ...] = ()


ON50 = lights_on(KL, LAMP, BL, HL)
# The thermostat starts at 20.5 °C in heat mode; the speakers at volume 20; the shade closed; lights off.
ACTS: list[Case] = [
    # ---- warmer / cooler: the setpoint, 1 °C ("a bit" 0.5, "a lot" 2), the only thermostat ----
    Case("warmer", target(21.5), (T,)),
    Case("make it warmer", target(21.5), (T,)),
    Case("a bit warmer", target(21.0), (T,)),
    Case("make it a lot warmer", target(22.5), (T,)),
    Case("it's cold in here", target(21.5), (T,)),
    Case("it's a bit chilly in here", target(21.0), (T,)),
    Case("I'm cold", target(21.5), (T,)),
    Case("I'm freezing", target(21.5), (T,)),
    Case("I'm hot", target(19.5), (T,)),
    Case("it's too warm in here", target(19.5), (T,)),
    Case("cooler", target(19.5), (T,)),
    Case("make it a bit cooler", target(20.0), (T,)),
    Case("turn the heating up", target(21.5), (T,)),
    Case("turn up the heating", target(21.5), (T,)),
    Case("turn the heat down", target(19.5), (T,)),
    Case("turn down the thermostat", target(19.5), (T,)),
    Case("turn the heating up a bit", target(21.0), (T,)),
    Case("raise the temperature", target(21.5), (T,)),
    Case("lower the heating", target(19.5), (T,)),
    Case("heating up", target(21.5), (T,)),
    Case("turn the hvac up", target(21.5), (T,)),
    Case("turn up the heating in the hallway", target(21.5), (T,)),
    Case("make the hallway warmer", target(21.5), (T,)),
    Case("turn up the hallway thermostat", target(21.5), (T,)),
    Case("it's cold in the hallway", target(21.5), (T,)),
    # ---- brighter / dimmer, half and full: the lights start on at 50 % ----
    Case("make the kitchen light a bit brighter", bright(KL, 60), (KL,), ON50),
    Case("kitchen light brighter", bright(KL, 75), (KL,), ON50),
    Case("turn the kitchen light up", bright(KL, 75), (KL,), ON50),
    Case("turn the kitchen light down a bit", bright(KL, 40), (KL,), ON50),
    Case("dim the kitchen light a little", bright(KL, 40), (KL,), ON50),
    Case("a bit brighter in the kitchen", bright(KL, 60), (KL,), ON50),
    Case("make the bedroom lights a lot brighter", bright(BL, 100), (BL,), ON50),
    Case("turn up the lights in the bedroom", bright(BL, 75), (BL,), ON50),
    Case("bedroom light a bit dimmer", bright(BL, 40), (BL,), ON50),
    Case("darker in the living room", bright(LAMP, 25), (LAMP,), ON50),
    Case("set the kitchen light to half", bright(KL, 50), (KL,), lights_on(KL, brightness=100)),
    Case("kitchen light halfway", bright(KL, 50), (KL,)),
    Case("set the bedroom lights to full brightness", bright(BL, 100), (BL,), lights_on(BL, brightness=30)),
    Case("full brightness in the kitchen", bright(KL, 100), (KL,), lights_on(KL, brightness=30)),
    Case("kitchen lights to a quarter", bright(KL, 25), (KL,)),
    # ---- louder / quieter and vague volumes (the speakers start at 20) ----
    Case("louder on the kitchen speaker", volume(K, 30), (K,)),
    Case("make the kitchen speaker louder", volume(K, 30), (K,)),
    Case("kitchen speaker a bit louder", volume(K, 25), (K,)),
    Case("turn the kitchen speaker up", volume(K, 30), (K,)),
    Case("turn up the living room speaker", volume(LR, 30), (LR,)),
    Case("a bit quieter in the kitchen", volume(K, 15), (K,)),
    Case("make the music quieter in the living room", volume(LR, 10), (LR,)),
    Case("turn the music up in the kitchen", volume(K, 30), (K,)),
    Case("volume up in the kitchen", volume(K, 30), (K,)),
    Case("max volume in the kitchen", volume(K, 100), (K,)),
    Case("set the volume to half in the living room", volume(LR, 50), (LR,)),
    Case("living room speaker volume to max", volume(LR, 100), (LR,)),
    # ---- halfway covers ----
    Case("open the bedroom blind halfway", shade(50), (SH,)),
    Case("close the bedroom shade halfway", shade(50), (SH,), sim(SH, position=100)),
    Case("bedroom shade halfway", shade(50), (SH,)),
    Case("open the blinds in the bedroom half way", shade(50), (SH,)),
    Case("set the bedroom curtains to half", shade(50), (SH,)),
    # ---- synonyms: song/track/tune, blind/curtain/shutter, music/speaker/sonos, heating/hvac/ac, lamp ----
    Case("next song in the living room", track(LR, SECOND), (LR,), playing(LR)),
    Case("skip this track on the kitchen speaker", track(K, SECOND), (K,), playing(K)),
    Case("next tune in the kitchen", track(K, SECOND), (K,), playing(K)),
    Case("skip this tune in the kitchen", track(K, SECOND), (K,), playing(K)),
    Case("previous song in the kitchen", track(K, LAST), (K,), playing(K)),
    Case("go back a song in the living room", track(LR, LAST), (LR,), playing(LR)),
    Case("close the bedroom curtains", shade(0), (SH,), sim(SH, position=100)),
    Case("open the bedroom shutters", shade(100), (SH,)),
    Case("stop the sonos in the kitchen", transport(K, "PAUSED_PLAYBACK"), (K,), playing(K)),
    Case("turn off the music in the kitchen", transport(K, "PAUSED_PLAYBACK"), (K,), playing(K)),
    Case("turn on the music in the living room", transport(LR, "PLAYING"), (LR,), playing(LR, paused=True)),
    Case("pause the sonos in the kitchen", transport(K, "PAUSED_PLAYBACK"), (K,), playing(K)),
    Case("set the hvac to 22", target(22.0), (T,)),
    Case("set the ac to 19", target(19.0), (T,)),
    Case("turn on the hvac", mode("auto"), (T,), sim(T, mode="off")),
    Case("turn on the bedroom lamp", power(BL, True), (BL,)),
    Case("switch off the kitchen lamp", power(KL, False), (KL,), ON50),
    # ---- terse, without a verb ----
    Case("thermostat to 21 degrees", target(21.0), (T,)),
    Case("heating 20", target(20.0), (T,)),
    Case("heating to 22.5", target(22.5), (T,)),
    Case("hallway thermostat 19 degrees", target(19.0), (T,)),
    Case("thermostat 23°", target(23.0), (T,)),
    Case("hallway temperature 21", target(21.0), (T,)),
    Case("kitchen speaker volume 15%", volume(K, 15), (K,)),
    Case("kitchen volume 15", volume(K, 15), (K,)),
    Case("volume 40 in the living room", volume(LR, 40), (LR,)),
    Case("living room speaker volume to 35 percent", volume(LR, 35), (LR,)),
    Case("kitchen light 40%", bright(KL, 40), (KL,)),
    Case("kitchen lights at 30%", bright(KL, 30), (KL,)),
    Case("bedroom light at 70 percent", bright(BL, 70), (BL,)),
    Case("bedroom shade 30%", shade(30), (SH,)),
    Case("bedroom curtains to 60%", shade(60), (SH,)),
    Case("bedroom blind 80 percent", shade(80), (SH,)),
    Case("living room lamp off", power(LAMP, False), (LAMP,), ON50),
    Case("kitchen lights on", power(KL, True), (KL,)),
    Case("heating off", mode("off"), (T,)),
    Case("heating on", mode("heat"), (T,), sim(T, mode="off")),
    Case("music off in the kitchen", transport(K, "PAUSED_PLAYBACK"), (K,), playing(K)),
    Case("kitchen music off", transport(K, "PAUSED_PLAYBACK"), (K,), playing(K)),
    # ---- media names with filler words ----
    Case("play My Favorites playlist in the kitchen", track(K, "My Favorites"), (K,)),
    Case("play the playlist My Favorites in the living room", track(LR, "My Favorites"), (LR,)),
    Case("play the Jazz Classics playlist on the kitchen speaker", track(K, "Jazz Classics"), (K,)),
    Case("the kitchen", track(K, "My Favorites"), (K,), before=("play My Favorites playlist",)),
    # ---- short follow-ups on the same sender's last command ----
    Case("and the bedroom too", power(BL, True), (BL,), before=("turn on the kitchen light",)),
    Case("the hallway as well", power(HL, True), (HL,), before=("turn on the kitchen light",)),
    Case("and the bedroom as well", bright(BL, 40), (BL,), before=("set the kitchen light to 40%",)),
    Case("turn it off", power(KL, False), (KL,), before=("turn on the kitchen light",)),
    Case("switch it back on", power(BL, True), (BL,), ON50, before=("turn off the bedroom light",)),
    Case("a bit more", bright(KL, 70), (KL,), ON50, before=("make the kitchen light a bit brighter",)),
    Case("a bit brighter", bright(KL, 60), (KL,), sim(KL, brightness=50), before=("turn on the kitchen light",)),
    Case("a bit more", bright(KL, 50), (KL,), before=("kitchen light 40%",)),
    Case("now 70%", bright(KL, 70), (KL,), before=("set the kitchen light to 40%",)),
    Case("more", volume(K, 40), (K,), before=("louder in the kitchen",)),
    Case("less", volume(K, 20), (K,), before=("louder in the kitchen",)),
    Case("louder", volume(K, 40), (K,), before=("set the kitchen speaker volume to 30",)),
    Case("now 15%", volume(K, 15), (K,), before=("set the kitchen speaker volume to 30",)),
    Case("a bit more", target(22.0), (T,), before=("warmer",)),
    Case("now 19 degrees", target(19.0), (T,), before=("turn the heating up",)),
    Case("and the kitchen too", track(K, SECOND), (K,), playing(K, LR), before=("next song in the living room",)),
    Case("and the living room too", transport(LR, "PAUSED_PLAYBACK"), (LR,), playing(K, LR),
         before=("pause the music in the kitchen",)),
    Case("again", track(LR, PLAYLIST[2]["title"]), (LR,), playing(LR), before=("next song in the living room",)),
    Case("close it", shade(0), (SH,), before=("open the bedroom blind halfway",)),
    Case("open it", shade(100), (SH,), sim(SH, position=100), before=("close the bedroom shade",)),
    Case("lock it", locked(True), (DOOR,), sim(DOOR, locked=False), before=("unlock the front door",)),
]


@pytest.mark.parametrize("case", ACTS, ids=[" / ".join((*c.before, c.text)) for c in ACTS])
@IN_MODULE_LOOP
async def test_sentence_acts_on_the_simulated_home(case: Case, home: SimHome, mclaw: Claw) -> None:
    if case.setup is not None:
        case.setup(home)
    sender = new_sender()
    for earlier in case.before:
        await say(mclaw, earlier, sender)
    clear(home)
    result = await say(mclaw, case.text, sender)
    assert result.tier == "intent", result.reply
    case.check(home)
    assert touched(home) == set(case.targets), (result.reply, touched(home))
    assert result.actions, result.reply
    assert mclaw.store.inbox_get(result.inbox_id)["status"] == "done"


# ---- sentences that must not act: a question back, or not a local command at all --------------------
# (sentence, earlier sentences of the same sender, a fragment of the reply or None)
QUIET: list[tuple[str, tuple[str, ...], str | None]] = [
    ("it's cold outside", (), None),
    ("the weather is warmer today", (), None),
    ("is it cold in here", (), None),
    ("tell me more", (), None),
    ("I'm feeling better", (), None),
    ("more", (), "More of what?"),
    ("a bit less", (), "More of what?"),
    ("turn it off", (), "Which device do you mean?"),
    ("switch it back on", (), "Which device do you mean?"),
    ("and the kitchen too", (), "What should I do with the"),
    ("now 50%", (), "Which device should I set?"),
    ("a bit brighter", (), "Which light do you mean"),
    ("louder", (), "Which speaker do you mean"),
    ("play My Favorites playlist", (), "Which speaker do you mean"),
    ("more", ("what's the temperature in the hallway",), "More of what?"),
    ("make it 20 degrees", ("turn on the kitchen light",), "can't be set to a temperature"),
    ("lock it", ("turn on the kitchen light",), "can't be locked or unlocked"),
    ("more", ("open the bedroom blind halfway",), "can't make the bedroom shade more or less"),
    ("more", ("turn off the kitchen light",), "More of what?"),
    ("again", ("turn off the kitchen light and turn on the bedroom light",), "say it again in full"),
    ("turn it off", ("turn on the toaster",), "Which device do you mean?"),
]


@pytest.mark.parametrize(("text", "before", "said"), QUIET, ids=[" / ".join((*q[1], q[0])) for q in QUIET])
@IN_MODULE_LOOP
async def test_sentence_does_not_act(text: str, before: tuple[str, ...], said: str | None, home: SimHome,
                                     mclaw: Claw) -> None:
    sender = new_sender()
    for earlier in before:
        await say(mclaw, earlier, sender)
    clear(home)
    start = {name: dict(home.sim(name).state) for name in ALL_SIMS if name not in (K, LR)}
    result = await say(mclaw, text, sender)
    assert touched(home) == set(), result.reply
    assert not result.actions
    assert {name: dict(home.sim(name).state) for name in start} == start
    if said is None:  # not a local command: with no LLM configured, the fallback
        assert result.tier == "fallback", result.reply
    else:
        assert result.tier == "intent" and said.lower() in result.reply.lower(), result.reply


def test_the_tables_are_big_enough() -> None:
    assert len(ACTS) >= 70 and len(QUIET) >= 8
    assert len({(c.before, c.text) for c in ACTS}) == len(ACTS)


# ---- the policy still applies: safe range, confirmations, and a guest's own follow-ups -----------------
@IN_MODULE_LOOP
async def test_warmer_outside_the_safe_range_asks_first(home: SimHome, mclaw: Claw) -> None:
    home.sim(T).change({"target": 26.0})
    clear(home)
    sender = new_sender()
    asked = await say(mclaw, "it's cold in here", sender)
    assert asked.tier == "confirm" and "27" in asked.reply, asked.reply
    assert home.sim(T).state["target"] == 26.0 and touched(home) == set()
    done = await say(mclaw, "yes", sender)
    assert done.tier == "confirm", done.reply
    assert home.sim(T).state["target"] == 27.0


@IN_MODULE_LOOP
async def test_a_follow_up_is_the_senders_own(home: SimHome, mclaw: Claw) -> None:
    owner, guest = new_sender(), "guest-values"
    await say(mclaw, "turn on the kitchen light", owner)
    clear(home)
    theirs = await say(mclaw, "turn it off", guest, standing="guest")
    assert "which device do you mean?" in theirs.reply.lower()
    assert home.sim(KL).state["on"] is True and touched(home) == set()


@IN_MODULE_LOOP
async def test_a_guests_follow_up_goes_through_the_same_confirmation(home: SimHome, mclaw: Claw) -> None:
    guest = "guest-values-2"
    home.sim(DOOR).change({"locked": False})
    locking = await say(mclaw, "lock the front door", guest, standing="guest")
    assert locking.tier == "intent" and home.sim(DOOR).state["locked"] is True
    clear(home)
    asked = await say(mclaw, "unlock it", guest, standing="guest")
    assert asked.tier == "confirm", asked.reply
    assert home.sim(DOOR).state["locked"] is True and touched(home) == set()
    await say(mclaw, "yes", guest, standing="guest")  # a guest cannot confirm a risky action
    assert home.sim(DOOR).state["locked"] is True and touched(home) == set()


async def test_with_a_model_an_unreferred_follow_up_goes_to_it(shared_home: SimHome, tmp_path: Path,
                                                                 scripted: ScriptedOpenAI) -> None:
    """"turn it off" with no local command to refer to may refer to what the model did: the model gets it
    (it sees the conversation); one that refers to a local command stays local."""
    shared_home.reset()
    scripted.push(reply("Which one should I turn off?"))
    async with running_claw(shared_home, tmp_path, llm=LLMSettings(base_url=scripted.base_url,
                                                                   model="scripted-model")) as c:
        asked = await say(c, "turn it off", "owner")
        assert asked.tier == "llm" and len(scripted.requests) == 1, asked.reply
        await say(c, "turn on the kitchen light", "owner")
        off = await say(c, "turn it off", "owner")
        assert off.tier == "intent" and shared_home.sim(KL).state["on"] is False, off.reply
        assert len(scripted.requests) == 1
    shared_home.reset()


# ---- pure: the step table, the relative resolution, the memory and where "warmer" goes ---------------
def test_steps_and_sizes() -> None:
    assert step_delta("brightness", "up") == STEPS["brightness"]["normal"] == 25
    assert step_delta("volume", "down", "small") == -5
    assert step_delta("temperature", "up", "big") == 2.0
    assert step_delta("volume", -20) == -20 and step_delta("volume", "15") == 15
    assert stepped(99, 5, 0, 100) == 100 and stepped(20.5, 1.0, 5, 35) == 21.5


def test_temperature_steps_resolve_from_the_target() -> None:
    found = Plan("ClawTemperatureStep", query=Query(("t",), "temperature_relative"),
                 slots={"temperature_delta": 0.5})
    assert resolve_relative(found, {"t": {"target_temperature": 20.3}}).steps == (
        Step("t", "set_temperature", {"temperature": 21.0}),)
    assert resolve_relative(found, {"t": {"target_temperature": 35.0}}).steps[0].args == {"temperature": 35.0}
    unread = resolve_relative(found, {"t": {"available": False}})
    assert unread.steps == () and "left it alone" in (unread.problem or "")


def _dev(dev_id: str, name: str, kind: Kind, room: str, caps: set[str]) -> Device:
    return Device(id=dev_id, name=name, kind=kind, room=room, capabilities=frozenset(caps), driver="http",
                  address="127.0.0.1:9")


TWO = [_dev("t:h", "thermostat", Kind.CLIMATE, "hallway", {"climate"}),
       _dev("t:l", "landing thermostat", Kind.CLIMATE, "landing", {"climate"}),
       _dev("l:k", "kitchen light", Kind.LIGHT, "kitchen", {"power", "brightness"}),
       _dev("l:b", "bedroom light", Kind.LIGHT, "bedroom", {"power", "brightness"})]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def engine() -> IntentEngine:
    eng = IntentEngine()
    eng.set_devices(TWO)
    return eng


def test_cold_in_here_finds_the_rooms_thermostat_or_asks(engine: IntentEngine) -> None:
    here = engine.parse("it's cold in here", "landing")
    assert here is not None and here.query == Query(("t:l",), "temperature_relative")
    asked = engine.parse("it's cold in here")
    assert asked is not None and asked.problem and asked.problem.startswith("Which thermostat do you mean")
    assert asked.followup is not None  # "the landing one" finishes it (claw.intents.followup)
    only = IntentEngine()
    only.set_devices(TWO[:1] + TWO[2:])
    found = only.parse("I'm cold", "kitchen")  # no thermostat in the kitchen: the only one there is
    assert found is not None and found.query == Query(("t:h",), "temperature_relative")


def test_a_bit_brighter_takes_the_default_area(engine: IntentEngine) -> None:
    found = engine.parse("a bit brighter", "bedroom")
    assert found is not None and found.query == Query(("l:b",), "brightness_relative")
    assert found.slots["brightness_delta"] == 10


def test_the_last_command_expires_and_is_per_sender() -> None:
    clock = Clock()
    recent = Recent(ttl=120, clock=clock)
    eng = IntentEngine(recent=recent)
    eng.set_devices(TWO)
    assert eng.parse("turn on the kitchen light", sender="a") is not None and len(recent) == 1
    off = eng.parse("turn it off", sender="a")
    assert off is not None and off.steps == (Step("l:k", "turn_off", {}),)
    other = eng.parse("turn it off", sender="b")
    assert other is not None and other.steps == () and other.problem
    clock.now += 121
    late = eng.parse("turn it off", sender="a")
    assert late is not None and late.steps == () and "Which device" in (late.problem or "")
    assert recent.get("a") is None


def test_only_acting_plans_are_remembered() -> None:
    assert acted(Plan("HassGetState", query=Query(("x",), "state"))) is None
    assert acted(Plan("HassTurnOn", problem="no")) is None
    assert acted(Plan("HassTurnOn", steps=(Step("x", "turn_on"), Step("x", "turn_on")))) == Last("HassTurnOn", {},
                                                                                                  ("x",))
    recent = Recent(size=2)
    for who in ("a", "b", "c"):
        recent.put(who, Last("HassTurnOn", {}, ("x",)))
    assert len(recent) == 2 and recent.get("a") is None
