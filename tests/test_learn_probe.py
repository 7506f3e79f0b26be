"""Exploring an unknown device: GET only, its host only, at most N requests, M bytes and T seconds; redirects and
links off the device recorded and refused, never followed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devices.learn.explore import explore
from devices.learn.links import links_in, same_host_path
from devices.sim.home import random_loopback_base
from devices.sim.http_devices import RawReply
from devices.sim.pool import SimPool
from devices.sim.vendor_base import VendorSim


class Maze(VendorSim):
    """A device whose pages misbehave: many links, huge and slow answers, redirects on and off the device."""

    MODEL = "Maze"
    elsewhere = ""  # another device's host:port: it must never be contacted

    def __init__(self, host: str) -> None:
        super().__init__(host=host, name="maze")
        self.requests: list[tuple[str, str]] = []
        self.slow = 0.0

    def _checks(self, initial: bool) -> dict[str, Any]:
        return {}

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        self.requests.append((method, path))
        if path.startswith("/slow"):
            time.sleep(self.slow)  # outside the device lock: the other requests go on
        return super().handle(method, path, body)

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path == "/":
            links = "".join(f'<a href="/page/{i}">{i}</a>' for i in range(100))
            off = (f'<a href="http://{self.elsewhere}/steal">x</a><a href="//{self.elsewhere}/y">y</a>'
                   f'<a href="https://{self.host}:{self._port}/tls">z</a><a href="/go-away">r</a>'
                   '<a href="/moved">m</a><a href="/big">b</a><a href="/slow/1">s</a>')
            return 200, RawReply(f"<html><body>{off}{links}</body></html>".encode())
        if path == "/go-away":
            return 302, RawReply(b"", headers=(("Location", f"http://{self.elsewhere}/api/v1/status"),))
        if path == "/moved":
            return 301, RawReply(b"", headers=(("Location", "/api/real"),))
        if path == "/api/real":
            return 200, {"real": True}
        if path == "/big":
            return 200, {"blob": "x" * 200_000}
        if path.startswith("/page/") or path.startswith("/slow"):
            return 200, {"page": path}
        return 404, {"error": "no"}


@pytest.fixture
def devices() -> Iterator[tuple[Maze, SimPool]]:
    other = SimPool(host=random_loopback_base()).start()
    maze = Maze(random_loopback_base())
    maze.elsewhere = other.address
    maze.start()
    yield maze, other
    maze.stop()
    other.stop()


async def test_count_size_host_and_redirect_bounds(devices: tuple[Maze, SimPool]) -> None:
    maze, other = devices
    result = await explore(maze.address, ["/moved"])
    assert len(result.record.entries) <= 24 and len(maze.requests) <= 24
    assert result.stopped == "request budget"
    assert {m for m, _ in maze.requests} == {"GET"}
    assert other.requests == []  # nothing off the device, whatever the links and redirects said
    assert any("/go-away" in r and other.address in r for r in result.refused)
    assert any("/steal" in r for r in result.refused) and any("/tls" in r for r in result.refused)
    entries = {e.path: e for e in result.record.entries}
    assert entries["/go-away"].status == 302 and entries["/go-away"].location is not None
    assert entries["/moved"].status == 301 and "/api/real" in entries  # on the device: asked as a fresh GET
    assert result.answers_by_path()["/api/real"] == {"real": True}
    big = entries["/big"]
    assert big.error is not None and "larger than" in big.error and big.text == ""
    assert "/big" not in result.answers_by_path()
    assert all(len(e.text) <= 64 * 1024 for e in result.record.entries)


async def test_time_bounds(devices: tuple[Maze, SimPool]) -> None:
    maze, _ = devices
    maze.slow = 3.0
    started = time.monotonic()
    result = await explore(maze.address, ["/slow/2", "/slow/3"], request_timeout=0.5, total_time=1.5)
    assert time.monotonic() - started < 3.0  # not the 3 s the device takes per answer
    slow = [e for e in result.record.entries if e.path.startswith("/slow")]
    assert slow and all(e.error == "timed out" or (e.error or "").startswith("no answer within") for e in slow)
    result = await explore(maze.address, [f"/slow/{i}" for i in range(10)], request_timeout=5.0, total_time=1.0)
    assert result.seconds < 2.5
    assert any((e.error or "").startswith("no answer within") for e in result.record.entries)


def test_links_stay_on_the_device() -> None:
    base = "127.0.0.9:8080"
    assert same_host_path(base, "/api/v1/status") == ("/api/v1/status", None)
    assert same_host_path(base, "status?x=1#top") == ("/status", None)
    assert same_host_path(base, "http://127.0.0.9:8080/x")[0] == "/x"
    for off in ("http://127.0.0.9/x", "http://evil.example/x", "//evil.example/x", "https://127.0.0.9:8080/x",
                "http://user@127.0.0.9:8080/x", "ftp://127.0.0.9:8080/x"):
        assert same_host_path(base, off)[0] is None, off
    assert same_host_path(base, "/a/../../etc")[0] in (None, "/etc")  # normalised, never above the root
    found, refused = links_in(base, '<a href="/a">a</a><img src="http://x.example/p.png">',
                              {"links": {"next": "/b", "cdn": "https://cdn.example/z"}, "n": 3})
    assert found == ["/a", "/b"] and len(refused) == 2


async def test_the_pool_controller_is_explored_read_only() -> None:
    pool = SimPool(host=random_loopback_base()).start()
    try:
        result = await explore(pool.address)
    finally:
        pool.stop()
    assert {"/api/v1/status", "/api/v1/system"} <= set(result.answers_by_path())
    assert {m for m, _ in pool.requests} == {"GET"}  # the page's form says POST: never sent
    assert result.stopped is None and len(result.sent()) < 24
    assert json.dumps(result.answers_by_path()["/api/v1/status"])
