"""A camera alert on WhatsApp (the Twilio fake): its picture at a signed URL; and `claw run` SIGKILLed with the
alert queued but unsent sends it once after the restart, and not again for the same visit."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest

from claw.config import CameraSettings, VisionSettings
from devices.sim.camera import SimCamera
from devices.sim.camera_scene import SceneOptions
from devices.sim.home import SimHome
from memory.store import Store
from tests.fakes.openai_server import ScriptedOpenAI
from tests.fakes.twilio_server import FakeTwilio
from tests.test_durability import wait_for
from tests.whatsapp_helpers import OWNER_WA, PUBLIC, WhatsAppProcesses, live_claw, until, wrote_hours_ago

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


@pytest.fixture
def home(shared_home: SimHome) -> SimHome:
    shared_home.reset()
    return shared_home


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as f:
        yield f


@pytest.fixture
def camera() -> Iterator[SimCamera]:
    cam = SimCamera(name="porch", options=SceneOptions(seed=21)).start()
    yield cam
    cam.stop()


@pytest.fixture
def llm() -> Iterator[ScriptedOpenAI]:
    server = ScriptedOpenAI(model="scripted").start()
    yield server
    server.stop()


def is_alert(message: dict) -> bool:
    return str(message.get("Body", "")).startswith("Motion at the porch camera")


async def test_the_alert_reaches_whatsapp_with_its_picture(home: SimHome, tmp_path: Path, fake: FakeTwilio,
                                                           camera: SimCamera) -> None:
    cams = (CameraSettings(name="porch", url=camera.snapshot_url, room="front garden"),)
    async with live_claw(home, tmp_path, fake, cameras=cams, vision=VisionSettings(visit_gap=5.0)) as live:
        wrote_hours_ago(live.claw.store, 1)  # inside WhatsApp's 24-hour window
        await until(lambda: live.claw.cameras.watchers.get("porch") and live.claw.cameras.watchers["porch"].processed
                    >= 3, "the first frames")
        camera.visitor()
        await until(lambda: [m for m in live.received(OWNER_WA) if is_alert(m)], "the alert on WhatsApp")
        [alert] = [m for m in live.received(OWNER_WA) if is_alert(m)]
        [url] = alert["MediaUrl"]
        assert url.startswith(f"{PUBLIC}/media/")
        got = await live.http.get(url.removeprefix(PUBLIC))  # what Twilio fetches, through the tunnel
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        image = cv2.imdecode(np.frombuffer(got.content, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (360, 640, 3)
        red = (image[..., 2] > 200) & (image[..., 1] < 60) & (image[..., 0] < 60)
        assert np.count_nonzero(red) > 50  # the box around the visitor
        # the web chat has its copy too
        assert [r["text"] for r in live.claw.store.outbox_proactive("web", "console")] == [alert["Body"]]


async def test_show_me_the_porch_on_whatsapp_replies_with_a_fresh_picture(home: SimHome, tmp_path: Path,
                                                                           fake: FakeTwilio, camera: SimCamera) -> None:
    cams = (CameraSettings(name="porch", url=camera.snapshot_url, room="front garden"),)
    async with live_claw(home, tmp_path, fake, cameras=cams) as live:
        await live.say("show me the porch")
        [reply] = await until(lambda: [m for m in live.received(OWNER_WA) if m["Body"].startswith("The porch camera")],
                              "the reply on WhatsApp")
        assert reply["Body"].startswith("The porch camera (front garden) now")
        [url] = reply["MediaUrl"]
        got = await live.http.get(url.removeprefix(PUBLIC))  # what Twilio fetches, through the tunnel
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert cv2.imdecode(np.frombuffer(got.content, np.uint8), cv2.IMREAD_COLOR).shape == (360, 640, 3)


def test_sigkill_with_the_alert_unsent_sends_it_once_after_restart(home: SimHome, llm: ScriptedOpenAI,
                                                                    fake: FakeTwilio, camera: SimCamera,
                                                                    tmp_path: Path) -> None:
    procs = WhatsAppProcesses(tmp_path, home, llm, fake)
    procs.env["CLAW_CAMERAS"] = json.dumps([{"name": "porch", "url": camera.stream_url}])
    procs.env["CLAW_VISION__VISIT_GAP"] = "30"
    store = procs.store()
    wrote_hours_ago(store, 1)
    store.close()
    fake.fail_next(10_000)  # Twilio is down: the alert stays queued
    try:
        proc, _ = procs.start()
        time.sleep(2.0)  # the watcher calibrates
        camera.visitor()

        def alert_rows() -> list[dict]:
            with Store(procs.db_path) as s:
                return [r for r in s.outbox_proactive("whatsapp", OWNER_WA) if r["text"].startswith("Motion")]

        [row] = wait_for(alert_rows, 20, "the queued alert", (proc,), procs.logs)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert row["status"] == "pending" and not [m for m in fake.messages if is_alert(m)]
        with fake._lock:
            fake._fail.clear()  # Twilio is back
        proc, _ = procs.start()  # the visitor is still walking: the restarted claw continues the same visit
        wait_for(lambda: [m for m in fake.messages if is_alert(m)], 20, "the alert after the restart", (proc,),
                 procs.logs)
        time.sleep(6.0)  # the rest of the visit: no second alert
        sent = [m for m in fake.messages if is_alert(m)]
        assert len(sent) == 1 and urlsplit(sent[0]["MediaUrl"][0]).path.startswith("/media/")
        with Store(procs.db_path) as s:
            assert len(s.camera_events("porch")) == 1
            [again] = [r for r in s.outbox_proactive("whatsapp", OWNER_WA) if r["text"].startswith("Motion")]
        assert again["id"] == row["id"] and again["status"] in ("sent", "delivered", "read")
    finally:
        procs.kill_all()
