"""Persistent change as pure logic: did a region change and stay (a parcel left), and did it go back (taken)?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from devices.vision.motion import Box, Polygon

_OPEN = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


@dataclass(frozen=True)
class PersistConfig:
    """How a settled picture is compared with the reference from before a visit (areas in compare pixels)."""

    height: int = 120  # both pictures are downscaled to this many rows
    blur: int = 5  # box blur (odd): cancels sensor noise and JPEG blocks
    threshold: int = 28  # grey levels (after brightness normalising) a pixel must differ by to count as changed
    min_area: int = 40  # a changed blob smaller than this is not a thing (speckle, a leaf)
    min_fill: float = 0.25  # ... and it must fill at least this much of its own bounding box
    gone_ratio: float = 0.15  # a watched thing is gone when at most this fraction of its box still differs
    margin: float = 0.15  # the motion area is widened by this fraction of its size on each side


@dataclass(frozen=True)
class Change:
    """A thing that appeared: its box in the full picture's pixels and the fraction of the box that changed."""

    box: Box
    fill: float


@dataclass
class Watched:
    """A thing left behind that is still there: what the place looked like before (BGR) and its box."""

    key: float  # when it was seen (also the claw's key for its stored event)
    box: Box
    before: np.ndarray = field(repr=False)
    after: np.ndarray = field(repr=False)
    label: str = ""


def _grey(image: np.ndarray, cfg: PersistConfig) -> np.ndarray:
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    rows = min(cfg.height, h)
    small = cv2.resize(gray, (max(1, round(w * rows / h)), rows), interpolation=cv2.INTER_AREA)
    return cv2.blur(small, (cfg.blur, cfg.blur))


def difference(reference: np.ndarray, current: np.ndarray, cfg: PersistConfig | None = None,
               region: Box | None = None) -> np.ndarray:
    """255 where `current` differs from `reference` (compare size), brightness normalised: the reference is
    scaled by the ratio of mean brightness measured outside `region` (so dusk, clouds and a camera's gain divide
    out, and the thing itself does not bias the scale)."""
    cfg = cfg or PersistConfig()
    ref, cur = _grey(reference, cfg), _grey(current, cfg)
    if ref.shape != cur.shape:
        raise ValueError(f"pictures of different sizes: {reference.shape} and {current.shape}")
    outside = np.full(ref.shape, 255, np.uint8)
    if region is not None:
        x0, y0, x1, y1 = _small_box(region, reference.shape, ref.shape)
        outside[y0:y1, x0:x1] = 0
        if cv2.countNonZero(outside) < outside.size // 10:
            outside[:] = 255
    ref_mean, cur_mean = cv2.mean(ref, outside)[0], cv2.mean(cur, outside)[0]
    gain = cur_mean / ref_mean if ref_mean > 1.0 else 1.0
    diff = cv2.absdiff(cur, cv2.convertScaleAbs(ref, alpha=gain))
    _, changed = cv2.threshold(diff, cfg.threshold, 255, cv2.THRESH_BINARY)
    return cv2.morphologyEx(changed, cv2.MORPH_OPEN, _OPEN)


def appeared(reference: np.ndarray, current: np.ndarray, area: Box, cfg: PersistConfig | None = None) -> list[Change]:
    """Things in `area` (the visit's motion, full-picture pixels) that are in `current` but not in `reference`:
    changed blobs of at least `min_area` that fill `min_fill` of their box. [] when the place looks as before."""
    cfg = cfg or PersistConfig()
    area = widen(area, reference.shape, cfg.margin)
    changed = difference(reference, current, cfg, area)
    sh, sw = changed.shape
    x0, y0, x1, y1 = _small_box(area, reference.shape, changed.shape)
    inside = np.zeros_like(changed)
    inside[y0:y1, x0:x1] = changed[y0:y1, x0:x1]
    count, _, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=8)
    h, w = reference.shape[:2]
    sx, sy = w / sw, h / sh
    found = []
    for bx, by, bw, bh, blob in stats[1:count]:
        fill = blob / max(1, bw * bh)
        if blob >= cfg.min_area and fill >= cfg.min_fill:
            found.append(Change((int(bx * sx), int(by * sy), min(w, int((bx + bw) * sx + 0.999)),
                                 min(h, int((by + bh) * sy + 0.999))), round(float(fill), 3)))
    return found


