"""Bad input end to end: unknown devices, out-of-range values, hung/stopped devices, junk config, duplicates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from claw.errors import ConfigError
from claw.events import InboundMessage, TurnResult
from claw.runtime import Claw
from devices.errors import InvalidArgument
from devices.sim.home import SimHome, SimHomeError
from tests.conftest import make_settings, running_claw

SIMS = ("kitchen light", "living room lamp", "bedroom light", "hallway light", "Kitchen", "Living Room",
        "hallway thermostat", "bedroom shade", "front door", "garage door")


async def say(claw: Claw, text: str, sender: str = "owner", channel: str = "console") -> TurnResult:
    return await claw.agent.ask(InboundMessage(channel, sender, text, standing="owner"))


def snapshot(home: SimHome) -> dict[str, Any]:
    """Every simulator's state (the thermostat's drifting reading left out) and command count."""
    out: dict[str, Any] = {}
    for name in SIMS:
        sim = home.sim(name)
        if hasattr(sim, "transport_state"):
            out[name] = (sim.transport_state, sim.volume, sim.muted, sim.current["title"], len(sim.commands))
        else:
            state = {k: v for k, v in sim.state.items() if k != "sensors"}
            out[name] = (state, len(sim.commands))
    return out


def assert_done(claw: Claw, *results: TurnResult) -> None:
    """Nothing lost: every turn's inbox row is done with its reply in the outbox, none left pending."""
    for result in results:
        assert result.inbox_id is not None
        row = claw.store.inbox_get(result.inbox_id)
        assert row is not None and row["status"] == "done", row
        assert claw.store.outbox_for_inbox(result.inbox_id), "the reply never reached the outbox"
    assert claw.store.inbox_pending() == []


def assert_polite(reply: str) -> None:
    assert reply.strip()
    for word in ("Traceback", "Exception", "None", "KeyError", "TypeError", "{"):
        assert word not in reply, reply


# Most tests share one home per module, reset before each; those that hang or stop a device get their own.
@pytest.fixture
def home(shared_home: SimHome) -> SimHome:
    """The module's home back in its initial state, with empty command logs."""
    shared_home.reset()
    return shared_home


@pytest.fixture
async def quick_claw(own_home: SimHome, tmp_path: Path) -> AsyncIterator[Claw]:
    """A claw on its own home that gives a device 1 s before it says the device did not answer."""
    async with running_claw(own_home, tmp_path, device_timeout=1.0) as c:
        yield c


# ---- unknown devices ------------------------------------------------------------------------------
UNKNOWN = [
    ("turn on the disco ball", "disco ball"),
    ("Turn off the disco ball, please!", "disco ball"),
    ("set the disco ball to 50%", "disco ball"),
    ("please switch on the jacuzzi", "jacuzzi"),
    ("play jazz in the garage", "garage"),
    ("turn on the lights in the garage", "garage"),
    ("what's the temperature in the kitchen?", "kitchen"),
]


@pytest.mark.parametrize(("text", "mentions"), UNKNOWN, ids=[u[0] for u in UNKNOWN])
async def test_unknown_device_gets_a_polite_reply_and_changes_nothing(
        text: str, mentions: str | None, home: SimHome, claw: Claw) -> None:
    before = snapshot(home)
    result = await say(claw, text)
    assert result.tier in ("intent", "fallback"), result
    assert_polite(result.reply)
    if mentions:
        assert mentions in result.reply
    assert result.actions == ()
    assert snapshot(home) == before
    assert home.physical_commands() == 0
    assert_done(claw, result)


async def test_unknown_name_is_named_but_chatter_is_not_taken_for_a_device(claw: Claw) -> None:
    named = await say(claw, "turn on the disco ball")
    assert "don't know a device or room called “disco ball”" in named.reply and "kitchen light" in named.reply
    chatter = await say(claw, "write me a poem")  # hassil's wildcards would read this as a device name
    assert chatter.tier == "fallback" and "write me a poem" not in chatter.reply


