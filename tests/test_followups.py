"""Answers to a question the local tier asks back: "skip this song" -> "Which speaker?" -> "Kitchen speaker"."""

from __future__ import annotations

from pathlib import Path

import pytest

from claw.events import InboundMessage
from claw.intents.engine import IntentEngine
from claw.intents.followup import FollowUps
from claw.intents.plan import HANDLERS, Plan, Query, Step, plan
from claw.intents.vocab import DOMAIN_BY_KIND, kelvin_to_rgb
from devices.models import Device, Kind
from devices.sim.home import SimHome
from devices.sim.sonos import SonosSimPlayer
from devices.sim.sonos_xml import PLAYLIST
from tests.conftest import running_claw


def _dev(dev_id: str, name: str, kind: Kind, room: str, caps: set[str], **kw: object) -> Device:
    return Device(id=dev_id, name=name, kind=kind, room=room, capabilities=frozenset(caps),
                  driver="http", address="127.0.0.1:9", **kw)  # type: ignore[arg-type]


LIGHT = {"power", "brightness", "color"}
# Two of everything, and names shared across rooms ("lamp", "thermostat", "speaker"), so that every kind of
# question can be asked: "Which speaker do you mean: ...?" and "More than one device is called ...".
HOME = [
    _dev("sonos:LR", "Living Room", Kind.SPEAKER, "living room", {"media"}, aliases=("speaker",)),
    _dev("sonos:K", "Kitchen", Kind.SPEAKER, "kitchen", {"media"}, aliases=("speaker",)),
    _dev("light:k", "kitchen light", Kind.LIGHT, "kitchen", LIGHT),
    _dev("light:b", "bedroom light", Kind.LIGHT, "bedroom", LIGHT),
    _dev("lamp:s", "lamp", Kind.LIGHT, "study", LIGHT),
    _dev("lamp:d", "lamp", Kind.LIGHT, "den", LIGHT),
    _dev("climate:h", "thermostat", Kind.CLIMATE, "hallway", {"climate"}),
    _dev("climate:l", "thermostat", Kind.CLIMATE, "landing", {"climate"}),
    _dev("cover:b", "bedroom shade", Kind.COVER, "bedroom", {"cover"}),
    _dev("cover:s", "study blind", Kind.COVER, "study", {"cover"}),
]


def S(device_id: str, command: str, **args: object) -> Step:
    return Step(device_id, command, dict(args))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(clock: Clock) -> IntentEngine:
    eng = IntentEngine(followups=FollowUps(clock=clock))
    eng.set_devices(HOME)
    return eng


# intent: (what asks back, the question's words, the answer, the answered plan's steps or query)
CASES: list[tuple[str, str, str, str, object]] = [
    ("HassTurnOn", "turn on the lights", "Which light do you mean", "kitchen light", (S("light:k", "turn_on"),)),
    ("HassTurnOn", "turn on the lights", "Which light do you mean", "the bedroom ones", (S("light:b", "turn_on"),)),
    ("HassTurnOn", "turn on the lamp", "which one do you mean, the one in the study or the one in the den",
     "the one in the den", (S("lamp:d", "turn_on"),)),
    ("HassTurnOn", "open the blinds", "Which blind do you mean", "the study one", (S("cover:s", "open"),)),
    ("HassTurnOn", "turn on the heating", "thermostat in the hallway or thermostat in the landing",
     "thermostat in the hallway", (S("climate:h", "set_hvac_mode", mode="heat"),)),
    ("HassTurnOff", "switch off the lamp", "More than one device is called “lamp”", "in the study",
     (S("lamp:s", "turn_off"),)),
    ("HassLightSet", "set the lamp to 40%", "called “lamp”", "den", (S("lamp:d", "set_brightness", brightness=40),)),
    ("HassLightSet", "set the lamp to red", "called “lamp”", "the study lamp",
     (S("lamp:s", "set_color", rgb=[255, 0, 0]),)),
    ("HassLightSet", "set the lamp to warm white", "called “lamp”", "lamp in the den",
     (S("lamp:d", "set_color", rgb=kelvin_to_rgb(2700)),)),
    ("ClawLightStep", "dim the lamp", "called “lamp”", "the den one", Query(("lamp:d",), "brightness_relative")),
    ("HassGetState", "is the lamp on", "called “lamp”", "the study", Query(("lamp:s",), "state", "on", "one_yesno")),
    ("HassGetState", "what's playing on the speaker", "called “speaker”", "kitchen", Query(("sonos:K",), "state")),
    ("HassClimateGetTemperature", "what's the temperature of the thermostat", "called “thermostat”", "landing",
     Query(("climate:l",), "temperature")),
    ("HassClimateSetTemperature", "set the temperature to 21", "Which thermostat do you mean", "the hallway one",
     (S("climate:h", "set_temperature", temperature=21.0),)),
    ("HassClimateSetTemperature", "set the thermostat to 20", "called “thermostat”", "on the landing",
     (S("climate:l", "set_temperature", temperature=20.0),)),
    ("ClawTemperatureStep", "turn the heating up", "Which thermostat do you mean", "the hallway one",
     Query(("climate:h",), "temperature_relative")),
    ("HassMediaPause", "pause the speaker", "called “speaker”", "living room", (S("sonos:LR", "pause"),)),
    ("HassMediaPlayerMute", "mute the speaker", "called “speaker”", "kitchen speaker",
     (S("sonos:K", "set_mute", muted=True),)),
    ("HassMediaPlayerUnmute", "unmute the music", "Which speaker do you mean", "Kitchen",
     (S("sonos:K", "set_mute", muted=False),)),
    ("HassMediaUnpause", "resume the music", "Which speaker do you mean", "the living room speaker please",
     (S("sonos:LR", "play"),)),
    ("HassMediaNext", "skip this song", "Which speaker do you mean: Living Room speaker or Kitchen speaker?",
     "Kitchen speaker", (S("sonos:K", "next"),)),
    ("HassMediaNext", "next track", "Which speaker do you mean", "the kitchen one", (S("sonos:K", "next"),)),
    ("HassMediaPrevious", "previous track", "Which speaker do you mean", "in the kitchen",
     (S("sonos:K", "previous"),)),
    ("HassSetVolume", "set the volume to 30", "Which speaker do you mean", "kitchen",
     (S("sonos:K", "set_volume", volume=30),)),
    ("HassSetVolumeRelative", "turn it up", "Which speaker do you mean", "the living room one",
     Query(("sonos:LR",), "volume_relative")),
    ("HassMediaSearchAndPlay", "play my jazz favourite", "Which speaker do you mean", "on the kitchen speaker",
     (S("sonos:K", "play_favorite", favorite="jazz"),)),
    ("HassSetPosition", "set the blinds to 40%", "Which blind do you mean", "bedroom shade",
     (S("cover:b", "set_position", position=40),)),
]


