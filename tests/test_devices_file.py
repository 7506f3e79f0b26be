"""devices_file is authoritative for its devices: removed and renamed entries are forgotten, nothing is listed
twice, and an http device naming an unknown adapter is an error at load. The demo's home likewise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from claw.devices_file import load_devices_file
from claw.errors import ConfigError
from claw.runtime import Claw
from devices.adapters.spec import builtin_specs
from devices.models import Device, Kind
from memory.store import Store
from tests.conftest import make_settings


def entry(device_id: str, name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"id": device_id, "name": name, "kind": "light", "room": "porch", "capabilities": ["power"],
            "driver": "http", "adapter": "claw-sim-light", "address": f"127.0.0.1:{port}", **extra}


def write(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(list(entries)), encoding="utf-8")
    return path


async def known(tmp_path: Path, devices_file: Path | None = None, given: tuple[Device, ...] = ()) -> list[str]:
    """Start a claw on tmp_path's data dir and return the ids it knows (the store agrees); then stop it."""
    c = Claw(make_settings(tmp_path, devices_file=devices_file), devices=given)
    try:
        await c.start(dispatch=False)
        ids = sorted(d.id for d in c.registry.all())
        assert sorted(r["id"] for r in c.store.devices_all()) == ids
        return ids
    finally:
        await c.stop()


async def test_a_device_removed_from_the_devices_file_is_forgotten(tmp_path: Path) -> None:
    path = write(tmp_path / "devices.yaml", entry("serial:P1", "porch light", 9), entry("serial:S1", "shed light", 10))
    assert await known(tmp_path, path) == ["serial:P1", "serial:S1"]
    write(path, entry("serial:P1", "porch light", 9))
    assert await known(tmp_path, path) == ["serial:P1"]
    path.write_text("- {name: broken\n", encoding="utf-8")  # a file that fails to load forgets nothing
    with pytest.raises(ConfigError):
        await known(tmp_path, path)
    store = Store(make_settings(tmp_path).db_path)
    assert [r["id"] for r in store.devices_all()] == ["serial:P1"]
    store.close()


async def test_a_changed_id_replaces_the_old_entry(tmp_path: Path) -> None:
    path = write(tmp_path / "devices.yaml", entry("porch", "porch light", 9))
    assert await known(tmp_path, path) == ["porch"]
    write(path, entry("serial:P1", "porch light", 9))
    assert await known(tmp_path, path) == ["serial:P1"]


async def test_devices_file_unset_forgets_the_devices_that_came_from_it(tmp_path: Path) -> None:
    path = write(tmp_path / "devices.yaml", entry("serial:P1", "porch light", 9))
    assert await known(tmp_path, path) == ["serial:P1"]
    assert await known(tmp_path, None) == []


async def test_stored_devices_of_unknown_origin_stay_unless_the_file_has_the_same_device(tmp_path: Path) -> None:
    store = Store(make_settings(tmp_path).db_path)
    store.device_upsert(entry("old:P1", "porch light", 9))  # stored before origins were recorded
    store.device_upsert(entry("serial:G1", "garden light", 11))
    store.close()
    path = write(tmp_path / "devices.yaml", entry("serial:P1", "porch light", 9))
    assert await known(tmp_path, path) == ["serial:G1", "serial:P1"]  # old:P1 drove the same light at :9


async def test_a_changed_demo_home_forgets_the_old_simulated_devices(tmp_path: Path) -> None:
    def sim(device_id: str, name: str, port: int) -> Device:
        return Device(id=device_id, name=name, kind=Kind.LIGHT, room="porch", capabilities=frozenset({"power"}),
                      driver="http", address=f"127.0.0.2:{port}", adapter="claw-sim-light")

    assert await known(tmp_path, None, (sim("serial:A", "a", 1), sim("serial:B", "b", 2))) == ["serial:A", "serial:B"]
    assert await known(tmp_path, None, (sim("serial:A", "a", 3),)) == ["serial:A"]


@pytest.mark.parametrize("entries,fragment", [
    ([entry("x", "porch light", 9), entry("x", "shed light", 10)],
     "device #2 (shed light) has the id 'x' of device #1 (porch light); ids must be unique"),
    ([entry("x", "porch light", 9), entry("y", "porch lamp", 9)],
     "device #2 (porch lamp) drives the same device as device #1 (porch light): driver http at 127.0.0.1:9"),
], ids=["same id", "same device"])
def test_a_device_listed_twice_in_the_file_is_an_error(tmp_path: Path, entries: list[dict[str, Any]],
                                                       fragment: str) -> None:
    path = write(tmp_path / "devices.yaml", *entries)
    with pytest.raises(ConfigError) as err:
        load_devices_file(path)
    assert fragment in str(err.value) and str(path) in str(err.value)


async def test_an_unknown_adapter_is_an_error_at_load_naming_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "devices.yaml", entry("serial:P1", "porch light", 9, adapter="nosuch"))
    c = Claw(make_settings(tmp_path, devices_file=path))
    try:
        with pytest.raises(ConfigError) as err:
            await c.start(dispatch=False)
    finally:
        await c.stop()
    message = str(err.value)
    assert str(path) in message and "device #1 (porch light) has adapter 'nosuch'; known adapters: " in message
    assert all(name in message for name in builtin_specs())


def test_sonos_devices_need_no_adapter(tmp_path: Path) -> None:
    path = write(tmp_path / "devices.yaml", {**entry("sonos:R1", "kitchen", 1400, kind="speaker", driver="sonos"),
                                             "adapter": None})
    assert [d.id for d in load_devices_file(path, ("sonos", "http"), builtin_specs())] == ["sonos:R1"]


def test_claw_devices_reports_an_unknown_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from claw.cli import app

    path = write(tmp_path / "devices.yaml", entry("serial:P1", "porch light", 9, adapter="nosuch"))
    monkeypatch.setenv("CLAW_DEVICES_FILE", str(path))
    result = CliRunner().invoke(app, ["devices"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot load devices from {path}: device #1 (porch light) has adapter")
    assert "known adapters: claw-sim-garage" in result.stderr
