"""Shared fixtures: an isolated environment, a simulated home on random loopback addresses, a running claw."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import soco

from claw.app import Claw
from claw.config import Settings
from devices.sim.home import SimHome, random_loopback_base


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CLAW_* setting, .env or claw.toml of the developer's leaks into a test."""
    for key in list(os.environ):
        if key.startswith("CLAW_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CLAW_CONFIG", str(tmp_path / "no-such-claw.toml"))
    monkeypatch.setenv("CLAW_DATA_DIR", str(tmp_path / "data"))
    soco.core.soco_reset()
    yield
    soco.core.soco_reset()


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **overrides)  # type: ignore[call-arg]


@pytest.fixture
def home() -> Iterator[SimHome]:
    sim = SimHome.load(ip_base=random_loopback_base())
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
async def claw(home: SimHome, tmp_path: Path) -> AsyncIterator[Claw]:
    c = Claw(make_settings(tmp_path, device_timeout=2.0), devices=home.devices)
    await c.start()
    yield c
    await c.stop()
