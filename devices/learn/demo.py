"""The demo's built-in draft for its simulated pool controller, used when no language model is configured."""

from __future__ import annotations

from typing import Any

from devices.learn.explore import Exploration

DEMO_MODEL = "PoolPilot 300"  # devices/sim/pool.py: SimPool.MODEL (not imported: the claw does not load simulators)
DEMO_DRAFT = """\
base_url: http://{address}
name: poolpilot
version: 1
description: PoolPilot pool/spa controller (its undocumented local JSON API, learned from a probe)
kind: climate
capabilities: [climate]
match:
  path: /api/v1/system
  keys: [model, serial]
  identity: {{serial: serial, mac: mac, model: model, firmware: fw}}
state:
  - path: /api/v1/status
    extract:
      current_temperature: {{path: pool.water_temp_c}}
      target_temperature: {{path: pool.setpoint_c}}
      hvac_mode: {{path: pool.heater_mode}}
commands:
  set_temperature:
    method: POST
    path: /api/v1/pool/setpoint
    json: {{setpoint_c: "{{temperature}}"}}
"""


def demo_draft_for(address: str) -> str:
    """The scripted draft text for the demo pool controller at host:port (what the scripted model answers)."""
    return DEMO_DRAFT.format(address=address)


def is_demo_pool(exploration: Exploration) -> bool:
    """Whether the explored device is the demo's simulated pool controller (its system answer says so)."""
    system: Any = exploration.answers_by_path().get("/api/v1/system")
    return isinstance(system, dict) and system.get("model") == DEMO_MODEL
