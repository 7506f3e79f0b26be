"""Start-up and idle memory of `claw run` (and `claw demo`): time until /api/health answers, then RSS.

Usage: python bench/startup.py [--runs N]
Each run starts a fresh process on a free loopback port with a temporary data dir, no LLM, no vision.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one(command: str) -> tuple[float, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CLAW_")},
               "CLAW_DATA_DIR": tmp, "CLAW_CONFIG": str(Path(tmp) / "none.toml")}
        args = [sys.executable, "-m", "claw.cli", command, "--port", str(port)]
        if command == "demo":
            args.append("--no-console")
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        try:
            deadline = t0 + 30
            while time.perf_counter() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.02)
            ready = time.perf_counter() - t0
            time.sleep(2.0)  # idle
            return ready, rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    for command in ("run", "demo"):
        results = [one(command) for _ in range(runs)]
        ready = [r for r, _ in results]
        rss = [m for _, m in results]
        print(f"claw {command}: ready p50 {statistics.median(ready):.2f} s (max {max(ready):.2f} s), "
              f"idle RSS p50 {statistics.median(rss):.0f} MB (max {max(rss):.0f} MB) over {runs} runs")


if __name__ == "__main__":
    main()
