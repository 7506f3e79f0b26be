"""Pure parts of learning: which unknown device the owner's words mean, the learned device's names, the summary."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from claw.learn.service import LearnError, LearnService, names_for
from devices.adapters.spec import load_spec
from devices.discovery.matching import Found
from devices.discovery.scan import ScanResult
from devices.learn.check import draft_body
from devices.learn.demo import DEMO_MODEL, demo_draft_for
from devices.learn.summary import requests_of
from devices.sim.pool import SimPool
from memory.store import Store
from tests.conftest import make_settings


def service(tmp_path: Path, *found: Found) -> LearnService:
    svc = LearnService(Store.memory(), None, None, None, make_settings(tmp_path))
    svc.last_scan = ScanResult(found=list(found))
    return svc


def test_the_owners_words_pick_one_unknown_device(tmp_path: Path) -> None:
    pool = Found("127.0.0.5:80", announced={"Pool Controller 4242-abcdef"})
    spa = Found("127.0.0.6:80", announced={"Spa Controller"})
    known = Found("127.0.0.7:80", announced={"Pool Light"}, adapter="wled")
    svc = service(tmp_path, pool, spa, known)
    assert svc.resolve("the pool controller") is pool
    assert svc.resolve("spa") is spa
    with pytest.raises(LearnError, match="Which one"):
        svc.resolve("it")
    with pytest.raises(LearnError, match="Several unknown devices fit"):
        svc.resolve("the controller")
    with pytest.raises(LearnError, match="No unknown device is called") as info:
        svc.resolve("the fridge")
    assert "127.0.0.5:80" in str(info.value) and "127.0.0.7:80" not in str(info.value)  # known ones are not offered
    assert service(tmp_path, pool).resolve("it") is pool
    with pytest.raises(LearnError, match="nothing to learn"):
        service(tmp_path, known).resolve("pool")


def test_names_of_a_learned_device() -> None:
    assert names_for("the pool controller", Found("a")) == ("pool", ("pool controller",))
    assert names_for("my garden pump", Found("a")) == ("garden pump", ())
    assert names_for("it", Found("a", announced={"Pool Controller 4242-abcdef"})) == ("pool", ("pool controller",))
    assert names_for("", Found("a")) == ("learned device", ())


def test_the_summary_lists_every_request() -> None:
    data = yaml.safe_load(draft_body(demo_draft_for("127.0.0.5:80")))
    del data["base_url"]
    lines = requests_of(load_spec(data))
    assert lines[0].startswith("GET /api/v1/status (reads current_temperature")
    assert lines[1].startswith('POST /api/v1/pool/setpoint {"setpoint_c": "{temperature}"} (set_temperature')
    assert lines[2] == "GET /api/v1/system (to recognise it on the network)"


def test_the_demo_draft_is_for_the_demo_pool_only() -> None:
    assert DEMO_MODEL == SimPool.MODEL
