"""One running claw per test module over that module's simulated home: the fixtures the phrasing suites share.

Use: `isolated_env, mclaw, home = module_claw("qhome", "questions")` at module level, where "qhome" names the
module's (module-scoped) SimHome fixture. `home` resets the simulator and the registry's remembered states
before and after each test; `isolated_env` replaces tests.conftest's without its per-test soco reset (the
module's claw keeps its Sonos driver; soco is reset once around the module instead)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import soco

from claw.runtime import Claw
from devices.sim.home import SimHome
from tests.conftest import running_claw


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
