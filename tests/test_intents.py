"""Local intent tier: real hassil + Home Assistant's English sentences, mapping to plans, and replies."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import claw.intents.engine as engine_module
from claw.errors import ConfigError
from claw.events import Voice
from claw.intents.engine import IntentEngine, own_sentences
from claw.intents.plan import HANDLERS, MemoryOp, Plan, Query, Step, plan
from claw.intents.relative import resolve_relative
from claw.intents.vocab import clean_search, kelvin_to_rgb
from claw.replies.conversation import (
    confirm_prompt,
    declined_reply,
    llm_down_reply,
    soul_applied_reply,
    soul_edit_prompt,
)
from claw.replies.local import (
    ack_reply,
    done_reply,
    error_reply,
    greeting,
    memory_reply,
    problem_reply,
    state_reply,
)
from devices.models import Device, Kind


def _dev(dev_id: str, name: str, kind: Kind, room: str | None, caps: set[str], **kw: object) -> Device:
    return Device(id=dev_id, name=name, kind=kind, room=room, capabilities=frozenset(caps),
                  driver="http", address="127.0.0.1:9", **kw)  # type: ignore[arg-type]


HOME = [
    _dev("sonos:LR", "Living Room", Kind.SPEAKER, "living room", {"media"}),
    _dev("sonos:K", "Kitchen", Kind.SPEAKER, "kitchen", {"media"}),
    _dev("light:k", "kitchen light", Kind.LIGHT, "kitchen", {"power", "brightness", "color"}),
    _dev("light:lr", "living room lamp", Kind.LIGHT, "living room", {"power", "brightness"}),
    _dev("light:b", "bedroom light", Kind.LIGHT, "bedroom", {"power", "brightness", "color"}),
    _dev("climate:h", "hallway thermostat", Kind.CLIMATE, "hallway", {"climate"}),
    _dev("cover:b", "bedroom shade", Kind.COVER, "bedroom", {"cover"}),
    _dev("lock:f", "front door", Kind.LOCK, "hallway", {"lock"}),
    _dev("garage:g", "garage door", Kind.GARAGE, "garage", {"cover"}),
]
BY_ID = {d.id: d for d in HOME}
LIGHTS = ("light:k", "light:lr", "light:b")
SPEAKERS = ("sonos:LR", "sonos:K")


@pytest.fixture(scope="module")
def engine() -> IntentEngine:
    eng = IntentEngine("en")
    eng.set_devices(HOME)
    return eng


def S(device_id: str, command: str, **args: object) -> Step:
    return Step(device_id, command, dict(args))


# (sentence, default_area, expected): a tuple of Steps, a Query, a MemoryOp, "problem:<fragment>",
# an intent name for plans that change nothing, or None (not a local intent: the LLM tier takes it).
CASES: list[tuple[str, str | None, object]] = [
    # switching by name, area + domain, and the whole home
    ("turn on the kitchen light", None, (S("light:k", "turn_on"),)),
    ("Turn off the living room lamp.", None, (S("light:lr", "turn_off"),)),
    ("switch on the bedroom light please", None, (S("light:b", "turn_on"),)),
    ("turn on the lights in the kitchen", None, (S("light:k", "turn_on"),)),
    ("turn off the living room lights", None, (S("light:lr", "turn_off"),)),
    ("turn on the lights", "bedroom", (S("light:b", "turn_on"),)),
    ("turn on the lights", None, "problem:Which light do you mean"),
    ("turn off the lights", None, tuple(S(i, "turn_off") for i in LIGHTS)),
    ("turn off all the lights", "kitchen", tuple(S(i, "turn_off") for i in LIGHTS)),
    ("turn on the lights in the garage", None, "problem:There is no light in the garage"),
    # covers, garage and lock
    ("open the garage door", None, (S("garage:g", "open"),)),
    ("close the garage door", None, (S("garage:g", "close"),)),
    ("open the garage", None, (S("garage:g", "open"),)),
    ("open the bedroom shade", None, (S("cover:b", "open"),)),
    ("close the blinds in the bedroom", None, (S("cover:b", "close"),)),
    ("close all the blinds", "kitchen", (S("cover:b", "close"),)),
    ("set the bedroom shade to 40%", None, (S("cover:b", "set_position", position=40),)),
    ("set the bedroom shade to 140%", None, "problem:position can go from 0% to 100%"),
    ("lock the front door", None, (S("lock:f", "lock"),)),
    ("unlock the front door", None, (S("lock:f", "unlock"),)),
    ("lock all the doors", None, (S("lock:f", "lock"),)),
    # lights: brightness, colour, range
    ("set the kitchen light to 50%", None, (S("light:k", "set_brightness", brightness=50),)),
    ("set the brightness of the bedroom light to 25 percent", None,
     (S("light:b", "set_brightness", brightness=25),)),
    ("dim the kitchen light to 20%", None, (S("light:k", "set_brightness", brightness=20),)),
    ("set the kitchen light to 150%", None, "problem:brightness can go from 0% to 100%"),
    ("set the bedroom light to red", None, (S("light:b", "set_color", rgb=[255, 0, 0]),)),
    ("make the kitchen light blue", None, (S("light:k", "set_color", rgb=[0, 0, 255]),)),
    ("set the living room lamp to green", None, "problem:living room lamp can't change colour"),
    ("set the kitchen brightness to 70%", None, (S("light:k", "set_brightness", brightness=70),)),
    ("set the kitchen light to warm white", None, (S("light:k", "set_color", rgb=kelvin_to_rgb(2700)),)),
    # climate
    ("set the temperature to 21", None, (S("climate:h", "set_temperature", temperature=21.0),)),
    ("set the hallway thermostat to 19.5", None, (S("climate:h", "set_temperature", temperature=19.5),)),
    ("set the temperature in the hallway to 22 degrees", None,
     (S("climate:h", "set_temperature", temperature=22.0),)),
    ("set the thermostat to 20", None, (S("climate:h", "set_temperature", temperature=20.0),)),
    ("set the temperature to 90", None, "problem:temperature can go from 5 °C to 35 °C"),
    ("set the temperature in the kitchen to 21", None, "problem:There is no thermostat in the kitchen"),
    ("turn on the heating", None, (S("climate:h", "set_hvac_mode", mode="heat"),)),
    ("turn off the thermostat", None, (S("climate:h", "set_hvac_mode", mode="off"),)),
    ("what's the temperature in the hallway", None, Query(("climate:h",), "temperature")),
    ("what is the temperature", None, Query(("climate:h",), "temperature")),
    ("how warm is it", "kitchen", Query(("climate:h",), "temperature")),
    ("what's the temperature in the bedroom", None,
     "problem:no thermostat in the bedroom. The only thermostat is the hallway thermostat"),
    # state questions
    ("is the front door locked", None, Query(("lock:f",), "state", "locked", "one_yesno")),
    ("is the kitchen light on", None, Query(("light:k",), "state", "on", "one_yesno")),
    ("are any lights on", "kitchen", Query(LIGHTS, "state", "on", "any")),
    ("which lights are on", None, Query(LIGHTS, "state", "on", "which")),
    ("are any lights on in the garage", None, "problem:There are no lights in the garage"),
    ("what's the state of the living room speaker", None, Query(("sonos:LR",), "state")),
    ("what's playing in the kitchen", None, Query(("sonos:K",), "state")),
    ("what's playing", None, Query(SPEAKERS, "state")),
    # media
    ("pause the music in the kitchen", None, (S("sonos:K", "pause"),)),
    ("pause the kitchen", None, (S("sonos:K", "pause"),)),
    ("pause the music", None, tuple(S(i, "pause") for i in SPEAKERS)),
    ("stop the music in the living room", None, (S("sonos:LR", "pause"),)),
    ("resume the music in the living room", None, (S("sonos:LR", "play"),)),
    ("next track in the kitchen", None, (S("sonos:K", "next"),)),
    ("skip this song", "living room", (S("sonos:LR", "next"),)),
    ("skip this song", None, "problem:Which speaker do you mean: Living Room speaker or Kitchen speaker?"),
    ("previous track in the kitchen", None, (S("sonos:K", "previous"),)),
    ("play the next song in the kitchen", None, (S("sonos:K", "next"),)),
    ("set the kitchen volume to 30", None, (S("sonos:K", "set_volume", volume=30),)),
    ("set the volume to 25", "living room", (S("sonos:LR", "set_volume", volume=25),)),
    ("set the kitchen volume to 200", None, "problem:volume can go from 0% to 100%"),
    ("mute the kitchen", None, (S("sonos:K", "set_mute", muted=True),)),
    ("unmute the living room speaker", None, (S("sonos:LR", "set_mute", muted=False),)),
    ("turn on the living room speaker", None, (S("sonos:LR", "play"),)),
    ("play my jazz favourite in the kitchen", None, (S("sonos:K", "play_favorite", favorite="jazz"),)),
    ("play some jazz on the kitchen speaker", None, (S("sonos:K", "play_favorite", favorite="jazz"),)),
    ("play the playlist chill vibes in the living room", None,
     (S("sonos:LR", "play_favorite", favorite="chill vibes"),)),
    ("play Radio Paradise", "kitchen", (S("sonos:K", "play_favorite", favorite="Radio Paradise"),)),
    ("turn up the volume in the kitchen", None, Query(("sonos:K",), "volume_relative")),
    ("turn down the kitchen volume by 20", None, Query(("sonos:K",), "volume_relative")),
    ("louder in the kitchen", None, Query(("sonos:K",), "volume_relative")),
    # the claw's own intents
    ("remember that my wife's birthday is on May 3rd", None,
     MemoryOp("remember", "my wife's birthday is on May 3rd")),
    ("note that the wifi password is hunter2", None, MemoryOp("remember", "the wifi password is hunter2")),
    ("what do you know about me", None, MemoryOp("recall", "")),
    ("what do you remember about my wife", None, MemoryOp("recall", "my wife")),
    ("forget that the plumber comes on Tuesday", None, MemoryOp("forget", "the plumber comes on Tuesday")),
    ("never mind", None, "HassNevermind"),
    ("thanks", None, "ClawThanks"),
    ("hello", None, "HassRespond"),
    ("what can I say", None, "HassRespond"),
    # not local: the LLM tier takes these
    ("what is the meaning of life", None, None),
    ("write me a poem", None, None),
    ("remember to water the plants", None, None),
    ("remember that", None, None),
    ("what do you know about quantum physics", None, None),
    ("what time is it", None, None),
    ("is anyone in the kitchen", None, None),
    ("turn on the toaster", None, None),
    # compound commands (claw.intents.compound): every half a local command, one plan
    ("play jazz on the living room and kitchen speakers", None,
     (S("sonos:LR", "play_favorite", favorite="jazz"), S("sonos:K", "play_favorite", favorite="jazz"))),
    ("turn on the kitchen light and play jazz in the kitchen", None,
     (S("light:k", "turn_on"), S("sonos:K", "play_favorite", favorite="jazz"))),
    ("turn on the kitchen light and make me a sandwich", None, None),  # one half is not: the LLM's
]


@pytest.mark.parametrize(("sentence", "area", "expected"), CASES, ids=[c[0] for c in CASES])
def test_sentence(engine: IntentEngine, sentence: str, area: str | None, expected: object) -> None:
    got = engine.parse(sentence, default_area=area)
    if expected is None:
        assert got is None, got
        return
    assert got is not None, f"no match for {sentence!r}"
    if isinstance(expected, tuple):
        assert got.problem is None, got.problem
        assert got.steps == expected
        assert got.query is None and got.memory is None
    elif isinstance(expected, Query):
        assert got.problem is None, got.problem
        assert got.query == expected and got.steps == ()
    elif isinstance(expected, MemoryOp):
        assert got.memory == expected and got.steps == ()
    elif isinstance(expected, str) and expected.startswith("problem:"):
        assert got.steps == () and got.query is None
        assert got.problem and expected.removeprefix("problem:") in got.problem, got.problem
    else:
        assert got.intent == expected and got.steps == () and got.query is None and got.problem is None


def test_relative_volume_resolves_against_the_state(engine: IntentEngine) -> None:
    up = engine.parse("turn up the volume in the kitchen")
    down = engine.parse("turn down the kitchen volume by 20")
    assert up is not None and up.slots["volume_delta"] == 10
    assert down is not None and down.slots["volume_delta"] == -20
    assert resolve_relative(up, {"sonos:K": {"volume": 95}}).steps == (S("sonos:K", "set_volume", volume=100),)
    assert resolve_relative(down, {"sonos:K": {"volume": 30}}).steps == (S("sonos:K", "set_volume", volume=10),)
    silent = resolve_relative(down, {"sonos:K": {"available": False}})
    assert silent.steps == () and silent.query is None and "volume" in (silent.problem or "")


def test_slot_lists_follow_the_devices() -> None:
    eng = IntentEngine()
    eng.set_devices(HOME)
    assert eng.parse("turn on the reading lamp") is None
    renamed = [_dev("light:lr", "reading lamp", Kind.LIGHT, "study", {"power"}, aliases=("big lamp",)),
               _dev("light:x", "Bob's Lamp (old)", Kind.LIGHT, "Kid's Room", {"power"})]
    eng.set_devices(renamed)
    assert eng.parse("turn on bobs lamp old").steps == (S("light:x", "turn_on"),)
    assert eng.parse("turn on Bob's Lamp (old)").steps == (S("light:x", "turn_on"),)
    assert eng.parse("turn off the lights in the kids room").steps == (S("light:x", "turn_off"),)
    assert eng.parse("turn on the reading lamp").steps == (S("light:lr", "turn_on"),)
    assert eng.parse("turn off the big lamp").steps == (S("light:lr", "turn_off"),)
    assert eng.parse("turn on the lights in the study").steps == (S("light:lr", "turn_on"),)
    assert eng.parse("turn on the kitchen light") is None


def test_plan_is_pure_and_handles_ambiguity_and_capabilities() -> None:
    lamps = [_dev("l1", "lamp", Kind.LIGHT, "study", {"power"}),
             _dev("l2", "lamp", Kind.LIGHT, "den", {"power"})]
    amb = plan("HassTurnOn", {"name": "lamp"}, lamps)
    assert amb.steps == () and "which one" in (amb.problem or "")
    assert plan("HassTurnOn", {"name": "lamp"}, lamps, default_area="den").steps == (S("l2", "turn_on"),)
    assert plan("HassTurnOn", {"name": "lamp", "area": "study"}, lamps).steps == (S("l1", "turn_on"),)
    unknown = plan("HassTurnOn", {"name": "toaster"}, lamps)
    assert unknown.problem == "I don't know a device called “toaster”."
    dim = plan("HassLightSet", {"name": "lamp", "area": "den", "brightness": 30}, lamps)
    assert dim.problem == "The lamp can't be dimmed."
    nothing = plan("HassNevermind", {}, [])
    assert nothing == Plan("HassNevermind")
    warm = plan("HassLightSet", {"name": "kitchen light", "temperature": 2700}, HOME)
    assert warm.steps == (S("light:k", "set_color", rgb=kelvin_to_rgb(2700)),)
    assert kelvin_to_rgb(2700)[0] == 255 and kelvin_to_rgb(2700)[2] < 200


def test_clean_search() -> None:
    assert clean_search("my jazz favourite") == "jazz"
    assert clean_search("some jazz music") == "jazz"
    assert clean_search("music") == "music"
    assert clean_search("my favourites") == ""


# ---- replies -----------------------------------------------------------------------------------
CASUAL = Voice(name="Jeeves", formal=False, concise=False)
FORMAL = Voice(name="Jeeves", formal=True, concise=False)
TERSE = Voice(name="Jeeves", formal=False, concise=True)


def test_done_reply_differs_by_voice() -> None:
    p = Plan("HassTurnOn", steps=(S("light:k", "turn_on"),))
    assert done_reply(p, BY_ID, CASUAL) == "Done — kitchen light is on."
    assert done_reply(p, BY_ID, FORMAL) == "Certainly. The kitchen light has been switched on."
    assert done_reply(p, BY_ID, TERSE) == "Kitchen light is on."
    many = Plan("HassTurnOff", steps=tuple(S(i, "turn_off") for i in LIGHTS))
    assert done_reply(many, BY_ID, CASUAL) == (
        "Done — kitchen light, living room lamp and bedroom light are off.")
    mixed = Plan("x", steps=(S("sonos:K", "play_favorite", favorite="jazz"),
                             S("climate:h", "set_temperature", temperature=21.0)))
    assert done_reply(mixed, BY_ID, CASUAL) == ("Done — playing jazz on Kitchen speaker, and hallway "
                                                "thermostat is set to 21 °C.")
    assert done_reply(mixed, BY_ID, FORMAL) == ("Certainly. Jazz is now playing on the Kitchen speaker. "
                                                "The hallway thermostat has been set to 21 °C.")
    red = Plan("HassLightSet", steps=(S("light:b", "set_color", rgb=[255, 0, 0]),))
    assert done_reply(red, BY_ID, CASUAL) == "Done — bedroom light is red now."


def test_state_reply() -> None:
    states = {"climate:h": {"current_temperature": 20.5, "target_temperature": 21.0, "available": True}}
    q = Query(("climate:h",), "temperature")
    assert state_reply(q, BY_ID, states, CASUAL) == "It's 20.5 °C by the hallway thermostat (set to 21 °C)."
    assert state_reply(q, BY_ID, states, FORMAL) == ("The hallway thermostat reads 20.5 °C, with the target "
                                                     "set to 21 °C.")
    down = {"climate:h": {"available": False, "error": "timeout"}}
    assert state_reply(q, BY_ID, down, CASUAL) == "Hallway thermostat isn't answering."
    assert "not responding" in state_reply(q, BY_ID, down, FORMAL)
    lock = Query(("lock:f",), "state", "locked", "one_yesno")
    assert state_reply(lock, BY_ID, {"lock:f": {"locked": False}}, CASUAL) == "Nope, front door isn't locked."
    assert state_reply(lock, BY_ID, {"lock:f": {"locked": True}}, FORMAL) == "Yes, the front door is locked."
    lights = {"light:k": {"power": True, "brightness": 40}, "light:lr": {"power": False},
              "light:b": {"available": False}}
    which = Query(LIGHTS, "state", "on", "which")
    assert state_reply(which, BY_ID, lights, CASUAL) == "Kitchen light is on. (Bedroom light didn't answer.)"
    anyq = Query(LIGHTS, "state", "on", "any")
    assert state_reply(anyq, BY_ID, lights, FORMAL).startswith("Yes: the kitchen light is on.")
    speaker = {"sonos:K": {"playback": "playing", "title": "Take Five", "volume": 30}}
    one = Query(("sonos:K",), "state")
    assert state_reply(one, BY_ID, speaker, CASUAL) == (
        "Kitchen speaker is playing “Take Five”, at volume 30%.")
    assert state_reply(one, BY_ID, speaker, FORMAL) == (
        "The Kitchen speaker is currently playing “Take Five”, at volume 30%.")


def test_other_replies_differ_and_carry_the_name() -> None:
    assert "Jeeves" in greeting(CASUAL) and "Jeeves" in greeting(FORMAL)
    assert greeting(CASUAL) != greeting(FORMAL)
    problem = "There is no light in the garage."
    assert problem_reply(problem, CASUAL) == "Hmm, there is no light in the garage."
    assert problem_reply(problem, FORMAL) == "I'm afraid there is no light in the garage."
    assert problem_reply(problem, TERSE) == problem
    assert error_reply("kitchen light", "kitchen light did not answer within 5 s", CASUAL) == (
        "That didn't work on kitchen light: kitchen light did not answer within 5 s.")
    assert error_reply("kitchen light", "refused", FORMAL) == (
        "I'm sorry. The kitchen light could not carry that out: refused.")
    assert memory_reply("remember", 1, CASUAL) != memory_reply("remember", 1, FORMAL)
    assert memory_reply("recall", ["likes jazz", "wife: Ann"], CASUAL) == (
        "Here's what I know:\n- likes jazz\n- wife: Ann")
    assert memory_reply("recall", [], FORMAL) == "I have nothing on record about that yet."
    assert memory_reply("forget", 2, CASUAL) == "Done — forgot 2 things."
    assert memory_reply("forget", 0, FORMAL) == "I had nothing of that kind on record."
    assert ack_reply(CASUAL, Plan("HassNevermind")) != ack_reply(FORMAL, Plan("HassNevermind"))
    assert ack_reply(FORMAL, Plan("HassRespond", slots={"response": "hello"})) == greeting(FORMAL)
    assert ack_reply(CASUAL) == "No worries."


def test_confirmation_and_soul_replies() -> None:
    for voice in (CASUAL, FORMAL, TERSE):
        prompt = confirm_prompt("unlock the front door", "locks are risky", 300, voice)
        assert "YES" in prompt and "unlock the front door" in prompt and "5 minutes" in prompt
        assert "YES" in soul_edit_prompt("be formal", "- formal: no\n+ formal: yes", 120, voice)
    assert confirm_prompt("x", "", 60, CASUAL) != confirm_prompt("x", "", 60, FORMAL)
    assert declined_reply("unlock front door", CASUAL) == "OK — cancelled: unlock front door."
    assert "Jeeves" in soul_applied_reply(FORMAL) and "Jeeves" in soul_applied_reply(CASUAL)
    assert "timed out" in llm_down_reply("timed out", CASUAL) and llm_down_reply("x", CASUAL) != llm_down_reply(
        "x", FORMAL)


# ---- relative brightness ------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "delta"), [("dim the kitchen light", -25), ("make the kitchen light brighter", 25),
                                             ("turn up the kitchen light", 25), ("darken the kitchen light", -25)])
def test_relative_brightness_is_a_query_then_a_step(engine: IntentEngine, text: str, delta: int) -> None:
    found = engine.parse(text)
    assert found is not None and found.query is not None and found.query.what == "brightness_relative"
    assert found.slots["brightness_delta"] == delta
    (light,) = found.query.device_ids
    resolved = resolve_relative(found, {light: {"power": True, "brightness": 50}})
    assert resolved.steps == (Step(light, "set_brightness", {"brightness": 50 + delta}),)


def test_relative_brightness_edges() -> None:
    base = Plan("ClawLightStep", query=Query(("a", "b", "c"), "brightness_relative"), slots={"brightness_delta": -25})
    states = {"a": {"power": True, "brightness": 10}, "b": {"power": False, "brightness": 80},
              "c": {"power": True, "brightness": 100}}
    assert resolve_relative(base, states).steps == (Step("a", "turn_off", {}),
                                                    Step("c", "set_brightness", {"brightness": 75}))
    up = Plan("ClawLightStep", query=Query(("b",), "brightness_relative"), slots={"brightness_delta": 25})
    assert resolve_relative(up, states).steps == (Step("b", "set_brightness", {"brightness": 25}),)
    off_only = Plan("ClawLightStep", query=Query(("b",), "brightness_relative"), slots={"brightness_delta": -25})
    assert resolve_relative(off_only, states).problem == "That light is off already."
    unreadable = resolve_relative(up, {"b": {"available": False}})
    assert unreadable.problem and not unreadable.steps


# ---- the claw's sentences are data -------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]


def test_own_sentences_are_hassil_data_with_a_handler_for_every_intent(engine: IntentEngine) -> None:
    data = own_sentences("en")
    assert data is not None and data["language"] == "en"
    claw_intents = {name for name in data["intents"] if name.startswith("Claw")}
    assert {"ClawRemember", "ClawRecall", "ClawForget", "ClawLightStep", "ClawThanks"} <= claw_intents
    assert set(data["intents"]) <= set(HANDLERS)
    assert {"fact", "topic", "brightness", "color"} <= set(data["lists"])
    for name in data["intents"]:  # merged into the engine's hassil Intents
        assert name in engine.intents.intents
    assert own_sentences("xx") is None


def test_the_sentences_ship_in_the_package() -> None:
    """pyproject's package-data for claw names every file under claw/intents/sentences (non-editable installs)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["claw"]
    files = [p.relative_to(ROOT / "claw").as_posix() for p in (ROOT / "claw/intents/sentences").rglob("*")
             if p.is_file()]
    assert "intents/sentences/en.yaml" in files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
    assert (resources.files("claw.intents") / "sentences" / "en.yaml").is_file()


