"""The [[cameras]] and [vision] settings models (imported by claw.config into the Settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class _Section(BaseModel):
    """As claw.config.Section: a key it does not have is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


Point = tuple[float, float]  # x, y as fractions of the picture's width and height (0..1)


class CameraSettings(_Section):
    """One camera: RTSP, MJPEG over HTTP or a JPEG snapshot URL (the kind is guessed from the URL when unset)."""

    name: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1)
    kind: Literal["rtsp", "mjpeg", "snapshot"] | None = None
    detect_url: str | None = None  # a low-resolution substream to watch instead of `url`
    username: str | None = None
    password: SecretStr | None = None  # secret
    room: str | None = None
    fps: float = Field(5.0, gt=0, le=30)  # frames watched per second at most
    alerts: bool = True  # False: events are stored, the owner is not messaged
    masks: list[list[Point]] = Field(default_factory=list)  # polygons never watched (a street, a tree)
    zones: dict[str, list[Point]] = Field(default_factory=dict)  # named polygons events are reported in
    alert_zones: list[str] = Field(default_factory=list)  # alert only when the motion stands in one (empty: anywhere)
    alert_labels: list[str] = Field(default_factory=list)  # with a detector: alert only for these (empty: any wanted)
    quiet_hours: str | None = Field(None, pattern=r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}$")  # "22:00-07:00": store, no alert

    @model_validator(mode="after")
    def _known_zones(self) -> CameraSettings:
        unknown = sorted(set(self.alert_zones) - set(self.zones))
        if unknown:
            raise ValueError(f"alert_zones names zones this camera does not have: {', '.join(unknown)}")
        return self


class VisionSettings(_Section):
    """How cameras are watched and what is kept."""

    offline_after: float = Field(20.0, gt=0)  # seconds without a picture before a camera is reported offline
    visit_gap: float = Field(40.0, gt=0)  # motion within this many seconds of the last is the same visit
    cooldown: float = Field(120.0, ge=0)  # no new alert this soon after an alerted visit of the same camera
    motion_threshold: int = Field(20, ge=1, le=255)  # grey levels of change that count as motion
    motion_min_area: int = Field(24, ge=1)  # smallest moving area, in pixels of the 100-row motion picture
    keep_days: float = Field(10.0, gt=0)  # events and their pictures are deleted after this
    max_mb: float = Field(500.0, gt=0)  # the oldest pictures go first when they take more than this
    # object detection on the motion (needs the vision extra): a local folder in save_pretrained's layout with an
    # AutoModelForObjectDetection (RT-DETR, YOLOS, DETR…); unset: motion alone makes a visit
    detector_path: Path | None = None
    # or a Hugging Face hub id ("PekingU/rtdetr_r18vd", fetched once with `claw vision fetch-model` into
    # <data dir>/models/) or a local folder; detector_path wins when both are set
    detector: str | None = Field(None, min_length=1)
    detect_labels: list[str] = Field(default_factory=lambda: ["person", "car", "truck", "bicycle", "motorcycle",
                                                             "dog", "cat", "package"])
    min_score: float = Field(0.5, gt=0, le=1)
    persist: bool = True  # things left that stay (a parcel) and their going, with before/after (cameras.changes)
    settle: float = Field(5.0, ge=0)  # seconds after a visit's last motion before the place is compared
    # captions (optional): an OpenAI-compatible vision endpoint (Ollama with a Qwen-VL model…) describes a visit
    # worth an alert, once at its start and at most once at its end, as a follow-up message to the alert
    caption_url: str | None = None  # e.g. "http://127.0.0.1:11434/v1"; unset: no captions
    caption_model: str | None = None
    caption_api_key: SecretStr | None = None  # secret
    caption_timeout: float = Field(8.0, gt=0, le=60)  # seconds a caption may take; later ones are dropped

    @model_validator(mode="after")
    def _caption_model(self) -> VisionSettings:
        if self.caption_url and not self.caption_model:
            raise ValueError("caption_url needs caption_model (the vision model's name at that endpoint)")
        return self
