"""The one wrapper around an OpenAI-compatible chat endpoint: bounded tool-calling loop, plain completions."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import openai

from claw.agent.tools.schema import MAX_ARG_DEPTH, Tool, call_tool, parse_arguments, prune_depth
from claw.errors import LLMError
from claw.events import clean_text
from claw.untrusted import UNTRUSTED_NOTE, clean_model_text, strip_template_tokens, untrusted

log = logging.getLogger(__name__)

__all__ = ["LLMClient", "LLMOutcome", "ToolCallback", "UNTRUSTED_NOTE", "clean_model_text",
           "strip_template_tokens", "untrusted"]

PLACEHOLDER_API_KEY = "not-needed"
ToolCallback = Callable[[dict[str, Any]], Awaitable[None] | None]


@dataclass(frozen=True)
class LLMOutcome:
    """What a run produced: the final text, model calls made, tools run, and why it stopped early (or None).

    `stopped_reason` is None for a normal answer, else "max_steps", "timeout", "llm_error" (the model failed
    after tools had already run) or "empty_answer". `tool_calls` holds one dict per call: id, name,
    arguments (a dict, or the raw string when it was not valid JSON) and result (text).
    `messages` is the whole transcript, the caller's messages included.
    """

    text: str
    steps: int
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    stopped_reason: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Reply:
    content: str | None
    calls: list[dict[str, str]]
    finish_reason: str | None


class _BudgetExceeded(Exception):
    """The run's own time budget ran out during a model call."""


