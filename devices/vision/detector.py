"""Object detection on motion regions: a transformers detection model from a local folder, run on square crops."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from devices.errors import DeviceError
from devices.vision.motion import Box, merge_boxes

log = logging.getLogger(__name__)


class DetectorError(DeviceError):
    """The detection model could not be loaded or run (missing folder, not an object-detection model, no torch)."""


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: Box  # in the pixels of the whole frame


@dataclass(frozen=True)
class DetectorConfig:
    path: Path  # a folder with config.json, the weights and preprocessor_config.json (save_pretrained's layout)
    labels: tuple[str, ...] = ("person", "car", "truck", "bicycle", "motorcycle", "dog", "cat", "package")
    min_score: float = 0.5
    crop: int = 320  # the smallest square cut around the motion (never smaller than the model's input)
    threads: int = 1  # torch threads: one camera's detection should not take the whole machine


def square_crop(frame_w: int, frame_h: int, boxes: Sequence[Box], smallest: int) -> Box | None:
    """A square around all the motion boxes, at least `smallest` pixels a side (the frame's shorter side at most),
    moved inside the frame."""
    region = merge_boxes(boxes)
    if region is None:
        return None
    x0, y0, x1, y1 = region
    side = min(max(x1 - x0, y1 - y0, smallest), frame_w, frame_h)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    left = min(max(0, cx - side // 2), frame_w - side)
    top = min(max(0, cy - side // 2), frame_h - side)
    return left, top, left + side, top + side


class Detector:
    """Loads the model once (from a local folder only: nothing is downloaded) and detects on the square crop
    around motion. Thread-safe: calls are serialized. Import cost (torch, transformers) is paid only here."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        path = Path(config.path)
        if not (path / "config.json").is_file():  # before the seconds of importing torch: a typo fails at once
            raise DetectorError(f"no detection model in {path} (expected config.json and the weights)")
        try:
            import torch
            from transformers import AutoImageProcessor, AutoModelForObjectDetection
        except ImportError as exc:
            raise DetectorError("object detection needs the vision extra: pip install 'homeclaw[vision]'") from exc
        torch.set_num_threads(max(1, config.threads))
        self._torch = torch
        try:
            self.processor = AutoImageProcessor.from_pretrained(path, local_files_only=True, backend="pil")
            self.model = AutoModelForObjectDetection.from_pretrained(path, local_files_only=True).eval()
        except (OSError, ValueError, KeyError) as exc:
            raise DetectorError(f"cannot load the detection model in {path}: {exc}") from exc
        self.id2label: dict[int, str] = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        self.input_size = _input_size(self.processor)
        self.forward_seconds = 0.0  # time in the model itself (the rest is the wrapper's)
        self.calls = 0

    def crop_for(self, frame: np.ndarray, boxes: Sequence[Box]) -> Box | None:
        h, w = frame.shape[:2]
        return square_crop(w, h, boxes, max(self.config.crop, self.input_size))

    def detect(self, frame: np.ndarray, boxes: Sequence[Box]) -> list[Detection]:
        """Wanted objects (config.labels, score ≥ min_score) in the square crop around `boxes`; BGR frame."""
        crop = self.crop_for(frame, boxes)
        if crop is None:
            return []
        x0, y0, x1, y1 = crop
        square = frame[y0:y1, x0:x1]
        if x1 - x0 > self.input_size:  # the processor would shrink it anyway, slower (PIL): OpenCV does it here
            square = cv2.resize(square, (self.input_size, self.input_size), interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(square, cv2.COLOR_BGR2RGB)
        torch = self._torch
        with self._lock, torch.inference_mode():
            inputs = self.processor(images=[rgb], return_tensors="pt")
            started = time.perf_counter()
            outputs = self.model(**inputs)
            self.forward_seconds += time.perf_counter() - started
            self.calls += 1
            found = self.processor.post_process_object_detection(
                outputs, threshold=self.config.min_score, target_sizes=[(y1 - y0, x1 - x0)])[0]
        return self._wanted(found, x0, y0, frame.shape[1], frame.shape[0])

    def _wanted(self, found: dict[str, Any], dx: int, dy: int, w: int, h: int) -> list[Detection]:
        out = []
        wanted = set(self.config.labels)
        for score, label, box in zip(found["scores"].tolist(), found["labels"].tolist(), found["boxes"].tolist(),
                                     strict=True):
            name = self.id2label.get(int(label), str(label))
            if wanted and name not in wanted:
                continue
            bx0, by0, bx1, by1 = (int(round(v)) for v in box)
            out.append(Detection(name, float(score), (max(0, bx0 + dx), max(0, by0 + dy), min(w, bx1 + dx),
                                                      min(h, by1 + dy))))
        return sorted(out, key=lambda d: -d.score)


def _input_size(processor: Any) -> int:
    """The model's square input side as the processor states it (height, shortest edge), else 320."""
    size = getattr(processor, "size", None) or {}
    if not isinstance(size, dict):
        size = dict(size)
    for key in ("height", "shortest_edge", "longest_edge"):
        if size.get(key):
            return int(size[key])
    return 320
