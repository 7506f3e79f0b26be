"""No-op awareness through the claw: a device already in the asked state gets "already", no confirmation and no
device call; the same command acts when the state differs (the pure parts: tests/test_noop_pure.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from claw.agent.satisfied import check_steps
from claw.events import InboundMessage, TurnResult
from claw.intents.types import Plan, Step
from claw.runtime import Claw
from devices.sim.home import SimHome
from devices.sim.sonos import SonosSimPlayer
from tests.module_claw import module_claw

ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # the tests that use the module's claw

KL, LAMP, BL, HL = "kitchen light", "living room lamp", "bedroom light", "hallway light"
LIGHTS = (KL, LAMP, BL, HL)
K, LR = "Kitchen", "Living Room"
T, SH, DOOR, GARAGE = "hallway thermostat", "bedroom shade", "front door", "garage door"
ALL_SIMS = (*LIGHTS, K, LR, T, SH, DOOR, GARAGE)
RED = [255, 0, 0]


# ---- one home and one claw for the module; every case starts from the home file's state -----------------



isolated_env, mclaw, home = module_claw('shared_home', 'noop')


_senders = iter(range(1, 1_000_000))


async def say(claw: Claw, text: str, sender: str | None = None) -> TurnResult:
    """One turn as the owner; each case its own sender, so no question or confirmation carries over."""
    who = sender or f"owner-{next(_senders)}"
    return await claw.agent.ask(InboundMessage("console", who, text, standing="owner"))


def speaker(home: SimHome, name: str) -> SonosSimPlayer:
    sim = home.sim(name)
    assert isinstance(sim, SonosSimPlayer)
    return sim


# ---- setups (straight at the simulators, as a person at the switch would) ------------------------
Setup = Callable[[SimHome], None]


def sim(name: str, **changes: Any) -> Setup:
    return lambda home: home.sim(name).change(changes)


def lights(*names: str, **changes: Any) -> Setup:
    def setup(home: SimHome) -> None:
        for name in names:
            home.sim(name).change({"on": True, **changes})
    return setup


def sonos(name: str, *actions: str, volume: int | None = None, muted: bool | None = None) -> Setup:
    def setup(home: SimHome) -> None:
        state = speaker(home, name).state
        for action in actions:
            state.handle(action, {})
        if volume is not None:
            state.handle("SetVolume", {"DesiredVolume": str(volume), "Channel": "Master"})
        if muted is not None:
            state.handle("SetMute", {"DesiredMute": "1" if muted else "0", "Channel": "Master"})
    return setup


def both(*setups: Setup) -> Setup:
    def setup(home: SimHome) -> None:
        for one in setups:
            one(home)
    return setup


def prepare(home: SimHome, setup: Setup | None) -> None:
    if setup is not None:
        setup(home)
    for name in ALL_SIMS:
        home.sim(name).commands.clear()


def snapshot(home: SimHome) -> dict[str, Any]:
    """What every simulator holds (the thermostat's reading drifts on its own: its settings only)."""
    out: dict[str, Any] = {n: home.sim(n).state for n in ALL_SIMS if n not in (K, LR, T)}
    out[T] = {k: v for k, v in home.sim(T).state.items() if k != "sensors"}
    for name in (K, LR):
        player = speaker(home, name)
        out[name] = (player.transport_state, player.volume, player.muted, player.current["title"])
    return out


def no_pending(claw: Claw, result: TurnResult) -> None:
    row = claw.store.inbox_get(result.inbox_id)
    assert row is not None and row["status"] == "done"
    assert claw.store.confirmation_pending(row["sender"], time.time()) is None


# ---- already in the asked state: "already", no device call, no confirmation --------------------------
NOOPS: list[tuple[str, Setup | None, str]] = [
    ("pause the living room speaker", None, "The Living Room speaker isn't playing."),
    ("pause the music in the kitchen", sonos(K, "Play", "Pause"), "Kitchen speaker isn't playing"),
    ("stop the music in the living room", None, "isn't playing"),
    ("resume the kitchen speaker", sonos(K, "Play"), "The Kitchen speaker is already playing."),
    ("close the garage", None, "The garage door is already closed."),
    ("close the garage door", None, "The garage door is already closed."),
    ("open the garage door", sim(GARAGE, door="open"), "The garage door is already open."),
    ("turn off the kitchen light", None, "The kitchen light is already off."),
    ("turn on the kitchen light", lights(KL), "The kitchen light is already on."),
    ("turn off all the lights", None,
     "The kitchen light, living room lamp, bedroom light and hallway light are already off."),
    ("turn on the bedroom lights", lights(BL), "The bedroom light is already on."),
    ("turn off the lights in the hallway", None, "The hallway light is already off."),
    ("set the kitchen light to 40%", lights(KL, brightness=40), "The kitchen light is already at 40%."),
    ("set the bedroom light brightness to 25 percent", lights(BL, brightness=25), "already at 25%"),
    ("set the kitchen light to red", lights(KL, rgb=RED), "The kitchen light is already red."),
    ("brighten the kitchen light", lights(KL, brightness=100), "The kitchen light is already at 100%."),
    ("lock the front door", None, "The front door is already locked."),
    ("unlock the front door", sim(DOOR, locked=False), "The front door is already unlocked."),
    ("open the bedroom shade", sim(SH, position=100), "The bedroom shade is already open."),
    ("close the bedroom blind", None, "The bedroom shade is already closed."),
    ("set the bedroom shade to 50%", sim(SH, position=50), "The bedroom shade is already 50% open."),
    ("set the thermostat to 22 degrees", sim(T, target=22), "The hallway thermostat is already set to 22 °C."),
    ("set the thermostat to 30 degrees", sim(T, target=30), "already set to 30 °C"),  # risky range: no YES
    ("turn off the heating", sim(T, mode="off"), "The hallway thermostat is already off."),
    ("turn on the heating", None, "The hallway thermostat is already in heat mode."),
    ("set the volume in the kitchen to 35", sonos(K, volume=35), "The Kitchen speaker is already at volume 35%."),
    ("set the kitchen speaker volume to 20%", None, "already at volume 20%"),
    ("turn up the volume in the kitchen", sonos(K, volume=100), "already at volume 100%"),
    ("mute the kitchen speaker", sonos(K, muted=True), "The Kitchen speaker is already muted."),
    ("unmute the living room speaker", None, "The Living Room speaker isn't muted."),
    ("Please close the garage.", None, "The garage door is already closed."),
]


@ON_MODULE_LOOP
@pytest.mark.parametrize(("text", "setup", "reply"), NOOPS, ids=[c[0] for c in NOOPS])
async def test_already_in_the_asked_state_says_so_and_sends_nothing(
        text: str, setup: Setup | None, reply: str, home: SimHome, mclaw: Claw) -> None:
    prepare(home, setup)
    before = snapshot(home)
    result = await say(mclaw, text)
    assert result.tier == "intent", result.reply
    assert reply in result.reply, result.reply
    assert not result.reply.startswith("Done") and "YES" not in result.reply
    assert result.actions == ()
    assert home.physical_commands() == 0
    assert snapshot(home) == before
    no_pending(mclaw, result)


def test_the_no_op_table_is_large_and_distinct() -> None:
    assert len(NOOPS) >= 25
    assert len({c[0].lower() for c in NOOPS}) == len(NOOPS)


# ---- the same commands act when the state differs ----------------------------------------------------
def light_is(name: str, on: bool, **want: Any) -> Callable[[SimHome], bool]:
    return lambda home: home.sim(name).state["on"] is on and all(home.sim(name).state[k] == v
                                                                  for k, v in want.items())


def field(name: str, key: str, value: Any) -> Callable[[SimHome], bool]:
    return lambda home: home.sim(name).state[key] == value


def transport(name: str, value: str) -> Callable[[SimHome], bool]:
    return lambda home: speaker(home, name).transport_state == value


ACTS: list[tuple[str, Setup | None, Callable[[SimHome], bool], tuple[str, ...]]] = [
    ("pause the living room speaker", sonos(LR, "Play"), transport(LR, "PAUSED_PLAYBACK"), (LR,)),
    ("resume the kitchen speaker", sonos(K, "Play", "Pause"), transport(K, "PLAYING"), (K,)),
    ("turn off the kitchen light", lights(KL), light_is(KL, False), (KL,)),
    ("turn on the kitchen light", None, light_is(KL, True), (KL,)),
    ("set the kitchen light to 40%", lights(KL, brightness=60), light_is(KL, True, brightness=40), (KL,)),
    ("set the kitchen light to 40%", sim(KL, brightness=40), light_is(KL, True, brightness=40), (KL,)),  # off
    ("set the kitchen light to red", sim(KL, rgb=RED), light_is(KL, True, rgb=RED), (KL,)),  # off
    ("lock the front door", sim(DOOR, locked=False), field(DOOR, "locked", True), (DOOR,)),
    ("open the bedroom shade", sim(SH, position=40), field(SH, "position", 100), (SH,)),
    ("set the bedroom shade to 50%", sim(SH, position=49), field(SH, "position", 50), (SH,)),
    ("set the thermostat to 22 degrees", None, field(T, "target", 22.0), (T,)),
    ("turn on the heating", sim(T, mode="cool"), field(T, "mode", "heat"), (T,)),
    ("turn off the heating", None, field(T, "mode", "off"), (T,)),
    ("set the volume in the kitchen to 35", None, lambda home: speaker(home, K).volume == 35, (K,)),
    ("mute the kitchen speaker", None, lambda home: speaker(home, K).muted is True, (K,)),
    ("turn off all the lights", lights(KL, BL), lambda home: not any(home.sim(n).state["on"] for n in LIGHTS),
     (KL, BL)),
]


@ON_MODULE_LOOP
@pytest.mark.parametrize(("text", "setup", "check", "targets"), ACTS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(ACTS)])
async def test_the_same_command_acts_when_the_state_differs(
        text: str, setup: Setup | None, check: Callable[[SimHome], bool], targets: tuple[str, ...],
        home: SimHome, mclaw: Claw) -> None:
    prepare(home, setup)
    result = await say(mclaw, text)
    assert result.tier == "intent" and result.reply.startswith("Done"), result.reply
    assert check(home)
    assert {name for name in ALL_SIMS if home.sim(name).commands} == set(targets)
    assert home.physical_commands() == len(targets)