# ---- out-of-range values: the reply names the range, no command reaches a device ------------------
OUT_OF_RANGE = [
    ("set the kitchen light to 150%", "0% to 100%", "150%"),
    ("set the kitchen light brightness to 150 percent", "0% to 100%", "150%"),
    ("dim the bedroom light to 150%", "0% to 100%", "150%"),
    ("set the thermostat to 90 degrees", "5 °C to 35 °C", "90 °C"),
    ("set the temperature to 90", "5 °C to 35 °C", "90 °C"),
    ("set the thermostat to 40 degrees", "5 °C to 35 °C", "40 °C"),
    ("set the volume in the kitchen to 200", "0% to 100%", "200%"),
    ("set the kitchen speaker volume to 200%", "0% to 100%", "200%"),
    ("set the bedroom shade to 150%", "0% to 100%", "150%"),
]


@pytest.mark.parametrize(("text", "limits", "asked"), OUT_OF_RANGE, ids=[o[0] for o in OUT_OF_RANGE])
async def test_out_of_range_value_is_explained_and_not_sent(
        text: str, limits: str, asked: str, home: SimHome, claw: Claw) -> None:
    before = snapshot(home)
    result = await say(claw, text)
    assert result.tier == "intent"
    assert limits in result.reply and asked in result.reply, result.reply
    assert result.actions == ()
    for name in SIMS:
        assert home.sim(name).commands == [], name
    assert snapshot(home) == before
    assert_done(claw, result)


# ---- a hung device: a timely "did not answer", and other senders are not held up -------------------
async def test_hung_light_times_out_while_another_sender_is_served(own_home: SimHome, quick_claw: Claw) -> None:
    own_home.sim("kitchen light").hang = True
    finished: list[str] = []

    async def turn(who: str, text: str) -> TurnResult:
        result = await say(quick_claw, text, sender=who)
        finished.append(who)
        return result

    started = time.monotonic()
    hung, other = await asyncio.gather(turn("alice", "turn on the kitchen light"),
                                       turn("bob", "turn on the bedroom light"))
    elapsed = time.monotonic() - started
    assert elapsed < 5, "a hung device must not hang the turn"
    assert finished == ["bob", "alice"], "bob's turn waited for alice's hung device"
    assert "did not answer" in hung.reply and "kitchen light" in hung.reply
    assert hung.actions == ()
    assert other.reply.startswith("Done") and own_home.sim("bedroom light").state["on"] is True
    assert own_home.sim("kitchen light").commands == []
    own_home.sim("kitchen light").hang = False
    assert_done(quick_claw, hung, other)


async def test_hung_light_state_question_says_it_is_not_answering(own_home: SimHome, quick_claw: Claw) -> None:
    own_home.sim("kitchen light").hang = True
    started = time.monotonic()
    result = await say(quick_claw, "is the kitchen light on?")
    assert time.monotonic() - started < 5
    own_home.sim("kitchen light").hang = False
    assert result.tier == "intent"
    assert "answer" in result.reply or "responding" in result.reply, result.reply
    assert "Yep" not in result.reply and "Nope" not in result.reply  # no invented state
    assert_done(quick_claw, result)


async def test_hung_speaker_times_out_and_the_same_sender_can_go_on(own_home: SimHome, quick_claw: Claw) -> None:
    kitchen = own_home.sim("Kitchen")
    kitchen.hang = True
    started = time.monotonic()
    hung = await say(quick_claw, "set the volume in the kitchen to 35")
    assert time.monotonic() - started < 5
    assert "did not answer" in hung.reply or "in time" in hung.reply, hung.reply
    assert hung.actions == ()
    after = await say(quick_claw, "turn on the hallway light")  # the sender's queue is not stuck
    assert after.reply.startswith("Done") and own_home.sim("hallway light").state["on"] is True
    kitchen.hang = False
    assert_done(quick_claw, hung, after)


# ---- a stopped device ----------------------------------------------------------------------------
@pytest.mark.parametrize(("device", "text"), [("kitchen light", "turn on the kitchen light"),
                                              ("bedroom shade", "open the bedroom shade"),
                                              ("Kitchen", "pause the music in the kitchen")])
