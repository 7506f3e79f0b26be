"""Tools as typed Python functions: schema from the signature, validation, calling with errors as text."""

from __future__ import annotations

import enum
import inspect
import json
import logging
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from claw.errors import ClawError
from claw.untrusted import defang, strip_template_tokens
from devices.errors import DeviceError

log = logging.getLogger(__name__)

Risk = Literal["read", "act", "risky"]
RISKS: tuple[str, ...] = ("read", "act", "risky")
MAX_RESULT_CHARS = 4000
MAX_ARG_DEPTH = 32  # deeper tool arguments are refused: no tool needs them, and 5,000 levels crash json and repr
TOO_DEEP = f"arguments nested too deeply (more than {MAX_ARG_DEPTH} levels)"

_SCALARS: dict[type, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}
_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SECTION = re.compile(r"^\s*(Returns|Return|Raises|Yields|Example|Examples|Note|Notes):\s*$")


@dataclass(frozen=True)
class Tool:
    """A function the model may call: name, description, JSON schema of its arguments, and risk level.

    `fn` takes keyword arguments and returns str or JSON-able data; it may be sync or async.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    risk: Risk
    fn: Callable[..., Any] = field(repr=False, compare=False)

    def openai_spec(self) -> dict[str, Any]:
        """The tool as OpenAI's `tools=[...]` entry."""
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


# ---------------------------------------------------------------------------------------------- schema


def _type_schema(hint: Any) -> tuple[dict[str, Any], bool]:
    """JSON schema for one type hint, and whether None is allowed."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        schema, nullable = _type_schema(args[0])
        extra = [a for a in args[1:] if isinstance(a, str)]
        if extra:
            schema = {**schema, "description": extra[0]}
        return schema, nullable
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        nullable = len(members) < len(args)
        if len(members) == 1:
            schema, inner_nullable = _type_schema(members[0])
            return schema, nullable or inner_nullable
        return {"anyOf": [_type_schema(m)[0] for m in members]}, nullable
    if origin is Literal:
        values = [a for a in args if a is not None]
        kinds = {_SCALARS.get(type(v), "string") for v in values}
        schema: dict[str, Any] = {"enum": values}
        if len(kinds) == 1:
            schema = {"type": kinds.pop(), "enum": values}
        return schema, len(values) < len(args)
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        schema = {"type": "array"}
        item_args = [a for a in args if a is not Ellipsis]
        if item_args:
            schema["items"] = _type_schema(item_args[0])[0]
        return schema, False
    if origin is dict or hint is dict:
        schema = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = _type_schema(args[1])[0]
        return schema, False
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        values = [m.value for m in hint]
        kinds = {_SCALARS.get(type(v), "string") for v in values}
        return ({"type": kinds.pop(), "enum": values} if len(kinds) == 1 else {"enum": values}), False
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}, False
    if hint is Any or hint is inspect.Parameter.empty:
        return {}, False
    raise TypeError(f"unsupported type for a tool argument: {hint!r}")


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    schema = dict(schema)
    if isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        return schema
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    return schema


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The first paragraph, and per-argument descriptions from a Google-style `Args:` section."""
    text = inspect.cleandoc(doc or "")
    lines = text.splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _ARGS_HEADER.match(line):
            break
        summary.append(line.strip())
    arg_docs: dict[str, str] = {}
    current: str | None = None
    in_args = False
    args_indent = arg_indent = 0
    for line in lines:
        if _ARGS_HEADER.match(line):
            in_args, current, args_indent = True, None, len(line) - len(line.lstrip())
            continue
        if not in_args:
            continue
        indent = len(line) - len(line.lstrip())
        if _SECTION.match(line) or (line.strip() and indent <= args_indent):
            in_args = False
            continue
        match = _ARG_LINE.match(line)
        if match and (current is None or indent <= arg_indent):
            current, arg_indent = match.group(1), indent
            arg_docs[current] = match.group(2).strip()
        elif current and line.strip():
            arg_docs[current] = f"{arg_docs[current]} {line.strip()}".strip()
    return " ".join(summary), arg_docs


