"""Generic WebSocket connector: an optional REST start request, then one WebSocket whose JSON
frames are mapped to events with JSONPath rules; messages go out as a frame template.

The defaults are a preset for the sandbox chat API (``base_url`` = ``http://host/c/{company}``):
``POST /api/chats`` then ``/ws/chats/{chat_id}?token={token}``. Placeholders as for the REST
connector, plus ``{ws_base}`` (``base_url`` with http -> ws).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from pydantic import Field, model_validator

from ..connector import Availability, ChatTransportError
from ..events import ChatEvent, ChatEventKind
from ._base import (
    HttpStatusError,
    RequestSpec,
    SessionOptions,
    availability_from,
    call,
    extract_capture,
    http_client,
    raise_if_offline,
)
from ._jsonpath import render
from ._mapping import EventMapping, MalformedPayload, map_payload
from ._ws import WebSocketConnectorBase, ws_base

_AUTH = {"Authorization": "Bearer {token}"}


class WebSocketOptions(SessionOptions):
    #: HTTP base for the start/close requests and ``{ws_base}``
    base_url: str | None = Field(default=None, pattern=r"^https?://")
    start: RequestSpec | None = RequestSpec(
        method="POST", path="/api/chats",
        body={"visitor": {"name": "{visitor.name}", "email": "{visitor.email}"}})
    ws_url: str = "{ws_base}/ws/chats/{chat_id}?token={token}"
    #: sent once after connecting (a login or subscribe frame)
    start_frame: Any = None
    send_frame: Any = {"type": "message", "text": "{text}"}
    close_frame: Any = None
    close: RequestSpec | None = RequestSpec(method="POST", path="/api/chats/{chat_id}/close",
                                            headers=_AUTH)
    events: EventMapping = EventMapping(list_path="$")
    ping_interval_s: float | None = Field(default=15.0, gt=0)
    open_timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _base_needed(self) -> WebSocketOptions:
        if self.base_url is None and (self.start is not None or "{ws_base}" in self.ws_url):
            raise ValueError("base_url is required when 'start' or {ws_base} is used "
                             "(or set start = false and a full ws_url)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _false_means_none(cls, data: Any) -> Any:
        # TOML has no null: `start = false` / `close = false` switch a request off
        if isinstance(data, dict):
            data = {k: (None if k in ("start", "close") and v is False else v)
                    for k, v in data.items()}
        return data


class WebSocketConnector(WebSocketConnectorBase):
    name = "websocket"
    options_model = WebSocketOptions
    options: WebSocketOptions
    _client: Any = None

    @property
    def open_budget_s(self) -> float:
        o = self.options
        return o.open_timeout_s + (o.request_timeout_s if o.start is not None else 0.0)

    async def open(self) -> None:
        o = self.options
        headers = dict(o.headers)
        if o.auth_env:
            secret = self.secrets.get(o.auth_env, what="chat.auth_env")
            headers[o.auth_header] = f"{o.auth_scheme} {secret}".strip()
        self._context: dict[str, Any] = {
            "visitor": {"name": self.visitor.name, "email": self.visitor.email or ""},
            "ws_base": ws_base(o.base_url or ""),
        }
        self._client = http_client(o.request_timeout_s, headers)
        if o.start is not None:
            try:
                body = await self._call(o.start, "start chat")
            except HttpStatusError as exc:
                raise_if_offline(o.offline, exc.body, str(exc))
                raise
            raise_if_offline(o.offline, body, None)
            for name, path in o.session.items():
                value = extract_capture(path, body)
                if value is None:
                    raise ChatTransportError(f"start chat: response has nothing at {path} ({name})")
                self._context[name] = value
        self.phase = "WebSocket connect"
        try:
            url = render(o.ws_url, self._context)
        except KeyError as exc:
            raise ChatTransportError(f"ws_url uses unknown placeholder {{{exc.args[0]}}}") \
                from None
        await self._connect(str(url), headers=headers, ping_interval_s=o.ping_interval_s,
                            open_timeout_s=o.open_timeout_s)
        if o.start_frame is not None:
            await self._send_frame(self._render(o.start_frame))
        self._emit(ChatEvent(kind=ChatEventKind.CONNECTED, t_local=self.clock()))

    async def availability(self, timeout_s: float) -> Availability:
        o = self.options
        if o.availability is None or o.base_url is None:
            return await super().availability(timeout_s)
        self._context = {"visitor": {"name": self.visitor.name,
                                     "email": self.visitor.email or ""}}
        self._client = http_client(o.request_timeout_s, dict(o.headers))
        try:
            return availability_from(o.availability, await self._call(o.availability,
                                                                      "availability"))
        finally:
            await self._client.aclose()
            self._client = None

    async def _call(self, spec: RequestSpec, what: str, retries: int = 2) -> Any:
        self.phase = what
        try:
            return await call(self._client, self.options.base_url or "", spec, self._context,
                              what=what, retries=retries)
        except MalformedPayload as exc:
            raise ChatTransportError(str(exc)) from None

    def _render(self, template: Any, **extra: Any) -> Any:
        try:
            return render(template, {**self._context, **extra})
        except KeyError as exc:
            raise ChatTransportError(f"frame template uses unknown placeholder "
                                     f"{{{exc.args[0]}}}") from None

    def _handle(self, payload: Any) -> None:
        now = self.clock()
        for _, event in map_payload(payload, self.options.events, self.options.actor_rules, now):
            self._emit(event)

    async def send(self, text: str) -> None:
        await self._send_frame(self._render(self.options.send_frame, text=text))

    async def close(self) -> None:
        try:
            if self.options.close_frame is not None and self._ws is not None:
                with contextlib.suppress(Exception):
                    await self._ws.send(json.dumps(self._render(self.options.close_frame)))
            await self._close_ws()
            if self.options.close is not None and self._client is not None \
                    and all(k in self._context for k in self.options.session):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._call(self.options.close, "close chat",
                                                      retries=0), 3.0)
        finally:
            if self._client is not None:
                await self._client.aclose()
                self._client = None
