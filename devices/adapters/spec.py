"""Adapter specs: loading YAML/JSON (schema in devices.adapters.schema) and the pure render/extract engine."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from pydantic import ValidationError

from devices.adapters.color_xy import ColorError, rgb_to_xy
from devices.adapters.extract import _json_get, _Miss, extract_path, extract_state, match_identity, spec_matches
from devices.adapters.schema import (
    PLACEHOLDER,
    STATE_KEYS,
    AdapterSpec,
    CommandRequest,
    Extraction,
    Match,
    Scale,
    StateRequest,
    Transform,
    map_key,
)
from devices.commands import COMMANDS, validate
from devices.errors import AdapterSpecError, InvalidArgument, UnsupportedCommand

__all__ = [
    "STATE_KEYS", "AdapterSpec", "CommandRequest", "Extraction", "Match", "RenderedRequest", "Scale",
    "StateRequest", "Transform", "builtin_specs", "command_read", "command_refusal", "extract_path",
    "extract_state", "load_spec",
    "parse_spec_text", "match_identity", "refusal_at", "render_request", "render_state", "spec_matches",
    "spec_to_dict",
]

log = logging.getLogger(__name__)

ADAPTERS_DIR = Path(__file__).parent
MAX_SPEC_CHARS = 200_000


# loading ----------------------------------------------------------------------------------------------------
class _SpecLoader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 booleans (`on`, `off`, `yes`, `no` stay strings), no dates, no aliases, and
    duplicate keys refused."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in adapter specs",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                            key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SpecLoader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                  re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def parse_spec_text(text: str, label: str = "<text>") -> Any:
    """Parse YAML or JSON spec text into plain data (raises AdapterSpecError on a syntax error)."""
    if len(text) > MAX_SPEC_CHARS:
        raise AdapterSpecError(f"adapter spec {label}: longer than {MAX_SPEC_CHARS} characters")
    try:
        if text.lstrip().startswith(("{", "[")):
            return json.loads(text)
        return yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as exc:
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            mark = exc.problem_mark
            detail = f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
        else:
            detail = " ".join(str(exc).split())
        raise AdapterSpecError(f"adapter spec {label}: not valid YAML/JSON: {detail[:300]}") from None


def load_spec(source: str | Path | dict[str, Any]) -> AdapterSpec:
    """Validate a spec given as a dict, a file Path, or a str (a path if it is one line ending in
    .yaml/.yml/.json, else YAML or JSON text). Raises AdapterSpecError naming the spec and the field."""
    label = "<text>" if isinstance(source, str) else "<dict>"
    if isinstance(source, str) and "\n" not in source and source.strip().endswith((".yaml", ".yml", ".json")):
        source = Path(source.strip())
    if isinstance(source, Path):
        label = str(source)
        try:
            source = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AdapterSpecError(f"adapter spec {label}: cannot read it: {exc}") from None
    data = parse_spec_text(source, label) if isinstance(source, str) else source
    if data is None:
        raise AdapterSpecError(f"adapter spec {label}: is empty")
    if not isinstance(data, dict):
        raise AdapterSpecError(f"adapter spec {label}: is not a mapping of fields: {type(data).__name__}")
    if isinstance(data.get("name"), str):
        label = repr(data["name"][:64])
    try:
        return AdapterSpec.model_validate(data)
    except ValidationError as exc:
        raise AdapterSpecError(f"adapter spec {label}: {_describe(exc)}") from None


def _describe(exc: ValidationError, limit: int = 6) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        loc = loc.replace("json_body", "json")
        msg = {"extra_forbidden": "unknown field", "missing": "required field is missing"}.get(
            err["type"], err["msg"].removeprefix("Value error, "))
        parts.append(f"{loc}: {msg}" if loc else msg)
    if exc.error_count() > limit:
        parts.append(f"and {exc.error_count() - limit} more")
    return "; ".join(parts)


def spec_to_dict(spec: AdapterSpec) -> dict[str, Any]:
    """The spec as plain JSON-ready data (what load_spec accepts back), e.g. for storing a version."""
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)


@functools.cache
def _builtin() -> dict[str, AdapterSpec]:
    specs: dict[str, AdapterSpec] = {}
    for path in sorted(ADAPTERS_DIR.glob("*.yaml")):
        spec = load_spec(path)
        if spec.name != path.stem:
            raise AdapterSpecError(f"adapter spec {path}: name {spec.name!r} differs from the file name")
        specs[spec.name] = spec
    return specs


def builtin_specs() -> dict[str, AdapterSpec]:
    """The specs shipped in devices/adapters/*.yaml by name (loaded once; the dict is a fresh copy)."""
    return dict(_builtin())


# pure engine ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RenderedRequest:
    """An HTTP request ready to send to the device (path relative to http://host:port)."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    shown: str | None = None  # the path for logs and messages: a credential in it is left out

    @property
    def label(self) -> str:
        return self.shown or self.path


_CHANNEL = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _device_params(spec: AdapterSpec, params: dict[str, str] | None) -> dict[str, str]:
    params = params or {}
    missing = [n for n in spec.needs if not params.get(n)]
    if missing:
        raise AdapterSpecError(f"adapter {spec.name} needs the device's {' and '.join(missing)}")
    if "channel" in spec.needs and not _CHANNEL.match(params["channel"]):
        raise AdapterSpecError(f"adapter {spec.name}: channel {params['channel'][:40]!r} is not 1-32 letters, "
                               "digits, '_' or '-'")
    return {n: params[n] for n in spec.needs}


def _path(template: str, values: dict[str, Any]) -> tuple[str, str]:
    """The path filled in (every value URL-quoted, so none can add a '/' or '?') and its loggable form."""
    path = PLACEHOLDER.sub(lambda m: quote(_as_text(_lookup(values, m)), safe=""), template)
    hidden = {**values, "credential": "<credential>"} if "credential" in values else values
    shown = PLACEHOLDER.sub(lambda m: quote(_as_text(_lookup(hidden, m)), safe="<>"), template)
    return path, shown


def _command(spec: AdapterSpec, command: str) -> CommandRequest:
    req = spec.commands.get(command)
    if req is None:
        raise UnsupportedCommand(f"adapter {spec.name} has no {command.replace('_', ' ')} command")
    return req


def command_read(spec: AdapterSpec, command: str, args: dict[str, Any] | None = None,
                 params: dict[str, str] | None = None) -> tuple[RenderedRequest, StateRequest] | None:
    """The read a command needs first (its `read`: which body to send depends on the device's answer), with
    the state request it is, or None. Checks the args first (UnsupportedCommand, InvalidArgument), so a bad
    command reads nothing; AdapterSpecError when a device param is missing."""
    req = _command(spec, command)
    validate(command, args)
    if req.read is None:
        return None
    index = next(i for i, r in enumerate(spec.state) if r.path == req.read.path)  # checked by the schema
    return render_state(spec, params)[index], spec.state[index]


def render_request(spec: AdapterSpec, command: str, args: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None, read: Any = None) -> RenderedRequest:
    """Fill the command's template with its (validated, transformed) args and the device params the spec
    `needs` (credential, channel); `read` is the decoded answer to `command_read` when the command has one
    (its `by` value picks the body). Raises UnsupportedCommand, InvalidArgument or AdapterSpecError."""
    req = _command(spec, command)
    clean = validate(command, args)
    arg_types = {a.name: a.type for a in COMMANDS[command].args}
    values = {k: _transform(spec, command, k, v, req.transform.get(k), arg_types[k])
              for k, v in clean.items()}
    values.update(_device_params(spec, params))
    case = _case(spec, command, req, read)
    values.update(_kept(spec, command, req, read))
    path, shown = _path(req.path, values)
    json_body, form, query = req.body(case)
    return RenderedRequest(method=req.method, path=path, json=_fill(json_body, values),
                           params=_fill(query, values), data=_fill(form, values), shown=shown)


def _kept(spec: AdapterSpec, command: str, req: CommandRequest, read: Any) -> dict[str, Any]:
    """The read's values the command's bodies use by name (its `read.keep`); each must be a scalar."""
    if req.read is None or not req.read.keep or read is None:
        return {}
    out: dict[str, Any] = {}
    for name, path in req.read.keep.items():
        try:
            value = _json_get(read, path)
        except _Miss:
            value = None
        if not isinstance(value, str | int | float | bool):
            raise AdapterSpecError(f"adapter {spec.name}: cannot {command.replace('_', ' ')}: the device's answer "
                                   f"to {req.read.path} has no plain value at {path}")
        out[name] = value
    return out


def _case(spec: AdapterSpec, command: str, req: CommandRequest, read: Any) -> Any:
    if req.read is None:
        return None
    what = command.replace("_", " ")
    if read is None:
        raise AdapterSpecError(f"adapter {spec.name}: {what} reads {req.read.path} first; it was not read")
    try:
        value = _json_get(read, req.read.by)
    except _Miss:
        raise AdapterSpecError(f"adapter {spec.name}: cannot {what}: the device's answer to {req.read.path} "
                               f"has no {req.read.by}") from None
    return req.read.cases.get(map_key(value)) if isinstance(value, str | int | float | bool) else None


def render_state(spec: AdapterSpec, params: dict[str, str] | None = None) -> list[RenderedRequest]:
    """The spec's read requests with the device params it `needs` filled in (AdapterSpecError if missing)."""
    values: dict[str, Any] = _device_params(spec, params)
    out = []
    for r in spec.state:
        path, shown = _path(r.path, values)
        out.append(RenderedRequest(r.method, path, _fill(r.json_body, values), _fill(r.query, values),
                                   _fill(r.form, values), shown=shown))
    return out


def command_refusal(spec: AdapterSpec, command: str, body: Any) -> str | None:
    """The device's refusal text in a 2xx answer to `command`, at the spec's `error` path; None if none."""
    req = spec.commands.get(command)
    return None if req is None else refusal_at(req.error, body)


def refusal_at(path: str | None, body: Any) -> str | None:
    """The text at an `error` path of a decoded answer, or None when there is none there (pure)."""
    if path is None:
        return None
    # a list answer (Hue: one result object per change) is searched item by item unless the path indexes it
    items = body if isinstance(body, list) and not path.split(".")[0].isdigit() else [body]
    for item in items:
        try:
            value = _json_get(item, path)
        except _Miss:
            continue
        if value not in (None, False, "", [], {}):
            return value if isinstance(value, str) else json.dumps(value)[:200]
    return None


def _transform(spec: AdapterSpec, command: str, arg: str, value: Any, t: Transform | None, kind: type) -> Any:
    if t is None:
        return value
    if t.map is not None:
        key = map_key(value)
        if key not in t.map:
            raise InvalidArgument(f"{spec.name} cannot {command.replace('_', ' ')} with {arg} {value!r}; "
                                  f"it takes {', '.join(t.map)}")
        value = t.map[key]
    if t.scale is not None and isinstance(value, int | float) and not isinstance(value, bool):
        value = t.scale.to_device(value)
        value = round(value) if kind is int else round(value, 3)
    if t.cast is not None:
        value = _CASTS[t.cast](value)
    if t.color == "xy":
        try:
            value = rgb_to_xy(value)
        except ColorError as exc:
            raise InvalidArgument(f"{spec.name} cannot {command.replace('_', ' ')}: {exc}") from None
    return value


_CASTS: dict[str, Any] = {"int": lambda v: round(float(v)), "float": float, "str": lambda v: _as_text(v),
                          "bool": bool}


def _lookup(values: dict[str, Any], m: re.Match[str]) -> Any:
    value = values[m.group(1)]
    return value[int(m.group(2))] if m.group(2) is not None else value


def _as_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    return str(value)


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole:
            return _lookup(values, whole)
        return PLACEHOLDER.sub(lambda m: _as_text(_lookup(values, m)), template)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template
