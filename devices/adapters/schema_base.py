"""Shared pieces of the adapter schema: the strict base model, path and placeholder patterns, their checks."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.(\d+))?\}")
JSON_PATH = re.compile(r"^(\$|[^.\s]+(\.[^.\s]+)*)$")
Scalar = str | int | float | bool


class StrictModel(BaseModel):
    """Base of every schema model: unknown fields refused, immutable, fields settable by name or alias."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def map_key(value: Any) -> str:
    """The string form under which a raw value is looked up in a `map` (JSON spelling for bools/null)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_path(path: str) -> str:
    """`path` if it is a path on the device (one leading '/', no query or fragment); else ValueError."""
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"path {path!r} must start with a single '/' (a path on the device, not a URL)")
    if any(c in path for c in "\\#?") or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in path):
        raise ValueError(f"path {path!r} has spaces, control characters, '\\', '#' or '?' (use `query`)")
    return path


def check_dotted(path: str, label: str = "", like: str = "") -> str:
    """`path` if it is a dotted JSON path into an answer (not `$`, the whole answer); else ValueError
    "<label><path> is not a dotted JSON path<like>"."""
    if not JSON_PATH.match(path) or path == "$":
        raise ValueError(f"{label}{path!r} is not a dotted JSON path{like}")
    return path


def _error_path(path: str) -> str:
    return check_dotted(path, like=" like '0.error.description'")


DevicePath = Annotated[str, AfterValidator(check_path)]
"""A path on the device, checked by `check_path`."""

ErrorPath = Annotated[str, AfterValidator(_error_path)]
"""Where in a JSON answer a device reports a refusal (a dotted path, not `$`)."""
