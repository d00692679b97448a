"""Serve an ASGI app with uvicorn on 127.0.0.1 (a free port) in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any


class ServedApp:
    """``uvicorn_options`` are passed to ``uvicorn.Config`` (e.g. ``ws_ping_interval``)."""

    def __init__(self, app: Any, *, name: str, host: str = "127.0.0.1", port: int = 0,
                 **uvicorn_options: Any):
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the sandbox only serves on loopback")
        self.app, self.name, self.host, self._port = app, name, host, port
        self.uvicorn_options = uvicorn_options
        self.port: int | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"the {self.name} is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, **{"log_level": "warning", "lifespan": "on",
                                             "timeout_graceful_shutdown": 1,
                                             **self.uvicorn_options})
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} did not start")
            time.sleep(0.01)
        self._sock = sock

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