def build_parameters(fn: Callable[..., Any], arg_docs: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON schema of `fn`'s keyword arguments; parameters with defaults are optional."""
    arg_docs = arg_docs or {}
    hints = typing.get_type_hints(fn, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {fn.__name__}: *args/**kwargs are not allowed ({name})")
        if param.kind is param.POSITIONAL_ONLY:
            raise TypeError(f"tool {fn.__name__}: positional-only parameters are not allowed ({name})")
        schema, nullable = _type_schema(hints.get(name, inspect.Parameter.empty))
        if nullable:
            schema = _nullable(schema)
        if name in arg_docs and "description" not in schema:
            schema["description"] = arg_docs[name]
        if param.default is param.empty:
            required.append(name)
        elif param.default is None or isinstance(param.default, str | int | float | bool):
            schema["default"] = param.default.value if isinstance(param.default, enum.Enum) else param.default
        properties[name] = schema
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def make_tool(fn: Callable[..., Any], risk: Risk = "act", name: str | None = None,
              description: str | None = None) -> Tool:
    """A Tool from a typed function: name from `__name__`, description and arg docs from the docstring."""
    if risk not in RISKS:
        raise ValueError(f"risk must be one of {RISKS}, not {risk!r}")
    summary, arg_docs = parse_docstring(fn.__doc__)
    return Tool(name=name or fn.__name__, description=description or summary,
                parameters=build_parameters(fn, arg_docs), risk=risk, fn=fn)


@typing.overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@typing.overload
def tool(*, risk: Risk = "act", name: str | None = None) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(fn: Callable[..., Any] | None = None, /, *, risk: Risk = "act",
         name: str | None = None) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator turning a typed function into a Tool: `@tool` or `@tool(risk="read")`."""
    if fn is not None:
        return make_tool(fn, risk=risk, name=name)
    return lambda f: make_tool(f, risk=risk, name=name)


# ------------------------------------------------------------------------------------------ validation

_JSON_TYPES: dict[str, str] = {"string": "a string", "integer": "an integer", "number": "a number",
                               "boolean": "true or false", "array": "a list", "object": "an object",
                               "null": "null"}


def _json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _check(value: Any, schema: dict[str, Any], where: str) -> tuple[Any, str | None]:
    """Validate (and gently coerce: 3.0 → 3 for integers) one value; returns (value, error or None)."""
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            coerced, error = _check(value, option, where)
            if error is None:
                return coerced, None
        return value, f"{where} has the wrong type ({_json_type_name(value)})"
    expected = schema.get("type")
    if expected is not None:
        allowed = [expected] if isinstance(expected, str) else list(expected)
        actual = _json_type_name(value)
        if actual == "number" and "integer" in allowed and float(value).is_integer():
            value, actual = int(value), "integer"
        elif actual == "integer" and "number" in allowed and "integer" not in allowed:
            value, actual = float(value), "number"
        if actual not in allowed:
            wanted = " or ".join(_JSON_TYPES.get(a, a) for a in allowed)
            return value, f"{where} must be {wanted}, got {_JSON_TYPES.get(actual, actual)}"
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(json.dumps(v) for v in schema["enum"])
        return value, f"{where} must be one of {choices}"
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        out = []
        for i, item in enumerate(value):
            coerced, error = _check(item, schema["items"], f"{where}[{i}]")
            if error:
                return value, error
            out.append(coerced)
        value = out
    return value, None


def validate_arguments(tool: Tool, arguments: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Check arguments against the tool's schema; returns (coerced arguments, short error or None)."""
    properties: dict[str, Any] = tool.parameters.get("properties", {})
    required: list[str] = tool.parameters.get("required", [])
    expected = ", ".join(properties) or "none"
    unknown = [k for k in arguments if k not in properties]
    if unknown and tool.parameters.get("additionalProperties", True) is False:
        return arguments, f"unknown argument(s): {', '.join(unknown)}; expected: {expected}"
    missing = [k for k in required if k not in arguments]
    if missing:
        return arguments, f"missing required argument(s): {', '.join(missing)}"
    coerced: dict[str, Any] = {}
    for key, value in arguments.items():
        if key not in properties:
            coerced[key] = value
            continue
        coerced[key], error = _check(value, properties[key], f"argument '{key}'")
        if error:
            return arguments, error
    return coerced, None


# ---------------------------------------------------------------------------------------------- calling


def too_deep(value: Any, limit: int = MAX_ARG_DEPTH) -> bool:
    """Whether lists and dicts nest more than `limit` levels inside `value` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))
    return False


def prune_depth(value: Any, limit: int) -> Any:
    """`value` with lists and dicts below `limit` levels emptied: safe to json.dumps or repr at any depth, and
    still deeper than MAX_ARG_DEPTH when `limit` is, so parse_arguments still refuses it. Recursion <= limit."""
    if isinstance(value, dict):
        return {} if limit <= 0 else {k: prune_depth(v, limit - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [] if limit <= 0 else [prune_depth(v, limit - 1) for v in value]
    return value


def parse_arguments(raw_arguments: str | dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """Decode the model's argument string into a dict; returns (arguments, short error or None).
    Arguments nested deeper than MAX_ARG_DEPTH are an error (TOO_DEEP), never a RecursionError."""
    if isinstance(raw_arguments, dict):
        return (raw_arguments, None) if not too_deep(raw_arguments) else ({}, TOO_DEEP)
    if raw_arguments is None or not str(raw_arguments).strip():
        return {}, None
    try:
        decoded = json.loads(raw_arguments)
    except RecursionError:
        return {}, TOO_DEEP
    except (TypeError, ValueError) as exc:
        return {}, f"arguments are not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]})"
    if too_deep(decoded):
        return {}, TOO_DEEP
    if decoded is None:
        return {}, None
    if not isinstance(decoded, dict):
        return {}, "arguments must be a JSON object"
    return decoded, None


def format_result(result: Any, max_chars: int = MAX_RESULT_CHARS) -> str:
    """A tool's return value as text for the model, template tokens stripped and cut at `max_chars`."""
    if result is None:
        text = "ok"
    elif isinstance(result, str):
        text = result
    else:
        try:
            text = json.dumps(result, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            try:
                text = str(result)
            except RecursionError:
                text = "error: the tool's result is nested too deeply to show"
        except RecursionError:
            text = "error: the tool's result is nested too deeply to show"
    text = strip_template_tokens(text)
    if len(text) > max_chars:
        text = text[:max_chars] + f"… [truncated, {len(text) - max_chars} more characters]"
    return text


async def call_tool(tool: Tool, raw_arguments: str | dict[str, Any] | None,
                    max_chars: int = MAX_RESULT_CHARS) -> str:
    """Parse, validate and run one tool call; every failure comes back as `error: ...` text, never raised."""
    try:
        arguments, error = parse_arguments(raw_arguments)
        if error is None:
            arguments, error = validate_arguments(tool, arguments)
    except RecursionError:
        arguments, error = {}, TOO_DEEP
    if error is not None:
        log.info("tool %s: rejected arguments: %s", tool.name, error)
        return f"error: {error}"
    try:
        result = tool.fn(**arguments)
        if inspect.isawaitable(result):
            result = await result
    except RecursionError:  # e.g. a tool serializing a structure it was handed; no traceback of 1,000 frames
        log.warning("tool %s failed: RecursionError", tool.name)
        return "error: the tool failed on data nested too deeply"
    except Exception as exc:  # noqa: BLE001 - tool errors go back to the model as text
        log.info("tool %s failed: %s", tool.name, exc, exc_info=not _is_expected(exc))
        detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # KeyError quotes its text
        message = defang(str(detail).strip()) or exc.__class__.__name__  # may quote device-supplied names
        return format_result(f"error: {message}", max_chars)
    return format_result(result, max_chars)


def _is_expected(exc: Exception) -> bool:
    """Errors that carry an owner-safe message by design (no traceback needed in the log)."""
    return isinstance(exc, ClawError | DeviceError)
