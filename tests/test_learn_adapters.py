"""Adapter versions: `claw adapters list|show|export|rollback|check`, hand-written specs in adapters_dir, and a
rolled-back version in use at the next start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from claw.cli import app
from claw.runtime import Claw
from devices.learn.check import draft_body
from devices.learn.demo import demo_draft_for
from devices.models import Device, Kind
from devices.sim.home import random_loopback_base
from devices.sim.pool import SimPool
from memory.store import Store
from tests.conftest import make_settings

runner = CliRunner()


def spec_text(address: str, *, path: str = "pool.setpoint_c", name: str = "poolpilot") -> str:
    data = yaml.safe_load(draft_body(demo_draft_for(address)))
    del data["base_url"]
    data["name"] = name
    data["state"][0]["extract"]["target_temperature"]["path"] = path
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture
def pool() -> Iterator[SimPool]:
    sim = SimPool(host=random_loopback_base()).start()
    yield sim
    sim.stop()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "data" / "claw.db")
    yield store
    store.close()


def claw(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["adapters", *args])
    return result.exit_code, result.output


def test_list_show_export_and_rollback(db: Store, pool: SimPool, tmp_path: Path) -> None:
    good, spa = spec_text(pool.address), spec_text(pool.address, path="spa.setpoint_c")
    db.adapter_version_add("poolpilot", good, source="learned", status="approved", host=pool.address)
    db.adapter_version_add("poolpilot", spa, source="learned", status="approved", host=pool.address)
    db.adapter_version_add("poolpilot", "name: x", source="learned", status="rejected", host=pool.address)
    code, out = claw("list")
    assert code == 0 and "wled" in out and "builtin" in out
    assert "approved (current)" in out and "rejected" in out and pool.address in out
    code, out = claw("show", "poolpilot")
    assert code == 0 and "spa.setpoint_c" in out
    code, out = claw("export", "poolpilot", str(tmp_path / "pool.yaml"), "--version", "1")
    assert code == 0 and "pool.setpoint_c" in (tmp_path / "pool.yaml").read_text()
    code, out = claw("rollback", "poolpilot")
    assert code == 0 and "v1 is current again" in out
    current = db.adapter_current("poolpilot")
    assert current is not None and current["version"] == 1
    assert [r["status"] for r in db.adapter_versions("poolpilot")] == ["approved", "rolled_back", "rejected"]
    code, out = claw("rollback", "poolpilot")
    assert code == 2 and "nothing earlier" in out
    code, out = claw("rollback", "poolpilot", "--to", "7")
    assert code == 2 and "no version 7" in out
    code, out = claw("show", "nosuch")
    assert code == 2 and "no adapter named" in out


def test_check_reads_a_live_device_read_only(db: Store, pool: SimPool, tmp_path: Path) -> None:
    good = tmp_path / "poolpilot.yaml"
    good.write_text(spec_text(pool.address), encoding="utf-8")
    code, out = claw("check", str(good), "--device", pool.address)
    assert code == 0, out
    assert "target_temperature: 27.0" in out and "match (/api/v1/system): yes" in out and "not sent" in out
    assert {m for m, _ in pool.requests} == {"GET"} and pool.commands == []
    db.device_upsert(Device("serial:P", "pool", Kind.CLIMATE, None, frozenset({"climate"}), "http", pool.address,
                            adapter="poolpilot").to_dict())
    assert claw("check", str(good), "--device", "serial:P")[0] == 0
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(spec_text(pool.address, path="pool.nope"), encoding="utf-8")
    code, out = claw("check", str(wrong), "--device", pool.address)
    assert code == 2 and "do not fit" in out
    posting = tmp_path / "posting.yaml"
    read_by_post = "- path: /api/v1/status\n  method: POST"
    posting.write_text(spec_text(pool.address).replace("- path: /api/v1/status", read_by_post), encoding="utf-8")
    code, out = claw("check", str(posting), "--device", pool.address)
    assert code == 2 and "reads must be GET" in out and pool.commands == []
    assert claw("check", str(good), "--device", "nonsense")[0] == 2


async def test_a_hand_written_spec_and_a_rollback_are_used_at_start(pool: SimPool, tmp_path: Path) -> None:
    folder = tmp_path / "adapters"
    folder.mkdir()
    (folder / "pool-by-hand.yaml").write_text(spec_text(pool.address, name="pool-by-hand"), encoding="utf-8")
    (folder / "broken.yaml").write_text("name: [", encoding="utf-8")
    (folder / "wled.yaml").write_text(spec_text(pool.address, name="wled"), encoding="utf-8")  # not a takeover
    pool_dev = Device("serial:P", "pool", Kind.CLIMATE, None, frozenset({"climate"}), "http", pool.address,
                      adapter="pool-by-hand")
    settings = make_settings(tmp_path, adapters_dir=folder, device_timeout=2.0)
    claw_ = Claw(settings, devices=[pool_dev])
    await claw_.start()
    try:
        assert (await claw_.registry.state("serial:P"))["target_temperature"] == 27.0
        http = claw_._drivers["http"]
        assert http.specs["wled"].description.startswith("WLED")  # the shipped one stays
        claw_.store.adapter_version_add("pool-by-hand", spec_text(pool.address, name="pool-by-hand"),
                                        source="learned", status="approved")
        claw_.store.adapter_version_add("pool-by-hand", spec_text(pool.address, path="spa.setpoint_c",
                                                                  name="pool-by-hand"),
                                        source="learned", status="approved")
    finally:
        await claw_.stop()
    for expected, rollback in ((38.0, False), (27.0, True)):  # the newest approved version wins over the file
        again = Claw(settings, devices=[pool_dev])
        if rollback:
            again.store.adapter_rollback("pool-by-hand")
        await again.start()
        try:
            assert (await again.registry.state("serial:P"))["target_temperature"] == expected
        finally:
            await again.stop()
