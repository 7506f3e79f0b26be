"""Camera events through a running claw: one alert per visit with its picture in the outbox and the web chat,
cooldown, offline/back notices, retention of events and snapshots."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from claw.config import CameraSettings, VisionSettings
from claw.runtime import Claw
from claw.web.app import create_app
from devices.sim.camera import SimCamera
from devices.sim.camera_scene import VISIT_LENGTH, SceneOptions
from tests.conftest import make_settings


@pytest.fixture
def camera() -> Iterator[SimCamera]:
    cam = SimCamera(name="front door", options=SceneOptions(seed=9)).start()
    yield cam
    cam.stop()


async def until(predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


@asynccontextmanager
async def camera_claw(tmp_path: Path, camera: SimCamera, cam: dict[str, Any] | None = None,
                      **vision: Any) -> AsyncIterator[Claw]:
    settings = make_settings(tmp_path, vision=VisionSettings(**{"visit_gap": 2.0, **vision}))
    claw = Claw(settings, cameras=[CameraSettings(name="front door", url=camera.stream_url, room="front garden",
                                                  **(cam or {}))])
    await claw.start()
    try:
        await until(lambda: claw.cameras.watchers.get("front door") and claw.cameras.watchers["front door"].processed
                    >= 3, "the watcher's first frames")
        yield claw
    finally:
        await claw.stop()


def alerts(claw: Claw) -> list[dict[str, Any]]:
    return [r for r in claw.store.outbox_proactive("web", "console", limit=100) if r["text"].startswith("Motion")]


def red_pixels(jpeg: bytes) -> int:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    b, g, r = cv2.split(image.astype(np.int16))
    return int(np.count_nonzero((r > 200) & (g < 60) & (b < 60)))


async def test_a_visitor_gives_one_alert_with_the_boxed_picture_in_the_web_chat(tmp_path: Path,
                                                                                 camera: SimCamera) -> None:
    async with camera_claw(tmp_path, camera) as claw:
        camera.visitor()
        [row] = await until(lambda: alerts(claw), "the alert")
        assert row["text"].startswith("Motion at the front door camera (front garden) at ") and row["proactive"]
        [media] = row["media"]
        assert Path(media).parent == claw.media.root and red_pixels(Path(media).read_bytes()) > 50
        [event] = claw.store.camera_events("front door")
        assert event["alerted_at"] and event["boxes"] and Path(event["snapshot"]).is_file()
        assert Path(event["snapshot"]).read_bytes() == Path(media).read_bytes()
        # the visit goes on (walk in, wait, walk out), then ends: still one event, one alert
        await until(lambda: claw.store.camera_event_get(event["id"])["ended_at"], "the end of the visit",
                    timeout=VISIT_LENGTH + 10)
        assert len(alerts(claw)) == 1 and len(claw.store.camera_events()) == 1
        ended = claw.store.camera_event_get(event["id"])
        assert ended["last_motion_at"] - ended["started_at"] > VISIT_LENGTH - 4
        # the web chat gets it as a message with a signed picture link
        app = create_app(claw, manage_lifecycle=False)
        headers = {"Authorization": f"Bearer {claw.settings.web_token()}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as c:
            assert (await c.get("/api/messages")).status_code == 401
            [shown] = (await c.get("/api/messages", headers=headers)).json()
            assert shown["id"] == row["id"] and shown["text"] == row["text"]
            [link] = shown["media"]
            picture = await c.get(link)
            assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
            assert red_pixels(picture.content) > 50
            assert (await c.get(link.replace("sig=", "sig=0"))).status_code == 403
            assert (await c.get(f"/api/messages?after={row['id']}", headers=headers)).json() == []


async def test_a_second_visit_in_the_cooldown_is_stored_without_an_alert(tmp_path: Path, camera: SimCamera) -> None:
    async with camera_claw(tmp_path, camera, cooldown=600.0) as claw:
        camera.visitor()
        await until(lambda: [e for e in claw.store.camera_events() if e["ended_at"]], "the first visit to end",
                    timeout=VISIT_LENGTH + 10)
        camera.visitor()
        await until(lambda: len(claw.store.camera_events()) == 2, "the second visit")
        second, first = claw.store.camera_events()
        assert first["alert"] == 1 and first["alerted_at"]
        assert second["alert"] == 0 and second["alerted_at"] is None
        assert len(alerts(claw)) == 1


async def test_in_quiet_hours_the_visit_is_stored_without_an_alert(tmp_path: Path, camera: SimCamera) -> None:
    hour = time.localtime().tm_hour
    async with camera_claw(tmp_path, camera, cam={"quiet_hours": f"{hour:02d}:00-{(hour + 2) % 24:02d}:00"}) as claw:
        camera.visitor()
        [event] = await until(lambda: claw.store.camera_events(), "the event")
        await asyncio.sleep(1.0)
        assert event["alert"] == 0 and event["alerted_at"] is None and Path(event["snapshot"]).is_file()
        assert alerts(claw) == []


async def test_a_restarted_claw_continues_the_visit_under_way(tmp_path: Path, camera: SimCamera) -> None:
    async with camera_claw(tmp_path, camera, visit_gap=30.0) as claw:
        camera.visitor()
        await until(lambda: alerts(claw), "the alert")
    async with camera_claw(tmp_path, camera, visit_gap=30.0) as claw:  # same data dir, visitor still walking
        await asyncio.sleep(3.0)
        assert len(claw.store.camera_events()) == 1 and len(alerts(claw)) == 1


async def test_offline_and_back_are_told_once_each(tmp_path: Path, camera: SimCamera) -> None:
    async with camera_claw(tmp_path, camera, offline_after=1.0) as claw:
        camera.stop()
        notices = lambda: [r["text"] for r in claw.store.outbox_proactive("web", "console")]  # noqa: E731
        await until(lambda: any("offline" in t for t in notices()), "the offline notice")
        camera.start()
        await until(lambda: len(notices()) >= 2, "the back notice", timeout=20)
        await asyncio.sleep(1.5)  # and nothing more
        assert [t.split(":")[0] for t in notices()] == ["The front door camera (front garden) is offline",
                                                        "The front door camera (front garden) is back"]


def test_retention_deletes_old_events_their_pictures_and_the_oldest_over_the_cap(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, vision=VisionSettings(keep_days=1.0, max_mb=0.001))  # cap: 1,048 bytes
    claw = Claw(settings, cameras=[CameraSettings(name="yard", url="http://127.0.0.1:9/video")])
    service, now = claw.cameras, time.time()
    try:
        made = []
        for age_hours, size in ((50, 300), (30, 300), (5, 400), (3, 400), (1, 400)):
            t = now - age_hours * 3600
            path = service.snapshots.save("yard", t, b"\xff\xd8" + b"x" * (size - 2))
            os.utime(path, (t, t))
            event_id, _ = claw.store.camera_event_start("yard", t, snapshot=str(path), alert=False)
            made.append((event_id, path))
        stray = service.snapshots.save("yard", now - 40 * 3600, b"old file without an event")
        os.utime(stray, (now - 40 * 3600,) * 2)
        events, pictures = service.prune(now)
        assert events == 2 and pictures == 4  # two old events' pictures, the stray file, the oldest over the cap
        assert not stray.exists() and not made[0][1].exists() and not made[1][1].exists()
        assert not made[2][1].exists() and made[3][1].exists() and made[4][1].exists()
        left = {e["id"]: e for e in claw.store.camera_events("yard")}
        assert sorted(left) == [made[2][0], made[3][0], made[4][0]]
        assert left[made[2][0]]["snapshot"] is None and left[made[3][0]]["snapshot"] == str(made[3][1])
        assert service.prune(now) == (0, 0)
    finally:
        claw.store.close()
