"""Overall deadlines for blocking network clients (smtplib, imaplib).

A socket timeout bounds each read, not the conversation: a server that trickles a line every
few seconds (endless ``220-`` or ``* OK`` lines) keeps a client busy forever. A ``Watchdog``
shuts the client's current socket down when the deadline passes, which wakes the blocked read
with an error; the caller then reports the deadline, not a confusing EOF.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any


class DeadlineExceeded(TimeoutError):
    """The whole operation took longer than its overall deadline."""


class Watchdog:
    """Shut ``sockets()``'s socket down at monotonic time ``until`` (None: never)."""

    def __init__(self, until: float | None, what: str = "operation"):
        self.until = until
        self.what = what
        self.started = time.monotonic()
        self.expired = False
        self._getters: list[Callable[[], Any]] = []
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def after(cls, seconds: float | None, what: str = "operation") -> Watchdog:
        return cls(None if seconds is None else time.monotonic() + max(0.0, seconds), what)

    @property
    def seconds(self) -> float:
        return 0.0 if self.until is None else max(0.0, self.until - self.started)

    def left(self) -> float | None:
        return None if self.until is None else self.until - time.monotonic()

    def follow(self, getter: Callable[[], Any]) -> Watchdog:
        """Watch whatever socket ``getter()`` returns when the deadline passes (it may change
        in between, e.g. after STARTTLS)."""
        self._getters.append(getter)
        return self

    def start(self) -> Watchdog:
        if self.until is not None and self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"deadline-{self.what}")
            self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        assert self.until is not None
        if self._done.wait(max(0.0, self.until - time.monotonic())):
            return
        self.expired = True
        # keep shutting down until the caller is done: a socket may be (re)made meanwhile
        while not self._done.is_set():
            for getter in self._getters:
                _shutdown(getter())
            self._done.wait(0.05)

    def error(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"no complete answer within the overall deadline of {self.seconds:.0f} s "
            "(server too slow or trickling)")


def _shutdown(sock: Any) -> None:
    if not isinstance(sock, socket.socket):
        return
    # the plain socket's shutdown, also for an SSLSocket: no TLS close_notify exchange,
    # which could itself block on a hostile server
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
