"""A reference implementation of Frigate's published motion algorithm (its "improved" motion detector), written
from Frigate's documentation for the side-by-side in bench/vision.py. Not used by the claw.

What the docs describe (configuration reference and "Tuning Motion Detection"), with their defaults:
- the detect frame's luminance is resized to `frame_height` rows (100);
- `improve_contrast` (on): the picture is stretched between its low and high percentiles before comparing;
- motion masks are applied to the resized frame;
- the frame is blurred and compared with a running average of past frames that adapts at `frame_alpha` (0.01);
- a pixel is changed when it differs by more than `threshold` (30) grey levels; changed areas are dilated and
  their contours found; contours smaller than `contour_area` (10) pixels are ignored;
- when more than `lightning_threshold` (0.8) of the frame changed, motion detection recalibrates (the average is
  reset to the current frame) and reports no motion.
"""

from __future__ import annotations

import cv2
import numpy as np


class FrigateMotion:
    """frame (grey, detect resolution) -> motion boxes in that frame's pixels, per the documented steps."""

    def __init__(self, frame_shape: tuple[int, int], *, frame_height: int = 100, threshold: int = 30,
                 contour_area: int = 10, frame_alpha: float = 0.01, lightning_threshold: float = 0.8,
                 improve_contrast: bool = True, mask: np.ndarray | None = None) -> None:
        h, w = frame_shape
        self.height = frame_height
        self.width = int(frame_height * w / h)
        self.scale = (w / self.width, h / self.height)
        self.threshold = threshold
        self.contour_area = contour_area
        self.frame_alpha = frame_alpha
        self.lightning_threshold = lightning_threshold
        self.improve_contrast = improve_contrast
        self.mask = mask  # boolean, resized-frame shape: True where masked
        self.avg: np.ndarray | None = None
        self.calibrating = True

    def detect(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
        resized = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        if self.improve_contrast:
            low, high = np.percentile(resized, [4, 96])
            if high > low:
                resized = np.clip(resized, low, high)
                resized = ((resized - low) * (255.0 / (high - low))).astype(np.uint8)
        if self.mask is not None:
            resized[self.mask] = 255
        blurred = cv2.GaussianBlur(resized, (3, 3), cv2.BORDER_DEFAULT)
        if self.avg is None:
            self.avg = blurred.astype(np.float32)
        delta = cv2.absdiff(blurred, cv2.convertScaleAbs(self.avg))
        thresh = cv2.threshold(delta, self.threshold, 255, cv2.THRESH_BINARY)[1]
        thresh = cv2.dilate(thresh, None, iterations=1)
        contours, _ = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = []
        total = 0.0
        for c in contours:
            area = cv2.contourArea(c)
            if area > self.contour_area:
                total += area
                x, y, w, h = cv2.boundingRect(c)
                sx, sy = self.scale
                boxes.append((int(x * sx), int(y * sy), int((x + w) * sx), int((y + h) * sy)))
        if total / (self.width * self.height) > self.lightning_threshold:
            self.calibrating = True
            boxes = []
        if self.calibrating:
            cv2.accumulateWeighted(blurred, self.avg, 1.0)
            self.calibrating = False
        else:
            cv2.accumulateWeighted(blurred, self.avg, self.frame_alpha)
        return boxes
