"""House-wide and area-wide targets, plurals, "everything", compound commands: real sentences through the claw
against a simulated home with several lights, blinds and locks per room, asserting the simulators' state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from claw.agent.policy import assess
from claw.config import SafetySettings
from claw.events import InboundMessage, TurnResult
from claw.intents import compound, scope
from claw.intents.engine import IntentEngine
from claw.intents.plan import plan
from claw.intents.types import Plan, Step
from claw.runtime import Claw
from devices.models import Device, Kind
from devices.sim.home import SimHome, random_loopback_base
from devices.sim.sonos import SonosSimPlayer
from tests.module_claw import module_claw

HOME_YAML = """
name: Scope test house
devices:
  - {type: sonos, name: Living Room, room: living room, aliases: [living room speaker]}
  - {type: sonos, name: Kitchen, room: kitchen, aliases: [kitchen speaker]}
  - {type: light, name: kitchen light, room: kitchen}
  - {type: light, name: kitchen spots, room: kitchen}
  - {type: light, name: living room lamp, room: living room, aliases: [lamp]}
  - {type: light, name: bedroom light, room: bedroom}
  - {type: light, name: hallway light, room: hallway}
  - {type: thermostat, name: hallway thermostat, room: hallway, aliases: [thermostat],
     state: {mode: heat, target: 20.5, temperature: 19.0}}
  - {type: shade, name: bedroom shade, room: bedroom, aliases: [bedroom blind]}
  - {type: shade, name: kitchen blind, room: kitchen}
  - {type: shade, name: living room blind, room: living room}
  - {type: lock, name: front door, room: hallway}
  - {type: lock, name: back door, room: kitchen}
  - {type: lock, name: patio door, room: kitchen}
  - {type: garage, name: garage door, room: garage}
