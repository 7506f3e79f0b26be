"""WhatsApp ingest and reply latency: signed Twilio webhooks into a real `claw run` process on loopback.

Usage: python bench/webhooks.py [--messages 10000] [--rate 1000] [--concurrency 8] [--latency 200]

1. Ingest: a separate load process sends --messages signed webhooks (distinct MessageSids, 20 owner
   numbers) over keep-alive connections: as fast as the server answers (closed loop: capacity), then
   paced at --rate per second (open loop, as Twilio delivers: the answer time the target is about),
   both with the default per-sender rate limit (a flood: most rows are stored as rate-limited), and a
   fifth as many with the limit lifted (every message becomes an agent turn and a reply). It prints the
   accepted rate, the webhook answer p50/p99, and checks in the database that every message was stored.
2. Reply latency: --latency sequential "turn on/off the kitchen light" webhooks from the owner; the time
   from sending the webhook to the reply's Twilio API call arriving at the loopback Twilio fake.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import yaml  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from devices.sim.home import SimHome, random_loopback_base  # noqa: E402
from tests.fakes.twilio_server import FakeTwilio  # noqa: E402

PUBLIC = "https://bench.example.test"
SANDBOX = "whatsapp:+14155238886"
OWNERS = [f"+1555000{i:04d}" for i in range(20)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def signed_request(token: str, port: int, params: dict[str, str]) -> bytes:
    body = urllib.parse.urlencode(params).encode()
    signature = RequestValidator(token).compute_signature(f"{PUBLIC}/twilio/whatsapp", params)
    head = (f"POST /twilio/whatsapp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def message(sid: str, sender: str, text: str, account: str) -> dict[str, str]:
    return {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": account, "From": f"whatsapp:{sender}",
            "To": SANDBOX, "Body": text, "NumMedia": "0", "ProfileName": "Bench"}


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def _blast(port: int, requests: list[bytes], concurrency: int) -> tuple[list[float], float, int]:
    """Send every request once over `concurrency` keep-alive connections; latency per request (ms)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    latencies: list[float] = []
    bad = 0

    async def worker() -> None:
        nonlocal bad
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not queue.empty():
            req = queue.get_nowait()
            t0 = time.perf_counter()
            writer.write(req)
            status = await _read_response(reader)
            latencies.append((time.perf_counter() - t0) * 1000)
            bad += status != 200
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - t0, bad


async def _paced(port: int, requests: list[bytes], rate: float, connections: int
                 ) -> tuple[list[float], float, int]:
    """Open loop: request i is due at i/rate seconds, whatever the answers do (as Twilio sends them);
    latency counts from the due time, so time spent waiting for a free connection is included."""
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    bad = 0

    async def one(req: bytes, due: float) -> None:
        nonlocal bad
        reader, writer = await pool.get()
        writer.write(req)
        status = await _read_response(reader)
        latencies.append((time.perf_counter() - due) * 1000)
        bad += status != 200
        pool.put_nowait((reader, writer))

    t0 = time.perf_counter() + 0.05
    tasks = []
    for i, req in enumerate(requests):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(req, due)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    while not pool.empty():
        pool.get_nowait()[1].close()
    return latencies, wall, bad


def _load_process(port: int, requests: list[bytes], concurrency: int, rate: float | None, out: mp.Queue) -> None:
    if rate:
        out.put(asyncio.run(_paced(port, requests, rate, 64)))
    else:
        out.put(asyncio.run(_blast(port, requests, concurrency)))


