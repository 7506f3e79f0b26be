"""A scripted OpenAI-compatible chat server on loopback (threads or a subprocess) for tests and crash drills.

Script steps are dicts (JSON-able unless noted), played one per POST /v1/chat/completions; the last step
repeats when the script runs out. Any step may carry "delay": seconds before answering.
  {"text": "hi"}                                    a final answer
  {"tool_calls": [{"name": "f", "arguments": {..} | "raw", "id": "call_1"}], "text": optional}
  {"status": 500, "message": "boom", "retry_after": optional seconds}   an OpenAI error body
  {"garbage": "<html>", "content_type": "application/json"}            a body that is not JSON
  {"raw": {...}}                                    any JSON body with status 200 (e.g. {"choices": []})
  {"hang": seconds | None, "event": threading.Event (in-process only), "then": step}
                                                    wait, then answer `then` or close the connection
  {"close": true}                                   close the connection without answering
  a callable(request_json) -> step                  in-process only, for dynamic answers
Vision requests (image content parts, base64 data URLs) are recorded like any other; `images(request)` decodes them.
Run as a process: python -m tests.fakes.openai_server --port 0 --script FILE.json [--log FILE.jsonl]
(prints the base URL on the first line of stdout once it listens).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.http import TrackingHTTPServer

log = logging.getLogger(__name__)

Step = dict[str, Any] | Callable[[dict[str, Any]], Any]


# ------------------------------------------------------------------------------------ step helpers


def reply(text: str, **extra: Any) -> dict[str, Any]:
    return {"text": text, **extra}


def call(name: str, arguments: dict[str, Any] | str | None = None, id: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "arguments": {} if arguments is None else arguments}
    if id is not None:
        entry["id"] = id
    return entry


def calls(*tool_calls: dict[str, Any], text: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"tool_calls": list(tool_calls), "text": text, **extra}


def status(code: int, message: str = "scripted failure", **extra: Any) -> dict[str, Any]:
    return {"status": code, "message": message, **extra}


def garbage(body: str = "<html>not json</html>", content_type: str = "application/json") -> dict[str, Any]:
    return {"garbage": body, "content_type": content_type}


def raw(body: Any) -> dict[str, Any]:
    return {"raw": body}


def hang(seconds: float | None = None, event: threading.Event | None = None,
         then: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"hang": seconds, "event": event, "then": then}


def hang_once_then(answer: dict[str, Any]) -> tuple[Callable[[dict[str, Any]], dict[str, Any]], threading.Event,
                                                    threading.Event]:
    """A script step that hangs on the first request (until `release` is set) and answers later ones with
    `answer`; returns (step, release, hanging), `hanging` being set once the first request arrived."""
    release, hanging = threading.Event(), threading.Event()

    def step(request: dict[str, Any]) -> dict[str, Any]:
        if not hanging.is_set():
            hanging.set()
            return hang(None, release, then=reply("too late"))
        return answer

    return step, release, hanging


def close() -> dict[str, Any]:
    return {"close": True}


def images(request: dict[str, Any]) -> list[bytes]:
    """The pictures a chat request carries as image content parts (base64 data URLs), decoded; for vision tests."""
    import base64

    found = []
    for message in request.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            url = (part.get("image_url") or {}).get("url", "") if part.get("type") == "image_url" else ""
            if url.startswith("data:") and ";base64," in url:
                found.append(base64.b64decode(url.split(";base64,", 1)[1]))
    return found


# ----------------------------------------------------------------------------------- JSON shapes


def _completion(request: dict[str, Any], step: dict[str, Any], index: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.get("text"), "refusal": None}
    finish = "stop"
    if step.get("tool_calls"):
        finish = "tool_calls"
        message["tool_calls"] = []
        for n, entry in enumerate(step["tool_calls"]):
            arguments = entry.get("arguments", {})
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            message["tool_calls"].append({"id": entry.get("id", f"call_{index}_{n}_{uuid.uuid4().hex[:6]}"),
                                          "type": "function",
                                          "function": {"name": entry["name"], "arguments": arguments}})
    prompt_tokens = len(json.dumps(request.get("messages", []))) // 4
    completion_tokens = len(json.dumps(message)) // 4
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
            "created": int(time.time()), "model": request.get("model", "scripted"),
            "system_fingerprint": "fp_scripted",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def _error_body(code: int, message: str) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
             429: "rate_limit_exceeded"}
    codes = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
    return {"error": {"message": message, "type": kinds.get(code, "server_error"), "param": None,
                      "code": codes.get(code)}}


# ------------------------------------------------------------------------------------------ server


class _Server(TrackingHTTPServer):
    owner: ScriptedOpenAI

    def __init__(self, address: tuple[str, int], owner: ScriptedOpenAI) -> None:
        super().__init__(address, _Handler, owner)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30  # an idle keep-alive connection is dropped after this
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stall)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("openai fake: " + format, *args)

    def _send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(code, json.dumps(body).encode(), "application/json", headers)

    def _send_bytes(self, code: int, data: bytes, content_type: str,
                    headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        owner = self.server.owner
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send_json(200, {"object": "list", "data": [
                {"id": owner.model, "object": "model", "created": 0, "owned_by": "scripted"}]})
        else:
            self._send_json(404, _error_body(404, f"no route {self.path}"))

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, _error_body(404, f"no route {self.path}"))
            return
        try:
            request = json.loads(payload or b"{}")
        except ValueError:
            self._send_json(400, _error_body(400, "request body is not JSON"))
            return
        if request.get("stream"):
            self._send_json(400, _error_body(400, "streaming is not supported by the scripted server"))
            return
        owner = self.server.owner
        index, step = owner._next_step(request)
        if callable(step):
            try:
                step = step(request)
            except Exception as exc:  # noqa: BLE001 - a broken test callable becomes a 500
                log.exception("scripted step callable failed")
                step = status(500, f"scripted callable failed: {exc}")
        self._play(request, step, index)

    def _play(self, request: dict[str, Any], step: dict[str, Any], index: int) -> None:
        owner = self.server.owner
        if step.get("delay") and owner._wait(step["delay"], None):
            return  # stopping
        if "hang" in step:
            owner._wait(step.get("hang"), step.get("event"))
            if owner.stopping.is_set() or not step.get("then"):
                self.close_connection = True
                return
            step = step["then"]
        if step.get("close"):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if "status" in step:
            headers = None
            if "retry_after" in step:  # the SDK honours retry-after-ms first, then Retry-After (seconds)
                seconds = float(step["retry_after"])
                headers = {"retry-after-ms": str(int(seconds * 1000)),
                           "Retry-After": str(max(1, round(seconds)))}
            code = int(step["status"])
            self._send_json(code, _error_body(code, str(step.get("message", "scripted failure"))), headers)
        elif "garbage" in step:
            self._send_bytes(200, str(step["garbage"]).encode(), step.get("content_type", "application/json"))
        elif "raw" in step:
            self._send_json(200, step["raw"])
        else:
            self._send_json(200, _completion(request, step, index))


class ScriptedOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 that plays a script and records every chat request."""

    def __init__(self, script: list[Step] | None = None, port: int = 0, model: str = "scripted-model",
                 log_path: str | None = None) -> None:
        self.script: list[Step] = list(script or [])
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self._port = port
        self._lock = threading.Lock()
        self._index = 0
        self._log_path = log_path
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------------------- script

    def _next_step(self, request: dict[str, Any]) -> tuple[int, Step]:
        with self._lock:
            self.requests.append(request)
            if self._log_path:
                with open(self._log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(request) + "\n")
            index = self._index
            self._index += 1
            if not self.script:
                return index, reply("ok")
            return index, self.script[min(index, len(self.script) - 1)]

    def _wait(self, seconds: float | None, event: threading.Event | None) -> bool:
        """Wait `seconds` (None: forever) or until `event` is set; True if the server is stopping."""
        end = None if seconds is None else time.monotonic() + float(seconds)
        while not self.stopping.is_set():
            if event is not None and event.is_set():
                break
            if end is not None and time.monotonic() >= end:
                break
            slice_ = 0.02 if end is None else max(0.0, min(0.02, end - time.monotonic()))
            self.stopping.wait(slice_)
        return self.stopping.is_set()

    def push(self, *steps: Step) -> None:
        """Append steps to the script while the server runs."""
        with self._lock:
            self.script.extend(steps)

    # ----------------------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedOpenAI:
        if self._server is not None:
            return self
        self.stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"scripted-openai-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release hangs, drop open connections and join every thread."""
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> ScriptedOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def load_script(path: str) -> list[Step]:
    """A script file: a JSON list of steps, or {"steps": [...]}."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    steps = data.get("steps", []) if isinstance(data, dict) else data
    if not isinstance(steps, list):
        raise ValueError("script must be a list of steps or {\"steps\": [...]}")
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free port)")
    parser.add_argument("--script", help="JSON file: a list of steps or {\"steps\": [...]}")
    parser.add_argument("--model", default="scripted-model", help="model id listed by GET /v1/models")
    parser.add_argument("--log", help="append every chat request body to this JSONL file")
    args = parser.parse_args(argv)
    server = ScriptedOpenAI(load_script(args.script) if args.script else [], port=args.port, model=args.model,
                            log_path=args.log)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    print(server.base_url, flush=True)
    try:
        while not done.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
