"""What the claw says about cameras: an alert for a visit, a camera going offline or coming back."""

from __future__ import annotations

import time
from collections.abc import Sequence


def clock_time(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def alert_text(camera: str, t: float, zones: Sequence[str] = (), labels: Sequence[str] = ()) -> str:
    """"Motion at the front door camera (front garden) at 14:03:12."; with a detector "Person and car at …"."""
    names = list(dict.fromkeys(labels))
    what = (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]).capitalize() \
        if names else "Motion"
    where = f" in the {', '.join(zones)}" if zones else ""
    return f"{what} at the {camera}{where} at {clock_time(t)}."


def status_text(camera: str, online: bool, offline_after: float = 20.0) -> str:
    if online:
        return f"The {camera} is back: it sends pictures again."
    return f"The {camera} is offline: no picture for {offline_after:g} seconds. I will say when it is back."


def detector_text(path: str, error: str) -> str:
    return (f"The object detector at {path} could not be loaded ({error}). The cameras watch for motion only "
            "until it is fixed and the claw restarted.")


def _thing(label: str) -> str:
    return label if label and label != "package" else "parcel"


def left_text(camera: str, t: float, label: str = "", zones: Sequence[str] = ()) -> str:
    """"Something was left at the front door camera (front garden) in the path at 14:05:10." (before/after)."""
    what = f"A {label}" if label and label != "package" else ("A parcel" if label else "Something")
    where = f" in the {', '.join(zones)}" if zones else ""
    return f"{what} was left at the {camera}{where} at {clock_time(t)} and is still there (before / after)."


def taken_text(camera: str, t: float, left_at: float | None, label: str = "", zones: Sequence[str] = ()) -> str:
    """"The parcel at the front door camera (front garden) is gone (14:20:01; it was left at 14:05)."."""
    where = f" in the {', '.join(zones)}" if zones else ""
    since = f"; it was left at {time.strftime('%H:%M', time.localtime(left_at))}" if left_at else ""
    if not label:
        return f"The thing left at the {camera}{where} is gone ({clock_time(t)}{since}) (before / after)."
    return f"The {_thing(label)} at the {camera}{where} is gone ({clock_time(t)}{since}) (before / after)."


def caption_text(camera: str, caption: str, *, later: bool = False) -> str:
    """The follow-up to an alert: the vision model's description, marked as such (it is untrusted, cleaned)."""
    when = "Later at" if later else "At"
    return f"{when} the {camera}, as the vision model describes it: {caption}"


def caption_error_text(error: str) -> str:
    return (f"Captions for camera alerts are not working ({error}). Alerts go on without them; check "
            "[vision] caption_url and caption_model.")
