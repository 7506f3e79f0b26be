"""End-to-end WhatsApp test plumbing: a live claw on uvicorn wired to FakeTwilio, signed webhooks, a loopback guard."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from claw.config import CameraSettings, LLMSettings, VisionSettings
from claw.events import InboundMessage
from claw.runtime import Claw
from claw.serve import ClawServer
from devices.sim.home import SimHome
from memory.store import Store
from tests.conftest import make_settings
from tests.fakes.twilio_server import FakeTwilio
from tests.test_durability import ClawProcesses, free_port, wait_for
from tests.test_twilio_webhook import message, sign
from tests.test_whatsapp_send import twilio_settings

PUBLIC = "https://claw.example.test"
SANDBOX = "whatsapp:+14155238886"
OWNER = "+15551230001"
OWNER_WA = f"whatsapp:{OWNER}"
FRIEND_WA = "whatsapp:+15551230002"
DELIVERED = ("delivered", "read")


# ------------------------------------------------------------------------------------------ images
def _segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def tiny_jpeg(comment: bytes = b"") -> bytes:
    """A real baseline JFIF: 8x8 grey pixels (one block, DC 0), with an optional COM segment to pad its size."""
    one_code = bytes([1] + [0] * 15) + b"\x00"  # one Huffman code of length 1 for symbol 0
    return b"".join([
        b"\xff\xd8",  # SOI
        _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
        _segment(0xFE, comment) if comment else b"",
        _segment(0xDB, b"\x00" + b"\x01" * 64),  # quantization table 0
        _segment(0xC0, b"\x08" + struct.pack(">HH", 8, 8) + b"\x01\x01\x11\x00"),  # 8x8, one component
        _segment(0xC4, b"\x00" + one_code),  # DC table: category 0
        _segment(0xC4, b"\x10" + one_code),  # AC table: end of block
        _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),  # start of scan
        b"\x3f",  # DC code 0, EOB code 0, padded with ones
        b"\xff\xd9",  # EOI
    ])


# -------------------------------------------------------------------------------------- webhooks
def inbound_form(fake: FakeTwilio, text: str, sender: str = OWNER_WA, **extra: str) -> dict[str, str]:
    """Twilio's form for an inbound WhatsApp message to the sandbox number, from this fake's account."""
    return message(text, sender=sender, AccountSid=fake.account_sid, To=SANDBOX, **extra)


def signed(fake: FakeTwilio, params: dict[str, str], path: str = "/twilio/whatsapp") -> dict[str, str]:
    """Headers signing `params` for the public URL with the account's auth token, as Twilio signs."""
    return {"X-Twilio-Signature": sign(path, params, token=fake.auth_token, base=PUBLIC)}