def _get(obj: Any, key: str) -> Any:
    """Attribute or key access; the SDK leaves unknown shapes as dicts or loose objects."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(str(_get(p, "text") or "") for p in content) or None
    return None


def parse_reply(response: Any, step: int) -> _Reply:
    """Pull content and tool calls out of a chat completion, tolerating loose shapes; LLMError if unusable."""
    if isinstance(response, str | bytes) or response is None:
        raise LLMError("The language model answered something that is not JSON.")
    choices = _get(response, "choices")
    if not isinstance(choices, list) or not choices:
        raise LLMError("The language model answered without any choices.")
    message = _get(choices[0], "message")
    if message is None:
        raise LLMError("The language model answered without a message.")
    calls: list[dict[str, str]] = []
    for index, raw in enumerate(_get(message, "tool_calls") or []):
        function = _get(raw, "function")
        name = _get(function, "name")
        arguments = _get(function, "arguments")
        if arguments is not None and not isinstance(arguments, str):
            # An object instead of a string: re-encoded with its depth bounded (json.dumps of 1,000 levels raises
            # RecursionError); still deeper than MAX_ARG_DEPTH when it was, so the tool call is refused as such.
            pruned = prune_depth(arguments, MAX_ARG_DEPTH + 1)
            try:
                arguments = json.dumps(pruned, default=str)
            except (TypeError, ValueError):
                arguments = str(pruned)  # not JSON: the tool call gets "arguments are not valid JSON"
        calls.append({"id": clean_text(str(_get(raw, "id") or f"call_{step}_{index}")),
                      "name": clean_text(str(name or "")), "arguments": clean_text(arguments or "")})
    content = _text_of(_get(message, "content"))  # a lone surrogate (JSON "\ud800") breaks SQLite
    return _Reply(clean_text(content) if content is not None else None, calls, _get(choices[0], "finish_reason"))


def _short(text: Any, limit: int = 160) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LLMClient:
    """An OpenAI-compatible chat endpoint (OpenAI, Ollama, llama.cpp, vLLM) with a bounded tool loop.

    Every failure to reach the model or to make sense of its answer becomes `LLMError` with a short message
    that is safe to show to the owner.
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 30.0,
                 max_retries: int = 1, temperature: float | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self.temperature = temperature
        self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=api_key or PLACEHOLDER_API_KEY,
                                          timeout=timeout, max_retries=max_retries)

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------------ errors

    def _translate(self, exc: BaseException) -> LLMError:
        """One boundary: SDK and transport errors become a short owner-safe LLMError."""
        where = f"The language model at {self.base_url}"
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(f"{where} did not answer within {self.timeout:g} s.")
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"{where} is not reachable.")
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMError(f"{where} refused the API key (HTTP {exc.status_code}).")
        if isinstance(exc, openai.RateLimitError):
            return LLMError(f"{where} is busy or rate-limited (HTTP 429); try again later.")
        if isinstance(exc, openai.NotFoundError):
            return LLMError(f"{where} answered HTTP 404: is the model name '{self.model}' right?")
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code >= 500:
                return LLMError(f"{where} failed (HTTP {exc.status_code}).")
            detail = _short(_get(exc.body, "message") if isinstance(exc.body, dict) else exc.message)
            return LLMError(f"{where} rejected the request (HTTP {exc.status_code}: {detail}).")
        if isinstance(exc, openai.APIResponseValidationError | ValueError):
            return LLMError(f"{where} answered something that is not valid JSON.")
        return LLMError(f"{where} answered something unusable ({exc.__class__.__name__}).")

    # --------------------------------------------------------------------------------- transport

    async def _create(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None,
                      seconds: float, step: int) -> _Reply:
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "auto"
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        try:
            response = await asyncio.wait_for(self._client.chat.completions.create(**kwargs), timeout=seconds)
        except TimeoutError as exc:
            raise _BudgetExceeded from exc
        except Exception as exc:  # noqa: BLE001 - the single translation boundary
            error = self._translate(exc)
            log.warning("LLM call failed: %s (%s: %s)", error, exc.__class__.__name__, _short(exc, 300))
            raise error from exc
        return parse_reply(response, step)

    async def ping(self) -> list[str]:
        """The model ids the endpoint lists (GET /models); LLMError when it is unreachable."""
        try:
            page = await asyncio.wait_for(self._client.models.list(), timeout=self.timeout)
            return [str(_get(m, "id")) for m in page.data]
        except TimeoutError as exc:
            raise LLMError(f"The language model at {self.base_url} did not answer within "
                           f"{self.timeout:g} s.") from exc
        except Exception as exc:  # noqa: BLE001
            raise self._translate(exc) from exc

    async def complete(self, messages: list[dict[str, Any]], max_seconds: float | None = None) -> str:
        """One plain completion without tools (e.g. drafting a soul edit); LLMError if it fails or is empty.
        """
        seconds = max_seconds if max_seconds is not None else self.timeout
        try:
            reply = await self._create(list(messages), None, seconds, step=1)
        except _BudgetExceeded as exc:
            raise LLMError(f"The language model did not answer within {seconds:g} s.") from exc
        text = clean_model_text(reply.content)
        if not text:
            raise LLMError("The language model gave an empty answer.")
        return text

    # ---------------------------------------------------------------------------------- the loop

    async def run(self, messages: list[dict[str, Any]], tools: list[Tool], max_steps: int = 6,
                  max_seconds: float = 60.0, on_tool_call: ToolCallback | None = None,
                  max_tool_calls: int = 16) -> LLMOutcome:
        """Let the model answer, calling tools as it asks, for at most `max_steps` model calls and
        `max_seconds`; of one answer's tool calls only the first `max_tool_calls` run, the rest are answered
        "error: not run, too many tool calls in one step". Bad tool calls (unknown name, invalid JSON, wrong
        arguments, a failing tool) go back to the model as text. The tool calls of the last allowed step still
        run. Raises LLMError only while no tool call has been handled yet; after that, a failure ends the run
        with a stopped outcome that still lists what was done.
        """
        deadline = time.monotonic() + max_seconds
        transcript = list(messages)
        by_name = {t.name: t for t in tools}
        specs = [t.openai_spec() for t in tools] or None
        records: list[dict[str, Any]] = []
        steps = 0
        out_of_time = f"Sorry, I ran out of time ({max_seconds:g} s) before finishing."

        def stopped(reason: str, text: str) -> LLMOutcome:
            log.info("LLM run stopped (%s) after %d steps, %d tool calls", reason, steps, len(records))
            return LLMOutcome(f"{text}{_summary(records)}", steps, records, reason, transcript)

        while steps < max(1, max_steps):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return stopped("timeout", out_of_time)
            try:
                reply = await self._create(transcript, specs, remaining, step=steps + 1)
            except _BudgetExceeded:
                if not records:
                    raise LLMError(f"The language model did not answer within {max_seconds:g} s.") from None
                return stopped("timeout", out_of_time)
            except LLMError as exc:
                if not records:
                    raise
                return stopped("llm_error", f"Sorry, I could not finish: {exc}")
            steps += 1
            if not reply.calls:
                text = clean_model_text(reply.content)
                transcript.append({"role": "assistant", "content": reply.content or ""})
                if text:
                    return LLMOutcome(text, steps, records, None, transcript)
                if not records:
                    raise LLMError("The language model gave an empty answer.")
                return stopped("empty_answer", "Done.")
            transcript.append(_assistant_message(reply))
            too_many = f"error: not run, too many tool calls in one step (at most {max_tool_calls})"
            if len(reply.calls) > max_tool_calls:
                log.warning("model asked for %d tool calls in one step; running the first %d",
                            len(reply.calls), max_tool_calls)
            for index, call in enumerate(reply.calls):
                if index >= max_tool_calls:
                    transcript.append(_tool_message(call["id"], too_many))
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    for skipped in reply.calls[index:]:
                        transcript.append(_tool_message(skipped["id"], "error: not run, out of time"))
                    return stopped("timeout", out_of_time)
                result = await self._run_tool(call, by_name, remaining)
                transcript.append(_tool_message(call["id"], result))
                arguments, error = parse_arguments(call["arguments"])
                record = {"id": call["id"], "name": call["name"],
                          "arguments": call["arguments"] if error else arguments, "result": result}
                records.append(record)
                await _notify(on_tool_call, record)
        return stopped("max_steps", f"Sorry, I stopped after {steps} steps without finishing.")

    async def _run_tool(self, call: dict[str, str], by_name: dict[str, Tool], remaining: float) -> str:
        tool = by_name.get(call["name"])
        if tool is None:
            available = ", ".join(by_name) or "none"
            log.info("model called unknown tool %r", call["name"])
            return f"error: unknown tool '{_short(call['name'], 60)}'; available tools: {available}"
        try:
            return await asyncio.wait_for(call_tool(tool, call["arguments"]), timeout=remaining)
        except TimeoutError:
            log.warning("tool %s did not finish within the run's time budget", tool.name)
            return "error: the tool did not finish in time"


def _assistant_message(reply: _Reply) -> dict[str, Any]:
    """The assistant turn echoed back; invalid argument JSON (or arguments nested too deeply) is replaced by {}
    so strict servers that re-render tool calls through their chat template do not reject the next request."""
    calls = []
    for call in reply.calls:
        arguments = call["arguments"]
        if parse_arguments(arguments)[1] is not None:
            arguments = "{}"
        calls.append({"id": call["id"], "type": "function",
                      "function": {"name": call["name"], "arguments": arguments or "{}"}})
    return {"role": "assistant", "content": reply.content or None, "tool_calls": calls}


def _tool_message(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def _summary(records: list[dict[str, Any]]) -> str:
    done = list(dict.fromkeys(r["name"] for r in records if not str(r["result"]).startswith("error:")))
    return f" Steps taken: {', '.join(done)}." if done else " Nothing was done."


async def _notify(callback: ToolCallback | None, record: dict[str, Any]) -> None:
    if callback is None:
        return
    try:
        result = callback(record)
        if inspect.isawaitable(result):
            await result
    except Exception:  # noqa: BLE001 - an observer must not break the turn
        log.exception("on_tool_call callback failed")
