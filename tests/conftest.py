"""Shared fixtures: an isolated environment, a simulated home on random loopback addresses, a running claw."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import soco

from claw.config import Settings
from claw.runtime import Claw
from devices.sim.home import SimHome, random_loopback_base
from memory.store import Store
from tests.fakes.openai_server import ScriptedOpenAI


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


@pytest.fixture
def store() -> Iterator[Store]:
    """A private in-memory store."""
    s = Store.memory()
    yield s
    s.close()


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", **overrides)  # type: ignore[call-arg]


def started_home() -> Iterator[SimHome]:
    sim = SimHome.load(ip_base=random_loopback_base())
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def shared_home() -> Iterator[SimHome]:
    """One simulated home per test module; use it through a fixture that calls `reset()` first."""
    yield from started_home()


@pytest.fixture
def own_home() -> Iterator[SimHome]:
    """A simulated home for this test alone (for tests that hang or stop devices)."""
    yield from started_home()


@pytest.fixture
def home(own_home: SimHome) -> SimHome:
    return own_home


@asynccontextmanager
async def running_claw(home: SimHome, tmp_path: Path, **overrides: object) -> AsyncIterator[Claw]:
    """A started claw on the home's devices, with its own data dir; stopped on exit."""
    c = Claw(make_settings(tmp_path, **{"device_timeout": 2.0, **overrides}), devices=home.devices)
    await c.start()
    try:
        yield c
    finally:
        await c.stop()


@pytest.fixture
async def claw(home: SimHome, tmp_path: Path) -> AsyncIterator[Claw]:
    async with running_claw(home, tmp_path) as c:
        yield c


@pytest.fixture
def scripted() -> Iterator[ScriptedOpenAI]:
    """A scripted OpenAI-compatible model on loopback (empty script: it answers "ok"); tests push their steps."""
    server = ScriptedOpenAI().start()
    yield server
    server.stop()
