"""CPU this process's simulator threads have used (Linux /proc), to tell a bench's claw from its simulated home."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from devices.sim.loopback_http import REQUEST_THREAD_PREFIX, finished_request_cpu

SIM_THREADS = ("sim-", "simcam-", "sonos-sim-", "sonos-ssdp-", "ssdp-")  # the names devices/sim gives its threads


def thread_cpu(native_id: int) -> float:
    """User + system CPU seconds one thread of this process has used; 0 once it has ended."""
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split() -> dict[str, float]:
    """CPU seconds this process has used so far: `total`, and `sims` by the simulators' threads (living ones by
    name, request threads that ended by what they counted as they ended); the rest is the claw's."""
    living = sum(thread_cpu(t.native_id or 0) for t in threading.enumerate()
                 if t.name.startswith(SIM_THREADS) and t.name != f"{REQUEST_THREAD_PREFIX}-done")
    times = os.times()
    return {"total": times.user + times.system, "sims": living + finished_request_cpu()}
