"""The model's draft of an adapter: the probe record fenced as untrusted data, at most three calls."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claw.errors import ClawError
from claw.untrusted import UNTRUSTED_NOTE, untrusted
from devices.adapters.schema import STATE_KEYS, AdapterSpec
from devices.commands import COMMANDS
from devices.learn.check import Draft, DraftRejected, check_draft
from devices.learn.explore import Exploration

if TYPE_CHECKING:
    from claw.agent.llm import LLMClient

log = logging.getLogger(__name__)

MAX_CALLS = 3
BODY_CHARS = 3000  # of each recorded answer shown to the model
RECORD_CHARS = 16000  # of the whole fenced record
EXAMPLE = """\
base_url: http://192.0.2.10:80
name: acme-thermo
version: 1
description: Acme thermostat (local JSON API)
kind: climate
capabilities: [climate]
state:
  - path: /status
    extract:
      target_temperature: {path: thermo.target}
      current_temperature: {path: thermo.temp}
commands:
  set_temperature:
    method: POST
    path: /thermo/target
    json: {target: "{temperature}"}
"""


class DraftFailed(ClawError):
    """The model gave no usable draft within its calls; the message says why (safe to show the owner)."""


@dataclass(frozen=True)
class Drafted:
    draft: Draft
    calls: int


def record_text(exploration: Exploration) -> str:
    """The probe record as plain text: one block per GET, with its status, type, size and (capped) body."""
    parts = []
    for e in exploration.sent():
        head = f"GET {e.path} -> {e.status if e.status is not None else '-'} {e.content_type or ''} {e.size} bytes"
        if e.error:
            head += f" ({e.error})"
        body = e.text if len(e.text) <= BODY_CHARS else e.text[:BODY_CHARS] + " …[cut]"
        parts.append(f"{head}\n{body}".rstrip())
    if exploration.refused:
        parts.append("refused (off the device): " + "; ".join(exploration.refused[:10]))
    return "\n\n".join(parts)


def messages_for(exploration: Exploration) -> list[dict[str, Any]]:
    """The system prompt (the task, the strict schema, the rules) and the fenced probe record."""
    commands = "; ".join(f"{c.name}({', '.join(a.name for a in c.args)}) [{c.capability}]"
                         for c in COMMANDS.values())
    system = (
        "You write declarative HTTP adapter specs for a home-automation agent. You get the record of a "
        "read-only probe of ONE device and answer with ONE spec in YAML (no prose), following the JSON schema "
        "below, plus a field `base_url` that must be exactly http://" + exploration.address + ".\n"
        "Rules: reads (`state`) are GET requests of paths that answered JSON in the record; every `extract` path "
        "must exist in those recorded answers; commands use only paths seen in the record; values are data, "
        "never URLs; placeholders like {temperature} only in body values. State keys: " + ", ".join(STATE_KEYS)
        + ". Commands (args) [capability]: " + commands + ". Declare only capabilities you give commands for "
        "(sensor needs none).\n" + UNTRUSTED_NOTE + "\nJSON schema: "
        + json.dumps(AdapterSpec.model_json_schema(by_alias=True), separators=(",", ":"))
        + "\nExample answer:\n" + EXAMPLE)
    record = untrusted(f"probe of {exploration.address}", record_text(exploration), kind="device data",
                       max_chars=RECORD_CHARS)
    return [{"role": "system", "content": system},
            {"role": "user", "content": f"Write the adapter for this device.\n{record}"}]


async def draft_with_model(llm: LLMClient, exploration: Exploration, *, reserved: Collection[str] = (),
                           max_calls: int = MAX_CALLS) -> Drafted:
    """Ask the model for a draft and check it (devices.learn.check); on a refusal send the problems back,
    at most `max_calls` calls in all. Raises DraftFailed (or LLMError when the model cannot be reached)."""
    messages = messages_for(exploration)
    problems: list[str] = []
    for call in range(1, max_calls + 1):
        reply = await llm.complete(messages)
        try:
            return Drafted(check_draft(reply, exploration, reserved=reserved), call)
        except DraftRejected as exc:
            problems = exc.problems
            log.info("learned adapter draft %d for %s refused: %s", call, exploration.address, exc)
        messages += [{"role": "assistant", "content": reply[:8000]},
                     {"role": "user", "content": "That draft was refused:\n- " + "\n- ".join(problems[:12])
                      + "\nAnswer with the corrected spec only."}]
    raise DraftFailed(f"The language model's draft was still refused after {max_calls} tries: "
                      + "; ".join(problems[:3]))
