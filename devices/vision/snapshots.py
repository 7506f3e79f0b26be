"""Event snapshots: boxes drawn on the picture, JPEG files under one folder, pruned by age and by a size cap."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from devices.vision.motion import Box

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[^a-z0-9]+")


def draw_boxes(image: np.ndarray, boxes: Sequence[Box], labels: Sequence[str] = ()) -> np.ndarray:
    """A copy of the picture with each box outlined (and labelled when labels are given)."""
    out = image.copy()
    thick = max(2, image.shape[0] // 240)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 0, 255), thick)
        if i < len(labels) and labels[i]:
            cv2.putText(out, labels[i], (x0 + 2, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        max(0.4, image.shape[0] / 720), (0, 0, 255), thick)
    return out


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 picture
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def slug(name: str) -> str:
    return _SAFE.sub("-", name.lower()).strip("-") or "camera"


@dataclass(frozen=True)
class Pruned:
    """What a retention pass deleted: files too old, files over the size cap, and the bytes kept."""

    old: tuple[Path, ...]
    over_cap: tuple[Path, ...]
    kept_bytes: int


class SnapshotDir:
    """JPEG files under `root/<camera slug>/`, written atomically (a crash leaves no half file)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def save(self, camera: str, t: float, data: bytes, tag: str = "") -> Path:
        folder = self.root / slug(camera)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(t)) + f"-{int(t * 1000) % 1000:03d}"
        path = folder / f"{stamp}{'-' + slug(tag) if tag else ''}.jpg"
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return path

    def files(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every stored file, oldest first."""
        found = []
        if not self.root.is_dir():
            return found
        for path in self.root.rglob("*"):
            try:
                if path.is_file():
                    st = path.stat()
                    found.append((st.st_mtime, st.st_size, path))
            except OSError:
                continue
        return sorted(found)

    def prune(self, max_age: float, max_bytes: int, now: float | None = None,
              keep: Iterable[Path] = ()) -> Pruned:
        """Delete files older than `max_age` seconds, then the oldest until at most `max_bytes` remain
        (files in `keep`, e.g. the pictures of alerts still waiting to be sent, are spared by the cap)."""
        now = time.time() if now is None else now
        spared = {Path(p) for p in keep}
        old, over, kept, total = [], [], [], 0
        for mtime, size, path in self.files():
            if now - mtime > max_age:
                if _unlink(path):
                    old.append(path)
                continue
            kept.append((mtime, size, path))
            total += size
        for _, size, path in kept:
            if total <= max_bytes:
                break
            if path in spared:
                continue
            if _unlink(path):
                over.append(path)
                total -= size
        return Pruned(tuple(old), tuple(over), total)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("cannot delete snapshot %s: %s", path, exc)
        return False
