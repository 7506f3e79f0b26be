"""The adapter spec schema: pydantic models that accept only well-formed, self-consistent HTTP adapters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, JsonValue, StrictInt, field_validator, model_validator

from devices.adapters.schema_base import (
    JSON_PATH,
    PLACEHOLDER,
    DevicePath,
    ErrorPath,
    Scalar,
    StrictModel,
    check_dotted,
    map_key,
)
from devices.adapters.schema_match import Match, SsdpMatch, ZeroconfMatch
from devices.adapters.schema_select import ChildAdapters, CommandCase, CommandRead
from devices.commands import COMMANDS, Capability
from devices.models import Kind

__all__ = ["DEVICE_PARAMS", "PLACEHOLDER", "STATE_KEYS", "AdapterSpec", "ChildAdapters", "Children", "CommandCase",
           "CommandRead", "CommandRequest", "Extraction", "Match", "Pairing", "Scalar", "Scale", "SsdpMatch",
           "StateRequest", "Transform", "ZeroconfMatch", "map_key"]

# Normalised state keys (devices/drivers/base.py, plus humidity) and how a raw value is coerced for each.
STATE_KEYS: dict[str, str] = {
    "power": "bool", "brightness": "percent", "rgb": "rgb", "playback": "playback", "volume": "percent",
    "muted": "bool", "title": "str", "hvac_mode": "str", "target_temperature": "float",
    "current_temperature": "float", "humidity": "float", "position": "percent", "locked": "bool",
    "available": "bool",
}
_READ_ONLY_CAPABILITIES = {Capability.SENSOR, Capability.CAMERA, Capability.CUSTOM}
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# Placeholders a spec may declare in `needs`, filled from the device rather than from a command's arguments:
# `credential` (the secret its pairing step obtained; only in paths, never logged) and `channel` (which light,
# relay… behind one address, from the device's attrs).
DEVICE_PARAMS = ("credential", "channel")


class Scale(StrictModel):
    """A linear map between the device's range and the normalised one, e.g. device [0, 255] ↔ [0, 100]."""

    device: tuple[float, float]
    normal: tuple[float, float] = (0.0, 100.0)

    @model_validator(mode="after")
    def _ranges(self) -> Scale:
        if self.device[0] == self.device[1] or self.normal[0] == self.normal[1]:
            raise ValueError("scale ranges must not be empty (low == high)")
        return self

    def to_normal(self, raw: float) -> float:
        (d0, d1), (n0, n1) = self.device, self.normal
        return n0 + (raw - d0) * (n1 - n0) / (d1 - d0)

    def to_device(self, value: float) -> float:
        (d0, d1), (n0, n1) = self.device, self.normal
        return d0 + (value - n0) * (d1 - d0) / (n1 - n0)


