"""The devices file: loading and validating `devices_file`, and merging it with the stored devices by origin."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import yaml

from claw.errors import ConfigError
from devices.models import Device

DEVICES_FILE = "devices_file"  # origin of the devices loaded from settings.devices_file
GIVEN = "given"  # origin of the devices handed to Claw(devices=...): the simulated home of `claw demo`


def same_thing(device: Device) -> tuple[str, str, str | None, str | None]:
    """What a device drives: two entries with the same driver, address, adapter and channel (the lights of
    one Hue bridge share its address) are one device."""
    channel = device.attrs.get("channel")
    return device.driver, device.address, device.adapter, None if channel is None else str(channel)


def load_devices_file(path: Path, drivers: Collection[str] | None = None,
                      adapters: Collection[str] | None = None) -> list[Device]:
    """Devices listed in a YAML file (a list of Device fields, or a mapping with a `devices` list);
    a ConfigError naming the file and the bad entry when malformed, or when two entries share an id or drive
    the same thing. With `drivers`, a device naming another driver is malformed too; with `adapters`, an
    http device naming another adapter."""
    where = f"cannot load devices from {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    items = data.get("devices") if isinstance(data, dict) else data
    if items is None:
        return []
    if not isinstance(items, list):
        raise ConfigError(f"{where}: expected a list of devices (or `devices:` with a list), "
                          f"found {type(items).__name__}")
    out: list[Device] = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: device #{n} is not a mapping of fields: {str(item)[:60]!r}")
        label = f"device #{n} ({str(item.get('name') or item.get('id') or '?')[:40]})"
        missing = [k for k in ("id", "name", "driver", "address") if item.get(k) in (None, "")]
        if missing:
            raise ConfigError(f"{where}: {label} lacks {', '.join(missing)}")
        for key in ("capabilities", "aliases"):
            if key in item and not isinstance(item[key], list):
                raise ConfigError(f"{where}: {label}: {key} must be a list")
        if drivers is not None and str(item["driver"]) not in drivers:
            raise ConfigError(f"{where}: {label} has driver {item['driver']!r}; "
                              f"known drivers: {', '.join(sorted(drivers))}")
        adapter = item.get("adapter")
        if adapters is not None and str(item["driver"]) == "http" and adapter not in (None, "") \
                and str(adapter) not in adapters:
            raise ConfigError(f"{where}: {label} has adapter {adapter!r}; "
                              f"known adapters: {', '.join(sorted(adapters)) or 'none'}")
        try:
            device = Device.from_dict(item)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{where}: {label}: {exc}") from exc
        for m, other in enumerate(out, 1):
            if other.id == device.id:
                raise ConfigError(f"{where}: {label} has the id {device.id!r} of device #{m} ({other.name}); "
                                  "ids must be unique")
            if same_thing(other) == same_thing(device):
                raise ConfigError(f"{where}: {label} drives the same device as device #{m} ({other.name}): "
                                  f"driver {device.driver} at {device.address}"
                                  f"{f', adapter {device.adapter}' if device.adapter else ''}; "
                                  "list it once (add names as aliases)")
        out.append(device)
    return out


def merge_devices(stored: Iterable[dict[str, Any]], current: dict[str, list[Device]]
                  ) -> tuple[list[Device], list[str]]:
    """The devices a claw knows, and the ids of stored devices to forget.

    Each origin in `current` (DEVICES_FILE, GIVEN) is authoritative for its own devices: a stored device of
    that origin which it no longer lists is dropped, and so is a stored device of any origin that drives the
    same thing (driver, address, adapter) as a current one under another id. One device per id: a current
    device replaces the stored one, a later origin an earlier one."""
    fresh: dict[str, Device] = {}
    for devices in current.values():
        for device in devices:
            fresh.pop(device.id, None)
            fresh[device.id] = device
    owners = {same_thing(d): d.id for d in fresh.values()}
    kept: dict[str, Device] = {}
    drop: list[str] = []
    for row in stored:
        device = Device.from_dict(row)
        if device.id in fresh:
            continue
        if row.get("source") in current or owners.get(same_thing(device), device.id) != device.id:
            drop.append(device.id)
        else:
            kept[device.id] = device
    return [*kept.values(), *fresh.values()], drop
