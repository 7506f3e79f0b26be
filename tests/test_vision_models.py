"""Which detection model: a local folder or a hub id fetched once into <data dir>/models/ (`claw vision
fetch-model`), never downloaded at start; fetching offline fails with a clear error; a fetched model loads."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from claw.cameras.models import MARKER, ModelChoice, ModelError, fetch, hub_folder, is_hub_id, resolve
from claw.config import VisionSettings
from devices.sim.camera import SimCamera
from devices.sim.camera_scene import SceneOptions
from tests.test_vision_alerts import camera_claw, until

ROOT = Path(__file__).resolve().parents[1]


def test_hub_ids_and_paths_are_told_apart() -> None:
    assert is_hub_id("PekingU/rtdetr_r18vd") and is_hub_id("hustvl/yolos-tiny") and is_hub_id("google/owlv2-base")
    for path in ("/srv/models/rtdetr", "./models/x", "~/models/x", "rtdetr", "a/b/c", "../up/x", "org/..", ""):
        assert not is_hub_id(path), path


def test_resolve_local_paths_hub_ids_and_missing_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    assert resolve(VisionSettings(), models) == ModelChoice("none")
    assert resolve(VisionSettings(detector_path=tmp_path / "m"), models) == ModelChoice("local", tmp_path / "m")
    assert resolve(VisionSettings(detector=str(tmp_path / "m")), models) == ModelChoice("local", tmp_path / "m")
    assert resolve(VisionSettings(detector="./m"), models).kind == "local"
    # a hub id never fetched: missing, and the message names the command (nothing is downloaded here)
    missing = resolve(VisionSettings(detector="PekingU/rtdetr_r18vd"), models)
    assert missing.kind == "missing" and missing.path is None and missing.hub_id == "PekingU/rtdetr_r18vd"
    assert "claw vision fetch-model" in (missing.problem or "") and str(models / "PekingU--rtdetr_r18vd") in \
        (missing.problem or "")
    # a download that did not finish (no marker) is still missing; a finished one is used from its folder
    folder = hub_folder(models, "PekingU/rtdetr_r18vd")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert resolve(VisionSettings(detector="PekingU/rtdetr_r18vd"), models).kind == "missing"
    (folder / MARKER).write_text("{}")
    assert resolve(VisionSettings(detector="PekingU/rtdetr_r18vd"), models) == \
        ModelChoice("hub", folder, "PekingU/rtdetr_r18vd")
    # detector_path wins; an existing folder named like a hub id is a path
    assert resolve(VisionSettings(detector="PekingU/rtdetr_r18vd", detector_path=tmp_path / "x"), models).kind == \
        "local"
    (tmp_path / "org" / "name").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert resolve(VisionSettings(detector="org/name"), models) == ModelChoice("local", Path("org/name"))


def test_fetch_refuses_what_is_not_a_hub_id_and_returns_a_fetched_model_at_once(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a hub id"):
        fetch("../../etc", tmp_path)
    folder = hub_folder(tmp_path, "hustvl/yolos-tiny")
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("{}")
    assert fetch("hustvl/yolos-tiny", tmp_path) == folder  # already there: no hub involved


def run_claw(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "CLAW_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
               "CLAW_CONFIG": str(data_dir / "claw.toml"), **env}
    return subprocess.run([sys.executable, "-m", "claw.cli", *args], capture_output=True, text=True, timeout=120,
                          env=environ, cwd=data_dir)


def test_fetch_model_offline_fails_cleanly_and_leaves_nothing(tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub", reason="the vision extra is not installed")
    done = run_claw(["vision", "fetch-model", "PekingU/rtdetr_r18vd"], tmp_path)  # HF_HUB_OFFLINE=1: no network
    assert done.returncode == 1, done.stderr
    assert "Fetching PekingU/rtdetr_r18vd into" in done.stdout
    [line] = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert line.startswith("error: could not download PekingU/rtdetr_r18vd: the hub cannot be reached")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
    # with [vision] detector set, the id is taken from there; without one the command says what it needs
    (tmp_path / "claw.toml").write_text('[vision]\ndetector = "hustvl/yolos-tiny"\n')
    assert "could not download hustvl/yolos-tiny" in run_claw(["vision", "fetch-model"], tmp_path).stderr
    (tmp_path / "claw.toml").write_text("")
    nothing = run_claw(["vision", "fetch-model"], tmp_path)
    assert nothing.returncode == 2 and "no model given" in nothing.stderr


@pytest.fixture
def camera() -> Iterator[SimCamera]:
    cam = SimCamera(name="front door", options=SceneOptions(seed=4)).start()
    yield cam
    cam.stop()


async def test_a_hub_id_not_fetched_is_told_once_with_the_command_and_motion_goes_on(tmp_path: Path,
                                                                                     camera: SimCamera) -> None:
    async with camera_claw(tmp_path, camera, detector="PekingU/rtdetr_r18vd") as claw:
        def told() -> list[str]:
            return [r["text"] for r in claw.store.outbox_proactive("web", "console", limit=50)
                    if "not downloaded yet" in r["text"]]
        [notice] = await until(told, "the notice")
        assert "claw vision fetch-model" in notice and "motion only" in notice
        assert claw.cameras.watchers["front door"].detector is None
        assert not (claw.settings.data_dir / "models").exists()  # nothing fetched behind the owner's back
        camera.visitor()
        await until(lambda: claw.store.camera_events("front door"), "a motion-only visit")
        assert len(told()) == 1


async def test_a_fetched_hub_model_is_loaded_from_the_models_folder(tmp_path: Path, camera: SimCamera) -> None:
    pytest.importorskip("transformers", reason="the vision extra is not installed")
    from tests.test_vision_detector import tiny_model

    data = tmp_path / "data"
    folder = hub_folder(data / "models", "hustvl/yolos-tiny")
    tiny_model(folder, {0: "person"})
    (folder / MARKER).write_text("{}")
    async with camera_claw(tmp_path, camera, detector="hustvl/yolos-tiny", min_score=0.01,
                           detect_labels=[]) as claw:
        watcher = claw.cameras.watchers["front door"]
        assert watcher.detector is not None and claw.cameras.detector_error is None
        assert claw.cameras.detector() is not None
        assert claw.cameras.detector().config.path == folder  # type: ignore[union-attr]
