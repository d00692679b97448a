"""Hostile servers on loopback for fault tests and the soak bench.

``TricklingServer("smtp")`` greets with an endless ``220-`` continuation, one line every
``interval_s``; ``TricklingServer("imap")`` greets and then sends ``* OK`` lines forever,
whatever it is asked; ``TricklingServer("http")`` answers with headers that never end. Each
line arrives well within any read timeout, so only an overall deadline ends the conversation.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from .mail_servers import free_port

_LINES = {
    "smtp": (b"", b"220-mail.example.test still getting ready\r\n"),
    "imap": (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", b"* OK still working on it\r\n"),
    # a response whose headers never end
    "http": (b"HTTP/1.1 200 OK\r\n", b"X-Still-Working: yes\r\n"),
}


class TricklingServer:
    """Accepts connections on 127.0.0.1 and trickles lines to each until stopped."""

    def __init__(self, kind: str, interval_s: float = 0.2):
        if kind not in _LINES:
            raise ValueError(f"kind must be one of {sorted(_LINES)}")
        self.kind = kind
        self.interval_s = interval_s
        self.port = 0
        self.connections = 0
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> TricklingServer:
        self.port = free_port()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.2)
        self._listener = listener
        self._spawn(self._accept_loop)
        return self

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True,
                                  name=f"trickle-{self.kind}")
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._spawn(self._trickle, conn)

    def _trickle(self, conn: socket.socket) -> None:
        first, line = _LINES[self.kind]
        with contextlib.suppress(OSError), conn:
            if first:
                conn.sendall(first)
            while not self._stop.wait(self.interval_s):
                conn.sendall(line)

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> TricklingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
