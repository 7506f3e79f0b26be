"""The pure read side of an adapter spec: state out of a device's JSON answers, matching and identity."""

from __future__ import annotations

import logging
import re
from typing import Any

from devices.adapters.color_xy import ColorError, xy_to_rgb
from devices.adapters.schema import STATE_KEYS, AdapterSpec, Extraction, map_key
from devices.errors import AdapterSpecError

log = logging.getLogger(__name__)


class _Miss(ValueError):
    """A state value is missing from the response or does not fit its key."""


def extract_state(spec: AdapterSpec, responses: dict[str, Any], *, strict: bool = False) -> dict[str, Any]:
    """Normalised state from the decoded JSON answers, keyed by state request path.

    Lenient by default (a value that is missing or does not fit is left out and logged); `strict=True`
    raises AdapterSpecError instead, for checking a draft spec against recorded answers."""
    out: dict[str, Any] = {}
    for req in spec.state:
        for key, ex in req.extract.items():
            try:
                if req.path not in responses:
                    raise _Miss("no response")
                out[key] = _extract(key, ex, responses[req.path])
            except _Miss as exc:
                if strict:
                    raise AdapterSpecError(f"adapter spec {spec.name!r}: state {key} from {req.path} "
                                           f"at {ex.path!r}: {exc}") from None
                log.debug("%s: no %s from %s %s: %s", spec.name, key, req.path, ex.path, exc)
    return out


def _json_get(body: Any, path: str) -> Any:
    if path == "$":
        return body
    for part in path.split("."):
        if isinstance(body, dict) and part in body:
            body = body[part]
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            raise _Miss(f"{part!r} not found")
    return body


def extract_path(body: Any, path: str | None) -> Any:
    """The value at a dotted path in decoded JSON ("0.success.username"), or None when it is not there."""
    if path is None:
        return None
    try:
        return _json_get(body, path)
    except _Miss:
        return None


def _extract(key: str, ex: Extraction, body: Any) -> Any:
    path = ex.path if ex.by is None else ex.path_for(_json_get(body, ex.by))
    raw = _json_get(body, path)
    if ex.map is not None:
        mapped = {k.casefold(): v for k, v in ex.map.items()}
        if map_key(raw).casefold() not in mapped:
            raise _Miss(f"value {map_key(raw)[:40]!r} is not in the map")
        raw = mapped[map_key(raw).casefold()]
    if ex.scale is not None:
        raw = ex.scale.to_normal(_number(raw))
    if ex.color == "xy":
        if not isinstance(raw, list) or len(raw) != 2:
            raise _Miss("not [x, y]")
        try:
            raw = xy_to_rgb([_number(v) for v in raw])
        except ColorError as exc:
            raise _Miss(str(exc)) from None
    return _coerce(STATE_KEYS[key], raw)


def _number(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _Miss(f"{type(raw).__name__} is not a number")
    try:
        return float(raw)
    except ValueError:
        raise _Miss(f"{raw[:40]!r} is not a number") from None


_TRUE, _FALSE = {"true", "on", "yes", "1"}, {"false", "off", "no", "0"}


def _coerce(kind: str, raw: Any) -> Any:
    if kind == "bool":
        text = map_key(raw).strip().lower() if isinstance(raw, bool | int | float | str) else ""
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise _Miss(f"{str(raw)[:40]!r} is not a boolean")
    if kind == "percent":
        value = round(_number(raw))
        if not 0 <= value <= 100:
            raise _Miss(f"{value} is outside 0-100")
        return value
    if kind == "float":
        return round(_number(raw), 2)
    if kind == "rgb":
        if isinstance(raw, str) and re.fullmatch(r"#?[0-9a-fA-F]{6}", raw):
            raw = [int(raw.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
        if (isinstance(raw, list) and len(raw) == 3
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in raw)):
            return list(raw)
        raise _Miss("not [r, g, b] with 0-255 values")
    if not isinstance(raw, str | int | float) or isinstance(raw, bool) or str(raw) == "":
        raise _Miss("not a non-empty string")
    text = str(raw)
    if kind == "playback":
        text = text.lower()
        if text not in ("playing", "paused", "stopped"):
            raise _Miss(f"{text[:40]!r} is not playing, paused or stopped")
    return text


def spec_matches(spec: AdapterSpec, responses: dict[str, Any]) -> bool:
    """Whether recorded JSON answers (keyed by path) satisfy the spec's `match`; False without one."""
    if spec.match is None or spec.match.path not in responses:
        return False
    body = responses[spec.match.path]
    try:
        for path in spec.match.keys:
            _json_get(body, path)
        return all(_json_get(body, p) == v for p, v in spec.match.fields.items())
    except _Miss:
        return False


def match_identity(spec: AdapterSpec, body: Any) -> dict[str, str]:
    """The identity fields (mac, serial, uuid, name, model, firmware) the spec's `match.identity` points at in
    the probe answer `body`; missing or non-scalar values are left out (pure; values are device text)."""
    out: dict[str, str] = {}
    if spec.match is None:
        return out
    for key, path in spec.match.identity.items():
        try:
            value = _json_get(body, path)
        except _Miss:
            continue
        if isinstance(value, list) and value:  # e.g. Tasmota's FriendlyName: ["Desk"]
            value = value[0]
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
            out[key] = str(value)
    return out
