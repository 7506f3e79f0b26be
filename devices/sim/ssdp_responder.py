"""A loopback SSDP responder for simulated devices: answers M-SEARCHes for its search target, unicast."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

GROUP = "239.255.255.250"


class SsdpResponder:
    """Answers `M-SEARCH` for `st` (or ssdp:all) sent to 239.255.255.250:1900 on 127.0.0.1 only, from
    `reply_ip`; `headers()` gives the answer's headers (LOCATION, USN, ...) at the time of each search."""

    def __init__(self, st: str, reply_ip: str, headers: Callable[[], dict[str, str]],
                 silent: Callable[[], bool] = lambda: False, max_age: int = 300) -> None:
        if not reply_ip.startswith("127."):
            raise ValueError("the simulators answer SSDP on loopback only")
        self.st = st
        self.headers = headers
        self.silent = silent
        self.max_age = max_age
        self._stop = threading.Event()
        self._listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._listen.bind((GROUP, 1900))
        self._listen.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                                socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1"))
        self._listen.settimeout(0.05)
        self._reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self._reply.bind((reply_ip, 0))
        self._thread = threading.Thread(target=self._run, name=f"ssdp-{st}-{reply_ip}", daemon=True)

    def start(self) -> SsdpResponder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._listen.close()
        self._reply.close()

    def _answer(self) -> bytes:
        lines = ["HTTP/1.1 200 OK", f"CACHE-CONTROL: max-age={self.max_age}", "EXT:", f"ST: {self.st}"]
        lines += [f"{k}: {v}" for k, v in self.headers().items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self._listen.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            lines = data.decode("utf-8", "replace").splitlines()  # CRLF, or bare LF as soco sends it
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            if lines[0].lower().startswith("m-search") and headers.get("st") in (self.st, "ssdp:all") \
                    and not self.silent():
                try:
                    self._reply.sendto(self._answer(), sender)
                except OSError as exc:
                    log.debug("ssdp reply to %s failed: %s", sender, exc)
