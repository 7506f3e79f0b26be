"""Probe bounds: GET only, one host, no redirects followed, capped count, size and time."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from devices.discovery.probe import probe, probe_client
from devices.sim.http_devices import LoopbackHTTPServer


class Gadget:
    """A hostile little device on loopback: huge, slow, redirecting and HTML answers; it logs every request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        gadget = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                gadget.seen.append(("GET", self.path))
                path = self.path.split("?")[0]
                if path == "/slow":
                    time.sleep(1.5)
                if path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://10.1.2.3/json/info")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = {"/big": json.dumps({"x": "y" * 200_000}), "/html": "<html>hi</html>"}.get(
                    path, json.dumps({"path": self.path}))
                data = body.encode()
                self.send_response(200 if path != "/missing" else 404)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the probe gave up on a big answer
                    pass

            def do_POST(self) -> None:  # noqa: N802
                gadget.seen.append(("POST", self.path))
                self.send_response(405)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def gadget() -> Iterator[Gadget]:
    g = Gadget()
    yield g
    g.stop()


async def test_answers_are_recorded_with_query(gadget: Gadget) -> None:
    async with probe_client() as client:
        record = await probe(client, gadget.address, [("/ok", {"cmnd": "Status 0"}), ("/html", {}),
                                                      ("/missing", {})])
    assert list(record.answers.values()) == [{"path": "/ok?cmnd=Status+0"}]
    errors = {e.path: e.error for e in record.entries}
    assert errors == {"/ok": None, "/html": "not JSON", "/missing": "HTTP 404"}


async def test_size_time_and_count_are_bounded(gadget: Gadget) -> None:
    gadget.seen.clear()
    started = time.monotonic()
    async with probe_client() as client:
        record = await probe(client, gadget.address,
                             [("/big", {}), ("/slow", {})] + [(f"/n{i}", {}) for i in range(6)],
                             max_requests=5, max_bytes=4096, total_time=0.5)
    assert time.monotonic() - started < 1.2
    errors = {e.path: e.error for e in record.entries}
    assert errors["/big"] == "answer larger than 4096 bytes"
    assert errors["/slow"] == "no answer within 0.5 s"
    assert [errors[f"/n{i}"] for i in range(3)] == [None] * 3
    assert all(errors[f"/n{i}"] == "not sent: more than 5 probes" for i in range(3, 6))
    assert sorted(p for _, p in gadget.seen) == sorted(["/big", "/slow", "/n0", "/n1", "/n2"])
    assert {m for m, _ in gadget.seen} == {"GET"}


async def test_redirects_and_other_hosts_are_refused(gadget: Gadget) -> None:
    gadget.seen.clear()
    async with probe_client() as client:
        record = await probe(client, gadget.address, [
            ("/redirect", {}), ("//10.1.2.3/json/info", {}), ("http://10.1.2.3/x", {}), ("/a@10.1.2.3", {}),
            ("/x?y=1", {})])
    entries = record.entries
    assert entries[0].status == 302 and "not followed" in (entries[0].error or "") and not record.answers
    assert all("not a plain path" in (e.error or "") for e in entries[1:]), [e.error for e in entries]
    assert gadget.seen == [("GET", "/redirect")]  # nothing else was sent anywhere
