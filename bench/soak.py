"""Soak: signed WhatsApp webhooks with device commands into `claw run`, SIGKILLed mid-command several times.

Usage: python bench/soak.py [--messages 1200] [--kills 4] [--rate 40] [--senders 4] [--seed 7]

A simulated home and a loopback Twilio fake run in this process; `claw run` (WhatsApp configured against
the fake) runs as a subprocess on one port. One thread sends --messages signed webhooks at --rate per second
from --senders owner numbers, retrying each until it is accepted (as when the claw is down). Every sender
owns its own devices (lock, lights, shade, thermostat, garage) and the claw serialises a sender's turns, so
every state change a simulator applies belongs to exactly one audit row (the latest claimed before it on that
device). The mix: lock / unlock (never confirmed: it must never happen), garage open (likewise), lights
on/off/dim, shade open/close/position, thermostat targets, a state question.

--kills times, spread over the run, the lock and one light are made to hang; once the claw has claimed a
command on one of them it is SIGKILLed mid-command. Then the hung requests are alternately applied late (the
device recovered and did it) or dropped (the device restarted without it), and the claw is restarted on the
same data dir and port. At the end, once every turn is answered and every unknown outcome settled, it prints:

  lost           inbound messages stored but never answered (no reply accepted by Twilio)
  repeated       physical commands applied more than once for one audit row (the simulators' logs vs the audit)
  falsely-done   steps of replies that say "Done" while the device's state at the reply did not show the effect
  unconfirmed    unlocks / garage moves applied without a YES (none is ever given)

Target: 0 / 0 / 0 / 0. `--claw-src DIR` runs the claw from another source tree (e.g. an older commit
extracted with `git archive`), to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import socketserver
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import yaml  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from devices.adapters.spec import builtin_specs, extract_state  # noqa: E402
from devices.effects import shows_effect  # noqa: E402
from devices.sim.home import SimHome, random_loopback_base  # noqa: E402
from devices.sim.http_devices import LoopbackHTTPServer, SimHttpDevice  # noqa: E402
from tests.fakes.twilio_server import FakeTwilio  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PUBLIC = "https://soak.example.test"
SANDBOX = "whatsapp:+14155238886"
LOCK = "front door"
HANG_LIGHTS = ("kitchen light", "bedroom light", "hallway light", "living room lamp")
RISKY = {("front door", "unlock"), ("garage door", "open"), ("garage door", "close")}


def _quiet_handle_error(self: LoopbackHTTPServer, request: Any, client_address: Any) -> None:
    """A hung request answered after the claw was killed finds its connection gone: not worth a traceback."""
    if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
        socketserver.TCPServer.handle_error(self, request, client_address)


LoopbackHTTPServer.handle_error = _quiet_handle_error  # type: ignore[method-assign]  # this process only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- what each sender says --------------------------------------------------------------------------
def sender_lines(rng: random.Random) -> list[list[str]]:
    """Per sender, a pool of sentences about that sender's own devices only."""
    pct = [10, 25, 40, 55, 70, 85, 100]
    return [
        ["lock the front door"] * 4 + ["unlock the front door"] * 2
        + ["turn on the kitchen light", "turn off the kitchen light"]
        + [f"set the kitchen light to {p}%" for p in rng.sample(pct, 3)],
        ["turn on the bedroom light", "turn off the bedroom light"]
        + [f"set the bedroom light to {p}%" for p in rng.sample(pct, 3)] + ["open the garage door"],
        ["turn on the hallway light", "turn off the hallway light", "open the bedroom shade",
         "close the bedroom shade"] + [f"set the bedroom shade to {p}%" for p in rng.sample(pct, 3)],
        ["turn on the living room lamp", "turn off the living room lamp"]
        + [f"dim the living room lamp to {p}%" for p in rng.sample(pct, 3)]
        + [f"set the thermostat to {t} degrees" for t in (18, 19, 20, 21, 22, 23)]
        + ["what's the temperature in the hallway?"],
    ]


