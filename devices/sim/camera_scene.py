"""The simulated camera's picture as a pure function of time: a static scene, lighting drift, noise, rain, visitors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

NOISE_BANK = 16  # sensor noise frames, precomputed and cycled (drawing fresh noise costs more than the rest)
VISIT_WALK = 6.0  # seconds from the edge of the picture to the door, and back
VISIT_STAY = 3.0  # seconds the visitor waits at the door
VISIT_LENGTH = 2 * VISIT_WALK + VISIT_STAY
PARCEL_AT = VISIT_WALK + 1.0  # seconds into a visit when the visitor puts a parcel down (or picks it up)


@dataclass(frozen=True)
class SceneOptions:
    """What the simulated camera shows. Same seed and options: the same pictures, frame for frame."""

    width: int = 640
    height: int = 360
    seed: int = 1
    drift: float = 0.12  # lighting gain swings by ± this much over `drift_period` seconds
    drift_period: float = 240.0
    noise: float = 2.5  # sensor noise, standard deviation in grey levels
    rain: int = 0  # rain-like speckle: bright streaks per frame (0: dry)
    visitor_every: float | None = None  # on average one visitor this often (seconds); None: only on demand
    first_visit: float = 20.0  # seconds after the start when the first scheduled visitor comes
    parcel_every: int = 0  # every n-th scheduled visitor leaves a parcel (the next one takes it); 0: never


@dataclass
class Scene:
    """Renders the frame at time t (seconds since the camera started). Visits are scheduled from the seed and
    added on demand with `add_visit(t)`; everything else is a pure function of t."""

    options: SceneOptions = field(default_factory=SceneOptions)

    def __post_init__(self) -> None:
        o = self.options
        rng = np.random.default_rng(o.seed)
        self._base = _background(o.width, o.height, rng)
        self._noise = [rng.normal(0, o.noise, (o.height, o.width, 1)).astype(np.float32)
                       for _ in range(NOISE_BANK)] if o.noise > 0 else []
        self._visits: list[float] = []
        self._parcels: list[tuple[float, float]] = []  # (put down, picked up) times; inf: still there
        if o.visitor_every:
            t, n = o.first_visit, 0
            while t < 7 * 86400:  # a week of scheduled visitors; plenty for a demo
                self._visits.append(t)
                n += 1
                if o.parcel_every and n % o.parcel_every == 0:
                    self._parcels.append((t + PARCEL_AT, math.inf))
                elif o.parcel_every and self._parcels and self._parcels[-1][1] == math.inf:
                    self._parcels[-1] = (self._parcels[-1][0], t + PARCEL_AT)  # the next visitor takes it
                t += o.visitor_every * float(rng.uniform(0.5, 1.5))
        self.door_x = int(o.width * 0.62)
        w, h = o.width, o.height
        self.parcel_box = (int(w * 0.49), int(h * 0.73), int(w * 0.55), int(h * 0.83))  # on the path, by the door

    # visitors -------------------------------------------------------------------------------------------
    def add_visit(self, t: float) -> None:
        """A visitor walks in at time t (the sim control endpoint, tests)."""
        self._visits.append(t)
        self._visits.sort()

    def add_parcel(self, t: float) -> None:
        """A visitor walks in at time t and leaves a parcel on the path (it stays until one is taken)."""
        self.add_visit(t)
        self._parcels.append((t + PARCEL_AT, math.inf))

    def take_parcel(self, t: float) -> bool:
        """A visitor walks in at time t and takes the parcel lying there; False (and no visitor) when none is."""
        for i, (down, up) in enumerate(self._parcels):
            if up == math.inf and down <= t + PARCEL_AT:
                self.add_visit(t)
                self._parcels[i] = (down, t + PARCEL_AT)
                return True
        return False

    def parcel_at(self, t: float) -> bool:
        """Is a parcel lying on the path at time t?"""
        return any(down <= t < up for down, up in self._parcels)

    def visits_between(self, start: float, end: float) -> list[float]:
        """Start times of the visits under way at any moment in [start, end)."""
        return [v for v in self._visits if v < end and v + VISIT_LENGTH > start]

    def visitor_x(self, t: float) -> float | None:
        """Where the visitor's centre is at time t (pixels), or None when nobody is in the picture."""
        o = self.options
        start = next((v for v in reversed(self._visits) if v <= t < v + VISIT_LENGTH), None)
        if start is None:
            return None
        outside, door = -0.08 * o.width, float(self.door_x)
        age = t - start
        if age < VISIT_WALK:
            return outside + (door - outside) * age / VISIT_WALK
        if age < VISIT_WALK + VISIT_STAY:
            return door
        return door + (outside - door) * (age - VISIT_WALK - VISIT_STAY) / VISIT_WALK

    # rendering --------------------------------------------------------------------------------------------
    def gain(self, t: float) -> float:
        o = self.options
        return 1.0 + o.drift * math.sin(2 * math.pi * t / o.drift_period) if o.drift_period > 0 else 1.0

    def render(self, t: float) -> np.ndarray:
        """The BGR frame (uint8) at time t."""
        o = self.options
        frame = self._base.copy()
        if self.parcel_at(t):
            _draw_parcel(frame, self.parcel_box)
        x = self.visitor_x(t)
        if x is not None:
            _draw_person(frame, x, t, o.height)
        frame *= self.gain(t)
        index = int(t * 25)  # noise and rain change 25 times a second whatever the frame rate
        if self._noise:
            frame += self._noise[index % NOISE_BANK]
        if o.rain:
            _rain(frame, o.rain, np.random.default_rng((o.seed, index)))
        return np.clip(frame, 0, 255).astype(np.uint8)

    def jpeg(self, t: float, quality: int = 80) -> bytes:
        ok, data = cv2.imencode(".jpg", self.render(t), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
            raise RuntimeError("JPEG encoding failed")
        return data.tobytes()


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A front garden: sky, a house wall with a door and windows, a path and a lawn; fine texture from the seed."""
    img = np.zeros((height, width, 3), np.float32)
    horizon = int(height * 0.35)
    for y in range(horizon):
        img[y] = (200 - 40 * y / horizon, 170 - 20 * y / horizon, 140)  # BGR: pale blue sky
    img[horizon:] = (70, 120, 80)  # lawn
    wall_l, wall_r, wall_b = int(width * 0.35), int(width * 0.95), int(height * 0.78)
    img[int(height * 0.2):wall_b, wall_l:wall_r] = (150, 160, 175)  # wall
    door_l, door_r = int(width * 0.58), int(width * 0.66)
    img[int(height * 0.42):wall_b, door_l:door_r] = (40, 60, 110)  # brown door
    for wx in (0.42, 0.75, 0.85):
        x0 = int(width * wx)
        img[int(height * 0.32):int(height * 0.5), x0:x0 + int(width * 0.06)] = (120, 90, 60)  # windows
    pts = np.array([[0, height], [width * 0.45, wall_b], [width * 0.7, wall_b], [width * 0.6, height]], np.int32)
    cv2.fillPoly(img, [pts], (150, 150, 150))  # path
    texture = rng.normal(0, 12, (height // 4 + 1, width // 4 + 1)).astype(np.float32)
    texture = cv2.resize(texture, (width, height), interpolation=cv2.INTER_LINEAR)[..., None]
    return img + texture


def _draw_person(frame: np.ndarray, x: float, t: float, height: int) -> None:
    """A person-shaped blob: head, body and two legs that swing as they walk."""
    h = height * 0.42
    feet = int(height * 0.8)
    cx = int(x)
    body_w = max(3, int(h * 0.22))
    head_r = max(2, int(h * 0.1))
    top = int(feet - h)
    swing = int(h * 0.08 * math.sin(t * 6.0))
    cv2.circle(frame, (cx, top + head_r), head_r, (120, 160, 205), -1)  # face
    cv2.rectangle(frame, (cx - body_w // 2, top + 2 * head_r), (cx + body_w // 2, int(feet - h * 0.4)),
                  (90, 40, 30), -1)  # dark blue coat
    for side in (-1, 1):
        cv2.line(frame, (cx + side * body_w // 4, int(feet - h * 0.4)), (cx + side * (body_w // 4) + side * swing,
                 feet), (40, 40, 40), max(2, body_w // 3))  # legs


def _draw_parcel(frame: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """A cardboard box with a strip of tape and a darker side."""
    x0, y0, x1, y1 = box
    frame[y0:y1, x0:x1] = (45, 95, 150)  # BGR: cardboard brown
    frame[y0:y1, x1 - (x1 - x0) // 3:x1] = (30, 70, 115)  # its side in shade
    mid = (y0 + y1) // 2
    frame[mid - 2:mid + 2, x0:x1] = (200, 200, 205)  # tape


def _rain(frame: np.ndarray, count: int, rng: np.random.Generator) -> None:
    """Bright, short falling streaks scattered over the frame (rain caught by the IR light)."""
    h, w = frame.shape[:2]
    ys = rng.integers(0, h - 3, count)
    xs = rng.integers(0, w, count)
    for dy in range(3):
        frame[ys + dy, xs] += 70.0