class Server:
    """`claw run` in its own process, with WhatsApp configured against the loopback Twilio fake."""

    def __init__(self, fake: FakeTwilio, devices_file: Path, data_dir: Path, rate_limit: int) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAW_")}
        env.update({
            "CLAW_DATA_DIR": str(data_dir), "CLAW_CONFIG": str(data_dir / "none.toml"),
            "CLAW_DEVICES_FILE": str(devices_file), "CLAW_LOG_LEVEL": "WARNING",
            "CLAW_TWILIO__ACCOUNT_SID": fake.account_sid, "CLAW_TWILIO__AUTH_TOKEN": fake.auth_token,
            "CLAW_TWILIO__FROM_NUMBER": SANDBOX, "CLAW_TWILIO__PUBLIC_URL": PUBLIC,
            "CLAW_TWILIO__OWNERS": json.dumps(OWNERS), "CLAW_TWILIO__API_BASE": fake.base_url,
            "CLAW_TWILIO__RATE_LIMIT_PER_MINUTE": str(rate_limit),
        })
        self.db = data_dir / "claw.db"
        self.proc = subprocess.Popen([sys.executable, "-m", "claw.cli", "run", "--port", str(self.port)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("claw run did not start")

    def count(self, sql: str) -> int:
        with sqlite3.connect(self.db, timeout=10) as conn:
            return int(conn.execute(sql).fetchone()[0])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


def ingest(fake: FakeTwilio, devices: Path, tmp: Path, n: int, concurrency: int, rate_limit: int,
           label: str, rate: float | None = None) -> None:
    server = Server(fake, devices, tmp / label, rate_limit)
    try:
        requests = [signed_request(fake.auth_token, server.port,
                                   message(f"SM{rate_limit:08x}{i:024x}", OWNERS[i % len(OWNERS)],
                                           "what's the temperature in the hallway?", fake.account_sid))
                    for i in range(n)]
        out: mp.Queue = mp.Queue()
        proc = mp.Process(target=_load_process, args=(server.port, requests, concurrency, rate, out))
        proc.start()
        latencies, wall, bad = out.get(timeout=600)
        proc.join()
        stored = server.count("SELECT COUNT(*) FROM inbox WHERE channel = 'whatsapp'")
        turns = server.count("SELECT COUNT(*) FROM inbox WHERE channel = 'whatsapp' AND status != 'denied'")
        how = f"paced at {rate:,.0f}/s" if rate else f"closed loop, {concurrency} connections"
        print(f"ingest, {label}, {how}: {n} signed webhooks in {wall:.2f} s = {n / wall:,.0f}/s accepted; "
              f"answer p50 {pct(latencies, 50):.2f} ms, p99 {pct(latencies, 99):.2f} ms; "
              f"non-200: {bad}; stored {stored}/{n} (lost {n - stored}); {turns} became agent turns")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and server.count(
                "SELECT COUNT(*) FROM inbox WHERE status IN ('new', 'working')"):
            time.sleep(0.2)
        drained = time.monotonic() - (deadline - 300)
        print(f"  backlog of {turns} turns finished {drained:.1f} s after the burst")
    finally:
        server.stop()


def latency(fake: FakeTwilio, devices: Path, tmp: Path, n: int) -> None:
    server = Server(fake, devices, tmp / "latency", rate_limit=100_000)
    try:
        times: list[float] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
            for i in range(n + 10):
                text = "turn on the kitchen light" if i % 2 else "turn off the kitchen light"
                params = message(f"SM{0xfeed:08x}{i:024x}", OWNERS[0], text, fake.account_sid)
                sig = RequestValidator(fake.auth_token).compute_signature(f"{PUBLIC}/twilio/whatsapp", params)
                before = len(fake.messages)
                t0 = time.perf_counter()
                client.post("/twilio/whatsapp", data=params, headers={"X-Twilio-Signature": sig})
                deadline = time.monotonic() + 10
                while len(fake.messages) == before and time.monotonic() < deadline:
                    time.sleep(0.0005)
                if i >= 10:  # the first turns warm caches and connections
                    times.append((fake.messages[before]["at"] - t0) * 1000)
        print(f"reply latency (webhook sent -> reply's Twilio API call received), {n} local-tier turns: "
              f"p50 {pct(times, 50):.1f} ms, p99 {pct(times, 99):.1f} ms, mean {statistics.fmean(times):.1f} ms")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced ingest: webhooks per second")
    parser.add_argument("--latency", type=int, default=200)
    args = parser.parse_args()
    home = SimHome.load(ip_base=random_loopback_base())
    home.start()
    fake = FakeTwilio(statuses=()).start()  # no status callbacks: they would go to the public URL
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            devices = tmp / "devices.yaml"
            devices.write_text(yaml.safe_dump([d.to_dict() for d in home.devices]))
            ingest(fake, devices, tmp, args.messages, args.concurrency, 20, "rate limit 20/min/sender")
            ingest(fake, devices, tmp, args.messages, args.concurrency, 20, "rate limit 20/min/sender",
                   rate=args.rate)
            ingest(fake, devices, tmp, args.messages // 5, args.concurrency, 1_000_000, "no rate limit")
            latency(fake, devices, tmp, args.latency)
    finally:
        fake.stop()
        home.stop()


if __name__ == "__main__":
    main()
