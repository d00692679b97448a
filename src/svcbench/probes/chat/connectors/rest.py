"""Generic REST connector: start, send and poll requests from templates, events mapped with
JSONPath rules. The defaults are a preset for the sandbox chat API (``base_url`` =
``http://host/c/{company}``), so only ``base_url`` is needed there.

Template placeholders: ``{visitor.name}``, ``{visitor.email}``, ``{text}`` (send), ``{cursor}``
(poll; the last event id seen, initially ``cursor_start``) and every value captured from the
start response through ``session`` (e.g. ``{chat_id}``, ``{token}``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..connector import ChatTransportError
from ..events import ChatEvent
from ._base import PollingConnector, RequestSpec, SessionOptions, call, http_client
from ._jsonpath import find_one
from ._mapping import EventMapping, MalformedPayload, map_payload

_AUTH = {"Authorization": "Bearer {token}"}


class RestOptions(SessionOptions):
    base_url: str = Field(pattern=r"^https?://")
    start: RequestSpec = RequestSpec(
        method="POST", path="/api/chats",
        body={"visitor": {"name": "{visitor.name}", "email": "{visitor.email}"}})
    send: RequestSpec = RequestSpec(method="POST", path="/api/chats/{chat_id}/messages",
                                    body={"text": "{text}"}, headers=_AUTH)
    poll: RequestSpec = RequestSpec(method="GET", path="/api/chats/{chat_id}/events",
                                    params={"after": "{cursor}"}, headers=_AUTH)
    close: RequestSpec | None = RequestSpec(method="POST", path="/api/chats/{chat_id}/close",
                                            headers=_AUTH)
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    cursor_start: Any = 0
    events: EventMapping = EventMapping()


class RestConnector(PollingConnector):
    name = "rest"
    options_model = RestOptions
    options: RestOptions

    @property
    def poll_interval_s(self) -> float:
        return self.options.poll_interval_s

    def _new_client(self):
        headers = dict(self.options.headers)
        if self.options.auth_env:
            secret = self.secrets.get(self.options.auth_env, what="chat.auth_env")
            headers[self.options.auth_header] = f"{self.options.auth_scheme} {secret}".strip()
        return http_client(self.options.request_timeout_s, headers)

    async def _start(self) -> None:
        self._context: dict[str, Any] = {
            "visitor": {"name": self.visitor.name, "email": self.visitor.email or ""},
            "cursor": self.options.cursor_start,
        }
        self._seen: set[Any] = set()
        body = await self._call(self.options.start, "start chat", retries=2)
        for name, path in self.options.session.items():
            value = find_one(path, body)
            if value is None:
                raise ChatTransportError(f"start chat: response has nothing at {path} ({name})")
            self._context[name] = value

    async def _call(self, spec: RequestSpec, what: str, retries: int = 2, **extra: Any) -> Any:
        try:
            return await call(self._client, self.options.base_url, spec,
                              {**self._context, **extra}, what=what, retries=retries)
        except MalformedPayload as exc:
            if what == "poll":
                raise
            raise ChatTransportError(str(exc)) from None

    async def _send(self, text: str) -> None:
        await self._call(self.options.send, "send message", text=text)

    async def _poll(self) -> list[ChatEvent]:
        body = await self._call(self.options.poll, "poll", retries=1)
        now = self.clock()
        new: list[ChatEvent] = []
        for event_id, event in map_payload(body, self.options.events, self.options.actor_rules,
                                           now):
            if event_id is not None:
                if event_id in self._seen:
                    continue
                self._seen.add(event_id)
                self._context["cursor"] = event_id
            new.append(event)
        return new

    async def _close_remote(self) -> None:
        if self.options.close is not None and hasattr(self, "_context") \
                and all(k in self._context for k in self.options.session):
            await self._call(self.options.close, "close chat", retries=0)