class _Mapped(StrictModel):
    map: dict[str, JsonValue] | None = None
    scale: Scale | None = None

    @field_validator("map", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {map_key(k): v for k, v in value.items()}
        return value


class Extraction(_Mapped):
    """Where a state value lives in a response (`path`: "on", "status.brightness", "lights.0.bri", "$").
    `by` + `paths`: the path chosen by another value of the same answer (Venstar's target temperature is
    cooltemp when mode is 2: `{path: heattemp, by: mode, paths: {2: cooltemp}}`; `path` is the default).
    `color: xy`: the value is CIE [x, y] (Hue), read as the [r, g, b] of that colour at full brightness."""

    path: str
    by: str | None = None
    paths: dict[str, str] | None = None
    color: Literal["xy"] | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not JSON_PATH.match(value):
            raise ValueError(f"{value!r} is not a dotted JSON path like 'status.brightness' or 'lights.0.on'")
        return value

    @field_validator("paths", mode="before")
    @classmethod
    def _path_keys(cls, value: Any) -> Any:
        return {map_key(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _chosen(self) -> Extraction:
        if (self.by is None) != (self.paths is None):
            raise ValueError("`by` and `paths` go together (the value that chooses, and a path per value)")
        if self.by is not None:
            check_dotted(self.by, "by: ")
            for path in (self.paths or {}).values():
                check_dotted(path, "paths: ")
        return self

    def path_for(self, chooser: Any) -> str:
        """The path to read when the `by` value is `chooser` (`path` when nothing is chosen)."""
        if self.paths is None:
            return self.path
        return self.paths.get(map_key(chooser), self.path)


class Transform(_Mapped):
    """How a command argument becomes the device's value: `map`, then `scale`, then `cast`; `color: xy`
    turns an [r, g, b] into CIE [x, y] (Hue's formula: devices/adapters/color_xy.py)."""

    cast: Literal["int", "float", "str", "bool"] | None = None
    color: Literal["xy"] | None = None


class _Request(StrictModel):
    path: DevicePath
    json_body: JsonValue = Field(None, alias="json")
    form: dict[str, Scalar] | None = None
    query: dict[str, Scalar] | None = None

    @field_validator("method", mode="before", check_fields=False)
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _body(self) -> _Request:
        if self.json_body is not None and self.form is not None:
            raise ValueError("give either json or form as the body, not both")
        if getattr(self, "method", "GET") == "GET" and (self.json_body is not None or self.form is not None):
            raise ValueError("a GET request cannot have a json or form body; use query")
        return self

    def templates(self) -> Iterator[tuple[str, Any]]:
        yield "path", self.path
        for where, value in (("json", self.json_body), ("form", self.form), ("query", self.query)):
            if value is not None:
                yield where, value


class StateRequest(_Request):
    """One read request and the normalised state keys extracted from its JSON answer; `error` as for a
    command (a value there makes the read fail with it, e.g. Hue's "unauthorized user")."""

    method: Literal["GET", "POST"] = "GET"
    extract: dict[str, Extraction] = Field(min_length=1)
    error: ErrorPath | None = None

    @field_validator("extract")
    @classmethod
    def _keys(cls, value: dict[str, Extraction]) -> dict[str, Extraction]:
        unknown = sorted(set(value) - set(STATE_KEYS))
        if unknown:
            raise ValueError(f"unknown state key(s) {', '.join(unknown)}; known: {', '.join(STATE_KEYS)}")
        return value


class CommandRequest(_Request):
    """The HTTP request one vocabulary command becomes; string values may hold `{arg}` placeholders.
    `error`: a dotted path in the JSON answer where the device says it refused (devices such as Hue and
    Venstar answer HTTP 200 with an error object); a value there fails the command with that text."""

    method: Literal["GET", "POST", "PUT", "PATCH"] = "POST"
    transform: dict[str, Transform] = Field(default_factory=dict)
    error: ErrorPath | None = None
    read: CommandRead | None = None

    def templates(self) -> Iterator[tuple[str, Any]]:
        yield from super().templates()
        if self.read is not None:
            yield from self.read.templates()

    def body(self, case: CommandCase | None) -> tuple[Any, dict[str, Scalar] | None, dict[str, Scalar] | None]:
        """(json, form, query) to send: the command's own, with what `case` gives in their place."""
        if case is None:
            return self.json_body, self.form, self.query
        json_body, form = (case.json_body, None) if case.json_body is not None else (self.json_body, self.form)
        if case.form is not None:
            json_body, form = None, case.form
        return json_body, form, case.query if case.query is not None else self.query


class Children(StrictModel):
    """The devices behind a paired hub (e.g. a Hue bridge's lights): GET `path` (may hold {credential})
    answers a JSON object of them keyed by channel, or a list; each is driven by the spec `adapter`, named
    from `name` and identified by `identity` (dotted paths in one entry)."""

    path: DevicePath
    adapter: str = Field(pattern=_NAME.pattern)
    identity: str
    name: str = "name"
    model: str | None = None
    adapters: ChildAdapters | None = None
    max_count: int = Field(64, ge=1, le=256)

    @model_validator(mode="after")
    def _paths(self) -> Children:
        for label, path in (("identity", self.identity), ("name", self.name), ("model", self.model)):
            if path is not None:
                check_dotted(path, f"children.{label}: ")
        extra = sorted({p for p in _placeholders(self.path)} - {"credential"})
        if extra:
            raise ValueError(f"children.path: only {{credential}} may be filled in, not {', '.join(extra)}")
        return self


class Pairing(StrictModel):
    """The pairing step of a device that hands out a credential only after the owner pressed a button on it
    (Hue's link button): POST `path` with `json` until the answer shows the credential at `credential`;
    `refusal` is where it says "not yet"; `prompt` is what the owner is asked to do. No placeholders."""

    method: Literal["POST"] = "POST"
    path: DevicePath
    json_body: JsonValue = Field(None, alias="json")
    credential: str
    refusal: str | None = None
    prompt: str = Field(min_length=1, max_length=200)
    children: Children | None = None

    @model_validator(mode="after")
    def _paths(self) -> Pairing:
        for label, path in (("credential", self.credential), ("refusal", self.refusal)):
            if path is not None:
                check_dotted(path, f"pair.{label}: ")
        if _placeholders(self.path) or _placeholders(self.json_body):
            raise ValueError("pair: placeholders are not allowed in the pairing request")
        return self


class AdapterSpec(StrictModel):
    """A declarative adapter: data only, never code. Example: devices/adapters/claw-sim-light.yaml."""

    name: str
    version: StrictInt = Field(ge=1)
    description: str = Field(min_length=1, max_length=500)
    kind: Kind
    capabilities: list[Capability] = Field(default_factory=list)
    match: Match | None = None
    needs: list[Literal["credential", "channel"]] = Field(default_factory=list)
    pair: Pairing | None = None
    state: list[StateRequest] = Field(default_factory=list)
    commands: dict[str, CommandRequest] = Field(default_factory=dict)
    # the shortest time between two state reads in a loop (a live dashboard): a device behind a shared hub
    # (a Hue bridge answers about ten requests a second for all its lights) is read less often
    min_read_seconds: float = Field(0.0, ge=0.0, le=3600.0)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must be lowercase letters, digits, '.', '_' or '-' (at most 64)")
        return value

    @field_validator("state", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _consistent(self) -> AdapterSpec:
        problems: list[str] = []
        hub = self.pair is not None and self.pair.children is not None
        if hub and (self.state or self.commands or self.capabilities or self.needs):
            problems.append("a hub (pair.children) has no state, commands, capabilities or needs of its own: "
                            "its children's spec has them")
        if not hub and not self.state:
            problems.append("state: required field is missing (at least one request; only a hub has none)")
        if not hub and not self.capabilities:
            problems.append("capabilities: required field is missing (at least one; only a hub has none)")
        if len(set(self.needs)) != len(self.needs):
            problems.append("needs: listed twice")
        declared = set(self.capabilities)
        if len(declared) != len(self.capabilities):
            problems.append("capabilities: listed twice")
        paths = [r.path for r in self.state]
        if len(set(paths)) != len(paths):
            problems.append("state: two requests share a path")
        needs = set(self.needs)
        for i, req in enumerate(self.state):
            for where, value in req.templates():
                for ph in _placeholders(value):
                    if ph not in needs:
                        problems.append(f"state[{i}].{where}: placeholder {{{ph}}} (state requests take no args; "
                                        f"device params must be declared in needs)")
                    elif ph == "credential" and where != "path":
                        problems.append(f"state[{i}].{where}: {{credential}} is allowed in the path only")
        for name, req in self.commands.items():
            problems.extend(_command_problems(name, req, declared, needs))
            if req.read is not None and req.read.path not in paths:
                problems.append(f"commands.{name}.read.path: {req.read.path!r} is not one of the state requests "
                                f"({', '.join(paths) or 'none'})")
        for req in self.state:
            for key, ex in req.extract.items():
                if ex.color is not None and STATE_KEYS[key] != "rgb":
                    problems.append(f"state: color: {ex.color} reads a colour, not {key}")
        used = {COMMANDS[n].capability for n in self.commands if n in COMMANDS}
        for cap in sorted(declared - used - _READ_ONLY_CAPABILITIES):
            problems.append(f"capabilities: {cap} is declared but no command for it is given")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _command_problems(name: str, req: CommandRequest, declared: set[Capability], needs: set[str]) -> list[str]:
    cmd = COMMANDS.get(name)
    if cmd is None:
        return [f"commands.{name}: unknown command; known: {', '.join(COMMANDS)}"]
    problems = []
    if cmd.capability not in declared:
        problems.append(f"commands.{name}: needs capability {cmd.capability}, which is not in capabilities")
    args = {a.name: a for a in cmd.args}
    arg_list = ", ".join(args) or "none"
    kept = set(req.read.keep) if req.read is not None else set()
    for clash in sorted(kept & (set(args) | needs)):
        problems.append(f"commands.{name}.read.keep: {clash} is already an argument or a device param")
    for where, value in req.templates():
        for key in _dict_keys(value):
            if PLACEHOLDER.search(key):
                problems.append(f"commands.{name}.{where}: placeholder in key {key!r} (only in values)")
        for base, index in _placeholder_parts(value):
            if base in kept and index is None:
                continue
            if base in needs and index is None:
                if base == "credential" and where != "path":
                    problems.append(f"commands.{name}.{where}: {{credential}} is allowed in the path only")
                continue
            if base not in args:
                problems.append(f"commands.{name}.{where}: placeholder {{{base}}} is not an argument of "
                                f"{name} (its arguments: {arg_list})")
            elif index is not None and (args[base].type is not list or int(index) > 2):
                problems.append(f"commands.{name}.{where}: {{{base}.{index}}} indexes a non-list or past rgb")
    for arg, t in req.transform.items():
        if arg not in args:
            problems.append(f"commands.{name}.transform: {arg} is not an argument of {name} (its arguments: "
                            f"{arg_list})")
        elif t.color is not None and args[arg].type is not list:
            problems.append(f"commands.{name}.transform.{arg}: color: {t.color} converts an [r, g, b]")
    return problems


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _dict_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _dict_keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _dict_keys(v)


def _placeholder_parts(value: Any) -> Iterator[tuple[str, str | None]]:
    for text in _strings(value):
        for m in PLACEHOLDER.finditer(text):
            yield m.group(1), m.group(2)


def _placeholders(value: Any) -> list[str]:
    return [base if index is None else f"{base}.{index}" for base, index in _placeholder_parts(value)]
