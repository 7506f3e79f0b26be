"""Motion as a pure step: a frame in, changed regions out (downscale, blur, running background, threshold, boxes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

cv2.setNumThreads(1)  # one camera, one core at most: OpenCV's own thread pool only adds overhead at this size

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in the pixels of the frame given to `detect`
Polygon = Sequence[tuple[float, float]]  # points as fractions of the frame's width and height (0..1)

_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class MotionConfig:
    """How sensitive motion is. Areas are in pixels of the motion frame (`height` rows)."""

    height: int = 100  # frames are downscaled to this many rows (then blurred: that cancels sensor noise)
    threshold: int = 20  # grey levels a pixel must differ from the background by to count as changed
    min_area: int = 24  # changed regions smaller than this are ignored (speckle, rain, compression noise)
    alpha: float = 0.03  # how fast the background follows the picture per frame (time constant ≈ 1/alpha frames)
    lighting: float = 0.4  # changed fraction above which the whole picture changed (lights, IR switch): recalibrate
    masks: tuple[Polygon, ...] = ()  # areas never watched (a street, a tree, the timestamp)
    zones: Mapping[str, Polygon] = field(default_factory=dict)  # named areas a box is reported in (its foot point)


@dataclass(frozen=True)
class MotionResult:
    """What changed in one frame: boxes in the input frame's pixels, the changed fraction of the watched area,
    whether the background was reset because the whole picture changed, and the zones the boxes stand in."""

    boxes: tuple[Box, ...] = ()
    changed: float = 0.0
    recalibrated: bool = False
    zones: tuple[str, ...] = ()

    @property
    def motion(self) -> bool:
        return bool(self.boxes)


class MotionDetector:
    """Keeps one camera's background; `detect(frame)` compares a frame with it and then updates it.

    Robust to whole-picture brightness changes in two ways: a uniform change (clouds, a gain change, dusk) is
    divided out by comparing against the background scaled to the frame's mean brightness, and a change over
    more than `lighting` of the picture (a light switched on, the IR filter flipping) resets the background
    instead of reporting motion. The first frame only calibrates."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._background: np.ndarray | None = None  # float32, motion-frame size
        self._bg_mean = 0.0
        self._shape: tuple[int, int] | None = None  # (width, height) of the input frames
        self._small: tuple[int, int] = (0, 0)
        self._mask: np.ndarray | None = None  # 255 where watched, motion-frame size
        self._watched = 1
        self._zones: dict[str, np.ndarray] = {}

    def reset(self) -> None:
        """Forget the background: the next frame calibrates (a reconnected camera, a moved camera)."""
        self._background = None

    def detect(self, frame: np.ndarray) -> MotionResult:
        """Motion in `frame` (grey uint8, or BGR), then fold the frame into the background."""
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        h, w = gray.shape
        if self._shape != (w, h):
            self._setup(w, h)
        small = gray if (w, h) == self._small else cv2.resize(gray, self._small, interpolation=cv2.INTER_LINEAR)
        small = cv2.blur(small, (3, 3))
        mean = cv2.mean(small, self._mask)[0]
        if self._background is None or self._bg_mean <= 1.0:
            return self._calibrate(small, mean)
        gain = mean / self._bg_mean
        expected = cv2.convertScaleAbs(self._background, alpha=gain)
        diff = cv2.absdiff(small, expected)
        _, changed = cv2.threshold(diff, self.config.threshold, 255, cv2.THRESH_BINARY)
        if self._mask is not None:
            changed = cv2.bitwise_and(changed, self._mask)
        fraction = cv2.countNonZero(changed) / self._watched
        if fraction > self.config.lighting:
            self._calibrate(small, mean)
            return MotionResult(changed=fraction, recalibrated=True)
        boxes: tuple[Box, ...] = ()
        if fraction > 0:
            boxes = self._boxes(cv2.dilate(changed, _KERNEL))
        # background follows the picture; the brightness bookkeeping follows at the same rate
        cv2.accumulateWeighted(small, self._background, self.config.alpha)
        self._bg_mean += self.config.alpha * (mean - self._bg_mean)
        return MotionResult(boxes=boxes, changed=fraction, zones=self._zones_of(boxes))

    # internals ----------------------------------------------------------------------------------------------
    def _setup(self, w: int, h: int) -> None:
        rows = min(self.config.height, h)
        self._shape = (w, h)
        self._small = (max(1, round(w * rows / h)), rows)
        self._background = None
        sw, sh = self._small
        self._mask = None
        if self.config.masks:
            mask = np.full((sh, sw), 255, np.uint8)
            for poly in self.config.masks:
                cv2.fillPoly(mask, [_points(poly, sw, sh)], 0)
            self._mask = mask
        self._watched = max(1, cv2.countNonZero(self._mask) if self._mask is not None else sw * sh)
        self._zones = {}
        for name, poly in self.config.zones.items():
            zone = np.zeros((h, w), np.uint8)
            cv2.fillPoly(zone, [_points(poly, w, h)], 255)
            self._zones[name] = zone

    def _calibrate(self, small: np.ndarray, mean: float) -> MotionResult:
        self._background = small.astype(np.float32)
        self._bg_mean = mean
        return MotionResult()

    def _boxes(self, changed: np.ndarray) -> tuple[Box, ...]:
        count, _, stats, _ = cv2.connectedComponentsWithStats(changed, connectivity=8)
        if count <= 1:
            return ()
        w, h = self._shape or (1, 1)
        sx, sy = w / self._small[0], h / self._small[1]
        out = []
        for x, y, bw, bh, area in stats[1:]:
            if area >= self.config.min_area:
                out.append((int(x * sx), int(y * sy), min(w, int((x + bw) * sx + 0.999)),
                            min(h, int((y + bh) * sy + 0.999))))
        return tuple(out)

    def _zones_of(self, boxes: tuple[Box, ...]) -> tuple[str, ...]:
        if not self._zones or not boxes:
            return ()
        found = []
        for name, zone in self._zones.items():
            for x0, _, x1, y1 in boxes:  # where the thing stands: the middle of its box's bottom edge
                if zone[min(y1, zone.shape[0]) - 1, min((x0 + x1) // 2, zone.shape[1] - 1)]:
                    found.append(name)
                    break
        return tuple(found)


def _points(poly: Polygon, w: int, h: int) -> np.ndarray:
    return np.array([[round(x * w), round(y * h)] for x, y in poly], np.int32)


def merge_boxes(boxes: Sequence[Box]) -> Box | None:
    """The smallest box holding every box (None for none)."""
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
