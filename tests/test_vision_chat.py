"""Cameras by chat through a running claw: "show me the front door" (a fresh picture in the reply, served at a
signed URL), "what happened at the front door today?" from stored events, the last one's picture, guests refused,
an offline camera, a detector that cannot load told once."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from claw.agent.cameras import REFUSED
from claw.config import CameraSettings, VisionSettings
from claw.events import InboundMessage, TurnResult
from claw.intents.cameras import since_hour, since_time
from claw.runtime import Claw
from claw.web.app import create_app
from devices.sim.camera import SimCamera
from devices.sim.camera_scene import SceneOptions
from devices.vision.motion import MotionResult
from devices.vision.visits import VisitEnded, VisitGrouper, VisitRules, VisitStarted
from devices.vision.watcher import VisitBegan
from tests.conftest import make_settings
from tests.test_vision_alerts import until


@pytest.fixture
def camera() -> Iterator[SimCamera]:
    cam = SimCamera(name="front door", options=SceneOptions(seed=5)).start()
    yield cam
    cam.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def chat_claw(tmp_path: Path, camera: SimCamera, cam: dict[str, Any] | None = None,
                    **vision: Any) -> AsyncIterator[Claw]:
    settings = make_settings(tmp_path, vision=VisionSettings(**{"visit_gap": 2.0, **vision}))
    cams = [CameraSettings(name="front door", url=camera.stream_url, room="front garden", **(cam or {})),
            CameraSettings(name="driveway", url=camera.snapshot_url),
            CameraSettings(name="garage", url=f"http://127.0.0.1:{closed_port()}/snapshot.jpg")]
    claw = Claw(settings, cameras=cams)
    await claw.start()
    try:
        yield claw
    finally:
        await claw.stop()


async def say(claw: Claw, text: str, sender: str | None = None, standing: str = "owner") -> TurnResult:
    return await claw.agent.ask(InboundMessage(channel="web", sender=sender or claw.settings.owner, text=text,
                                               standing=standing))  # type: ignore[arg-type]


def decoded(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


async def test_show_me_sends_a_fresh_picture_through_the_signed_url(tmp_path: Path, camera: SimCamera) -> None:
    async with chat_claw(tmp_path, camera) as claw:
        app = create_app(claw, manage_lifecycle=False)
        headers = {"Authorization": f"Bearer {claw.settings.web_token()}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as c:
            for text in ("show me the front door", "what does the driveway camera see?"):
                got = (await c.post("/api/chat", json={"text": text}, headers=headers)).json()
                assert got["reply"].startswith(("The front door camera (front garden) now", "The driveway camera now"))
                [link] = got["media"]
                picture = await c.get(link)
                assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
                assert decoded(picture.content).shape == (360, 640, 3)
                assert (await c.get(link.replace("sig=", "sig=0"))).status_code == 403
        # the reply's outbox row carries the picture, as an alert's does (WhatsApp sends it as MediaUrl)
        result = await say(claw, "show me the driveway")
        [reply] = claw.store.outbox_for_inbox(result.inbox_id)  # type: ignore[arg-type]
        [media] = reply["media"]
        assert Path(media).parent == claw.media.root and decoded(Path(media).read_bytes()).shape == (360, 640, 3)
        # an offline camera: a clear reply, quickly, and no picture
        started = time.monotonic()
        offline = await say(claw, "show me the garage")
        assert "garage camera is not answering" in offline.reply and offline.media == ()
        assert time.monotonic() - started < 9
        [reply] = claw.store.outbox_for_inbox(offline.inbox_id)  # type: ignore[arg-type]
        assert reply["media"] == []
        # a guest sees nothing
        guest = await say(claw, "show me the front door", sender="+15550001111", standing="guest")
        assert guest.reply == REFUSED and guest.media == ()


async def test_what_happened_answers_from_the_stored_events_and_shows_the_last_one(tmp_path: Path,
                                                                                   camera: SimCamera) -> None:
    async with chat_claw(tmp_path, camera) as claw:
        assert (await say(claw, "what happened at the front door today?")).reply == \
            "Nothing at the front door camera (front garden) today."
        now = time.time()
        hour = time.localtime(now).tm_hour
        claw.store.camera_event_start("front door", now - 3 * 86400)  # days ago: not today
        claw.store.camera_event_start("front door", since_time({"since": str(hour)}, now) - 60)  # before "since"
        await until(lambda: claw.cameras.watchers.get("front door") and claw.cameras.watchers["front door"].processed
                    >= 3, "the watcher's first frames")
        camera.visitor()
        visit = await until(lambda: [e for e in claw.store.camera_events("front door", limit=5) if e["snapshot"]],
                            "the visit", timeout=20)
        stamp = time.strftime("%H:%M", time.localtime(visit[0]["started_at"]))
        answer = (await say(claw, "anything at the front door since " + str(hour) + "?")).reply
        assert answer.startswith(f"1 visit at the front door camera (front garden) since {hour:02d}:00: {stamp} motion")
        assert "visit" in (await say(claw, "were there any visitors today?")).reply  # every camera
        today = (await say(claw, "what happened at the front door today?")).reply  # "the last one" is its
        before = len([e for e in claw.store.camera_events("front door", limit=10)
                      if e["started_at"] >= since_time({}, now)])
        assert today.startswith(f"{before} visit") and f"{stamp} motion (front door" in today
        last = await say(claw, "show me the last one")
        assert last.reply.startswith("The last visit at the front door camera (front garden): motion at ")
        [media] = last.media
        assert Path(media).read_bytes() == Path(visit[0]["snapshot"]).read_bytes()
        assert decoded(Path(media).read_bytes()).shape == (360, 640, 3)
        [row] = claw.store.outbox_for_inbox(last.inbox_id)  # type: ignore[arg-type]
        assert row["media"] == [media]
        # a guest gets neither the events nor the picture
        for text in ("what happened at the front door today?", "show me the last one"):
            guest = await say(claw, text, sender="+15550002222", standing="guest")
            assert guest.reply == REFUSED and guest.media == ()


async def test_a_detector_that_cannot_load_is_told_once_and_motion_goes_on(tmp_path: Path,
                                                                           camera: SimCamera) -> None:
    async with chat_claw(tmp_path, camera, detector_path=tmp_path / "no-such-model") as claw:
        def told() -> list[str]:
            return [r["text"] for r in claw.store.outbox_proactive("web", "console", limit=50)
                    if "could not be loaded" in r["text"]]
        await until(told, "the notice")
        await until(lambda: claw.cameras.watchers.get("front door") and claw.cameras.watchers["front door"].processed
                    >= 3, "motion-only watching")
        await asyncio.sleep(1.5)
        [notice] = told()
        assert str(tmp_path / "no-such-model") in notice
        assert claw.cameras.watchers["front door"].detector is None
        assert all(claw.supervisor.worker(f"camera:{n}").crashes == 0 for n in ("front door", "driveway"))


def test_a_silenced_visit_starts_no_cooldown() -> None:
    grouper = VisitGrouper(VisitRules(confirm_frames=1, window=1, gap=5.0, cooldown=100.0))
    moving = MotionResult(boxes=((1, 1, 5, 5),))
    [started] = grouper.feed(0.0, moving)
    assert isinstance(started, VisitStarted) and started.alert
    grouper.silence()  # quiet hours: stored, not told
    assert isinstance(grouper.tick(10.0)[0], VisitEnded) and grouper.last_alert_end is None
    [again] = grouper.feed(20.0, moving)
    assert isinstance(again, VisitStarted) and again.alert  # within the cooldown of the silenced one: still told
    assert isinstance(grouper.tick(30.0)[0], VisitEnded) and grouper.last_alert_end == 20.0
    [third] = grouper.feed(40.0, moving)
    assert isinstance(third, VisitStarted) and not third.alert  # within the cooldown of an alerted one


def test_since_parses_times_of_day() -> None:
    assert [since_hour(t) for t in ("8", "8am", "8:30", "2 pm", "12am", "noon", "20.15", "25", "soon")] == \
        [(8, 0), (8, 0), (8, 30), (14, 0), (0, 0), (12, 0), (20, 15), None, None]
    noon = time.mktime((2026, 12, 3, 12, 0, 0, 0, 0, -1))
    assert since_time({"since": "8"}, noon) == noon - 4 * 3600
    assert since_time({"since": "14"}, noon) == noon + 2 * 3600 - 86400  # still to come: yesterday's
    assert since_time({}, noon) == noon - 12 * 3600


async def test_ignore_this_and_this_is_important_change_the_rule_that_fired(tmp_path: Path,
                                                                           camera: SimCamera) -> None:
    hour = time.localtime().tm_hour
    quiet = f"{(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"  # not now
    async with chat_claw(tmp_path, camera, cam={"quiet_hours": quiet}, cooldown=0.0) as claw:
        service = claw.cameras
        assert (await say(claw, "ignore this")).reply.startswith("There was no camera alert in the last day")
        jpeg = service.snapshot("driveway")
        labels = (("person", 0.9),)

        def visit(t: float) -> dict[str, Any]:
            service.handle(VisitBegan("front door", t, ((10, 10, 50, 90),), (), True, jpeg, labels))
            return claw.store.camera_event_last("front door")  # type: ignore[return-value]

        first = visit(time.time() - 60)
        assert first["alert"] == 1 and first["alerted_at"]
        guest = await say(claw, "ignore this", sender="+15550003333", standing="guest")
        assert guest.reply == REFUSED and claw.store.camera_rules() == {}
        reply = (await say(claw, "ignore this")).reply
        assert reply.startswith("OK: I'll still keep visits with person at the front door camera (front garden)")
        assert claw.store.camera_rules() == {"front door": {"person": "ignore"}}
        second = visit(time.time() - 30)
        assert second["id"] != first["id"] and second["alert"] == 0 and second["alerted_at"] is None
        assert not service.watchers["front door"].judge(time.time(), (), ("person",))  # the watcher's rules too
        assert service.watchers["front door"].judge(time.time(), (), ("car",))  # only what was ignored
        # "this is important" about the latest alert (the first: the second was not told) loosens it: even in
        # quiet hours it is told
        service.cameras["front door"] = service.cameras["front door"].model_copy(
            update={"quiet_hours": f"{hour:02d}:00-{(hour + 2) % 24:02d}:00"})
        assert (await say(claw, "this is important")).reply.startswith("OK: I'll always tell you about person at")
        assert claw.store.camera_rules() == {"front door": {"person": "important"}}
        third = visit(time.time())
        assert third["alert"] == 1 and third["alerted_at"]
        assert not service.watchers["front door"].judge(time.time(), (), ("car",))  # quiet hours for the rest


async def test_without_cameras_the_questions_get_a_plain_answer(tmp_path: Path) -> None:
    claw = Claw(make_settings(tmp_path))
    await claw.start()
    try:
        for text in ("were there any visitors today?", "ignore this"):
            result = await say(claw, text)
            assert result.reply == "There are no cameras set up." and result.media == ()
        assert claw.store.camera_rules() == {}
    finally:
        await claw.stop()
