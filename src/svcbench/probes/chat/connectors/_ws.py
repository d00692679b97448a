"""WebSocket plumbing shared by the WebSocket-based connectors (generic, LiveChat RTM):
connect with keepalive pings, read frames in a task, turn drops and garbage into events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from abc import abstractmethod
from typing import Any

from ..connector import ChatTransportError, ChatUnreachableError
from ._base import HttpStatusError, QueueConnector, cancel
from ._mapping import MalformedPayload


def ws_base(base_url: str) -> str:
    """``http(s)://host/x`` -> ``ws(s)://host/x``."""
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://"):].rstrip("/")
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://"):].rstrip("/")
    return base_url.rstrip("/")


class WebSocketConnectorBase(QueueConnector):
    """Owns one WebSocket; subclasses handle each decoded JSON frame in ``_handle``."""

    _ws: Any = None
    _reader: asyncio.Task | None = None
    _closing = False

    async def _connect(self, url: str, *, headers: dict[str, str] | None = None,
                       ping_interval_s: float | None = 15.0, open_timeout_s: float = 10.0) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

        try:
            self._ws = await connect(url, additional_headers=headers or None,
                                     ping_interval=ping_interval_s, ping_timeout=ping_interval_s,
                                     open_timeout=open_timeout_s, close_timeout=2,
                                     max_size=2**22)
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise HttpStatusError(f"WebSocket {url}: HTTP {status}", status) from None
        except InvalidURI as exc:
            raise ChatTransportError(f"bad WebSocket URL {url!r}: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise ChatUnreachableError(f"cannot connect to {url} ({exc or type(exc).__name__})") \
                from None
        except InvalidHandshake as exc:
            raise ChatTransportError(f"WebSocket handshake with {url} failed: {exc}") from None
        self._reader = asyncio.create_task(self._read_loop())

    async def _read_loop(self) -> None:
        from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

        try:
            async for frame in self._ws:
                self._on_frame(frame)
        except ConnectionClosedOK:
            pass
        except ConnectionClosed as exc:
            if not self._closing:
                code = exc.rcvd.code if exc.rcvd is not None else "none"
                self._error(f"the connection was dropped by the server (close code {code})",
                            fatal=True, by_peer=True)
            return
        except Exception as exc:  # noqa: BLE001 - a bug in a handler must not hang the probe
            self._error(f"reading the WebSocket failed: {type(exc).__name__}: {exc}", fatal=True)
            return
        if not self._closing:
            self._error("the server closed the connection", fatal=True, by_peer=True)

    def _on_frame(self, frame: str | bytes) -> None:
        try:
            payload = json.loads(frame)
        except (json.JSONDecodeError, UnicodeDecodeError):
            text = frame if isinstance(frame, str) else frame[:200].decode("utf-8", "replace")
            self._malformed(f"frame is not JSON: {text[:60]!r}", raw=text[:200])
            return
        try:
            self._handle(payload)
        except MalformedPayload as exc:
            self._malformed(str(exc))
            return
        self._understood()

    @abstractmethod
    def _handle(self, payload: Any) -> None:
        """Turn one decoded frame into events (raise MalformedPayload if it does not fit)."""

    async def _send_frame(self, payload: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        if self._ws is None:
            raise ChatTransportError("the chat is not open")
        try:
            await self._ws.send(json.dumps(payload))
        except ConnectionClosed as exc:
            raise ChatTransportError(f"cannot send: the connection is closed ({exc})") from None

    async def _close_ws(self) -> None:
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 3.0)
        await cancel(self._reader)
        self._reader = None
