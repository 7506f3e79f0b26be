"""One running claw per test module over that module's simulated home: the fixtures the phrasing, no-op,
routines-by-chat and scenes suites share.

Use: `isolated_env, mclaw, home = module_claw("qhome", "questions")` at module level, where "qhome" names the
module's (module-scoped) SimHome fixture. `home` resets the simulator and the registry's remembered states
before and after each test; `isolated_env` replaces tests.conftest's without its per-test soco reset (the
module's claw keeps its Sonos driver; soco is reset once around the module instead). `clocked_claw` is the
same for suites that need a manual clock and start with no routines or scenes."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import soco

from claw.events import InboundMessage, TurnResult
from claw.routines.clock import ManualClock
from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.conftest import make_settings, running_claw


def isolate(mp: pytest.MonkeyPatch, tmp: Path) -> None:
    """No CLAW_* setting of the developer's leaks in; config and data under `tmp`."""
    for key in list(os.environ):
        if key.startswith("CLAW_"):
            mp.delenv(key)
    mp.setenv("CLAW_CONFIG", str(tmp / "no-such-claw.toml"))
    mp.setenv("CLAW_DATA_DIR", str(tmp / "data"))


def module_claw(home_fixture: str, tag: str) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """(isolated_env, mclaw, home) fixtures for a module whose simulated home is the fixture `home_fixture`."""

    @pytest.fixture(autouse=True)
    def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        isolate(monkeypatch, tmp_path)

    @pytest_asyncio.fixture(scope="module", loop_scope="module")
    async def mclaw(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Claw]:
        sim: SimHome = request.getfixturevalue(home_fixture)
        soco.core.soco_reset()
        with pytest.MonkeyPatch.context() as mp:
            tmp = tmp_path_factory.mktemp(tag)
            isolate(mp, tmp)
            async with running_claw(sim, tmp) as c:
                yield c
        soco.core.soco_reset()

    @pytest.fixture
    def home(request: pytest.FixtureRequest, mclaw: Claw) -> Iterator[SimHome]:
        sim: SimHome = request.getfixturevalue(home_fixture)
        sim.reset()
        mclaw.registry.forget()  # states remembered from an earlier case (no-op awareness): start clean
        yield sim
        sim.reset()

    return isolated_env, mclaw, home


def clocked_claw(t0: dt.datetime, tag: str) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """(clock, claw, home) fixtures: one claw per module on `shared_home` with a ManualClock at `t0` and London
    routines settings, its routine worker off; `home` resets the simulator and the clock and deletes every
    routine and scene before each test."""

    @pytest.fixture(scope="module")
    def clock() -> ManualClock:
        return ManualClock(t0)

    @pytest_asyncio.fixture(scope="module", loop_scope="module")
    async def claw(shared_home: SimHome, tmp_path_factory: pytest.TempPathFactory,
                   clock: ManualClock) -> AsyncIterator[Claw]:
        settings = make_settings(tmp_path_factory.mktemp(tag), device_timeout=2.0,
                                 routines={"timezone": "Europe/London", "latitude": 51.5, "longitude": -0.12})
        c = Claw(settings, devices=shared_home.devices, clock=clock)
        await c.start(routines=False)
        yield c
        await c.stop()

    @pytest.fixture
    def home(shared_home: SimHome, claw: Claw, clock: ManualClock) -> SimHome:
        shared_home.reset()
        clock.set(t0)
        for routine in claw.routines.list():
            claw.routines.delete(routine.id)
        for scene in claw.scenes.names():
            claw.scenes.delete(scene)
        return shared_home

    return clock, claw, home


async def say(claw: Claw, text: str, sender: str | None = None, standing: str = "owner") -> TurnResult:
    """One turn on the web channel, as the owner unless told otherwise."""
    return await claw.agent.ask(InboundMessage("web", sender or claw.settings.owner, text,
                                               standing=standing))  # type: ignore[arg-type]
