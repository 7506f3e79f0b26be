"""Pure words for the owner: what a learned adapter can do and every request it would send."""

from __future__ import annotations

import json
from typing import Any

from devices.adapters.schema import AdapterSpec
from devices.commands import COMMANDS
from devices.drivers.http import untrusted_text


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def body_shape(value: Any) -> str:
    """A request body as the owner reads it: JSON with the placeholders left in, capped."""
    return untrusted_text(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")), 120)


def requests_of(spec: AdapterSpec) -> list[str]:
    """Every request the adapter can send, one line each: 'GET /api/v1/status (reads target_temperature, …)',
    'POST /api/v1/pool/setpoint {"setpoint_c": "{temperature}"} (set_temperature)'."""
    lines = []
    for req in spec.state:
        lines.append(f"{req.method} {req.path} (reads {', '.join(req.extract)})")
    for name, req in spec.commands.items():
        parts = [req.method, req.path]
        if req.query:
            parts.append("?" + "&".join(f"{k}={v}" for k, v in req.query.items()))
        if req.json_body is not None:
            parts.append(body_shape(req.json_body))
        if req.form is not None:
            parts.append("form " + body_shape(req.form))
        lines.append(f"{' '.join(parts)} ({name}: {_lower(COMMANDS[name].description)})")
    if spec.match is not None:
        lines.append(f"GET {spec.match.path} (to recognise it on the network)")
    return [untrusted_text(line, 200) for line in lines]


def summary(spec: AdapterSpec, address: str, state: dict[str, Any]) -> str:
    """The owner's summary of a draft: what it is, what it can do, what it reads now, every request."""
    can = ", ".join(_lower(COMMANDS[n].description) for n in spec.commands) or "read its state only"
    now = ", ".join(f"{k} {v}" for k, v in state.items()) or "nothing yet"
    lines = [f"Adapter “{spec.name}” v{spec.version} for {address}: {untrusted_text(spec.description, 160)}",
             f"Kind: {spec.kind}; it can: {can}.", f"Read just now: {untrusted_text(now, 200)}.",
             f"Every request it would send (to http://{address} only):"]
    lines += [f"- {line}" for line in requests_of(spec)]
    return "\n".join(lines)
