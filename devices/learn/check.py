"""Pure checks of a drafted adapter: schema, exactly the probed host, declared GET reads replayed on the record."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx
import yaml

from devices.adapters.schema import PLACEHOLDER, AdapterSpec
from devices.adapters.spec import extract_state, load_spec, parse_spec_text, spec_matches, spec_to_dict
from devices.errors import AdapterSpecError
from devices.learn.explore import Exploration

MAX_DRAFT_CHARS = 20_000
_FENCED = re.compile(r"```[a-zA-Z]*\s*\n(.*?)```", re.DOTALL)


class DraftRejected(AdapterSpecError):
    """A draft that must not be used; `problems` lists why, one sentence each (sent back to the model)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Draft:
    """A draft that passed every check: the spec, its YAML (what is stored), the device address it is for."""

    spec: AdapterSpec
    text: str
    address: str
    state: dict[str, Any]  # the state its reads extract from the recorded answers


def draft_body(reply: str) -> str:
    """The spec text in a model's reply: the first fenced block if there is one, else the whole reply."""
    match = _FENCED.search(reply)
    return (match.group(1) if match else reply).strip()


def spec_yaml(spec: AdapterSpec) -> str:
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=False, allow_unicode=True, width=110)


def _base_url_problem(value: Any, address: str) -> str | None:
    if not isinstance(value, str):
        return f"base_url is required and must be http://{address}"
    try:
        url = httpx.URL(value.strip())
    except (httpx.InvalidURL, ValueError):
        return f"base_url {value[:80]!r} is not a URL; it must be http://{address}"
    port = url.port or 80
    if (url.scheme != "http" or url.userinfo or f"{url.host}:{port}" != address or url.path not in ("", "/")
            or url.query or url.fragment):
        return f"base_url {value[:80]!r} is not allowed: the adapter may only address http://{address}"
    return None


def _reaches_elsewhere(value: Any) -> bool:
    if isinstance(value, str):
        return "://" in value or value.startswith("//")
    if isinstance(value, dict):
        return any(_reaches_elsewhere(k) or _reaches_elsewhere(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_reaches_elsewhere(v) for v in value)
    return False


def check_draft(reply: str, exploration: Exploration, *, reserved: Collection[str] = ()) -> Draft:
    """Validate a model's draft for the explored device; raises DraftRejected with every problem found.

    The draft is the adapter schema (devices/adapters/schema.py) plus `base_url`, which must be exactly
    http://<the explored host:port>. Reads must be GETs of paths that answered JSON in the record, and each
    state key must be found in those recorded answers; command paths must be plain (no placeholders) and
    asked or linked to in the record (prose in an answer does not count); no value may carry a URL; `match`
    must fit the record; the name may not be one of `reserved` (the shipped adapters)."""
    text = draft_body(reply)
    if len(text) > MAX_DRAFT_CHARS:
        raise DraftRejected([f"the draft is longer than {MAX_DRAFT_CHARS} characters"])
    try:
        data = parse_spec_text(text, "draft")
    except AdapterSpecError as exc:
        raise DraftRejected([str(exc)]) from None
    if not isinstance(data, dict):
        raise DraftRejected(["the draft must be one YAML or JSON mapping (base_url plus the adapter fields)"])
    problems: list[str] = []
    address = exploration.address
    base_problem = _base_url_problem(data.pop("base_url", None), address)
    if base_problem:
        problems.append(base_problem)
    data.setdefault("version", 1)  # the store numbers the versions it keeps
    try:
        spec = load_spec(data)
    except AdapterSpecError as exc:
        raise DraftRejected([*problems, str(exc)]) from None
    if spec.name in reserved:
        problems.append(f"name {spec.name!r} is taken by a shipped adapter; choose another")
    answers = exploration.answers_by_path()
    known = {e.path for e in exploration.sent()} | exploration.links  # asked, or linked to (not prose)
    for i, req in enumerate(spec.state):
        if req.method != "GET":
            problems.append(f"state[{i}]: reads must be GET (it says {req.method})")
        if req.path not in answers:
            problems.append(f"state[{i}]: {req.path} did not answer JSON in the probe; read only recorded paths "
                            f"({', '.join(sorted(answers)) or 'none'})")
        if req.query:
            problems.append(f"state[{i}]: no query parameters (the probe sent none)")
    for name, req in spec.commands.items():
        if PLACEHOLDER.search(req.path):
            problems.append(f"commands.{name}: the path must be fixed (no placeholders)")
        elif req.path not in known:
            problems.append(f"commands.{name}: {req.path} was neither asked nor linked to in the probe record")
        for where, value in req.templates():
            if where != "path" and _reaches_elsewhere(value):
                problems.append(f"commands.{name}.{where}: values may not carry URLs")
    if spec.match is not None and not spec_matches(spec, answers):
        problems.append("match: the recorded answers do not satisfy it; fix it or leave match out")
    state: dict[str, Any] = {}
    if not problems:
        try:
            state = extract_state(spec, answers, strict=True)
        except AdapterSpecError as exc:
            problems.append(f"replayed against the probe record: {exc}")
    if problems:
        raise DraftRejected(problems)
    return Draft(spec=spec, text=spec_yaml(spec), address=address, state=state)