@ON_MODULE_LOOP
async def test_partly_done_acts_on_the_rest_and_names_the_others(home: SimHome, mclaw: Claw) -> None:
    prepare(home, lights(KL))
    result = await say(mclaw, "turn off all the lights")
    assert result.reply.startswith("Done — kitchen light is off."), result.reply
    assert "The living room lamp, bedroom light and hallway light are already off." in result.reply
    assert home.physical_commands() == 1 and home.sim(KL).state["on"] is False


@ON_MODULE_LOOP
async def test_pausing_everything_pauses_only_what_plays(home: SimHome, mclaw: Claw) -> None:
    prepare(home, sonos(K, "Play"))
    result = await say(mclaw, "pause the music")
    assert speaker(home, K).transport_state == "PAUSED_PLAYBACK"
    assert speaker(home, K).actions() == ["Pause"] and speaker(home, LR).actions() == []
    assert "Kitchen speaker is paused" in result.reply and "Living Room speaker isn't playing" in result.reply


# ---- risky: a no-op asks nothing; otherwise the confirmation is exactly as before --------------------
@ON_MODULE_LOOP
@pytest.mark.parametrize(("text", "setup", "what"), [
    ("close the garage door", sim(GARAGE, door="open"), "close the garage door"),
    ("open the garage door", None, "open the garage door"),
    ("unlock the front door", None, "unlock the front door"),
    ("set the thermostat to 30 degrees", None, "30 °C"),
])
async def test_a_risky_step_that_would_change_something_still_asks(
        text: str, setup: Setup | None, what: str, home: SimHome, mclaw: Claw) -> None:
    prepare(home, setup)
    sender = f"owner-{next(_senders)}"
    asked = await say(mclaw, text, sender)
    assert asked.tier == "confirm" and "YES" in asked.reply and what in asked.reply, asked.reply
    assert home.physical_commands() == 0
    assert mclaw.store.confirmation_pending(sender, time.time()) is not None
    done = await say(mclaw, "yes", sender)
    assert done.tier == "confirm" and home.physical_commands() == 1, done.reply