def test_an_intent_without_a_handler_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sentences").mkdir()
    (tmp_path / "sentences" / "en.yaml").write_text(
        "language: en\nintents:\n  ClawDance:\n    data:\n      - sentences: [dance]\n", encoding="utf-8")
    monkeypatch.setattr(engine_module.resources, "files", lambda package: tmp_path)
    with pytest.raises(ConfigError, match="ClawDance"):
        own_sentences("en")


def test_sentence_files_per_family_are_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sentences/en.yaml plus every sentences/en/*.yaml: one file per family of phrasings, merged in name order."""
    (tmp_path / "sentences" / "en").mkdir(parents=True)
    (tmp_path / "sentences" / "en.yaml").write_text(
        "language: en\nintents:\n  ClawThanks:\n    data:\n      - sentences: [cheers]\n", encoding="utf-8")
    (tmp_path / "sentences" / "en" / "b.yaml").write_text(
        "language: en\nintents:\n  ClawThanks:\n    data:\n      - sentences: [ta]\n", encoding="utf-8")
    (tmp_path / "sentences" / "en" / "a.yaml").write_text(
        "language: en\nlists:\n  things:\n    values: [x]\n", encoding="utf-8")
    monkeypatch.setattr(engine_module.resources, "files", lambda package: tmp_path)
    merged = own_sentences("en")
    assert merged is not None and merged["lists"] == {"things": {"values": ["x"]}}
    sentences = [s for d in merged["intents"]["ClawThanks"]["data"] for s in d["sentences"]]
    assert sentences == ["cheers", "ta"]
    (tmp_path / "sentences" / "en" / "c.yaml").write_text("language: fr\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="c.yaml"):
        own_sentences("en")