async def test_stopped_device_is_reported_not_reachable(device: str, text: str, own_home: SimHome,
                                                        quick_claw: Claw) -> None:
    own_home.sim(device).stop()
    started = time.monotonic()
    result = await say(quick_claw, text)
    assert time.monotonic() - started < 5
    assert "reachable" in result.reply, result.reply
    assert not result.reply.startswith("Done")
    assert result.actions == ()
    assert_polite(result.reply)
    assert_done(quick_claw, result)


# ---- empty, blank and huge messages ----------------------------------------------------------------
@pytest.mark.parametrize("text", ["", " ", "   \n\t  ", "\u00a0"])
async def test_empty_message_gets_the_greeting(text: str, home: SimHome, claw: Claw) -> None:
    result = await say(claw, text)
    assert result.tier == "intent"
    assert "Claw" in result.reply and result.reply.startswith("Hi")
    assert home.physical_commands() == 0
    assert_done(claw, result)


@pytest.mark.parametrize("text", ["turn on the kitchen light " * 385, "a" * 10_000,
                                  "remember that " + "the cat likes tuna " * 526,
                                  "set the kitchen light to " + "9" * 9_975 + "%"],
                         ids=["repeated command", "one long word", "huge fact", "huge number"])
async def test_ten_thousand_characters_get_a_reply(text: str, home: SimHome, claw: Claw) -> None:
    assert len(text) >= 10_000
    started = time.monotonic()
    result = await say(claw, text)
    assert time.monotonic() - started < 5
    assert_polite(result.reply)
    assert home.physical_commands() == 0
    assert_done(claw, result)


# ---- junk configuration ----------------------------------------------------------------------------
JUNK_DEVICES = {
    "invalid yaml": ("devices: [unclosed\n", "devices.yaml"),
    "list of junk": ("- 1\n- just a string\n- {foo: bar}\n", "device #1 is not a mapping"),
    "a number": ("42\n", "expected a list of devices"),
    "devices is not a list": ("devices: {kitchen: light}\n", "expected a list of devices"),
    "missing fields": ("- {name: lamp, kind: light}\n", "lacks id, driver, address"),
    "unknown kind": ("- {id: x, name: toaster, kind: toaster, driver: http, address: '127.0.0.1:9'}\n",
                     "toaster"),
    "unknown driver": ("- {id: x, name: hub, kind: light, driver: zigbee, address: '127.0.0.1:9'}\n",
                       "driver 'zigbee'"),
    "capabilities not a list": ("- {id: x, name: lamp, kind: light, driver: http, address: '127.0.0.1:9',"
                                " capabilities: power}\n", "capabilities must be a list"),
    "binary": ("\x00\x01\x02garbage", "devices.yaml"),
}


@pytest.mark.parametrize("case", list(JUNK_DEVICES))
async def test_junk_devices_file_is_a_config_error_at_start(case: str, tmp_path: Path) -> None:
    text, fragment = JUNK_DEVICES[case]
    path = tmp_path / "devices.yaml"
    path.write_text(text, encoding="utf-8")
    c = Claw(make_settings(tmp_path, devices_file=path))
    try:
        with pytest.raises(ConfigError) as err:
            await c.start(dispatch=False)
        message = str(err.value)
        assert str(path) in message and "cannot load devices" in message
        assert fragment in message, message
        assert "\n" not in message.split(":", 1)[0]
        assert c.registry.all() == [] and c.store.devices_all() == []  # nothing half-loaded
    finally:
        await c.stop()


async def test_missing_devices_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    c = Claw(make_settings(tmp_path, devices_file=path))
    try:
        with pytest.raises(ConfigError, match="nowhere.yaml"):
            await c.start(dispatch=False)
    finally:
        await c.stop()


JUNK_HOMES = {
    "invalid yaml": ("devices: [unclosed\n", "cannot read"),
    "list of junk": ("- 1\n- two\n", "invalid"),
    "empty": ("", "invalid"),
    "no devices": ("name: empty house\ndevices: []\n", "invalid"),
    "unknown type": ("devices:\n  - {type: toaster, name: T}\n", "toaster"),
    "unknown field": ("devices:\n  - {type: light, name: L, colour: red}\n", "colour"),
    "nameless": ("devices:\n  - {type: light}\n", "name"),
}


