"""A LAN in Linux network namespaces for tests and benchmarks: a bridge, a scanner, hosts running simulators.

Everything lives in namespaces this module creates (unique names with a random suffix) and deletes: the
bridge sits in its own namespace, every veth is created directly between two of our namespaces, and nothing
is added to the host's namespace, so a sweep run in the scanner namespace can only reach the simulated hosts.
Needs root (or CAP_NET_ADMIN) and `ip` from iproute2; `netns_unavailable()` says why not when it cannot work.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from devices.errors import DeviceError
from devices.sim.http_devices import SimHttpDevice

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")


class NetnsError(DeviceError):
    """A namespace could not be created, entered or removed."""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")


def netns_unavailable() -> str | None:
    """None when `ip netns` works here (checked by creating and deleting a namespace), else the reason."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    name = f"hcprobe{secrets.token_hex(4)}"
    try:
        _ip("netns", "add", name)
    except (NetnsError, OSError, subprocess.SubprocessError) as exc:
        return f"cannot create a network namespace ({exc}); needs root or CAP_NET_ADMIN"
    try:
        _ip("-n", name, "link", "set", "lo", "up")
    except NetnsError as exc:
        return f"cannot configure a network namespace ({exc})"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10, check=False)
    return None


def netns_inode(name: str | None = None) -> int:
    """The inode of a named namespace, or of the calling thread's network namespace when `name` is None."""
    path = NETNS_DIR / name if name else Path(f"/proc/self/task/{threading.get_native_id()}/ns/net")
    return os.stat(path).st_ino


def run_in_netns(name: str, fn: Callable[..., T], *args: Any, timeout: float = 120.0) -> T:
    """Run `fn(*args)` in a new thread that has entered network namespace `name` first; return its result
    or raise its exception. Sockets and processes made in that thread (and threads it starts) stay in the
    namespace. Refuses to run `fn` at all if entering the namespace fails or cannot be verified."""
    outcome: dict[str, Any] = {}
    want = netns_inode(name)

    def enter_and_run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(NETNS_DIR / name, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise NetnsError(f"setns({name}) failed: {os.strerror(err)}")
            finally:
                os.close(fd)
            if netns_inode() != want:
                raise NetnsError(f"thread is not in namespace {name} after setns")
            outcome["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=enter_and_run, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise NetnsError(f"work in namespace {name} did not finish within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@dataclass
class NetnsHost:
    """One simulated host: its namespace, address and the simulators serving in it."""

    namespace: str
    address: str
    sims: list[SimHttpDevice] = field(default_factory=list)


@dataclass
class NetnsLan:
    """A /24 LAN of namespaces on one bridge: `scanner` at .1, hosts at .2, .3, ...; use as a context manager
    (or call `create()`/`close()`); `close()` always removes every namespace it made."""

    hosts_count: int = 10
    prefix: str = "10.77.0"
    tag: str = field(default_factory=lambda: f"hc{secrets.token_hex(3)}")
    hosts: list[NetnsHost] = field(default_factory=list)
    _made: list[str] = field(default_factory=list)

    @property
    def bridge_ns(self) -> str:
        return f"{self.tag}-lan"

    @property
    def scanner(self) -> str:
        return f"{self.tag}-scan"

    @property
    def scanner_address(self) -> str:
        return f"{self.prefix}.1"

    @property
    def subnet(self) -> str:
        return f"{self.prefix}.0/24"

    def _add_ns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._made.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def _attach(self, name: str, index: int, address: str) -> None:
        port = f"p{index}"
        _ip("-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", self.bridge_ns)
        _ip("-n", self.bridge_ns, "link", "set", port, "master", "br0")
        _ip("-n", self.bridge_ns, "link", "set", port, "up")
        _ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")

    def create(self) -> NetnsLan:
        if not 1 <= self.hosts_count <= 250:
            raise NetnsError("a namespace LAN has 1 to 250 hosts")
        try:
            self._add_ns(self.bridge_ns)
            _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
            self._add_ns(self.scanner)
            self._attach(self.scanner, 1, self.scanner_address)
            for i in range(2, self.hosts_count + 2):
                name = f"{self.tag}-h{i}"
                self._add_ns(name)
                self._attach(name, i, f"{self.prefix}.{i}")
                self.hosts.append(NetnsHost(name, f"{self.prefix}.{i}"))
        except BaseException:
            self.close()
            raise
        return self

    def serve(self, host: NetnsHost, sim: SimHttpDevice) -> SimHttpDevice:
        """Start `sim` (built with host=host.address) so that it listens inside the host's namespace."""
        if sim.host != host.address:
            raise NetnsError(f"{sim.name} is built for {sim.host}, not {host.address}")
        run_in_netns(host.namespace, sim.start)
        host.sims.append(sim)
        return sim

    def in_scanner(self, fn: Callable[..., T], *args: Any, timeout: float = 120.0) -> T:
        """Run `fn(*args)` in the scanner's namespace (see run_in_netns)."""
        return run_in_netns(self.scanner, fn, *args, timeout=timeout)

    def sims(self) -> Iterable[SimHttpDevice]:
        return (s for h in self.hosts for s in h.sims)

    def close(self) -> None:
        """Stop every simulator and delete every namespace made (their veths and the bridge go with them)."""
        for sim in list(self.sims()):
            try:
                sim.stop()
            except Exception:  # noqa: BLE001 - keep cleaning up
                pass
        for host in self.hosts:
            host.sims.clear()
        for name in reversed(self._made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10, check=False)
        self._made.clear()

    def __enter__(self) -> NetnsLan:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.close()
