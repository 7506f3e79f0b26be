"""No-op awareness, the pure parts: each command's target state, steps in order, the words, and the registry's
memory of states (the real path through the claw is tests/test_noop.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from claw.events import Voice
from claw.intents import noop
from claw.intents.types import Step
from claw.replies.already import already_reply
from devices.errors import DeviceUnavailable
from devices.models import Device, Kind
from devices.registry import KNOWN_SECONDS, Registry


# ---- pure: the targets, the order of steps, the words ------------------------------------------------
def _dev(dev_id: str, name: str, kind: Kind, caps: set[str]) -> Device:
    return Device(id=dev_id, name=name, kind=kind, room="r", capabilities=frozenset(caps), driver="fake",
                  address="127.0.0.1:9")


LIGHT_ON = {"power": True, "brightness": 50, "rgb": [255, 255, 255], "available": True}


@pytest.mark.parametrize(("command", "args", "state", "want"), [
    ("turn_on", {}, LIGHT_ON, True),
    ("turn_off", {}, LIGHT_ON, False),
    ("turn_off", {}, {"playback": "stopped", "volume": 3}, True),
    ("turn_on", {}, {"playback": "paused"}, False),
    ("pause", {}, {"playback": "paused"}, True),
    ("stop", {}, {"playback": "playing"}, False),
    ("set_brightness", {"brightness": 50}, LIGHT_ON, True),
    ("set_brightness", {"brightness": 51}, LIGHT_ON, False),
    ("set_brightness", {"brightness": 50}, {**LIGHT_ON, "power": False}, False),
    ("set_temperature", {"temperature": 20.5}, {"target_temperature": 20.5}, True),
    ("set_position", {"position": 0}, {"position": 0}, True),
    ("open", {}, {"position": 99}, False),
    ("unlock", {}, {"locked": True}, False),
    ("lock", {}, {"locked": True, "available": False}, None),  # unreadable: never "already"
    ("lock", {}, {}, None),
    ("set_volume", {"volume": 20}, {"title": "x"}, None),  # a key the device lacks
    ("next", {}, {"playback": "playing"}, None),
    ("play_favorite", {"favorite": "jazz"}, {"playback": "playing", "title": "jazz"}, None),
])
def test_satisfied(command: str, args: dict[str, Any], state: dict[str, Any], want: bool | None) -> None:
    assert noop.satisfied(command, args, state) is want


def test_later_steps_are_judged_after_the_earlier_ones() -> None:
    steps = (Step("l", "turn_off"), Step("l", "set_brightness", {"brightness": 50}))
    assert noop.split(steps, {"l": LIGHT_ON}).run == steps  # off first: 50 % must switch it on again
    after_next = (Step("s", "next"), Step("s", "play"))
    assert noop.split(after_next, {"s": {"playback": "playing"}}).run == after_next  # unknown after next


def test_turning_a_thermostat_on_without_a_mode_takes_any_mode() -> None:
    heat = {"hvac_mode": "heat", "power": True}
    assert noop.satisfied("set_hvac_mode", {"mode": "auto"}, heat) is False
    assert noop.satisfied("set_hvac_mode", {"mode": "auto"}, heat, any_mode_is_on=True) is True
    assert noop.satisfied("set_hvac_mode", {"mode": "off"}, heat, any_mode_is_on=True) is False


def test_security_kinds_are_read_fresh() -> None:
    assert noop.needs_fresh(_dev("d", "front door", Kind.LOCK, {"lock"}))
    assert noop.needs_fresh(_dev("g", "garage door", Kind.GARAGE, {"cover"}))
    assert not noop.needs_fresh(_dev("l", "lamp", Kind.LIGHT, {"power"}))


def test_already_wording_counts_a_long_list_and_keeps_the_voice() -> None:
    lights_ = [_dev(f"l{i}", f"light {i}", Kind.LIGHT, {"power"}) for i in range(6)]
    by_id = {d.id: d for d in lights_}
    steps = [Step(d.id, "turn_off") for d in lights_]
    assert already_reply(steps, by_id, Voice()) == "All 6 lights are already off."
    assert already_reply(steps, by_id, Voice(), acted=True) == "6 others are already off."
    amp = {"a": _dev("a", "Den", Kind.SPEAKER, {"media"})}
    assert already_reply([Step("a", "pause")], amp, Voice(formal=True)) == "The Den speaker is not playing."
    assert already_reply([Step("a", "set_mute", {"muted": False})], amp, Voice()) == "The Den speaker isn't muted."


# ---- the registry's memory of states -------------------------------------------------------------
class FakeDriver:
    name = "fake"

    def __init__(self) -> None:
        self.value: dict[str, Any] = {"power": False}
        self.fail = False
        self.reads = 0

    async def execute(self, device: Device, command: str, args: dict[str, Any]) -> None:
        if self.fail:
            raise DeviceUnavailable("down")
        self.value["power"] = command == "turn_on"

    async def state(self, device: Device) -> dict[str, Any]:
        self.reads += 1
        if self.fail:
            raise DeviceUnavailable("down")
        return dict(self.value)

    async def close(self) -> None:
        pass


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


async def test_registry_remembers_reads_for_a_while_and_forgets_on_commands_and_errors() -> None:
    driver, clock = FakeDriver(), Clock()
    registry = Registry({"fake": driver}, clock=clock)  # type: ignore[dict-item]
    registry.add(_dev("d", "lamp", Kind.LIGHT, {"power"}))
    assert registry.known("d") is None
    await registry.state("d")
    assert registry.known("d") == {"power": False}
    clock.now += KNOWN_SECONDS + 0.1
    assert registry.known("d") is None  # too old
    await registry.state("d")
    await registry.execute("d", "turn_on")
    assert registry.known("d") is None  # a command makes what was read moot
    registry.note("d", {"power": True})
    assert registry.known("d") == {"power": True}
    driver.fail = True
    with pytest.raises(DeviceUnavailable):
        await registry.state("d")
    assert registry.known("d") is None  # any error forgets
    registry.note("unknown-device", {"power": True})
    assert registry.known("unknown-device") is None


async def test_a_read_that_spans_a_command_is_not_remembered() -> None:
    gate = asyncio.Event()

    class Slow(FakeDriver):
        async def state(self, device: Device) -> dict[str, Any]:
            before = dict(self.value)
            await gate.wait()
            return before

    driver = Slow()
    registry = Registry({"fake": driver})  # type: ignore[dict-item]
    registry.add(_dev("d", "lamp", Kind.LIGHT, {"power"}))
    read = asyncio.ensure_future(registry.state("d"))
    await asyncio.sleep(0)
    await registry.execute("d", "turn_on")
    gate.set()
    assert await read == {"power": False}
    assert registry.known("d") is None


def test_two_steps_on_one_device_make_one_sentence() -> None:
    lamp = {"l": _dev("l", "kitchen light", Kind.LIGHT, {"power", "brightness"})}
    steps = [Step("l", "turn_on"), Step("l", "set_brightness", {"brightness": 40})]
    assert already_reply(steps, lamp, Voice()) == "The kitchen light is already on and at 40%."
    den = {"a": _dev("a", "Den", Kind.SPEAKER, {"media"})}
    mixed = [Step("a", "set_volume", {"volume": 20}), Step("a", "pause")]
    assert already_reply(mixed, den, Voice()) == "The Den speaker is already at volume 20%. It isn't playing."