# ---- what is remembered never says "already"; locks are always read --------------------------------
@ON_MODULE_LOOP
async def test_a_repeat_is_a_no_op_and_a_change_by_hand_is_seen(home: SimHome, mclaw: Claw) -> None:
    prepare(home, None)
    assert (await say(mclaw, "turn on the kitchen light")).reply.startswith("Done")
    again = await say(mclaw, "turn on the kitchen light")
    assert again.reply == "The kitchen light is already on." and home.physical_commands() == 1
    home.sim(KL).change({"on": False})  # switched off at the wall, within the remembered window
    home.sim(KL).commands.clear()
    third = await say(mclaw, "turn on the kitchen light")
    assert third.reply.startswith("Done") and home.sim(KL).state["on"] is True
    assert len(home.sim(KL).commands) == 1


@ON_MODULE_LOOP
async def test_a_remembered_state_may_cost_one_harmless_command(home: SimHome, mclaw: Claw) -> None:
    prepare(home, lights(KL))
    assert (await say(mclaw, "turn off the kitchen light")).reply.startswith("Done")
    home.sim(KL).change({"on": True})  # on again by hand: the claw still remembers "off"
    home.sim(KL).commands.clear()
    result = await say(mclaw, "turn on the kitchen light")  # remembered off: sent without a read, as before
    assert result.reply.startswith("Done") and home.sim(KL).state["on"] is True
    assert len(home.sim(KL).commands) == 1  # one command more than needed; never a wrong "already"


