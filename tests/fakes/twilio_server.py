"""A loopback fake of Twilio's Messages API, its signed status callbacks and its authenticated media host.

    with FakeTwilio() as fake:                       # http://127.0.0.1:<port>, like https://api.twilio.com
        client = Client(fake.account_sid, fake.auth_token, http_client=<rewriting client to fake.base_url>)
        fake.fail_next(2, status=500)                # the next 2 API requests answer 500 (code 20500)
        fake.outside_window.add("whatsapp:+15551234567")   # free-form Body -> 400 code 63016
        fake.outcome("whatsapp:+15559999999", ["queued", "failed"], error_code=63024)
        fake.down(); fake.up()                       # refuse connections, then serve again on the same port
        url = fake.add_media("img/1.jpg", b"...", "image/jpeg")   # Basic auth, then 307 to /cdn/<token>
        fake.set_status(sid, "delivered")            # what GET .../Messages/<sid>.json answers from now on

Accepted messages land in `messages` (dicts keyed like Twilio's form fields plus "sid"); every API request
in `attempts`; every status callback posted (signed with RequestValidator.compute_signature over the
StatusCallback URL and the sorted form, as Twilio signs) in `callbacks`. Callbacks are posted from one
worker thread after the 201, in order, only to loopback: `route(public_prefix, local_prefix)` maps a public
URL (say "https://claw.example.net") to where the app listens; the signature still covers the public URL.
A message's status (GET /2010-04-01/Accounts/<sid>/Messages/<MessageSid>.json) moves along its callback
sequence as the worker reaches each step, whether or not the callback reached anyone (or was asked for).
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator

from claw.channels.whatsapp.client import is_loopback_host
from tests.fakes.http import TrackingHTTPServer

log = logging.getLogger(__name__)

API = "/2010-04-01"
MAX_BODY = 1600
_ERRORS = {  # code -> message, as Twilio words them
    20003: "Authenticate", 20404: "The requested resource was not found", 20429: "Too Many Requests",
    20500: "An internal server error has occurred", 21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.", 21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.", 21617: "The concatenated message body exceeds the 1600 character limit.",
    63016: "Failed to send freeform message because you are outside the allowed window. "
           "If you are using WhatsApp, please use a Message Template.",
}


def error_body(code: int, status: int, message: str | None = None) -> dict[str, Any]:
    """Twilio's (legacy) REST error shape."""
    return {"code": code, "message": message or _ERRORS.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def _valid_address(value: str) -> bool:
    number = value.removeprefix("whatsapp:")
    return number.startswith("+") and number[1:].isdigit() and 8 <= len(number) <= 16


class _Server(TrackingHTTPServer):
    owner: FakeTwilio

    def __init__(self, address: tuple[str, int], owner: FakeTwilio) -> None:
        super().__init__(address, _Handler, owner)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stall)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("twilio fake: " + format, *args)

    def _send(self, code: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _send_media(self, item: tuple[bytes, str]) -> None:
        if not self.server.owner.media_chunked:
            self._send(200, item[0], item[1])
            return
        self.send_response(200)  # no Content-Length: the size is only known by reading it all
        self.send_header("Content-Type", item[1])
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(item[0]), 1024):
            chunk = item[0][start:start + 1024]
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _json(self, code: int, body: Any) -> None:
        self._send(code, json.dumps(body).encode(), "application/json; charset=utf-8")

    def _error(self, code: int, status: int, message: str | None = None) -> None:
        self._json(status, error_body(code, status, message))

    def _auth_user(self) -> str | None:
        """The account SID when the Basic credentials are right, else None."""
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        owner = self.server.owner
        if secrets.compare_digest(user, owner.account_sid) and secrets.compare_digest(password, owner.auth_token):
            return user
        return None

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = urlsplit(self.path).path
        owner = self.server.owner
        if path.startswith("/media/"):
            self._media(path.removeprefix("/media/"))
        elif path.startswith("/cdn/"):
            item = owner._note_media(path, "Authorization" in self.headers, owner._cdn, path.removeprefix("/cdn/"))
            if item is None:
                self._error(20404, 404)
            else:
                self._send_media(item)
        elif path.startswith(API + "/"):
            self._api("GET", path, {})
        else:
            self._error(20404, 404)

    do_HEAD = do_GET  # noqa: N815 - stdlib naming

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        self._api("POST", urlsplit(self.path).path, parse_qs(raw, keep_blank_values=True))

    def _api(self, method: str, path: str, form: dict[str, list[str]]) -> None:
        owner = self.server.owner
        status, body = owner._answer(method, path, form, self._auth_user())
        with owner._lock:
            owner.attempts.append({"method": method, "path": path, "status": status,
                                   "form": {k: v[0] if len(v) == 1 else v for k, v in form.items()}})
        self._json(status, body)
        for job in owner._after.pop(body.get("sid") if status == 201 else None, []):
            owner._jobs.put(job)  # status callbacks start only once the 201 is on the wire

    def _media(self, name: str) -> None:
        owner = self.server.owner
        item = owner._note_media("/media/" + name, "Authorization" in self.headers, owner._media, name)
        if self._auth_user() is None:
            self._error(20003, 401, "Authenticate")
        elif item is None:
            self._error(20404, 404)
        elif owner.media_redirect:  # like Twilio: a short-lived URL on its media CDN, no credentials needed
            token = secrets.token_urlsafe(16)
            with owner._lock:
                owner._cdn[token] = item
            self._send(307, b"", "text/plain", {"Location": f"{owner.base_url}/cdn/{token}"})
        else:
            self._send_media(item)