def asking_intents() -> set[str]:
    """Every intent of plan.HANDLERS that can ask which device is meant, found by asking plan() itself with
    two same-named devices of every kind (a name that is ambiguous) and without a name (the whole home)."""
    caps = {"power", "brightness", "color", "media", "climate", "cover", "lock", "temperature"}
    twins = [_dev(f"{kind.value}:{n}", "twin", kind, room, caps)
             for kind in DOMAIN_BY_KIND for n, room in ((1, "den"), (2, "study"))]
    values = {"brightness": 50, "volume_level": 30, "temperature": 21, "position": 40, "search_query": "jazz",
              "volume_step": "up", "brightness_step": "up", "fact": "x", "topic": "x"}
    return {intent for intent in HANDLERS for slots in ({**values, "name": "twin"}, values)
            if plan(intent, slots, twins).followup is not None}


def test_every_intent_that_asks_back_is_covered() -> None:
    asking = asking_intents()
    assert {"HassMediaNext", "HassTurnOn", "HassSetVolume", "HassLightSet"} <= asking  # the probe works
    assert asking == {case[0] for case in CASES}


@pytest.mark.parametrize(("intent", "first", "question", "reply", "expected"), CASES,
                         ids=[f"{c[0]}: {c[1]} -> {c[3]}" for c in CASES])
def test_an_answer_finishes_the_question(engine: IntentEngine, intent: str, first: str, question: str,
                                         reply: str, expected: object) -> None:
    asked = engine.parse(first, sender="owner")
    assert asked is not None and asked.intent == intent, asked
    assert asked.steps == () and asked.query is None and question in (asked.problem or ""), asked.problem
    assert asked.followup is not None and asked.followup.intent == intent
    answered = engine.parse(reply, sender="owner")
    assert answered is not None and answered.intent == intent, answered
    assert answered.problem is None, answered.problem
    if isinstance(expected, Query):
        assert answered.query == expected and answered.steps == ()
    else:
        assert answered.steps == expected and answered.query is None
    assert answered.followup is None and len(engine.followups) == 0  # answered: nothing is pending any more


def _problem(found: Plan | None) -> str:
    assert found is not None
    return found.problem or ""


def test_a_target_the_question_did_not_offer_gets_the_intents_answer(engine: IntentEngine) -> None:
    engine.parse("skip this song", sender="owner")
    assert _problem(engine.parse("the bedroom", sender="owner")) == "There is no speaker in the bedroom."
    engine.parse("skip this song", sender="owner")
    assert _problem(engine.parse("kitchen light", sender="owner")) == "The kitchen light can't skip tracks."
    engine.parse("turn on the lamp", sender="owner")
    assert _problem(engine.parse("lamp in the kitchen", sender="owner")) == "There is no lamp in the kitchen."
    engine.parse("turn on the lights", sender="owner")  # "kitchen" is a speaker's name too: here, the room
    assert engine.parse("kitchen", sender="owner").steps == (S("light:k", "turn_on"),)  # type: ignore[union-attr]


