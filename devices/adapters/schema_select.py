"""Spec parts chosen by a device's own value: a command's body by a field read first, a hub child's adapter."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import Field, JsonValue, field_validator, model_validator

from devices.adapters.schema_base import DevicePath, Scalar, StrictModel, check_dotted, map_key

_ADAPTER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _keyed(cls: type, value: Any) -> Any:
    """Map keys in their lookup spelling (map_key: 2, true, "cool"), whatever YAML made of them."""
    return {map_key(k): v for k, v in value.items()} if isinstance(value, dict) else value


class CommandCase(StrictModel):
    """The body a command sends in one case: each of `json`, `form`, `query` given replaces the command's own."""

    json_body: JsonValue = Field(None, alias="json")
    form: dict[str, Scalar] | None = None
    query: dict[str, Scalar] | None = None

    @model_validator(mode="after")
    def _something(self) -> CommandCase:
        if self.json_body is None and self.form is None and self.query is None:
            raise ValueError("a case gives json, form or query")
        if self.json_body is not None and self.form is not None:
            raise ValueError("give either json or form as the body, not both")
        return self


class CommandRead(StrictModel):
    """Read-before-write: GET the state request at `path` (one of the spec's), look at `by` (a dotted path in
    its answer) and send the `cases` body whose key is that value (map spelling: 2, true, "cool"); any other
    value sends the command's own body. E.g. Venstar's set_temperature sets cooltemp when mode is 2 (cool)."""

    path: DevicePath
    by: str
    cases: dict[str, CommandCase] = Field(min_length=1, max_length=16)
    # values from the same answer the bodies may use as {name} placeholders: name -> dotted path (a scalar),
    # e.g. {cool_now: cooltemp}, so a device that wants both setpoints gets the other one as it is
    keep: dict[str, str] = Field(default_factory=dict, max_length=8)

    _keys = field_validator("cases", mode="before")(classmethod(_keyed))

    @field_validator("keep")
    @classmethod
    def _keep(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
                raise ValueError(f"read.keep: {name!r} is not a placeholder name (lower case, digits, _)")
            check_dotted(path, f"read.keep.{name}: ", " like 'cooltemp' or 'state.bri'")
        return value

    @field_validator("by")
    @classmethod
    def _by(cls, value: str) -> str:
        return check_dotted(value, "read.by: ", " like 'mode' or 'state.colormode'")

    def templates(self) -> Iterator[tuple[str, Any]]:
        for key, case in self.cases.items():
            for where, value in (("json", case.json_body), ("form", case.form), ("query", case.query)):
                if value is not None:
                    yield f"read.cases.{key}.{where}", value


class ChildAdapters(StrictModel):
    """A hub's devices driven by different specs: the value at `path` in a device's entry picks its adapter
    from `map` (e.g. Hue's "type": "Extended color light" -> hue-color-light); others get `children.adapter`."""

    path: str
    map: dict[str, str] = Field(min_length=1, max_length=16)

    _keys = field_validator("map", mode="before")(classmethod(_keyed))

    @model_validator(mode="after")
    def _names(self) -> ChildAdapters:
        check_dotted(self.path, "children.adapters.path: ")
        bad = sorted(v for v in self.map.values() if not _ADAPTER_NAME.match(v))
        if bad:
            raise ValueError(f"children.adapters.map: {', '.join(map(repr, bad))} is not an adapter name")
        return self

    def pick(self, entry: Any, default: str, get: Any) -> str:
        """The adapter name for one child entry (`get(entry, path)` reads a dotted path, None if absent)."""
        value = get(entry, self.path)
        if isinstance(value, str | int | float | bool):
            return self.map.get(map_key(value), default)
        return default