def messages(n: int, senders: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(MessageSid, owner number, text) for n messages, round-robin over the senders."""
    pools = sender_lines(rng)
    owners = [f"+1555010{i:04d}" for i in range(senders)]
    out = []
    for i in range(n):
        s = i % senders
        out.append((f"SM{0x50a4:08x}{i:024x}", owners[s], rng.choice(pools[s % len(pools)])))
    return out


# ---- the simulators' own record: every applied change, with the state after it ------------------------
@dataclass
class Applied:
    at: float
    device: str
    changes: dict[str, Any]
    state: dict[str, Any]


@dataclass
class Recorder:
    applied: list[Applied] = field(default_factory=list)
    initial: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, name: str, sim: SimHttpDevice) -> None:
        self.initial[name] = sim.state
        original = sim.change

        def change(changes: dict[str, Any], *, record: str = "POST /api/state") -> None:
            original(changes, record=record)
            with self.lock:
                self.applied.append(Applied(time.time(), name, dict(changes), sim.state))

        sim.change = change  # type: ignore[method-assign]


# ---- `claw run` as a subprocess ---------------------------------------------------------------------
class ClawRun:
    def __init__(self, fake: FakeTwilio, devices_file: Path, data_dir: Path, owners: list[str], port: int,
                 src: Path, timeout: float) -> None:
        self.port = port
        self.db = data_dir / "claw.db"
        self.logs = data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAW_")}
        env.update({
            "CLAW_DATA_DIR": str(data_dir), "CLAW_CONFIG": str(data_dir / "none.toml"),
            "CLAW_DEVICES_FILE": str(devices_file), "CLAW_LOG_LEVEL": "INFO",
            "CLAW_DEVICE_TIMEOUT": str(timeout),
            "CLAW_TWILIO__ACCOUNT_SID": fake.account_sid, "CLAW_TWILIO__AUTH_TOKEN": fake.auth_token,
            "CLAW_TWILIO__FROM_NUMBER": SANDBOX, "CLAW_TWILIO__PUBLIC_URL": PUBLIC,
            "CLAW_TWILIO__OWNERS": json.dumps(owners), "CLAW_TWILIO__API_BASE": fake.base_url,
            "CLAW_TWILIO__RATE_LIMIT_PER_MINUTE": "1000000",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")])),
        })
        self.env = env
        self.src = src
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> float:
        """Start `claw run` and wait for /api/health; returns the seconds it took."""
        t0 = time.monotonic()
        with open(self.logs / f"run{self.runs}.log", "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "claw.cli", "run", "--port", str(self.port)],
                                         cwd=self.src, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        self.runs += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"claw run exited ({self.proc.returncode}); see {self.logs}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=0.5).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("claw run did not start")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(self.db, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, params)]
        except sqlite3.OperationalError:  # the schema is not there yet
            return []
        finally:
            conn.close()


# ---- sending ------------------------------------------------------------------------------------------
class Sender(threading.Thread):
    """Posts every message once accepted (200), in order, paced at `rate` per second."""

    def __init__(self, port: int, token: str, account: str, msgs: list[tuple[str, str, str]], rate: float) -> None:
        super().__init__(name="soak-sender", daemon=True)
        self.url = f"http://127.0.0.1:{port}/twilio/whatsapp"
        self.validator = RequestValidator(token)
        self.account = account
        self.msgs = msgs
        self.rate = rate
        self.sent = 0
        self.retries = 0

    def run(self) -> None:
        t0 = time.monotonic()
        client = httpx.Client(timeout=5)
        for i, (sid, owner, text) in enumerate(self.msgs):
            delay = t0 + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            params = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": self.account,
                      "From": f"whatsapp:{owner}", "To": SANDBOX, "Body": text, "NumMedia": "0",
                      "ProfileName": "Soak"}
            signature = self.validator.compute_signature(f"{PUBLIC}/twilio/whatsapp", params)
            body = urllib.parse.urlencode(params)
            headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
            while True:  # Twilio's delivery, in effect: until the claw takes it (a duplicate sid is a no-op)
                try:
                    if client.post(self.url, content=body, headers=headers).status_code == 200:
                        break
                except httpx.HTTPError:
                    client.close()
                    client = httpx.Client(timeout=5)
                self.retries += 1
                time.sleep(0.05)
            self.sent = i + 1
        client.close()


# ---- the run --------------------------------------------------------------------------------------------
def kill_mid_command(claw: ClawRun, home: SimHome, k: int, wait: float) -> str:
    """Hang the lock and a light until the claw claims a command on one of them, SIGKILL it, then let the
    hung requests apply late (even k) or drop them (odd k). Returns what happened, for the log."""
    hung = [LOCK, HANG_LIGHTS[k % len(HANG_LIGHTS)]]
    sims = [home.http[name] for name in hung]
    ids = [next(d.id for d in home.devices if d.name == name) for name in hung]
    for sim in sims:
        sim.hang = True
    marks = ",".join("?" * len(ids))
    deadline = time.monotonic() + wait
    claimed: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not claimed:
        claimed = claw.query(f"SELECT device_id, command FROM audit WHERE status = 'started'"  # in flight now
                             f" AND device_id IN ({marks})", tuple(ids))
        time.sleep(0.02)
    time.sleep(0.2)  # the request reaches the device and hangs there
    claw.kill()
    if k % 2 == 0:
        for sim in sims:
            sim.hang = False  # the device recovers and carries out what it was sent
        how = "applied late"
    else:
        for sim in sims:
            sim.stop()  # the device restarts: what it was sent is lost
            sim.hang = False
            sim.start()
        how = "dropped"
    what = ", ".join(f"{r['command']}" for r in claimed) or "nothing claimed yet"
    return f"kill {k + 1}: mid-command on {' + '.join(hung)} ({what}); hung requests {how}"


def settled(claw: ClawRun) -> bool:
    """Every turn answered, every reply handed to Twilio, every unknown outcome settled."""
    busy = claw.query("SELECT COUNT(*) AS n FROM inbox WHERE status IN ('new', 'working')")
    unsent = claw.query("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")
    unknown = claw.query("SELECT COUNT(*) AS n FROM audit WHERE status = 'unknown' AND settled_at IS NULL")
    counts = [rows[0]["n"] if rows else 0 for rows in (busy, unsent, unknown)]  # no `unknown`: an older schema
    return bool(busy) and not any(counts)


def analyse(claw: ClawRun, home: SimHome, rec: Recorder, fake: FakeTwilio) -> dict[str, Any]:
    specs = builtin_specs()
    by_id = {d.id: d for d in home.devices}
    inbox = claw.query("SELECT * FROM inbox WHERE channel = 'whatsapp' ORDER BY id")
    outbox = claw.query("SELECT * FROM outbox ORDER BY id")
    audit = claw.query("SELECT * FROM audit ORDER BY id")
    replies: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in outbox:
        if row["inbox_id"] is not None:
            replies[row["inbox_id"]].append(row)
    delivered = {m["sid"] for m in fake.messages}
    lost = [r["id"] for r in inbox if r["status"] != "denied" and not any(
        o["status"] in ("sent", "delivered", "read") and o["external_id"] in delivered for o in replies[r["id"]])]

    # attribute every applied change to the audit row claimed last before it on that device
    rows_by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in audit:
        rows_by_device[by_id[row["device_id"]].name if row["device_id"] in by_id else row["device_id"]].append(row)
    per_row: Counter[int] = Counter()
    orphans = 0
    for change in rec.applied:
        candidates = [r for r in rows_by_device.get(change.device, []) if r["created_at"] <= change.at]
        if not candidates:
            orphans += 1
            continue
        per_row[max(candidates, key=lambda r: r["created_at"])["id"]] += 1
    repeated = sum(n - 1 for n in per_row.values() if n > 1)
    unconfirmed = sum(1 for r in audit if r["device_id"] in by_id
                      and (by_id[r["device_id"]].name, r["command"]) in RISKY and per_row[r["id"]])

    # a reply that says Done: the state of each of its devices at that moment must show the step's effect
    falsely_done = claims = 0
    for r in inbox:
        texts = replies[r["id"]]
        if not texts or not any(t["text"].startswith("Done") for t in texts):
            continue
        at = min(t["created_at"] for t in texts)
        for step in (a for a in audit if a["inbox_id"] == r["id"]):
            device = by_id.get(step["device_id"])
            if device is None or device.adapter is None:
                continue
            claims += 1
            raw = rec.initial[device.name]
            for change in rec.applied:
                if change.device == device.name and change.at <= at:
                    raw = change.state
            state = extract_state(specs[device.adapter], {"/api/state": raw})
            if shows_effect(step["command"], json.loads(step["args"] or "{}"), state) is not True:
                falsely_done += 1
    texts = [t["text"] for t in outbox]
    return {
        "stored": sum(1 for r in inbox if r["status"] != "denied"), "lost": len(lost), "repeated": repeated,
        "falsely_done": falsely_done, "done_claims": claims, "unconfirmed": unconfirmed, "orphans": orphans,
        "resumed": sum(1 for r in inbox if (r["attempts"] or 0) > 1),
        "audit": Counter(r["status"] for r in audit), "applied": len(rec.applied),
        "uncertain_replies": sum(1 for t in texts if "may still" in t or "can't tell" in t or "cannot tell" in t),
        "followups": sum(1 for t in outbox if t.get("proactive")),
        "twilio_messages": len(fake.messages), "outbox_rows": len(outbox),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1200)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--rate", type=float, default=40.0, help="webhooks per second")
    parser.add_argument("--senders", type=int, default=4, help="owner numbers, each with its own devices (≤ 4)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--device-timeout", type=float, default=10.0)
    parser.add_argument("--claw-src", type=Path, default=REPO, help="source tree the claw runs from")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs, database)")
    args = parser.parse_args()
    senders = max(1, min(args.senders, len(sender_lines(random.Random(0)))))
    rng = random.Random(args.seed)
    msgs = messages(args.messages, senders, rng)
    owners = sorted({o for _, o, _ in msgs})

    home = SimHome.load(ip_base=random_loopback_base())
    home.start()
    rec = Recorder()
    for name, sim in home.http.items():
        rec.watch(name, sim)
    fake = FakeTwilio(statuses=()).start()
    tmp = Path(tempfile.mkdtemp(prefix="claw-soak-"))
    claw = ClawRun(fake, tmp / "devices.yaml", tmp / "data", owners, free_port(), args.claw_src.resolve(),
                   args.device_timeout)
    (tmp / "devices.yaml").write_text(yaml.safe_dump([d.to_dict() for d in home.devices]))
    t0 = time.monotonic()
    try:
        starts = [claw.start()]
        sender = Sender(claw.port, fake.auth_token, fake.account_sid, msgs, args.rate)
        sender.start()
        for k in range(args.kills):
            due = args.messages * (k + 1) // (args.kills + 1)
            while sender.sent < due and sender.is_alive():
                time.sleep(0.05)
            what = kill_mid_command(claw, home, k, wait=10.0)
            starts.append(claw.start())
            print(f"{time.monotonic() - t0:5.1f} s  {what}; restarted in {starts[-1]:.1f} s", flush=True)
        sender.join()
        deadline = time.monotonic() + 180
        while not settled(claw) and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(1.0)  # the last replies' Twilio calls
        wall = time.monotonic() - t0
        res = analyse(claw, home, rec, fake)
    finally:
        claw.stop()
        fake.stop()
        home.stop()
    print(f"{args.messages} signed webhooks from {senders} owners at {args.rate:g}/s, {args.kills} SIGKILLs "
          f"mid-command, {wall:.0f} s; claw restarts ready in {max(starts[1:] or [0]):.1f} s at most; "
          f"{sender.retries} webhook retries while it was down")
    print(f"stored {res['stored']}, resumed turns {res['resumed']}, simulator state changes {res['applied']}, "
          f"audit {dict(res['audit'])}, replies saying it may still happen / cannot tell "
          f"{res['uncertain_replies']}, follow-ups {res['followups']}, Twilio messages {res['twilio_messages']} "
          f"for {res['outbox_rows']} outbox rows")
    print(f"lost {res['lost']}  repeated {res['repeated']}  falsely-done {res['falsely_done']} "
          f"(of {res['done_claims']} done claims)  unconfirmed {res['unconfirmed']}  "
          f"(unattributed changes {res['orphans']})")
    if args.keep:
        print(f"data: {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