@ON_MODULE_LOOP
async def test_a_lock_unlocked_by_hand_is_locked_again(home: SimHome, mclaw: Claw) -> None:
    prepare(home, sim(DOOR, locked=False))
    assert (await say(mclaw, "lock the front door")).reply.startswith("Done")
    home.sim(DOOR).change({"locked": False})  # unlocked by hand a moment later
    home.sim(DOOR).commands.clear()
    result = await say(mclaw, "lock the front door")
    assert result.reply.startswith("Done"), result.reply
    assert home.sim(DOOR).state["locked"] is True and len(home.sim(DOOR).commands) == 1


@ON_MODULE_LOOP
async def test_an_unreachable_device_is_acted_on_as_before(home: SimHome, mclaw: Claw) -> None:
    prepare(home, None)
    device = next(d for d in home.devices if d.name == SH)
    try:
        home.sim(SH).stop()
        result = await say(mclaw, "close the bedroom shade")
        assert "reachable" in result.reply and "already" not in result.reply, result.reply
    finally:
        home.sim(SH).start()
    assert mclaw.registry.known(device.id) is None


@ON_MODULE_LOOP
async def test_a_hung_device_does_not_hold_up_the_others_no_op_check(home: SimHome, mclaw: Claw) -> None:
    prepare(home, None)
    home.sim(HL).hang = True  # answers nothing: its read is given up after 1 s, its command after 2 s
    try:
        started = time.monotonic()
        result = await say(mclaw, "turn off all the lights")
        elapsed = time.monotonic() - started
        assert home.physical_commands() == 0
    finally:
        home.sim(HL).hang = False  # the held command now lands: wait for it, so no later case sees it
        deadline = time.monotonic() + 5
        while not home.sim(HL).commands and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    assert elapsed < 5, elapsed
    assert "hallway light did not answer" in result.reply, result.reply
    assert "The kitchen light, living room lamp and bedroom light are already off." in result.reply


@ON_MODULE_LOOP
async def test_a_resumed_turn_runs_every_step_for_the_ledger(home: SimHome, mclaw: Claw) -> None:
    prepare(home, None)
    light = next(d for d in home.devices if d.name == KL)
    plan = Plan("HassTurnOff", steps=(Step(light.id, "turn_off"),))
    first, _ = mclaw.store.inbox_add(InboundMessage("console", "owner-x", "turn off the kitchen light"))
    fresh = await check_steps(mclaw.registry, mclaw.store, mclaw.settings.safety, first, plan)
    assert fresh.already == plan.steps and fresh.run == ()
    again, _ = mclaw.store.inbox_add(InboundMessage("console", "owner-x", "turn off the kitchen light"))
    mclaw.store.audit_begin(f"{again}:1:{light.id}:turn_off", light.id, "turn_off", {}, again, "owner-x")
    resumed = await check_steps(mclaw.registry, mclaw.store, mclaw.settings.safety, again, plan)
    assert resumed.run == plan.steps and resumed.already == ()
