"""The threaded HTTP server our loopback fakes share: tracks live connections so stop() can drop them."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


class TrackingHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer whose request threads are joined on close and whose open connections can be
    cut at once (`drop_connections`), e.g. to stop a fake that is hanging on purpose."""

    daemon_threads = False  # joined in server_close(), so stop() leaves no thread behind
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: Any) -> None:
        self.owner = owner
        self.sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):  # a client hung up: not news
            log.debug("%s dropped the connection", client_address)
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        with self.sockets_lock:
            for sock in list(self.sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