def still_there(before: np.ndarray, current: np.ndarray, box: Box, cfg: PersistConfig | None = None) -> bool:
    """Does the place in `box` still differ from how it looked `before` the thing came? False: it is gone."""
    cfg = cfg or PersistConfig()
    changed = difference(before, current, cfg, box)
    x0, y0, x1, y1 = _small_box(box, before.shape, changed.shape)
    part = changed[y0:y1, x0:x1]
    return part.size > 0 and cv2.countNonZero(part) / part.size > cfg.gone_ratio


def widen(box: Box, shape: Sequence[int], margin: float) -> Box:
    h, w = shape[0], shape[1]
    x0, y0, x1, y1 = box
    dx, dy = int((x1 - x0) * margin), int((y1 - y0) * margin)
    return max(0, x0 - dx), max(0, y0 - dy), min(w, x1 + dx), min(h, y1 + dy)


def side_by_side(before: np.ndarray, after: np.ndarray, box: Box | None = None) -> np.ndarray:
    """One picture for the alert: before on the left, after on the right, captioned, the thing's box drawn."""
    h = before.shape[0]
    panels = []
    for title, image in (("before", before), ("after", after)):
        panel = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if panel.shape[0] != h:
            panel = cv2.resize(panel, (round(panel.shape[1] * h / panel.shape[0]), h))
        if box is not None:
            x0, y0, x1, y1 = box
            cv2.rectangle(panel, (x0, y0), (x1, y1), (0, 0, 255), max(2, h // 240))
        scale = max(0.5, h / 480)
        cv2.putText(panel, title, (10, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4)
        cv2.putText(panel, title, (10, int(30 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1)
        panels.append(panel)
    gap = np.full((h, max(4, h // 90), 3), 255, np.uint8)
    return np.hstack([panels[0], gap, panels[1]])


def zones_of(box: Box, shape: Sequence[int], zones: Mapping[str, Polygon]) -> tuple[str, ...]:
    """The named zones (polygons as fractions of the picture) the thing in `box` stands in (its bottom middle)."""
    h, w = shape[0], shape[1]
    foot = ((box[0] + box[2]) / 2.0, min(box[3], h - 1) * 1.0)
    found = []
    for name, poly in zones.items():
        points = np.array([[x * w, y * h] for x, y in poly], np.float32)
        if len(points) >= 3 and cv2.pointPolygonTest(points, foot, False) >= 0:
            found.append(name)
    return tuple(found)


def _small_box(box: Box, full: Sequence[int], small: Sequence[int]) -> Box:
    """A full-picture box in compare pixels (at least one pixel wide and high)."""
    fy, fx = small[0] / full[0], small[1] / full[1]
    x0, y0 = int(box[0] * fx), int(box[1] * fy)
    return x0, y0, max(x0 + 1, int(box[2] * fx + 0.999)), max(y0 + 1, int(box[3] * fy + 0.999))


class PersistTracker:
    """One camera's memory of things left behind: `check(reference, current, area)` after a visit says what
    appeared (and what of the watched things is gone, checked first so a parcel taken is not a new thing);
    `recheck(current)` at any other time says what is gone. Pure: pictures in, decisions out."""

    def __init__(self, cfg: PersistConfig | None = None) -> None:
        self.cfg = cfg or PersistConfig()
        self.watched: list[Watched] = []

    def watch(self, item: Watched) -> None:
        self.watched.append(item)

    def gone(self, current: np.ndarray) -> list[Watched]:
        """The watched things no longer there (removed from the watch list)."""
        if not self.watched:
            return []
        left, gone = [], []
        for item in self.watched:
            if item.before.shape != current.shape or still_there(item.before, current, item.box, self.cfg):
                left.append(item)
            else:
                gone.append(item)
        self.watched = left
        return gone

    def check(self, reference: np.ndarray, current: np.ndarray, area: Box) -> tuple[list[Change], list[Watched]]:
        """After a visit: (what appeared in `area`, what watched things are gone)."""
        gone = self.gone(current)
        found = [c for c in appeared(reference, current, area, self.cfg)
                 if not any(_overlap(c.box, g.box) > 0.3 for g in gone)
                 and not any(_overlap(c.box, w.box) > 0.5 for w in self.watched)]
        return found, gone


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / max(1, small)