def test_an_answer_can_be_asked_back_again(engine: IntentEngine) -> None:
    engine.parse("turn on the lights", sender="owner")
    again = engine.parse("lamp", sender="owner")
    assert again is not None and "lamp in the study or lamp in the den" in (again.problem or "")
    assert again.followup is not None and again.followup.candidates == ("lamp:s", "lamp:d")
    assert engine.parse("den", sender="owner").steps == (S("lamp:d", "turn_on"),)  # type: ignore[union-attr]


def test_anything_else_drops_the_question(engine: IntentEngine) -> None:
    engine.parse("skip this song", sender="owner")
    other = engine.parse("turn on the bedroom light", sender="owner")
    assert other is not None and other.steps == (S("light:b", "turn_on"),)
    late = engine.parse("Kitchen speaker", sender="owner")
    assert late is None or late.intent != "HassMediaNext"
    engine.parse("skip this song", sender="owner")
    assert engine.parse("never mind", sender="owner") == Plan("HassNevermind")
    late = engine.parse("kitchen", sender="owner")
    assert late is None or late.intent != "HassMediaNext"
    engine.parse("skip this song", sender="owner")
    assert engine.parse("what is the meaning of life", sender="owner") is None  # the LLM's: dropped too
    late = engine.parse("kitchen", sender="owner")
    assert late is None or late.intent != "HassMediaNext"


def test_questions_are_per_sender(engine: IntentEngine) -> None:
    engine.parse("skip this song", sender="alice")
    engine.parse("set the volume to 30", sender="bob")
    assert engine.parse("kitchen", sender="bob").steps == (  # type: ignore[union-attr]
        S("sonos:K", "set_volume", volume=30),)
    assert engine.parse("living room", sender="alice").steps == (  # type: ignore[union-attr]
        S("sonos:LR", "next"),)
    engine.parse("skip this song", sender="alice")
    late = engine.parse("kitchen", sender="carol")
    assert late is None or late.intent != "HassMediaNext"


def test_without_a_sender_nothing_is_remembered(engine: IntentEngine) -> None:
    asked = engine.parse("skip this song", None)  # the positional signature still works
    assert asked is not None and asked.followup is not None
    assert len(engine.followups) == 0
    late = engine.parse("Kitchen speaker", sender="owner")
    assert late is None or late.intent != "HassMediaNext"


def test_a_question_expires(engine: IntentEngine, clock: Clock) -> None:
    engine.parse("skip this song", sender="owner")
    clock.now += 119
    assert engine.parse("kitchen", sender="owner").steps == (S("sonos:K", "next"),)  # type: ignore[union-attr]
    engine.parse("skip this song", sender="owner")
    clock.now += 121
    late = engine.parse("kitchen", sender="owner")
    assert late is None or late.intent != "HassMediaNext"


def test_the_store_is_bounded(clock: Clock) -> None:
    store = FollowUps(ttl=120, size=3, clock=clock)
    asked = plan("HassMediaNext", {}, HOME).followup
    assert asked is not None
    for sender in ("a", "b", "c", "d"):
        store.put(sender, asked)
    assert len(store) == 3 and store.pop("a") is None and store.pop("d") == asked
    clock.now += 500
    store.put("e", asked)  # the expired ones go on the next put
    assert len(store) == 1 and store.pop("b") is None


# ---- end to end: through the agent, against the simulated home ------------------------------------------
def _speaker(home: SimHome, name: str) -> SonosSimPlayer:
    sim = home.sim(name)
    assert isinstance(sim, SonosSimPlayer)
    return sim


async def test_skip_then_kitchen_speaker_skips_the_kitchen_track(home: SimHome, tmp_path: Path) -> None:
    """The reported bug: the answer turned the kitchen speaker on instead of skipping its track.
    Needs the agent to pass the sender to IntentEngine.parse (claw.agent.turn)."""
    kitchen, living = _speaker(home, "Kitchen"), _speaker(home, "Living Room")
    async with running_claw(home, tmp_path) as claw:
        async def say(text: str) -> str:
            result = await claw.agent.ask(InboundMessage(channel="console", sender="owner", text=text,
                                                         standing="owner"))
            return result.reply

        assert "Which speaker do you mean" in await say("skip this song")
        assert kitchen.actions() == [] and living.actions() == []
        await say("Kitchen speaker")
    assert kitchen.actions() == ["Next"], kitchen.actions()
    assert kitchen.current["title"] == PLAYLIST[1]["title"]
    assert living.actions() == []