class FakeTwilio:
    """Twilio's Messages API, status callbacks and media host on 127.0.0.1 (see the module docstring)."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None, port: int = 0,
                 statuses: Iterable[str] = ("queued", "sent", "delivered", "read")) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.statuses = list(statuses)  # callback sequence for every accepted message without an outcome
        self.outcomes: dict[str, tuple[list[str], int | None]] = {}
        self.outside_window: set[str] = set()
        self.window_error = "reject"  # "reject": 400 63016 at once; "callback": 201, then failed 63016
        self.media_redirect = True
        self.media_chunked = False  # serve media without Content-Length (chunked), as a CDN may
        self.messages: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self.callbacks: list[dict[str, Any]] = []
        self.media_requests: list[dict[str, Any]] = []
        self._routes: list[tuple[str, str]] = []
        self._after: dict[str | None, list[tuple[str | None, dict[str, str]]]] = {}
        self._media: dict[str, tuple[bytes, str]] = {}
        self._cdn: dict[str, tuple[bytes, str]] = {}
        self._fail: list[int] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._jobs: queue.Queue[tuple[str | None, dict[str, str]] | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------------------------ control
    def fail_next(self, n: int, status: int = 500) -> None:
        """Answer the next `n` API requests with `status` (5xx or 429) and Twilio's error JSON."""
        with self._lock:
            self._fail.extend([status] * n)

    def outcome(self, recipient: str, statuses: Iterable[str], error_code: int | None = None) -> None:
        """Callback sequence for messages to `recipient`, e.g. ["queued", "sent", "undelivered"], 63024."""
        self.outcomes[recipient] = (list(statuses), error_code)

    def route(self, public_prefix: str, local_prefix: str) -> None:
        """Post callbacks for URLs under `public_prefix` to `local_prefix` instead (a tunnel, in effect)."""
        self._routes.append((public_prefix.rstrip("/"), local_prefix.rstrip("/")))

    def add_media(self, path: str, content: bytes, content_type: str) -> str:
        """Serve bytes at /media/<path> behind Basic auth; returns the URL (use it as MediaUrl0)."""
        with self._lock:
            self._media[path.lstrip("/")] = (content, content_type)
        return f"{self.base_url}/media/{path.lstrip('/')}"

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Set what the message resource of `sid` reports (its `status` and `error_code`)."""
        with self._lock:
            for msg in self.messages:
                if msg["sid"] == sid:
                    msg["json"].update(status=status, error_code=error_code, date_updated=format_datetime(
                        datetime.now(UTC)))

    def wait_settled(self, timeout: float = 5.0) -> bool:
        """Block until every status step queued so far was applied (and its callback posted or failed)."""
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._jobs.unfinished_tasks

    def wait_callbacks(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least `n` callbacks were posted (or failed to post); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.callbacks) >= n, timeout)

    # --------------------------------------------------------------------------- lifecycle
    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("fake Twilio not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_down(self) -> bool:
        return self._server is None

    def start(self) -> FakeTwilio:
        if self._worker is None:
            self._worker = threading.Thread(target=self._post_callbacks, name="fake-twilio-callbacks",
                                            daemon=True)
            self._worker.start()
        self.up()
        return self

    def up(self) -> None:
        """Serve (again) on the same port."""
        if self._server is not None:
            return
        self._server = _Server(("127.0.0.1", self._port), self)
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-twilio-{self._port}", daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Close the listening socket and every open connection: clients get 'connection refused'."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def stop(self) -> None:
        self.down()
        if self._worker is not None:
            self._jobs.put(None)
            self._worker.join(timeout=5)
            self._worker = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------- internals
    def _answer(self, method: str, path: str, form: dict[str, list[str]],
                user: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            failure = self._fail.pop(0) if self._fail else None
        if failure is not None:
            return failure, error_body(20429 if failure == 429 else 20500, failure)
        if user is None:
            return 401, error_body(20003, 401)
        parts = path.removeprefix(API + "/").split("/")
        if len(parts) >= 2 and parts[0] == "Accounts" and parts[1].removesuffix(".json") == user:
            if method == "POST" and parts[2:] == ["Messages.json"]:
                return self._create(form)
            if method == "GET" and len(parts) == 2:
                return 200, {"sid": user, "friendly_name": "Fake account", "status": "active", "type": "Trial",
                             "owner_account_sid": user, "uri": f"{API}/Accounts/{user}.json"}
            found = self._message_json(parts[3].removesuffix(".json")) if len(parts) == 4 else None
            if method == "GET" and parts[2] == "Messages" and found:
                return 200, found
        return 404, error_body(20404, 404)

    def _note_media(self, path: str, had_auth: bool, table: dict[str, tuple[bytes, str]],
                    key: str) -> tuple[bytes, str] | None:
        with self._lock:
            self.media_requests.append({"path": path, "authorization": had_auth})
            return table.get(key)

    def _message_json(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            for msg in self.messages:
                if msg["sid"] == sid:
                    return dict(msg["json"])
        return None

    def _create(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        one = {k: v[0] for k, v in form.items() if v}
        to, from_, body = one.get("To"), one.get("From"), one.get("Body", "")
        media = form.get("MediaUrl", [])
        if not to:
            return 400, error_body(21604, 400)
        if not from_:
            return 400, error_body(21603, 400)
        if not _valid_address(to):
            return 400, error_body(21211, 400, f"The 'To' number {to} is not a valid phone number.")
        if not body and not media and not one.get("ContentSid"):
            return 400, error_body(21602, 400)
        if len(body) > MAX_BODY:
            return 400, error_body(21617, 400)
        free_form = bool(body or media) and not one.get("ContentSid")
        outside = free_form and to in self.outside_window
        if outside and self.window_error == "reject":
            return 400, error_body(63016, 400)
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC))
        uri = f"{API}/Accounts/{self.account_sid}/Messages/{sid}"
        data = {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": body, "date_created": now,
            "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": from_, "messaging_service_sid": None, "num_media": str(len(media)),
            "num_segments": "1", "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"}, "to": to, "uri": f"{uri}.json",
        }
        record = {"sid": sid, "To": to, "From": from_, "Body": one.get("Body"), "MediaUrl": list(media),
                  "StatusCallback": one.get("StatusCallback"), "ContentSid": one.get("ContentSid"),
                  "ContentVariables": one.get("ContentVariables"), "json": data,
                  "at": time.perf_counter()}  # arrival (system-wide monotonic clock), for bench/
        statuses, error_code = self.outcomes.get(to, (self.statuses, None))
        if outside:
            statuses, error_code = ["queued", "failed"], 63016
        with self._lock:
            self.messages.append(record)
        jobs: list[tuple[str | None, dict[str, str]]] = []
        for status in statuses:  # without a StatusCallback the status still moves on; nothing is posted
            params = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", "From": from_, "To": to,
                      "MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
                      "ChannelPrefix": "whatsapp" if to.startswith("whatsapp:") else "sms"}
            if status in ("failed", "undelivered") and error_code is not None:
                params["ErrorCode"] = str(error_code)
            jobs.append((record["StatusCallback"], params))
        self._after[sid] = jobs
        return 201, data

    def _post_callbacks(self) -> None:
        validator = RequestValidator(self.auth_token)
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                url, params = job
                error_code = params.get("ErrorCode")
                self.set_status(params["MessageSid"], params["MessageStatus"],
                                int(error_code) if error_code else None)
                if url is not None:
                    self._post_one(validator, url, params)
            finally:
                self._jobs.task_done()

    def _post_one(self, validator: RequestValidator, url: str, params: dict[str, str]) -> None:
        target = url
        for public, local in self._routes:
            if url == public or url.startswith(public + "/") or url.startswith(public + "?"):
                target = local + url[len(public):]
        entry: dict[str, Any] = {"url": url, "target": target, "params": params, "status": None, "error": None}
        parts = urlsplit(target)
        signature = validator.compute_signature(url, params)
        entry["signature"] = signature
        if parts.scheme != "http" or not is_loopback_host(parts.hostname):
            entry["error"] = "refused: the fake posts callbacks to loopback http only (see route())"
        else:
            conn = HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=5)
            try:
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                conn.request("POST", path, body=urlencode(params), headers={
                    "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
                    "I-Twilio-Idempotency-Token": secrets.token_hex(16), "User-Agent": "TwilioProxy/1.1"})
                entry["status"] = conn.getresponse().status
            except OSError as exc:
                entry["error"] = f"{exc.__class__.__name__}: {exc}"
            finally:
                conn.close()
        with self._cond:
            self.callbacks.append(entry)
            self._cond.notify_all()
