"""Which detection model the cameras use: a local folder, or a hub id fetched once into <data dir>/models/."""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from claw.cameras.settings import VisionSettings
from claw.errors import ClawError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
MARKER = ".homeclaw-complete"  # written after a download finished: a folder without it is a broken download
FILES = ["*.json", "*.safetensors", "*.txt", "*.md"]  # config, processor, weights (no pickles), licence/readme


class ModelError(ClawError):
    """The detection model could not be fetched (offline, unknown id, no disk space, no vision extra)."""


@dataclass(frozen=True)
class ModelChoice:
    """What `[vision] detector_path` / `detector` mean here: `path` to load, or why there is none."""

    kind: Literal["none", "local", "hub", "missing"]
    path: Path | None = None  # the folder to load (local, or a fetched hub model)
    hub_id: str | None = None
    problem: str | None = None  # for "missing": what to tell the owner (once)


def is_hub_id(value: str) -> bool:
    """"PekingU/rtdetr_r18vd" is a hub id; "/srv/models/x", "./x", "~/x" and "x" alone are paths."""
    return bool(HUB_ID.match(value)) and not value.startswith((".", "~")) and ".." not in value


def hub_folder(models_dir: Path, hub_id: str) -> Path:
    """Where a hub model is kept: <models>/<owner>--<name> (the hub cache's own naming)."""
    return models_dir / hub_id.replace("/", "--")


def resolve(vision: VisionSettings, models_dir: Path) -> ModelChoice:
    """The model the settings ask for (pure: looks at the disk only). A hub id that was never fetched is
    "missing", with the command that fetches it; nothing is downloaded here."""
    if vision.detector_path is not None:
        return ModelChoice("local", Path(vision.detector_path).expanduser())
    spec = (vision.detector or "").strip()
    if not spec:
        return ModelChoice("none")
    local = Path(spec).expanduser()
    if not is_hub_id(spec) or local.exists():
        return ModelChoice("local", local)
    folder = hub_folder(models_dir, spec)
    if (folder / MARKER).is_file():
        return ModelChoice("hub", folder, spec)
    return ModelChoice("missing", None, spec, problem=(
        f"The object detector {spec} is not downloaded yet: run `claw vision fetch-model` once on a machine with "
        f"internet (it goes to {folder}). Until then the cameras watch for motion only."))


def fetch(hub_id: str, models_dir: Path, *, revision: str | None = None, progress: bool = True) -> Path:
    """Download a hub model once into <models>/<owner>--<name> with a progress bar (huggingface_hub's tqdm);
    a second call with the model already there returns at once. Raises ModelError with a clear reason."""
    if not is_hub_id(hub_id):
        raise ModelError(f"“{hub_id}” is not a hub id (owner/name, e.g. PekingU/rtdetr_r18vd)")
    folder = hub_folder(models_dir, hub_id)
    if (folder / MARKER).is_file():
        return folder
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.utils import disable_progress_bars, enable_progress_bars
    except ImportError as exc:
        raise ModelError("downloading a model needs the vision extra: pip install 'homeclaw[vision]'") from exc
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    (enable_progress_bars if progress else disable_progress_bars)()
    try:
        snapshot_download(hub_id, revision=revision, local_dir=partial, allow_patterns=FILES)
    except Exception as exc:  # noqa: BLE001 - the hub's errors are many (offline, 401/404, disk): one clear message
        if not any(p for p in partial.iterdir() if p.name != ".cache"):  # nothing to resume from: leave no trace
            shutil.rmtree(partial, ignore_errors=True)
        raise ModelError(f"could not download {hub_id}: {_reason(exc)}") from exc
    if not (partial / "config.json").is_file():
        raise ModelError(f"{hub_id} has no config.json: not a transformers model")
    if not any(partial.glob("*.safetensors")):
        raise ModelError(f"{hub_id} has no .safetensors weights (pickled weights are not loaded)")
    (partial / MARKER).write_text(json.dumps({"hub_id": hub_id, "revision": revision, "at": time.time()}))
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)
    return folder


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if "Offline" in name or "LocalEntryNotFound" in name:
        return ("the hub cannot be reached (offline, or HF_HUB_OFFLINE is set); fetch it on a machine with "
                "internet and copy the folder, or set [vision] detector_path to a local folder")
    if "RepositoryNotFound" in name or "GatedRepo" in name:
        return "no such model on the hub, or it needs a login (huggingface-cli login)"
    text = " ".join(str(exc).split())
    return f"{name}: {text[:200]}" if text else name
