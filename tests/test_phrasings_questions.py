"""Questions, help, greetings and the reply when nothing matches: real sentences through the claw against the
simulated home. A question's answer is checked against the simulators' real state (changed first in many
cases, so a hard-coded answer fails) and no question changes a device; sentences that must not act leave
every simulator as it was."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from claw.agent.questions import acts, answers
from claw.events import InboundMessage, TurnResult, Voice
from claw.intents.engine import IntentEngine
from claw.intents.questions import tidy_question
from claw.intents.unmatched import Guess
from claw.replies import help as helping
from claw.runtime import Claw
from devices.models import Device, Kind
from devices.sim.home import SimHome, random_loopback_base
from devices.sim.sonos import SonosSimPlayer
from devices.sim.sonos_xml import PLAYLIST
from tests.module_claw import module_claw

KL, LAMP, BL, HL = "kitchen light", "living room lamp", "bedroom light", "hallway light"
LIGHTS = (KL, LAMP, BL, HL)
K, LR = "Kitchen", "Living Room"
T, SH, FD, G = "hallway thermostat", "bedroom shade", "front door", "garage door"
ALL_SIMS = (*LIGHTS, K, LR, T, SH, FD, G)
FIRST = PLAYLIST[0]["title"]  # what a speaker plays when it starts


# ---- one home and one claw for the module; every case starts from the home file's state -------------


@pytest.fixture(scope="module")
def qhome() -> Iterator[SimHome]:
    sim = SimHome.load(ip_base=random_loopback_base())
    sim.start()
    yield sim
    sim.stop()



isolated_env, mclaw, home = module_claw('qhome', 'questions')


ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
_senders = iter(range(1, 1_000_000))


async def say(claw: Claw, text: str, sender: str | None = None) -> TurnResult:
    """One turn as the owner; each case its own sender, so no question carries over."""
    who = sender or f"owner-{next(_senders)}"
    return await claw.agent.ask(InboundMessage("console", who, text, standing="owner"))


def speaker(home: SimHome, name: str) -> SonosSimPlayer:
    sim = home.sim(name)
    assert isinstance(sim, SonosSimPlayer)
    return sim


def snapshot(home: SimHome) -> dict[str, Any]:
    """Every simulator's state (the thermostat's drifting reading left out) and command count."""
    out: dict[str, Any] = {}
    for name in ALL_SIMS:
        sim = home.sim(name)
        if isinstance(sim, SonosSimPlayer):
            out[name] = (sim.transport_state, sim.volume, sim.muted, sim.current["title"], len(sim.commands))
        else:
            out[name] = ({k: v for k, v in sim.state.items() if k != "sensors"}, len(sim.commands))
    return out


def clear_commands(home: SimHome) -> None:
    for name in ALL_SIMS:
        home.sim(name).commands.clear()


# ---- setups: the state a question is asked in, set on the simulators directly -----------------------
Setup = Callable[[SimHome], None]


def on(name: str, **extra: Any) -> Setup:
    return lambda home: home.sim(name).change({"on": True, **extra})


def change(name: str, **changes: Any) -> Setup:
    return lambda home: home.sim(name).change(changes)


def playing(name: str) -> Setup:
    return lambda home: speaker(home, name).state.handle("Play", {})


def volume(name: str, level: int, mute: bool = False) -> Setup:
    def setup(home: SimHome) -> None:
        speaker(home, name).state.handle("SetVolume", {"DesiredVolume": str(level), "Channel": "Master"})
        if mute:
            speaker(home, name).state.handle("SetMute", {"DesiredMute": "1", "Channel": "Master"})
    return setup


def thermostat(**state: Any) -> Setup:
    """The thermostat restarted with this state (its reading and humidity can only be set so)."""
    return lambda home: home.sim(T).reset({"mode": "heat", "target": 20.5, "temperature": 19.0, "humidity": 45,
                                           **state})


def both(*setups: Setup) -> Setup:
    def setup(home: SimHome) -> None:
        for one in setups:
            one(home)
    return setup


@dataclass(frozen=True)
class Q:
    """A question, the state it is asked in, fragments its answer must hold and must not hold."""

    text: str
    says: tuple[str, ...]
    setup: Setup | None = None
    not_says: tuple[str, ...] = ()


QUESTIONS: list[Q] = [
    # yes/no about one device, a room or a kind; adverbs and politeness words around the question
    Q("is the garage open?", ("nope", "garage door isn't open")),
    Q("is the garage open?", ("yep", "garage door is open"), change(G, door="open")),
    Q("did I leave the garage open", ("yep", "garage door"), change(G, door="open")),
    Q("is the front door locked currently?", ("yep", "front door is locked")),
    Q("is the front door locked currently?", ("nope", "front door isn't locked"), change(FD, locked=False)),
    Q("can you tell me if the front door is locked right now?", ("nope",), change(FD, locked=False)),
    Q("do you know whether the front door is locked", ("yep", "locked")),
    Q("is the front door locked at the moment please", ("yep",)),
    Q("is the front door unlocked", ("nope", "isn't unlocked")),
    Q("are the kitchen lights on?", ("yep", "kitchen light is on"), on(KL)),
    Q("are the kitchen lights on?", ("nope", "kitchen light"), None, ("yep",)),
    Q("is the kitchen light still on", ("yep",), on(KL)),
    Q("i wonder if the lamp is on", ("yep", "living room lamp"), on(LAMP)),
    Q("did I leave the lights on in the bedroom", ("yep", "bedroom light"), on(BL)),
    Q("is the heating on?", ("yep", "heat mode")),
    Q("is the heating on?", ("nope",), thermostat(mode="off")),
    Q("is the thermostat off", ("yep",), thermostat(mode="off")),
    Q("is the living room speaker playing", ("yep", "living room speaker"), playing(LR)),
    Q("is anything playing in the kitchen", ("nope", "stopped")),
    Q("is music playing", ("yes", "kitchen speaker"), playing(K), ("living room",)),
    Q("is the bedroom shade closed", ("nope", "40% open"), change(SH, position=40)),
    Q("are the blinds open", ("nope", "bedroom shade isn't open")),
    # which / any / how many, over a kind of device or a room
    Q("which doors are locked?", ("front door is locked",)),
    Q("which doors are locked?", ("none",), change(FD, locked=False), ("front door is locked",)),
    Q("which lights are on?", ("kitchen light", "bedroom light"), both(on(KL), on(BL)), ("hallway", "lamp")),
    Q("which lights are on?", ("none of the lights are on",)),
    Q("do I have any unlocked doors?", ("nope",)),
    Q("do I have any unlocked doors?", ("yep", "front door"), change(FD, locked=False)),
    Q("are there any lights on", ("yes", "hallway light"), on(HL), ("kitchen",)),
    Q("any lights on?", ("none of the lights are on",)),
    Q("are any blinds open", ("nope", "bedroom shade")),
    Q("is there anything open", ("yes", "bedroom shade"), change(SH, position=40), ("garage",)),
    Q("is anything on in the kitchen?", ("yes", "kitchen light"), on(KL)),
    Q("is anything on in the kitchen?", ("yes", "kitchen speaker"), playing(K), ("kitchen light",)),
    Q("is anything on in the kitchen?", ("nothing in the kitchen is on",)),
    Q("what's on in the kitchen", ("kitchen light is on",), on(KL)),
    Q("is everything off", ("no", "hallway thermostat")),
    Q("is everything off", ("yes", "off"), thermostat(mode="off"), ("no:",)),
    Q("how many lights are on?", ("3 of the 4 lights are on",), both(on(KL), on(BL), on(HL))),
    Q("how many lights are on?", ("none of the 4 lights",)),
    Q("are any lights on upstairs", ("upstairs", "no floors", "bedroom light"), on(BL)),
    # readings: what's playing, volume, temperature, humidity, brightness, position, "what's X at"
    Q("what's playing in the living room?", (FIRST,), playing(LR)),
    Q("tell me what's playing in the kitchen", (FIRST,), playing(K)),
    Q("what's playing in the living room?", ("stopped",)),
    Q("what's the volume in the kitchen?", ("35%",), volume(K, 35)),
    Q("what's the volume in the living room", ("20%",)),
    Q("how loud is the kitchen speaker", ("15%", "muted"), volume(K, 15, mute=True)),
    Q("what's the temperature in the hallway?", ("23.5 °C",), thermostat(mode="off", temperature=23.5)),
    Q("how warm is it in the hallway?", ("17.5 °C",), thermostat(mode="off", temperature=17.5)),
    Q("what's the humidity in the hallway?", ("62%",), thermostat(humidity=62)),
    Q("how humid is it in the hallway", ("45%",)),
    Q("what's the thermostat set to", ("22 °C", "heat mode"), change(T, target=22.0)),
    Q("what's the bedroom shade at?", ("40% open",), change(SH, position=40)),
    Q("what's the bedroom shade at?", ("closed",)),
    Q("how open is the bedroom blind", ("fully open",), change(SH, position=100)),
    Q("what's the kitchen light at", ("60%",), on(KL, brightness=60)),
    Q("how bright is the bedroom light", ("25%",), on(BL, brightness=25)),
    Q("how bright is the bedroom light", ("off",)),
    Q("what's the humidity in the kitchen", ("no thermostat or sensor in the kitchen",)),
    Q("how loud is the kitchen light", ("kitchen light has no volume",)),
    # help, inventory, greetings: answered locally from the devices
    Q("what's in the kitchen?", ("kitchen light", "on at 60%", "kitchen speaker"), on(KL, brightness=60)),
    Q("what's in the bedroom", ("bedroom light", "bedroom shade", "40% open"), change(SH, position=40)),
    Q("what devices do you have?", ("10 devices", *LIGHTS, "hallway thermostat", "front door", "garage door")),
    Q("what can you do?", ("try", "turn on the kitchen light", "is the front door locked?")),
    Q("help", ("try", "“")),
    Q("hi", ("claw",)),
    Q("good morning", ("good morning", "claw")),
    Q("thanks", ("any time",)),
]


@ON_MODULE_LOOP
@pytest.mark.parametrize("q", QUESTIONS, ids=[f"{i}:{q.text}" for i, q in enumerate(QUESTIONS)])
async def test_question_is_answered_from_the_devices_state(q: Q, home: SimHome, mclaw: Claw) -> None:
    if q.setup is not None:
        q.setup(home)
    clear_commands(home)
    before = snapshot(home)
    result = await say(mclaw, q.text)
    reply = result.reply.lower()
    assert result.tier == "intent", result.reply
    for fragment in q.says:
        assert fragment.lower() in reply, (q.text, result.reply)
    for fragment in q.not_says:
        assert fragment.lower() not in reply, (q.text, result.reply)
    assert result.actions == ()
    assert home.physical_commands() == 0 and snapshot(home) == before


def test_the_question_table_is_big_enough_and_local() -> None:
    assert len(QUESTIONS) >= 50
    assert len({q.text for q in QUESTIONS if q.setup is not None}) >= 25  # many answers depend on a changed state


# ---- sentences that must not act: chit-chat, the world, unknown devices, ambiguous commands ----------
# (sentence, fragments the reply must hold)
NO_ACT: list[tuple[str, tuple[str, ...]]] = [
    ("is it going to rain?", ("llm",)),
    ("what's the capital of France?", ("answer that",)),
    ("what time is it", ("llm",)),
    ("what's the weather like tomorrow?", ("llm",)),
    ("who won the football last night?", ("llm",)),
    ("how tall is Mount Everest?", ("llm",)),
    ("tell me a joke", ("llm",)),
    ("write me a poem", ("llm",)),
    ("how are you?", ("llm",)),
    ("who are you?", ("llm",)),
    ("I love you", ("llm",)),
    ("is anyone home?", ()),
    ("what's on TV tonight?", ()),
    ("set an alarm for 7am", ("set time",)),
    ("remind me to call mum tomorrow", ()),
    ("turn off the lights at 11pm", ("set time",)),
    ("turn on the disco ball", ("“disco ball”",)),
    ("turn on the", ("switch something on", "for example")),
    ("turn on the kichen light", ("did you mean the kitchen light",)),
    ("lock the back door", ("did you mean the front door",)),
    ("turn on the lights", ("which light",)),
    ("skip this song", ("which speaker",)),
    ("set the volume to 30", ("which speaker",)),
    ("resume the music", ("which speaker",)),
    ("never mind", ()),
    ("what do you know about quantum physics", ()),
]


@ON_MODULE_LOOP
@pytest.mark.parametrize(("text", "says"), NO_ACT, ids=[n[0] for n in NO_ACT])
async def test_sentence_does_not_act(text: str, says: tuple[str, ...], home: SimHome, mclaw: Claw) -> None:
    clear_commands(home)
    before = snapshot(home)
    result = await say(mclaw, text)
    assert result.reply.strip()
    for fragment in says:
        assert fragment.lower() in result.reply.lower(), (text, result.reply)
    assert result.actions == () and result.tier != "confirm"
    assert home.physical_commands() == 0 and snapshot(home) == before


def test_the_no_act_table_is_big_enough() -> None:
    assert len(NO_ACT) >= 20


# ---- the reply when nothing matches ---------------------------------------------------------------
def quoted(reply: str) -> list[str]:
    return re.findall(r"“([^”]+)”", reply)


@ON_MODULE_LOOP
@pytest.mark.parametrize(("text", "stray"), [("turn on the", "the"), ("turn off the lights at 11pm", "11pm"),
                                             ("turn on", "turn"), ("switch off the bedrom light please", "please"),
                                             ("set an alarm for 11pm", "11pm")])
async def test_no_stray_word_is_named_as_a_device(text: str, stray: str, home: SimHome, mclaw: Claw) -> None:
    result = await say(mclaw, text)
    assert stray not in quoted(result.reply), result.reply
    assert "device or room called" not in result.reply, result.reply
    assert home.physical_commands() == 0


@ON_MODULE_LOOP
@pytest.mark.parametrize("text", ["turn on the", "turn on the kichen light", "lock the back door",
                                  "what's the capital of France?", "turn on the disco ball", "pause the kitchn",
                                  "dim the kitchen lihgt", "close the bedroom curtians"])
async def test_the_example_offered_when_nothing_matches_works(text: str, home: SimHome, mclaw: Claw) -> None:
    """Without an LLM the reply offers one example; it parses to an action in this home."""
    result = await say(mclaw, text)
    example = re.search(r"For example: “([^”]+)”", result.reply)
    assert example is not None, result.reply
    assert acts(mclaw.intents.parse(example.group(1))), example.group(1)
    assert home.physical_commands() == 0


@ON_MODULE_LOOP
async def test_nothing_matches_names_the_closest_device_and_what_was_understood(home: SimHome, mclaw: Claw) -> None:
    dim = await say(mclaw, "dim the kitchen lihgt")
    assert "dim a light" in dim.reply and "Did you mean the kitchen light?" in dim.reply
    curtains = await say(mclaw, "close the bedroom curtians")
    assert "close something" in curtains.reply and "bedroom shade" in curtains.reply
    assert home.physical_commands() == 0


# ---- help: examples that work in THIS home ----------------------------------------------------------
@ON_MODULE_LOOP
@pytest.mark.parametrize("text", ["what can you do?", "help", "what can I say", "what can you do for me"])
async def test_help_examples_parse_to_actions_here(text: str, home: SimHome, mclaw: Claw) -> None:
    result = await say(mclaw, text)
    examples = quoted(result.reply)
    commands = [e for e in examples if not e.endswith("?") and "…" not in e]
    questions = [e for e in examples if e.endswith("?")]
    assert 3 <= len(commands) <= 5, result.reply
    for example in commands:
        assert acts(mclaw.intents.parse(example)), example
    for example in questions:
        assert answers(mclaw.intents.parse(example)), example
    assert home.physical_commands() == 0


STUDY = [
    Device("l1", "reading lamp", Kind.LIGHT, "study", frozenset({"power", "brightness"}), "http", "127.0.0.1:9"),
    Device("l2", "porch light", Kind.LIGHT, "porch", frozenset({"power"}), "http", "127.0.0.1:9"),
    Device("s1", "Bob's Sonos", Kind.SPEAKER, "den", frozenset({"media"}), "sonos", "127.0.0.1:9"),
    Device("c1", "study blind", Kind.COVER, "study", frozenset({"cover"}), "http", "127.0.0.1:9"),
    Device("k1", "side gate", Kind.LOCK, "garden", frozenset({"lock"}), "http", "127.0.0.1:9"),
    Device("d1", "lamp", Kind.LIGHT, "den", frozenset({"power"}), "http", "127.0.0.1:9"),
    Device("d2", "lamp", Kind.LIGHT, "hall", frozenset({"power"}), "http", "127.0.0.1:9"),
]


def test_help_examples_come_from_another_homes_names() -> None:
    engine = IntentEngine()
    engine.set_devices(STUDY)
    commands = helping.working(helping.command_examples(STUDY), lambda t: acts(engine.parse(t)), 5)
    assert 3 <= len(commands) <= 5
    assert any("reading lamp" in c for c in commands) and any("Bob's Sonos" in c for c in commands)
    assert not any(c.endswith(" the lamp") for c in commands)  # two lamps: "the lamp" would ask which
    for command in commands:
        assert acts(engine.parse(command)), command
    questions = helping.question_examples(STUDY)
    assert "is the side gate locked?" in questions and answers(engine.parse("is the side gate locked?"))
    reply = helping.help_reply(Voice("Jeeves", formal=True, concise=False), STUDY, commands, questions)
    assert "Jeeves" in reply and "reading lamp" in reply
    assert "kitchen" not in helping.help_reply(Voice("Claw", False, False), STUDY, commands, questions)


def test_a_home_without_devices_gets_help_and_no_example() -> None:
    voice = Voice("Claw", False, False)
    assert helping.command_examples([]) == [] and helping.question_examples([]) == []
    assert "no devices" in helping.help_reply(voice, [], [], [])
    assert helping.pick_example(Guess(intent="HassTurnOn"), [], None) is None
    reply = helping.unmatched_reply(voice, Guess(intent="HassTurnOn"), [], None)
    assert "switch something on" in reply and "no devices yet" in reply and "\n" not in reply


# ---- memory: after a forget, "what do you know about me?" lists what is left or says nothing is ----
@ON_MODULE_LOOP
async def test_recall_about_me_after_forget_lists_the_rest_or_says_nothing_is_stored(home: SimHome,
                                                                                    mclaw: Claw) -> None:
    me = "memory-owner"
    for fact in mclaw.store.fact_list(limit=1000):
        mclaw.store.fact_delete(int(fact["id"]))
    await say(mclaw, "remember that I like jazz", me)
    await say(mclaw, "remember that the plumber comes on Tuesday", me)
    forgot = await say(mclaw, "forget that the plumber comes on Tuesday", me)
    assert "1" in forgot.reply
    rest = await say(mclaw, "what do you know about me?", me)
    assert "I like jazz" in rest.reply and "plumber" not in rest.reply
    await say(mclaw, "forget that I like jazz", me)
    empty = await say(mclaw, "what do you know about me?", me)
    assert empty.tier == "intent"
    assert "about that" not in empty.reply and "nothing" in empty.reply.lower(), empty.reply
    assert mclaw.store.fact_list() == []
    assert home.physical_commands() == 0


# ---- the soul's voice ---------------------------------------------------------------------------
FORMAL_SOUL = "# Jeeves\n\nYou are the household's butler.\n\n## Voice\n\n- Tone: formal\n- Length: normal\n"


@ON_MODULE_LOOP
async def test_answers_follow_the_souls_voice(home: SimHome, mclaw: Claw) -> None:
    casual = await say(mclaw, "is the garage open?")
    original = mclaw.soul.path.read_text(encoding="utf-8")
    try:
        mclaw.soul.path.write_text(FORMAL_SOUL, encoding="utf-8")
        formal = await say(mclaw, "is the garage open?")
        hello = await say(mclaw, "good evening")
        helped = await say(mclaw, "what can you do?")
    finally:
        mclaw.soul.path.write_text(original, encoding="utf-8")
    assert casual.reply.startswith("Nope") and formal.reply.startswith("No, the garage door")
    assert hello.reply.startswith("Good evening") and "Jeeves" in hello.reply
    assert "Jeeves" in helped.reply


# ---- tidying a question before hassil (pure) -------------------------------------------------------
@pytest.mark.parametrize(("said", "tidy"), [
    ("is the front door locked currently?", "is the front door locked?"),
    ("can you tell me if the front door is locked right now?", "is the front door locked?"),
    ("do you know whether the garage is open", "is the garage open"),
    ("tell me what the volume is in the kitchen", "what is the volume in the kitchen"),
    ("I wonder how warm it is in the hallway", "how warm is it in the hallway"),
    ("is the kitchen light still on at the moment please?", "is the kitchen light on?"),
    ("please tell me which lights are on", "which lights are on"),
    ("turn on the kitchen light please", "turn on the kitchen light please"),  # a command: as it was
    ("tell me the temperature", "tell me the temperature"),  # HA's own "tell me …"
    ("hey there", "hey there"),
    ("remember that the spare key is still under the mat?", "remember that the spare key is still under the mat?"),
    ("what do you know about my car right now", "what do you know about my car right now"),  # memory: as said
])
def test_tidy_question(said: str, tidy: str) -> None:
    assert tidy_question(said) == tidy
