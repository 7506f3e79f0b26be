"""Camera rules said by chat: phrasings mapped to the right rule (and sentences that must not make one), the rule
applied to the next visit through a running claw, guests refused, "what are my camera rules?", and the reset."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from claw.agent.cameras import RULES_REFUSED
from claw.cameras.rules import chat_rules_say, worth_alert
from claw.config import CameraSettings
from claw.intents.camera_rules import resolve_place, restate
from claw.intents.engine import IntentEngine
from devices.sim.camera import SimCamera
from tests.test_vision_alerts import until
from tests.test_vision_chat import camera, chat_claw, say  # noqa: F401 - camera is a fixture


@pytest.fixture(scope="module")
def engine() -> IntentEngine:
    e = IntentEngine()
    e.set_cameras(["front door", "driveway"], ["path", "road"])
    return e


def rule(engine: IntentEngine, text: str) -> dict[str, Any] | None:
    plan = engine.parse(text)
    if plan is None or plan.intent != "ClawCameraRule":
        return None
    assert plan.problem is None, plan.problem
    found = dict(plan.slots["rule"])
    return {k: v for k, v in found.items() if v not in (None, [])}


@pytest.mark.parametrize(("text", "expected"), [
    ("ignore cars on the street", {"action": "ignore", "labels": ["car"], "place": "street"}),
    ("Don't tell me about cars on the road.", {"action": "ignore", "labels": ["car"], "place": "road"}),
    ("stop telling me about cars and trucks in the street at the front door",
     {"action": "ignore", "labels": ["car", "truck"], "place": "street", "camera": "front door"}),
    ("only tell me about people at the front door after 10pm",
     {"action": "only", "labels": ["person"], "camera": "front door", "start": "22:00", "end": "06:00"}),
    ("just tell me about visitors at the front door camera between 8 and 18:30",
     {"action": "only", "labels": ["person"], "camera": "front door", "start": "08:00", "end": "18:30"}),
    ("don't tell me about motion at the driveway during the day",
     {"action": "ignore", "camera": "driveway", "start": "07:00", "end": "20:00"}),
    ("at night ignore animals", {"action": "ignore", "labels": ["dog", "cat"], "start": "20:00", "end": "07:00"}),
    ("never alert me about parcels on the path before 7am",
     {"action": "ignore", "labels": ["package"], "place": "path", "end": "07:00"}),
    ("tell me about everything at the front door again", {"action": "reset", "camera": "front door"}),
    ("clear the camera rules", {"action": "reset"}),
    ("what are my camera rules?", {"action": "list"}),
    ("what are the rules for the driveway camera", {"action": "list", "camera": "driveway"}),
])
def test_phrasings_map_to_the_rule(engine: IntentEngine, text: str, expected: dict[str, Any]) -> None:
    assert rule(engine, text) == expected


@pytest.mark.parametrize("text", [
    "ignore this", "don't tell me about this again", "false alarm", "don't tell me about the weather",
    "tell me about cars", "what happened at the front door today", "ignore the kitchen light",
    "only turn on the kitchen light", "tell me a joke again", "what are my routines", "show me the driveway",
])
def test_sentences_that_must_not_make_a_rule(engine: IntentEngine, text: str) -> None:
    assert rule(engine, text) is None


def test_a_bad_time_is_a_question_not_a_rule(engine: IntentEngine) -> None:
    plan = engine.parse("only tell me about people after teatime")
    assert plan is not None and plan.intent == "ClawCameraRule" and "teatime" in (plan.problem or "")


def test_places_resolve_to_configured_zones_or_say_which_exist() -> None:
    zones = {"front door": ["path", "road"], "driveway": ["drive"]}
    assert resolve_place("street", None, zones) == ("front door", "road")  # "street" finds the zone "road"
    assert resolve_place("driveway", None, zones) == ("driveway", "drive")
    problem = resolve_place("garden", None, zones)
    assert isinstance(problem, str) and "path (front door)" in problem and "drive (driveway)" in problem
    problem = resolve_place("street", "driveway", zones)
    assert isinstance(problem, str) and problem.startswith("The driveway camera has no zone for “the street”")
    assert "no zones are set up" in str(resolve_place("street", None, {"front door": []}))


def at(hour: int, minute: int = 0) -> float:
    now = time.localtime()
    return time.mktime((now.tm_year, now.tm_mon, now.tm_mday, hour, minute, 0, 0, 0, -1))


def test_rules_decide_which_visits_are_told() -> None:
    cam = CameraSettings(name="front door", url="http://127.0.0.1:9/video", zones={"road": [(0, 0), (1, 0), (1, 1)]})
    ignore_cars = {"action": "ignore", "camera": None, "labels": ["car"], "zone": "road"}
    assert chat_rules_say([ignore_cars], "front door", at(12), ["road"], ["car"])
    assert not chat_rules_say([ignore_cars], "front door", at(12), ["path"], ["car"])  # another zone
    assert not chat_rules_say([ignore_cars], "front door", at(12), ["road"], ["car", "person"])  # a person too
    only = {"action": "only", "camera": "front door", "labels": ["person"], "start": "22:00", "end": "06:00"}
    assert not chat_rules_say([only], "front door", at(23), [], ["person"])
    assert chat_rules_say([only], "front door", at(15), [], ["person"])  # the afternoon: kept, not told
    assert chat_rules_say([only], "front door", at(23), [], ["car"])
    assert not chat_rules_say([only], "driveway", at(15), [], ["car"])  # another camera
    day = {"action": "ignore", "camera": "front door", "labels": [], "start": "07:00", "end": "20:00"}
    assert chat_rules_say([day], "front door", at(9), [], [])
    assert not chat_rules_say([day], "front door", at(21), [], [])
    assert worth_alert(cam, at(9), [], [], None, [day]) == (False, "the owner's rule: ignore")
    assert worth_alert(cam, at(9), [], [], {"motion": "important"}, [day])[0]  # "this is important" wins


def test_the_reply_restates_the_rule() -> None:
    text = restate({"action": "ignore", "camera": "front door", "labels": ["car"], "zone": "street"})
    assert text == ("From now on I won't tell you about cars in the street zone of the front door camera (they are "
                    "still kept). Say “tell me about everything at the front door again” to undo.")
    text = restate({"action": "only", "camera": "front door", "labels": ["person"], "start": "22:00",
                    "end": "06:00"})
    assert text.startswith("From now on, at the front door camera I'll only tell you about people between 22:00 and"
                           " 06:00; other visits there are kept but not told.")


async def test_a_rule_by_chat_applies_to_the_next_visit_and_the_reset_undoes_it(tmp_path: Path,
                                                                                camera: SimCamera) -> None:  # noqa: F811
    async with chat_claw(tmp_path, camera, {"zones": {"path": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]}},
                         cooldown=0.0) as claw:
        def told() -> list[dict]:
            rows = claw.store.outbox_proactive("web", "console", limit=100)
            return [r for r in rows if r["text"].startswith("Motion at the front door")]

        guest = await say(claw, "ignore cars on the street", sender="+15550001111", standing="guest")
        assert guest.reply == RULES_REFUSED and claw.store.camera_chat_rules() == []
        assert (await say(claw, "what are my camera rules?", sender="+15550001111", standing="guest")).reply \
            == RULES_REFUSED
        missing = await say(claw, "ignore cars on the street")
        assert missing.reply.startswith("No camera has a zone for “the street”")
        assert "path (front door)" in missing.reply
        assert claw.store.camera_chat_rules() == []
        done = await say(claw, "don't tell me about motion on the path at the front door")
        assert done.reply.startswith("From now on I won't tell you about anything (motion) in the path zone of the "
                                     "front door camera")
        [stored] = claw.store.camera_chat_rules()
        assert stored["camera"] == "front door" and stored["zone"] == "path" and stored["labels"] == []
        listed = await say(claw, "what are my camera rules?")
        assert "1. no alerts for anything (motion) in the path zone of the front door camera" in listed.reply
        await until(lambda: claw.cameras.watchers.get("front door") and claw.cameras.watchers["front door"].processed
                    >= 3, "the watcher's first frames")
        camera.visitor()
        [event] = await until(lambda: claw.store.camera_events("front door"), "the visit stored")
        assert not event["alert"] and told() == []  # kept, not told
        await until(lambda: claw.store.camera_events("front door")[0]["ended_at"], "the visit's end", timeout=30)
        reset = await say(claw, "tell me about everything at the front door again")
        assert reset.reply.startswith("OK: I'll tell you about everything at the front door camera (front garden) "
                                      "again") and claw.store.camera_chat_rules() == []
        camera.visitor()
        await until(told, "the next visit's alert", timeout=30)


def test_parcel_alerts_follow_only_the_rules_about_parcels() -> None:
    from claw.cameras.changes import ChangeAlerts

    cam = CameraSettings(name="front door", url="http://127.0.0.1:9/video", zones={"path": [(0, 0), (1, 0), (1, 1)]})
    only_people = {"action": "only", "camera": "front door", "labels": ["person"]}
    no_parcels = {"action": "ignore", "camera": None, "labels": ["package"], "zone": "path"}
    assert ChangeAlerts.silenced(cam, at(12), ["path"], [only_people]) == ""
    assert ChangeAlerts.silenced(cam, at(12), ["path"], [no_parcels])
    assert ChangeAlerts.silenced(cam, at(12), ["lawn"], [no_parcels]) == ""
    assert ChangeAlerts.silenced(cam, at(12), [], [{"action": "ignore", "camera": "front door", "labels": []}])
