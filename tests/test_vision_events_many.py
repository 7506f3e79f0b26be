"""More stored camera events than any listing holds: the count covers all of them, the newest are listed, and "show
me the last one" / "ignore this" still find the right visit behind hundreds of others."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from claw.intents.cameras import since_time
from devices.sim.camera import SimCamera
from devices.sim.camera_scene import SceneOptions
from tests.test_vision_chat import chat_claw, say


@pytest.fixture
def camera() -> Iterator[SimCamera]:
    cam = SimCamera(name="front door", options=SceneOptions(seed=6)).start()
    yield cam
    cam.stop()


async def test_hundreds_of_events_are_counted_and_the_newest_listed(tmp_path: Path, camera: SimCamera) -> None:
    async with chat_claw(tmp_path, camera) as claw:
        now = time.time()
        start = max(since_time({}, now) + 1, now - 3600)  # today, within the last hour
        picture = tmp_path / "old.jpg"
        picture.write_bytes(camera.scene.jpeg(0.0))
        first, _ = claw.store.camera_event_start("front door", start, snapshot=str(picture), alert=True,
                                                 messages=[])
        claw.store.camera_event_alert(first, [])  # told (alerted_at set), the oldest of them all
        for i in range(1, 260):
            claw.store.camera_event_start("front door", start + i, alert=False,
                                          labels=[{"label": "person" if i == 259 else "cat", "score": 0.9}])
        claw.store.camera_event_caption(first, "Courier at the door: a parcel on the step.")
        assert claw.store.camera_events_count("front door", since=start) == 260
        answer = (await say(claw, "what happened at the front door today?")).reply
        assert answer.startswith("260 visits at the front door camera (front garden) today (the last 8 shown): ")
        newest = time.strftime("%H:%M", time.localtime(start + 259))
        assert answer.count("(front door, not told)") == 8 and f"{newest} person (front door, not told)." in answer
        last = await say(claw, "show me the last one")  # the only stored picture is behind 259 newer visits
        assert last.media and last.reply.startswith("The last visit at the front door camera (front garden): motion")
        assert Path(last.media[0]).read_bytes() == picture.read_bytes()
        ignored = await say(claw, "ignore this")  # the latest alert is behind 259 visits that were not told
        assert ignored.reply.startswith("OK: I'll still keep visits with motion at the front door camera")
        assert claw.store.camera_rules() == {"front door": {"motion": "ignore"}}