"""
KL, KS, LAMP, BL, HL = "kitchen light", "kitchen spots", "living room lamp", "bedroom light", "hallway light"
LIGHTS = (KL, KS, LAMP, BL, HL)
K, LR = "Kitchen", "Living Room"
SPEAKERS = (K, LR)
T = "hallway thermostat"
SH, KB, LB = "bedroom shade", "kitchen blind", "living room blind"
BLINDS = (SH, KB, LB)
FD, BD, PD = "front door", "back door", "patio door"
LOCKS = (FD, BD, PD)
G = "garage door"
ALL_SIMS = (*LIGHTS, *SPEAKERS, T, *BLINDS, *LOCKS, G)
RED = [255, 0, 0]
JAZZ = "Jazz Classics"


# ---- one home and one claw for the module; every case starts from the home file's state -------------


@pytest.fixture(scope="module")
def scope_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHome]:
    path = tmp_path_factory.mktemp("scope-home") / "home.yaml"
    path.write_text(HOME_YAML, encoding="utf-8")
    sim = SimHome.load(path, ip_base=random_loopback_base())
    sim.start()
    yield sim
    sim.stop()



isolated_env, mclaw, home = module_claw('scope_home', 'scope')


ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
_senders = iter(range(1, 1_000_000))


async def say(claw: Claw, text: str, sender: str | None = None) -> TurnResult:
    """One turn as the owner; each case its own sender, so no question or confirmation carries over."""
    who = sender or f"owner-{next(_senders)}"
    return await claw.agent.ask(InboundMessage("console", who, text, standing="owner"))


def speaker(home: SimHome, name: str) -> SonosSimPlayer:
    sim = home.sim(name)
    assert isinstance(sim, SonosSimPlayer)
    return sim


def touched(home: SimHome) -> set[str]:
    return {name for name in ALL_SIMS if home.sim(name).commands}


def snapshot(home: SimHome) -> dict[str, Any]:
    """What every simulator holds (the thermostat's reading drifts on its own: its settings only)."""
    out: dict[str, Any] = {n: home.sim(n).state for n in ALL_SIMS if n not in (*SPEAKERS, T)}
    out[T] = {k: v for k, v in home.sim(T).state.items() if k not in ("sensors", "temperature")}
    for name in SPEAKERS:
        player = speaker(home, name)
        out[name] = (player.transport_state, player.volume, player.muted, player.current["title"])
    return out


# ---- setups and checks -------------------------------------------------------------------------------
Fn = Callable[[SimHome], None]


def on(*names: str, **extra: Any) -> Fn:
    return lambda home: [home.sim(n).change({"on": True, **extra}) for n in names] and None


def change(*names: str, **state: Any) -> Fn:
    return lambda home: [home.sim(n).change(state) for n in names] and None


def playing(*names: str) -> Fn:
    return lambda home: [speaker(home, n).state.handle("Play", {}) for n in names] and None


def paused(*names: str) -> Fn:
    def setup(home: SimHome) -> None:
        for n in names:
            speaker(home, n).state.handle("Play", {})
            speaker(home, n).state.handle("Pause", {})
    return setup


def muted(*names: str) -> Fn:
    return lambda home: [speaker(home, n).state.handle("SetMute", {"DesiredMute": "1", "Channel": "Master"})
                         for n in names] and None


def both(*fns: Fn) -> Fn:
    return lambda home: [f(home) for f in fns] and None


def lights_are(on_: bool, *names: str, brightness: int | None = None, rgb: list[int] | None = None) -> Fn:
    def check(home: SimHome) -> None:
        for n in names:
            state = home.sim(n).state
            assert state["on"] is on_, (n, state)
            if brightness is not None:
                assert state["brightness"] == brightness, (n, state)
            if rgb is not None:
                assert state["rgb"] == rgb, (n, state)
    return check


def transport(state: str, *names: str, title: str | None = None) -> Fn:
    def check(home: SimHome) -> None:
        for n in names:
            assert speaker(home, n).transport_state == state, n
            if title is not None:
                assert speaker(home, n).current["title"] == title, n
    return check


def volume_is(level: int, *names: str) -> Fn:
    def check(home: SimHome) -> None:
        for n in names:
            assert speaker(home, n).volume == level, n
    return check


def muted_is(value: bool, *names: str) -> Fn:
    def check(home: SimHome) -> None:
        for n in names:
            assert speaker(home, n).muted is value, n
    return check


def position(pos: int, *names: str) -> Fn:
    def check(home: SimHome) -> None:
        for n in names:
            assert home.sim(n).state["position"] == pos, n
    return check


def locked(value: bool, *names: str) -> Fn:
    def check(home: SimHome) -> None:
        for n in names:
            assert home.sim(n).state["locked"] is value, n
    return check


def all_of(*checks: Fn) -> Fn:
    def check(home: SimHome) -> None:
        for one in checks:
            one(home)
    return check


@dataclass(frozen=True)
class Case:
    """A sentence, the simulators it may touch, and what they must hold afterwards."""

    text: str
    check: Fn
    targets: tuple[str, ...]
    setup: Fn | None = None
    reply: str | None = None  # a fragment the reply must hold (case-insensitive)


ALL_ON = on(*LIGHTS)
UNLOCKED = change(*LOCKS, locked=False)
OPEN = change(*BLINDS, position=100)
BUSY = both(ALL_ON, playing(*SPEAKERS))  # a lived-in evening: lights on, music playing
KITCHEN = (KL, KS)

CASES: list[Case] = [
    # every light in the house, on
    Case("turn on every light", lights_are(True, *LIGHTS), LIGHTS),
    Case("turn on all the lights", lights_are(True, *LIGHTS), LIGHTS),
    Case("light up the whole house", lights_are(True, *LIGHTS), LIGHTS),
    Case("turn on the lights everywhere", lights_are(True, *LIGHTS), LIGHTS),
    Case("turn on the lights in every room", lights_are(True, *LIGHTS), LIGHTS),
    Case("lights on everywhere", lights_are(True, *LIGHTS), LIGHTS),
    Case("all lights on", lights_are(True, *LIGHTS), LIGHTS),
    Case("switch on all the lamps", lights_are(True, *LIGHTS), LIGHTS),
    Case("turn all the lights on", lights_are(True, *LIGHTS), LIGHTS),
    Case("illuminate the whole house", lights_are(True, *LIGHTS), LIGHTS),
    Case("turn on every single light", lights_are(True, *LIGHTS), LIGHTS),
    Case("Turn on all lights in the house please.", lights_are(True, *LIGHTS), LIGHTS),
    Case("light up everywhere", lights_are(True, *LIGHTS), LIGHTS),
    # every light, off
    Case("turn off all the lights", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("all lights off", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("all the lights off", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("turn off the lights in the house", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("turn off the lights in all rooms", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("turn off the lights everywhere", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("switch off every light", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("turn off every light in the house", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("lights off everywhere", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("turn all the lights off", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    Case("turn out all the lights", lights_are(False, *LIGHTS), LIGHTS, ALL_ON),
    # plurals in one room (the kitchen has two lights)
    Case("turn on the kitchen lights", lights_are(True, *KITCHEN), KITCHEN),
    Case("turn on all the lights in the kitchen", lights_are(True, *KITCHEN), KITCHEN),
    Case("turn off both lights in the kitchen", lights_are(False, *KITCHEN), KITCHEN, ALL_ON),
    Case("switch off all the kitchen lights", lights_are(False, *KITCHEN), KITCHEN, ALL_ON),
    # every light: brightness and colour
    Case("set all the lights to 50%", lights_are(True, *LIGHTS, brightness=50), LIGHTS, reply="50%"),
    Case("set every light to 30%", lights_are(True, *LIGHTS, brightness=30), LIGHTS),
    Case("dim all the lights to 20%", lights_are(True, *LIGHTS, brightness=20), LIGHTS, ALL_ON),
    Case("make all the lights red", lights_are(True, *LIGHTS, rgb=RED), LIGHTS, ALL_ON, reply="red"),
    Case("set the lights everywhere to 40%", lights_are(True, *LIGHTS, brightness=40), LIGHTS),
    # everything: lights off and music paused; locks, blinds, the garage and the thermostat left alone
    Case("turn everything off", all_of(lights_are(False, *LIGHTS), transport("PAUSED_PLAYBACK", *SPEAKERS)),
         (*LIGHTS, *SPEAKERS), BUSY, reply="as they are"),
    Case("turn off everything", lights_are(False, *LIGHTS), (*LIGHTS, *SPEAKERS), BUSY),
    Case("switch everything off", lights_are(False, *LIGHTS), (*LIGHTS, *SPEAKERS), BUSY),
    Case("shut everything off", lights_are(False, *LIGHTS), (*LIGHTS, *SPEAKERS), BUSY),
    Case("turn it all off", lights_are(False, *LIGHTS), (*LIGHTS, *SPEAKERS), BUSY),
    Case("everything off", lights_are(False, *LIGHTS), (*LIGHTS, *SPEAKERS), BUSY),
    Case("turn off the whole house", lights_are(False, *LIGHTS), (*LIGHTS, *SPEAKERS), BUSY),
    Case("Turn off all the devices.", lights_are(False, *LIGHTS), (*LIGHTS, *SPEAKERS), BUSY),
    Case("switch everything off in the kitchen",
         all_of(lights_are(False, *KITCHEN), transport("PAUSED_PLAYBACK", K), transport("PLAYING", LR),
                lights_are(True, LAMP, BL, HL)), (*KITCHEN, K), BUSY),
    Case("turn off everything in the living room",
         all_of(lights_are(False, LAMP), transport("PAUSED_PLAYBACK", LR), transport("PLAYING", K)), (LAMP, LR), BUSY),
    Case("turn everything in the bedroom off", lights_are(False, BL), (BL,), both(BUSY, OPEN)),
    Case("turn everything on in the kitchen", lights_are(True, *KITCHEN), KITCHEN),
    Case("turn on everything in the hallway", lights_are(True, HL), (HL,), UNLOCKED),
    # speakers everywhere
    Case("turn off all the speakers", transport("PAUSED_PLAYBACK", *SPEAKERS), SPEAKERS, playing(*SPEAKERS)),
    Case("pause all the music", transport("PAUSED_PLAYBACK", *SPEAKERS), SPEAKERS, playing(*SPEAKERS)),
    Case("pause the music everywhere", transport("PAUSED_PLAYBACK", *SPEAKERS), SPEAKERS, playing(*SPEAKERS)),
    Case("stop all the music", transport("PAUSED_PLAYBACK", *SPEAKERS), SPEAKERS, playing(*SPEAKERS)),
    Case("stop the music in every room", transport("PAUSED_PLAYBACK", *SPEAKERS), SPEAKERS, playing(*SPEAKERS)),
    Case("pause both speakers", transport("PAUSED_PLAYBACK", *SPEAKERS), SPEAKERS, playing(*SPEAKERS)),
    Case("mute all speakers", muted_is(True, *SPEAKERS), SPEAKERS),
    Case("mute the music everywhere", muted_is(True, *SPEAKERS), SPEAKERS),
    Case("unmute all the speakers", muted_is(False, *SPEAKERS), SPEAKERS, muted(*SPEAKERS)),
    Case("resume the music everywhere", transport("PLAYING", *SPEAKERS), SPEAKERS, paused(*SPEAKERS)),
    Case("set the volume everywhere to 30", volume_is(30, *SPEAKERS), SPEAKERS),
    Case("set all speakers to 25%", volume_is(25, *SPEAKERS), SPEAKERS),
    Case("play jazz everywhere", transport("PLAYING", *SPEAKERS, title=JAZZ), SPEAKERS),
    Case("play my jazz favourite on all speakers", transport("PLAYING", *SPEAKERS, title=JAZZ), SPEAKERS),
    # blinds
    Case("close all the blinds", position(0, *BLINDS), BLINDS, OPEN),
    Case("close the blinds everywhere", position(0, *BLINDS), BLINDS, OPEN),
    Case("open every blind", position(100, *BLINDS), BLINDS),
    Case("close all the blinds in the living room", position(0, LB), (LB,), OPEN),
    Case("open the kitchen blinds", position(100, KB), (KB,)),
    Case("set all the blinds to 50%", position(50, *BLINDS), BLINDS),
    Case("open all the shades in the house", position(100, *BLINDS), BLINDS),
    # locks: locking is the safe direction, no confirmation
    Case("lock all the doors", locked(True, *LOCKS), LOCKS, UNLOCKED),
    Case("lock every door", locked(True, *LOCKS), LOCKS, UNLOCKED),
    Case("lock the doors everywhere", locked(True, *LOCKS), LOCKS, UNLOCKED),
    Case("lock kitchen doors", all_of(locked(True, BD, PD), locked(False, FD)), (BD, PD), UNLOCKED),
    Case("lock the doors in the kitchen", locked(True, BD, PD), (BD, PD), UNLOCKED),
    Case("lock all the locks in the kitchen", locked(True, BD, PD), (BD, PD), UNLOCKED),
    Case("lock up", locked(True, *LOCKS), LOCKS, UNLOCKED),
    Case("lock up the house", locked(True, *LOCKS), LOCKS, UNLOCKED),
    # compound commands: one turn, one reply, every half done
    Case("turn off the lights and lock the front door", all_of(lights_are(False, *LIGHTS), locked(True, FD)),
         (*LIGHTS, FD), both(ALL_ON, UNLOCKED), reply="locked"),
    Case("turn on the kitchen light and set it to 40%", lights_are(True, KL, brightness=40), (KL,), reply="40%"),
    Case("pause the music and close the blinds", all_of(transport("PAUSED_PLAYBACK", *SPEAKERS), position(0, *BLINDS)),
         (*SPEAKERS, *BLINDS), both(playing(*SPEAKERS), OPEN)),
    Case("turn off the kitchen light, then turn on the bedroom light",
         all_of(lights_are(False, KL), lights_are(True, BL)), (KL, BL), on(KL)),
    Case("turn off the kitchen light then turn on the bedroom light",
         all_of(lights_are(False, KL), lights_are(True, BL)), (KL, BL), on(KL)),
    Case("turn off the kitchen light and the bedroom light", lights_are(False, KL, BL), (KL, BL), ALL_ON),
    Case("turn on the lights in the kitchen and the living room", lights_are(True, KL, KS, LAMP), (KL, KS, LAMP)),
    Case("turn on the kitchen and bedroom lights", lights_are(True, KL, KS, BL), (KL, KS, BL)),
    Case("open the kitchen and living room blinds", position(100, KB, LB), (KB, LB)),
    Case("lock the front door and the back door", locked(True, FD, BD), (FD, BD), UNLOCKED),
    Case("turn on the kitchen light and make it red", lights_are(True, KL, rgb=RED), (KL,), reply="red"),
    Case("turn on the kitchen light and play jazz in the kitchen",
         all_of(lights_are(True, KL), transport("PLAYING", K, title=JAZZ)), (KL, K)),
    Case("play jazz on the living room and kitchen speakers", transport("PLAYING", *SPEAKERS, title=JAZZ), SPEAKERS),
    Case("turn off the lights, lock the doors and close the blinds",
         all_of(lights_are(False, *LIGHTS), locked(True, *LOCKS), position(0, *BLINDS)),
         (*LIGHTS, *LOCKS, *BLINDS), both(ALL_ON, UNLOCKED, OPEN)),
    Case("turn on the kitchen light and the hallway light too", lights_are(True, KL, HL), (KL, HL)),
    Case("turn on the bedroom light; turn off the hallway light",
         all_of(lights_are(True, BL), lights_are(False, HL)), (BL, HL), on(HL)),
    Case("turn off the living room lamp and mute the kitchen speaker",
         all_of(lights_are(False, LAMP), muted_is(True, K)), (LAMP, K), on(LAMP)),
    Case("close the kitchen blind and lock the back door", all_of(position(0, KB), locked(True, BD)), (KB, BD),
         both(OPEN, UNLOCKED)),
]


@ON_MODULE_LOOP
@pytest.mark.parametrize("case", CASES, ids=[c.text for c in CASES])
async def test_sentence_acts_on_the_simulated_home(case: Case, home: SimHome, mclaw: Claw) -> None:
    if case.setup is not None:
        case.setup(home)
    for name in ALL_SIMS:
        home.sim(name).commands.clear()
    result = await say(mclaw, case.text)
    assert result.tier == "intent", result.reply
    assert result.reply.startswith("Done"), result.reply
    assert "YES" not in result.reply
    if case.reply:
        assert case.reply.lower() in result.reply.lower(), result.reply
    case.check(home)
    assert touched(home) == set(case.targets), result.reply
    assert len(result.actions) >= len(case.targets)
    assert mclaw.store.inbox_get(result.inbox_id)["status"] == "done"


def test_the_acting_table_is_large_and_distinct() -> None:
    assert len(CASES) >= 70
    assert len({c.text.lower() for c in CASES}) == len(CASES)


# ---- sentences that must not act, or must ask first ----------------------------------------------------
@dataclass(frozen=True)
class Quiet:
    """A sentence that changes nothing: what its reply must say, and words it must not call a device."""

    text: str
    says: tuple[str, ...] = ()
    never: tuple[str, ...] = ()
    setup: Fn | None = None
    tier: str = "intent"


GARAGE_OPEN = change(G, door="open")
QUIET: list[Quiet] = [
    # floors: rooms carry none, so nothing is done and the reply says why
    Quiet("turn off the lights downstairs", ("downstairs", "no floors", "kitchen"), setup=ALL_ON),
    Quiet("turn off everything upstairs", ("upstairs", "no floors"), setup=BUSY),
    Quiet("turn on the lights on the first floor", ("on the first floor",)),
    Quiet("close the blinds upstairs", ("upstairs",), setup=OPEN),
    # no stray word is taken for a device: "house", "every", "all the rooms"
    Quiet("turn on the house music", never=("“house",)),
    Quiet("turn on every toaster", ("toaster",), never=("“every",)),
    Quiet("turn on all the rooms", never=("“all", "“rooms", "“the")),
    # "play rock and roll" stays one search (it asks which speaker; nothing plays)
    Quiet("play rock and roll", ("which speaker",)),
    # one half not understood (no LLM): nothing happens, the reply names both parts
    Quiet("turn off the lights and make me a sandwich", ("“turn off the lights”", "“make me a sandwich”",
                                                         "did nothing"), setup=ALL_ON, tier="fallback"),
    # "everything" never moves a garage door
    Quiet("turn everything off in the garage", ("nothing to switch off", "garage door"), setup=GARAGE_OPEN),
    Quiet("turn everything on in the garage", ("nothing to switch on",)),
    # unlocking stays risky however it is said: one confirmation naming every lock, nothing unlocked yet
    Quiet("unlock all the doors", ("YES", "unlock the front door", "unlock the back door", "unlock the patio door"),
          tier="confirm"),
    Quiet("unlock all locks in the kitchen", ("YES", "unlock the back door", "unlock the patio door"),
          never=("front door",), tier="confirm"),
    Quiet("unlock the doors in the kitchen", ("YES", "back door", "patio door"), never=("front door",),
          tier="confirm"),
]


@ON_MODULE_LOOP
@pytest.mark.parametrize("case", QUIET, ids=[c.text for c in QUIET])
async def test_sentence_changes_nothing(case: Quiet, home: SimHome, mclaw: Claw) -> None:
    if case.setup is not None:
        case.setup(home)
    for name in ALL_SIMS:
        home.sim(name).commands.clear()
    before = snapshot(home)
    result = await say(mclaw, case.text)
    assert result.tier == case.tier, result.reply
    assert not result.reply.startswith("Done"), result.reply
    for words in case.says:
        assert words.lower() in result.reply.lower(), result.reply
    for words in case.never:
        assert words.lower() not in result.reply.lower(), result.reply
    assert result.actions == ()
    assert home.physical_commands() == 0
    assert snapshot(home) == before


def test_the_quiet_table_is_large_enough() -> None:
    assert len(QUIET) >= 8 and len({c.text for c in QUIET}) == len(QUIET)


@ON_MODULE_LOOP
@pytest.mark.parametrize("locks_at_start", [True, False])
async def test_everything_off_never_unlocks_opens_or_moves_anything(locks_at_start: bool, home: SimHome,
                                                                     mclaw: Claw) -> None:
    both(BUSY, OPEN, GARAGE_OPEN, change(*LOCKS, locked=locks_at_start))(home)
    for name in ALL_SIMS:
        home.sim(name).commands.clear()
    left = (*BLINDS, *LOCKS, G, T)
    before = {n: v for n, v in snapshot(home).items() if n in left}
    result = await say(mclaw, "turn everything off")
    assert result.tier == "intent" and "YES" not in result.reply, result.reply
    lights_are(False, *LIGHTS)(home)
    transport("PAUSED_PLAYBACK", *SPEAKERS)(home)
    assert {n: v for n, v in snapshot(home).items() if n in left} == before
    assert not touched(home) & set(left)
    assert "as they are" in result.reply and "3 locks" in result.reply and "garage door" in result.reply


# ---- risky steps: held for ONE confirmation, the harmless ones run at once ------------------------------
@ON_MODULE_LOOP
@pytest.mark.parametrize(("text", "setup", "now", "held", "after_yes"), [
    ("turn off the lights and close the garage door", both(ALL_ON, GARAGE_OPEN), lights_are(False, *LIGHTS),
     "close the garage door", lambda home: _is(home.sim(G).state["door"], "closed")),
    ("close the garage and turn off the hallway light", both(on(HL), GARAGE_OPEN), lights_are(False, HL),
     "close the garage door", lambda home: _is(home.sim(G).state["door"], "closed")),
    ("turn off the lights and unlock the front door", ALL_ON, lights_are(False, *LIGHTS),
     "unlock the front door", locked(False, FD)),
    ("lock the back door and unlock the front door", change(BD, locked=False), locked(True, BD),
     "unlock the front door", locked(False, FD)),
], ids=lambda v: v if isinstance(v, str) and " " in v else "")
async def test_compound_holds_only_the_risky_half(text: str, setup: Fn, now: Fn, held: str, after_yes: Fn,
                                                  home: SimHome, mclaw: Claw) -> None:
    setup(home)
    for name in ALL_SIMS:
        home.sim(name).commands.clear()
    sender = f"owner-risky-{next(_senders)}"
    asked = await say(mclaw, text, sender)
    assert asked.tier == "confirm", asked.reply
    now(home)  # the harmless half is done already
    prompt = asked.reply[asked.reply.index("Just checking"):] if "Just checking" in asked.reply else asked.reply
    assert "YES" in prompt and held in prompt, asked.reply
    assert "turn off" not in prompt and "lock the back door" not in prompt  # only the risky step is asked
    done_now = home.physical_commands()
    yes = await say(mclaw, "yes", sender)
    assert yes.tier == "confirm", yes.reply
    after_yes(home)
    assert home.physical_commands() == done_now + 1  # YES did exactly the held step


def _is(got: object, want: object) -> None:
    assert got == want


@ON_MODULE_LOOP
async def test_a_device_with_a_risky_step_keeps_its_other_steps_with_it(home: SimHome, mclaw: Claw) -> None:
    """ "unlock the front door and then lock it": the lock must not run before the held unlock."""
    result = await say(mclaw, "unlock the front door and then lock it")
    assert result.tier == "confirm"
    assert "unlock the front door and lock the front door" in result.reply, result.reply
    assert home.physical_commands() == 0


@ON_MODULE_LOOP
async def test_a_half_that_cannot_be_done_is_said_after_the_other(home: SimHome, mclaw: Claw) -> None:
    on(KL)(home)
    result = await say(mclaw, "turn off the kitchen light and turn on the lights in the garage")
    assert result.reply.startswith("Done") and "no light in the garage" in result.reply, result.reply
    lights_are(False, KL)(home)
    assert touched(home) == {KL}


@ON_MODULE_LOOP
async def test_a_half_that_asks_back_is_finished_by_the_answer(home: SimHome, mclaw: Claw) -> None:
    playing(*SPEAKERS)(home)
    sender = f"owner-ask-{next(_senders)}"
    asked = await say(mclaw, "turn on the bedroom light and skip this song", sender)
    assert asked.reply.startswith("Done") and "Which speaker" in asked.reply, asked.reply
    lights_are(True, BL)(home)
    assert speaker(home, K).current["title"] == speaker(home, LR).current["title"]  # nothing skipped yet
    answered = await say(mclaw, "the kitchen one", sender)
    assert answered.tier == "intent", answered.reply
    assert speaker(home, K).current["title"] != speaker(home, LR).current["title"]


# ---- pure parts ----------------------------------------------------------------------------------------
def _dev(dev_id: str, name: str, kind: Kind, room: str, caps: set[str]) -> Device:
    return Device(id=dev_id, name=name, kind=kind, room=room, capabilities=frozenset(caps), driver="http",
                  address="127.0.0.1:9")


KIT = [
    _dev("l", "den light", Kind.LIGHT, "den", {"power", "brightness"}),
    _dev("h", "den heater", Kind.HEATER, "den", {"power"}),
    _dev("s", "coffee machine", Kind.SWITCH, "kitchen", {"power"}),
    _dev("m", "Den", Kind.SPEAKER, "den", {"media"}),
    _dev("k", "den door", Kind.LOCK, "den", {"lock"}),
    _dev("c", "den blind", Kind.COVER, "den", {"cover"}),
    _dev("g", "garage door", Kind.GARAGE, "garage", {"cover"}),
    _dev("t", "thermostat", Kind.CLIMATE, "den", {"climate"}),
]


def test_everything_table() -> None:
    off = scope.everything("HassTurnOff", {"everything": True}, KIT, None)
    assert off.steps == (Step("l", "turn_off"), Step("h", "turn_off"), Step("s", "turn_off"), Step("m", "pause"))
    assert off.notes == ("I left the lock, the blind, the garage door and the thermostat as they are.",)
    den = scope.everything("HassTurnOff", {"everything": True, "area": "den"}, KIT, None)
    assert {s.device_id for s in den.steps} == {"l", "h", "m"}
    on = scope.everything("HassTurnOn", {"everything": True}, KIT, None)
    assert on.steps == (Step("l", "turn_on"), Step("h", "turn_on"), Step("s", "turn_on"))  # music not started
    safety = SafetySettings()
    by_id = {d.id: d for d in KIT}
    assert [s.device_id for s in on.steps if assess(by_id[s.device_id], s.command, {}, safety)] == ["h"]
    here = scope.everything("HassTurnOff", {"everything": True, "here": True}, KIT, "kitchen")
    assert here.steps == (Step("s", "turn_off"),)
    garage = scope.everything("HassTurnOff", {"everything": True, "area": "garage"}, KIT, None)
    assert not garage.steps and "nothing to switch off in the garage" in (garage.problem or "")
    for found in (off, den, on):  # never a lock, cover or thermostat command
        assert not {s.command for s in found.steps} & {"unlock", "lock", "open", "close", "set_hvac_mode"}


def test_a_turn_command_without_a_kind_is_everything_and_never_unlocks() -> None:
    """Slots naming only a room (a follow-up, a terse sentence) go through the same table."""
    found = plan("HassTurnOff", {"area": "den"}, KIT)
    assert {s.device_id: s.command for s in found.steps} == {"l": "turn_off", "h": "turn_off", "m": "pause"}


def test_floors_are_not_known() -> None:
    found = plan("HassTurnOff", {"domain": "light", "scope_floor": "upstairs"}, KIT)
    assert not found.steps and "which rooms are upstairs" in (found.problem or "") and "den" in (found.problem or "")


def test_quantifiers_outside_names_only() -> None:
    assert scope.quantified("turn on every light", [])
    assert scope.quantified("pause the music everywhere", [])
    assert scope.quantified("close both blinds in the kitchen", ["kitchen", "blinds"])
    assert not scope.quantified("play all of me", ["all of me"])
    assert not scope.quantified("turn on the house lights", ["house lights"])
    assert not scope.quantified("turn on the kitchen light", ["kitchen light"])
    assert scope.widen({"all": True}, "den", True) == (None, False)
    assert scope.widen({}, "den", True) == ("den", True)


def test_stray_words_are_never_a_device() -> None:
    assert scope.stray_words("every toaster") == "toaster"
    assert scope.stray_words("all the rooms") == ""
    assert scope.stray_words("the whole house") == ""
    assert scope.stray_words("disco ball") == "disco ball"


def test_compound_pieces_and_groupings() -> None:
    assert compound.pieces("turn on the kitchen light") == []
    assert compound.pieces("play rock and roll") == ["play rock", "roll"]
    assert compound.pieces("turn off the kitchen light, then turn on the bedroom light") == [
        "turn off the kitchen light", "turn on the bedroom light"]
    assert compound.pieces("a and b; c then d") == ["a", "b", "c", "d"]
    assert compound.pieces("a and b and c and d and e") == []  # more than MAX_PARTS: one sentence
    text = "play rock and roll and turn off the lights"
    groupings = list(compound._groupings(compound.pieces(text), text))
    assert groupings[0] == ["play rock", "roll", "turn off the lights"]  # the finest first
    assert ["play rock and roll", "turn off the lights"] in groupings


def test_combine_keeps_order_and_says_what_was_not_done() -> None:
    a = Plan("HassTurnOff", steps=(Step("l", "turn_off"),), slots={"color": "red"})
    b = Plan("HassTurnOn", problem="There is no light in the garage.", slots={"color": "blue"})
    both_ = compound.combine([a, b, a])
    assert both_.steps == (Step("l", "turn_off"),) and both_.intent == compound.COMPOUND
    assert both_.notes == ("But there is no light in the garage.",) and "color" not in both_.slots
    only_problems = compound.combine([b, b])
    assert not only_problems.steps and only_problems.problem


@pytest.fixture(scope="module")
def engine(scope_home: SimHome) -> IntentEngine:
    eng = IntentEngine()
    eng.set_devices(scope_home.devices)
    return eng


@pytest.mark.parametrize(("text", "favorite"), [("play rock and roll", "rock and roll"),
                                                ("play rock and roll in the kitchen", "rock and roll"),
                                                ("play simon and garfunkel on the kitchen speaker",
                                                 "simon and garfunkel")])
def test_a_search_with_and_stays_one_search(engine: IntentEngine, text: str, favorite: str) -> None:
    found = engine.parse(text)
    assert found is not None and found.intent == "HassMediaSearchAndPlay", found
    assert found.slots["favorite"] == favorite


def test_a_compound_with_an_unknown_half_is_not_split(engine: IntentEngine) -> None:
    assert engine.parse("turn off the lights and make me a sandwich") is None
    assert engine.compound_gap("turn off the lights and make me a sandwich") == (
        ["turn off the lights"], ["make me a sandwich"])
    assert engine.compound_gap("write me a poem and sing it") is None
    assert engine.parse("remember that the kitchen light and the bedroom light are new").memory is not None


def test_everything_in_here_is_the_owners_room_or_a_question(engine: IntentEngine, scope_home: SimHome) -> None:
    names = {d.id: d.name for d in scope_home.devices}
    here = engine.parse("turn everything off in here", default_area="kitchen")
    assert here is not None and {names[s.device_id] for s in here.steps} == {KL, KS, K}
    asked = engine.parse("turn everything off in here", sender="owner-here")  # no room known for the owner
    assert asked is not None and not asked.steps and "Which room" in (asked.problem or "")
    answered = engine.parse("the bedroom", sender="owner-here")
    assert answered is not None and {names[s.device_id] for s in answered.steps} == {BL}
