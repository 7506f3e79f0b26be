"""The small loopback HTTP server every HTTP simulator (devices, camera) runs: bind, serve on a thread, stop."""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

log = logging.getLogger(__name__)

REQUEST_THREAD_PREFIX = "sim-req"
_finished_lock = threading.Lock()
_finished_cpu = 0.0  # CPU seconds of request threads that have ended (theirs no longer show in /proc)


def finished_request_cpu() -> float:
    """CPU seconds used by simulator request threads that have ended, in this process (for benchmarks that
    split a process's CPU between the claw and its simulators; living threads are named REQUEST_THREAD_PREFIX)."""
    return _finished_cpu


class LoopbackHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer without HTTPServer.server_bind's socket.getfqdn(host): that reverse DNS lookup
    goes to the system resolver (off loopback) and can stall a simulator's start for seconds.

    Handlers may keep connections alive (HTTP/1.1): `server_close()` first shuts every open connection, so a
    connection kept from before a stop is never served again, and waits for their threads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: dict[socket.socket, threading.Thread] = {}  # open ones, and the thread serving each
        self._connections_lock = threading.Lock()
        self._closing = False
        self.accepted = 0  # connections accepted so far (a client that keeps them alive opens few)
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a probe's timeout) is not an error worth a traceback on stderr."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s went away", client_address)
            return
        super().handle_error(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection on its own thread, named for the simulator; its CPU is counted when it ends."""
        global _finished_cpu
        thread = threading.current_thread()
        thread.name = f"{REQUEST_THREAD_PREFIX}-{self.server_port}"
        try:
            with self._connections_lock:
                self.accepted += 1
                closing = self._closing
                if not closing:
                    self._connections[request] = thread
            if closing:  # accepted just before the stop: not served
                self.shutdown_request(request)
                return
            try:
                super().process_request_thread(request, client_address)
            finally:
                with self._connections_lock:
                    self._connections.pop(request, None)
        finally:
            with _finished_lock:
                thread.name = f"{REQUEST_THREAD_PREFIX}-done"
                _finished_cpu += time.thread_time()

    def server_close(self, grace: float = 5.0) -> None:
        """Shut every open connection (its handler reads EOF, its writes fail) and wait up to `grace` seconds for
        their threads to end (socketserver joins no daemon request thread), then close the listening socket."""
        with self._connections_lock:
            self._closing = True
            open_now = dict(self._connections)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + grace
        for thread in open_now.values():
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        super().server_close()


class SimRequestHandler(BaseHTTPRequestHandler):
    """Request handler base for a simulator: bounded waits, no Nagle delay, one `reply`, logs at debug."""

    timeout = 10  # a silent client must not pin a request thread forever
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed-ACK stall)
    sim_name: ClassVar[str] = "sim"
    sim_log: ClassVar[logging.Logger] = log

    def reply(self, status: int, data: bytes, content_type: str,
              headers: Iterable[tuple[str, str]] = ()) -> None:
        """Send a complete answer: status, Content-Type, `headers`, Content-Length, then the body."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        self.sim_log.debug("%s: " + format, self.sim_name, *args)


class LoopbackServed:
    """Serves one simulator on `host:port` from a background thread (port 0 picks a free port, kept for
    restarts). A subclass sets `host`, `name` and calls `_init_serving(port)`, and gives `_handler_class`.
    `stop()` sets `_stopping` first, so requests that wait on it are released."""

    THREAD_PREFIX: ClassVar[str] = "sim"
    host: str
    name: str

    def _init_serving(self, port: int) -> None:
        self._port = port
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def address(self) -> str:
        return f"{self.host}:{self._port}"

    @property
    def connections(self) -> int:
        """Connections accepted since the last start (0 while stopped)."""
        return self._server.accepted if self._server is not None else 0

    def start(self) -> Self:
        """Serve on host:port; a second call while serving does nothing. Returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = LoopbackHTTPServer((self.host, self._port), self._handler_class())
        server.daemon_threads = True
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.THREAD_PREFIX}-{self.name}", daemon=True)
        self._thread.start()
        log.debug("%s serving on %s", self.name, self.address)
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests are released (closed without an answer)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()  # shuts open connections, waits for their threads
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