@pytest.mark.parametrize("case", list(JUNK_HOMES))
def test_junk_home_file_is_a_sim_home_error(case: str, tmp_path: Path) -> None:
    text, fragment = JUNK_HOMES[case]
    path = tmp_path / "home.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SimHomeError) as err:
        SimHome.load(path)
    assert str(path) in str(err.value) and fragment in str(err.value), str(err.value)


def test_missing_home_file_is_a_sim_home_error(tmp_path: Path) -> None:
    with pytest.raises(SimHomeError, match="cannot read"):
        SimHome.load(tmp_path / "nowhere.yaml")


# ---- the device itself refuses a value the vocabulary allows ---------------------------------------
async def test_thermostat_refusal_after_confirmation_is_reported(home: SimHome, claw: Claw) -> None:
    sim = home.sim("hallway thermostat")
    asked = await say(claw, "set the thermostat to 5 degrees")  # outside 16-26: confirm first
    assert asked.tier == "confirm" and "YES" in asked.reply
    assert sim.commands == []
    refused = await say(claw, "yes")
    assert "refused" in refused.reply and "between 7 and 32" in refused.reply, refused.reply
    assert not refused.reply.startswith("Done")
    assert refused.actions == ()
    assert sim.commands == [] and sim.state["target"] == 20.5
    assert_done(claw, asked, refused)


@pytest.mark.parametrize("target", [6.0, 33.0, 35.0])
async def test_registry_execute_raises_invalid_argument_on_http_400(target: float, home: SimHome,
                                                                    claw: Claw) -> None:
    (thermostat,) = [d for d in claw.registry.all() if d.name == "hallway thermostat"]
    with pytest.raises(InvalidArgument, match="refused") as err:
        await claw.registry.execute(thermostat.id, "set_temperature", {"temperature": target})
    assert "7" in str(err.value) and "32" in str(err.value)
    assert home.sim("hallway thermostat").commands == []
    assert home.sim("hallway thermostat").state["target"] == 20.5


# ---- duplicate external ids: one turn, one action, one reply ----------------------------------------
async def test_duplicate_external_id_is_one_turn(home: SimHome, claw: Claw) -> None:
    msg = InboundMessage("web", "web:alice", "turn on the kitchen light", external_id="SM0001", standing="owner")
    first_id, first_created = claw.agent.submit(msg)
    second_id, second_created = claw.agent.submit(msg)
    assert first_id == second_id and first_created and not second_created
    waited = await claw.agent.ask(msg)  # a third copy, while the turn may still run, waits for it
    await claw.agent.idle()
    late_id, late_created = claw.agent.submit(msg)  # and one after it finished
    await claw.agent.idle()
    assert late_id == first_id and not late_created
    again = await claw.agent.ask(msg)
    assert waited.inbox_id == again.inbox_id == first_id
    assert waited.reply.startswith("Done") and again.reply == waited.reply
    assert home.sim("kitchen light").state["on"] is True
    assert len(home.sim("kitchen light").commands) == 1
    assert home.physical_commands() == 1
    assert len(claw.store.outbox_for_inbox(first_id)) == 1
    assert [a["command"] for a in claw.store.audit_for_inbox(first_id)] == ["turn_on"]
    assert_done(claw, waited)


async def test_same_external_id_on_another_channel_is_a_new_message(home: SimHome, claw: Claw) -> None:
    web = await claw.agent.ask(InboundMessage("web", "web:alice", "turn on the kitchen light", external_id="X1",
                                              standing="owner"))
    console = await claw.agent.ask(InboundMessage("console", "owner", "turn off the kitchen light",
                                                  external_id="X1", standing="owner"))
    assert web.inbox_id != console.inbox_id
    assert home.sim("kitchen light").state["on"] is False
    assert len(home.sim("kitchen light").commands) == 2
    assert_done(claw, web, console)