def code_in(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found, f"no pairing code in {text!r}"
    return found.group(1)


# ---------------------------------------------------------------------------------------- polling
async def until(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll (without blocking the event loop the app runs on) until predicate() is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


def outbox_rows(store: Store, recipient: str | None = None) -> list[dict[str, Any]]:
    ids = [r["id"] for r in store.db.query("SELECT id FROM outbox ORDER BY id")]
    rows = [store.outbox_get(i) for i in ids]
    return [r for r in rows if r is not None and (recipient is None or r["recipient"] == recipient)]


def wrote_hours_ago(store: Store, hours: float, sender: str = OWNER_WA) -> int:
    """A finished inbound row from `sender`, backdated: when they last wrote, for the 24-hour window."""
    inbox_id, _ = store.inbox_add(InboundMessage(channel="whatsapp", sender=sender, text="hi",
                                                 external_id=f"SM{time.time_ns():032x}"))
    store.inbox_finish(inbox_id, [])
    store._write("UPDATE inbox SET created_at = ? WHERE id = ?", (time.time() - hours * 3600, inbox_id))
    return inbox_id


# ------------------------------------------------------------------------------------ a live claw
@dataclass
class LiveClaw:
    """A claw served by uvicorn on 127.0.0.1, its client, and the FakeTwilio routed to it."""

    claw: Claw
    url: str
    http: httpx.AsyncClient
    fake: FakeTwilio

    async def post(self, params: dict[str, str], path: str = "/twilio/whatsapp") -> httpx.Response:
        return await self.http.post(path, data=params, headers=signed(self.fake, params, path))

    async def say(self, text: str, sender: str = OWNER_WA, **extra: str) -> dict[str, str]:
        """Post one signed inbound message; asserts the empty TwiML answer; returns the form."""
        params = inbound_form(self.fake, text, sender, **extra)
        r = await self.post(params)
        assert r.status_code == 200 and "<Response></Response>" in r.text, r.text
        return params

    def rows(self, recipient: str | None = None) -> list[dict[str, Any]]:
        return outbox_rows(self.claw.store, recipient)

    def received(self, recipient: str | None = None) -> list[dict[str, Any]]:
        """What FakeTwilio accepted, in order, optionally for one recipient."""
        return [m for m in list(self.fake.messages) if recipient is None or m["To"] == recipient]

    async def settled(self, timeout: float = 10.0) -> None:
        """Every turn finished, every outbox row delivered or read, and every status callback of the fake
        answered by the app."""
        await self.claw.agent.idle()
        await until(lambda: self.rows() and all(r["status"] in DELIVERED for r in self.rows()),
                    "every outbox row to be delivered", timeout)
        expected = sum(len(self.fake.outcomes.get(m["To"], (self.fake.statuses,))[0]) for m in self.received())
        await until(lambda: len(self.fake.callbacks) >= expected, "the status callbacks", timeout)
        assert [c["status"] for c in self.fake.callbacks] == [204] * len(self.fake.callbacks), self.fake.callbacks


@asynccontextmanager
async def live_claw(home: SimHome, tmp_path: Path, fake: FakeTwilio, *, llm: LLMSettings | None = None,
                    cameras: tuple[CameraSettings, ...] = (), vision: VisionSettings | None = None,
                    **twilio: Any) -> AsyncIterator[LiveClaw]:
    """`claw run` in-process: ClawServer (uvicorn + the claw) on a free loopback port; FakeTwilio's callbacks for
    the public URL are routed to it. The outbox retries fast (tests only)."""
    settings = make_settings(tmp_path, device_timeout=2.0, llm=llm or LLMSettings(),
                             twilio=twilio_settings(fake, public_url=PUBLIC, **twilio),
                             vision=vision or VisionSettings())
    claw = Claw(settings, devices=home.devices, cameras=cameras)
    claw.outbox.base_delay, claw.outbox.max_delay, claw.outbox.poll_seconds = 0.02, 0.1, 0.02
    server = ClawServer(settings, claw, host="127.0.0.1", port=0)
    serving = asyncio.create_task(server.serve(), name="claw-server")
    try:
        await until(lambda: server.ready.is_set() or serving.done(), "the claw to listen")
        if serving.done():
            serving.result()  # raises the start-up error
            pytest.fail("the claw server stopped before it was ready")
        port = server.server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        fake.route(PUBLIC, url)
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=10) as http:
            yield LiveClaw(claw, url, http, fake)
    finally:
        server.stop()
        await serving


# ----------------------------------------------------------------------------------- subprocesses
class WhatsAppProcesses(ClawProcesses):
    """`claw run` subprocesses (see tests/test_durability.py) with the WhatsApp channel pointed at FakeTwilio."""

    def __init__(self, tmp_path: Path, home: SimHome, llm: Any, fake: FakeTwilio) -> None:
        super().__init__(tmp_path, home, llm)
        self.fake = fake
        self.env.update({
            "CLAW_TWILIO__ACCOUNT_SID": fake.account_sid,
            "CLAW_TWILIO__AUTH_TOKEN": fake.auth_token,
            "CLAW_TWILIO__FROM_NUMBER": SANDBOX,
            "CLAW_TWILIO__PUBLIC_URL": PUBLIC,
            "CLAW_TWILIO__OWNERS": f'["{OWNER}"]',
            "CLAW_TWILIO__API_BASE": fake.base_url,
        })

    def start(self) -> tuple[subprocess.Popen[bytes], str]:
        """Start `claw run` on a free CLAW_WEB__PORT, routed from the public URL *before* it starts (a reply
        left in the outbox goes out at once, and its callbacks must find this process); waits for health."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        self.fake.route(PUBLIC, url)  # the latest route wins: callbacks follow the restarted claw
        n = len(self.procs)
        env = {**self.env, "CLAW_WEB__PORT": str(port)}
        with open(self.logs / f"run{n}.out.log", "wb") as out, open(self.logs / f"run{n}.err.log", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "claw.cli", "run"], cwd=self.tmp_path, env=env,
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.procs.append(proc)

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/api/health", timeout=1, trust_env=False).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 30, "/api/health", (proc,), self.logs)
        return proc, url

    def post(self, url: str, params: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{url}/twilio/whatsapp", data=params, headers=signed(self.fake, params), timeout=10,
                          trust_env=False)

    def store(self) -> Store:
        return Store(self.db_path)


# ---------------------------------------------------------------------------------- loopback guard
class LoopbackGuard:
    """Refuses (and records) any name lookup or connection from this process to a non-loopback address."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def allowed(self, host: Any) -> bool:
        if host is None:  # a passive lookup (binding)
            return True
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name == "localhost":
            return True
        try:
            return ipaddress.ip_address(name.split("%")[0]).is_loopback
        except ValueError:
            return False

    def install(self, monkeypatch: pytest.MonkeyPatch) -> LoopbackGuard:
        real_getaddrinfo = socket.getaddrinfo
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
        guard = self

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not guard.allowed(host):
                guard.refused.append(str(host))
                raise socket.gaierror(f"test guard: no lookups of {host!r}")
            return real_getaddrinfo(host, *args, **kwargs)

        def check(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not guard.allowed(address[0]):
                guard.refused.append(str(address[0]))
                raise ConnectionRefusedError(f"test guard: no connections to {address[0]}")

        def connect(sock: socket.socket, address: Any) -> None:
            check(sock, address)
            real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            check(sock, address)
            return real_connect_ex(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        return self
