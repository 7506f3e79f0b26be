"""When a visit is told: alert zones, alert labels, quiet hours (past midnight too), cameras with alerts off."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from claw.cameras.rules import in_quiet_hours, worth_alert
from claw.config import CameraSettings


def at(hour: int, minute: int = 0) -> float:
    """A timestamp today at local hour:minute."""
    now = time.localtime()
    return time.mktime((now.tm_year, now.tm_mon, now.tm_mday, hour, minute, 0, 0, 0, -1))


def cam(**kw: object) -> CameraSettings:
    return CameraSettings(name="front door", url="http://127.0.0.1:9/video", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("spec", "hour", "minute", "quiet"), [
    ("22:00-07:00", 23, 30, True), ("22:00-07:00", 3, 0, True), ("22:00-07:00", 7, 0, False),
    ("22:00-07:00", 21, 59, False), ("12:30-13:15", 13, 0, True), ("12:30-13:15", 13, 15, False),
    (None, 3, 0, False)])
def test_quiet_hours(spec: str | None, hour: int, minute: int, quiet: bool) -> None:
    assert in_quiet_hours(spec, at(hour, minute)) is quiet


def test_zones_labels_quiet_hours_and_switched_off() -> None:
    path = [(0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)]
    street = [(0.5, 0.0), (1.0, 0.0), (1.0, 0.5), (0.5, 0.5)]
    c = cam(zones={"path": path, "street": street}, alert_zones=["path"], alert_labels=["person"],
            quiet_hours="01:00-05:00")
    assert worth_alert(c, at(12), ["path"], ["person"]) == (True, "")
    assert worth_alert(c, at(12), ["street"], ["person"]) == (False, "outside the alert zones")
    assert worth_alert(c, at(12), ["path", "street"], ["car", "person"]) == (True, "")
    assert worth_alert(c, at(12), ["path"], ["car"]) == (False, "not one of the alert labels")
    assert worth_alert(c, at(12), ["path"], []) == (True, "")  # motion only: no labels to judge
    assert worth_alert(c, at(2), ["path"], ["person"]) == (False, "quiet hours")
    assert worth_alert(cam(alerts=False), at(12), [], []) == (False, "alerts are off for this camera")


def test_alert_zones_must_exist_and_quiet_hours_must_be_times() -> None:
    with pytest.raises(ValidationError, match="zones this camera does not have: porch"):
        cam(alert_zones=["porch"])
    with pytest.raises(ValidationError):
        cam(quiet_hours="after ten")
