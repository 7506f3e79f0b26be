"""Configuration errors as one line naming the key, where it was set and the nearest valid key."""

from __future__ import annotations

import difflib
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

PREFIX = "CLAW_"
DELIMITER = "__"
NOT_SETTINGS = frozenset({"CONFIG"})  # CLAW_* variables read before the settings: CLAW_CONFIG (which claw.toml)


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The settings section (a pydantic model) a field holds, if it holds one (also inside `X | None`)."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def unknown_key(model: type[BaseModel], path: tuple[str, ...]) -> tuple[int, list[str]] | None:
    """(index of the first unknown part of `path`, the valid names at that level) or None when the path names
    a setting. Below a field that is not a section (a list, a dict) anything goes: its type decides."""
    current: type[BaseModel] | None = model
    for n, part in enumerate(path):
        if current is None:
            return None
        fields = current.model_fields
        if part not in fields:
            return n, sorted(fields)
        current = section_model(fields[part].annotation)
    return None


def suggestion(word: str, valid: list[str]) -> str | None:
    close = difflib.get_close_matches(word, valid, n=1, cutoff=0.6)
    return close[0] if close else None


def env_path(name: str) -> tuple[str, ...] | None:
    """The settings path a CLAW_* variable sets (case-insensitive, like pydantic-settings), else None."""
    if not name.upper().startswith(PREFIX) or name[len(PREFIX):].upper() in NOT_SETTINGS:
        return None
    return tuple(name[len(PREFIX):].lower().split(DELIMITER))


class Sources:
    """Where each configured value came from, in the settings' priority order (the first one wins)."""

    def __init__(self, overrides: Mapping[str, Any], environ: Mapping[str, str], dotenv: Mapping[str, Any],
                 dotenv_file: Path | None, toml_file: Path) -> None:
        self.toml_file = toml_file
        self.layers: list[tuple[str, set[tuple[str, ...]]]] = [
            ("arguments", {(k,) for k in overrides if not k.startswith("_")}),
            ("environment variable {name}", set()),
            (f"{dotenv_file}: {{name}}", set()),
            (str(toml_file), set(_toml_paths(toml_file))),
        ]
        self.env_names = {path: name for name in environ if (path := env_path(name)) is not None}
        self.dotenv_names = {path: name for name in dotenv if (path := env_path(name)) is not None}
        self.layers[1][1].update(self.env_names)
        self.layers[2][1].update(self.dotenv_names)

    def unknown(self, model: type[BaseModel]) -> str | None:
        """The error for the first key set anywhere that names no setting, with the nearest valid one.
        pydantic-settings ignores unknown CLAW_* variables, so a typo would silently change nothing."""
        for layer in (1, 2, 3):
            for path in sorted(self.layers[layer][1]):
                bad = unknown_key(model, path)
                if bad is None:
                    continue
                n, valid = bad
                near = suggestion(path[n], valid)
                if layer == 3:
                    key = ".".join(path[:n + 1])
                    hint = f"; did you mean {'.'.join((*path[:n], near))}?" if near else ""
                    return f"invalid configuration ({self.toml_file}): {key}: no such setting{hint}"
                hint = f"; did you mean {PREFIX}{DELIMITER.join((*path[:n], near)).upper()}?" if near else ""
                return f"invalid configuration ({self._label(layer, path)}): no such setting{hint}"
        return None

    def of(self, loc: tuple[str, ...]) -> list[str]:
        """The sources that set `loc`: the winning one when one sets it (or a section above it, as JSON),
        else every one that sets something below it (a section-wide check such as hvac_min <= hvac_max)."""
        exact = [self._label(n, p) for n, (_, paths) in enumerate(self.layers) for p in paths
                 if p == loc[:len(p)]]
        if exact:
            return exact[:1]
        below = [self._label(n, p) for n, (_, paths) in enumerate(self.layers) for p in sorted(paths)
                 if p[:len(loc)] == loc]
        return list(dict.fromkeys(below))

    def _label(self, layer: int, path: tuple[str, ...]) -> str:
        label = self.layers[layer][0]
        if layer == 1:
            return label.format(name=self.env_names[path])
        if layer == 2:
            return label.format(name=self.dotenv_names[path])
        return label


def _toml_paths(path: Path) -> list[tuple[str, ...]]:
    """Every key path a TOML file sets a value at (tables are not values); nothing when it is missing or
    unreadable."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    out: list[tuple[str, ...]] = []

    def walk(node: dict[str, Any], prefix: tuple[str, ...]) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, (*prefix, key))
            else:
                out.append((*prefix, key))

    walk(data, ())
    return out


def describe(exc: ValidationError, model: type[BaseModel], sources: Sources) -> str:
    """pydantic's errors as one line: `invalid configuration (SOURCE): key: problem; ...`."""
    parts: list[tuple[str, str]] = []  # (source, "key: problem")
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        key = ".".join(loc) or "settings"
        problem = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            bad = unknown_key(model, loc)
            near = suggestion(loc[bad[0]], bad[1]) if bad else None
            problem = "no such setting" + (f"; did you mean {'.'.join((*loc[:-1], near))}?" if near else "")
        where = sources.of(loc)
        parts.append((" and ".join(where) if where else "", f"{key}: {problem}"))
    places = {p for p, _ in parts}
    if len(places) == 1:
        place = places.pop()
        head = f"invalid configuration ({place})" if place else "invalid configuration"
        return f"{head}: " + "; ".join(text for _, text in parts)
    return "invalid configuration: " + "; ".join(f"{text} ({p or 'default'})" for p, text in parts)
