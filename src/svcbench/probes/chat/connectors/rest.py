"""Generic REST connector: start, send and poll requests from templates, events mapped with
JSONPath rules. The defaults are a preset for the sandbox chat API (``base_url`` =
``http://host/c/{company}``), so only ``base_url`` is needed there.

Real visitor APIs need more, and each is one option:

- ``prelude``: requests before the chat starts whose response fields feed later requests
  (an anti-bot token under a field name the server computes, a session id, a cookie);
- ``{text}`` in ``start``: the first message is part of the start request, so the chat starts
  when the question is sent (and ``send`` serves the later messages);
- ``poll`` as a list: several endpoints (status and messages apart), each with its own event
  mapping, cursor and de-duplication;
- ``events.html_items``: messages that come back as HTML fragments;
- ``false`` switches a default off (``close = false``, ``events.id_path = false``).

Template placeholders: ``{visitor.name}``, ``{visitor.email}``, ``{text}``, ``{cursor}``
(each poll's cursor: the last event id it saw, initially its ``cursor_start``) and every value
captured by ``prelude`` and ``session``. A capture is a JSONPath (``$.token``) or, for text
bodies, a regular expression whose first group is the value (``name="csrf" value="([^"]+)"``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..connector import Availability, ChatTransportError
from ..events import ChatEvent
from ._base import (
    HttpStatusError,
    PollingConnector,
    RequestSpec,
    SessionOptions,
    availability_from,
    call,
    extract_capture,
    http_client,
    quote_body,
    raise_if_offline,
    validate_captures,
)
from ._mapping import EventMapping, MalformedPayload, map_payload

_AUTH = {"Authorization": "Bearer {token}"}


class PreludeStep(RequestSpec):
    """A request before the chat starts; ``capture`` names values for later templates."""

    capture: dict[str, str] = {}

    _captures = field_validator("capture")(validate_captures)


class PollSpec(RequestSpec):
    """One poll endpoint with its own mapping (default: the connector's ``events``)."""

    events: EventMapping | None = None
    #: placeholder holding this endpoint's cursor (the last event id it saw)
    cursor: str = "cursor"
    cursor_start: Any = 0
    #: "id": skip events whose id was seen; "content": skip an event equal to the last one of
    #: its kind from this endpoint (a status that is repeated on every poll)
    dedupe: Literal["id", "content"] = "id"


class RestOptions(SessionOptions):
    base_url: str = Field(pattern=r"^https?://")
    prelude: list[PreludeStep] = []
    start: RequestSpec | None = RequestSpec(
        method="POST", path="/api/chats",
        body={"visitor": {"name": "{visitor.name}", "email": "{visitor.email}"}})
    send: RequestSpec = RequestSpec(method="POST", path="/api/chats/{chat_id}/messages",
                                    body={"text": "{text}"}, headers=_AUTH)
    poll: RequestSpec | list[PollSpec] = RequestSpec(
        method="GET", path="/api/chats/{chat_id}/events", params={"after": "{cursor}"},
        headers=_AUTH)
    close: RequestSpec | None = RequestSpec(method="POST", path="/api/chats/{chat_id}/close",
                                            headers=_AUTH)
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    cursor_start: Any = 0
    events: EventMapping = EventMapping()

    @model_validator(mode="before")
    @classmethod
    def _false_means_none(cls, data: Any) -> Any:
        # TOML has no null: `close = false` switches a default request off
        if isinstance(data, dict):
            data = {k: (None if k in ("start", "close", "availability", "offline")
                        and v is False else v) for k, v in data.items()}
        return data

    def polls(self) -> list[PollSpec]:
        if isinstance(self.poll, list):
            return self.poll
        return [PollSpec(**self.poll.model_dump(by_alias=True), cursor="cursor",
                         cursor_start=self.cursor_start)]


def _mentions_text(template: Any) -> bool:
    if isinstance(template, str):
        return "{text}" in template
    if isinstance(template, dict):
        return any(_mentions_text(k) or _mentions_text(v) for k, v in template.items())
    if isinstance(template, list):
        return any(_mentions_text(v) for v in template)
    return False


class RestConnector(PollingConnector):
    name = "rest"
    options_model = RestOptions
    options: RestOptions

    @property
    def poll_interval_s(self) -> float:
        return self.options.poll_interval_s

    def _new_client(self):
        headers = dict(self.options.headers)
        self._hide: list[str] = []
        if self.options.auth_env:
            secret = self.secrets.get(self.options.auth_env, what="chat.auth_env")
            headers[self.options.auth_header] = f"{self.options.auth_scheme} {secret}".strip()
            self._hide.append(str(secret))
        return http_client(self.options.request_timeout_s, headers)

    @property
    def open_budget_s(self) -> float:
        requests = len(self.options.prelude) + (0 if self._start_carries_text else 1)
        return self.options.request_timeout_s * max(1, requests)

    @property
    def _start_carries_text(self) -> bool:
        start = self.options.start
        return start is not None and _mentions_text(start.model_dump(by_alias=True))

    # -- session ------------------------------------------------------------------------

    async def open(self) -> None:
        self._client = self._new_client()
        await self._prepare()
        if not self._start_carries_text:
            await self._start()
        from ..events import ChatEventKind

        self._emit(ChatEvent(kind=ChatEventKind.CONNECTED, t_local=self.clock()))
        if not self._start_carries_text:
            self._begin_polling()

    def _begin_polling(self) -> None:
        import asyncio

        if self._task is None:
            self._task = asyncio.create_task(self._poll_loop())

    async def _prepare(self) -> None:
        """The context and the prelude's captures."""
        self._context: dict[str, Any] = {
            "visitor": {"name": self.visitor.name, "email": self.visitor.email or ""},
        }
        self._polls = self.options.polls()
        for spec in self._polls:
            self._context[spec.cursor] = spec.cursor_start
        self._seen: dict[int, set[Any]] = {}
        self._last: dict[tuple[int, str], Any] = {}
        self._started = False
        for i, step in enumerate(self.options.prelude, 1):
            body = await self._call(step, f"prelude request {i}")
            self._capture(step.capture, body, f"prelude request {i}")

    def _capture(self, captures: dict[str, str], body: Any, what: str) -> None:
        for name, rule in captures.items():
            value = extract_capture(rule, body)
            if value is None:
                text = body if isinstance(body, str) else _dumps(body)
                raise ChatTransportError(
                    f"{what}: response has nothing at {rule} ({name}): "
                    f"{quote_body(text, self._secrets())!r}")
            self._context[name] = value

    def _secrets(self) -> list[str]:
        captured = [v for k, v in getattr(self, "_context", {}).items()
                    if isinstance(v, str) and k != "visitor"]
        return [*getattr(self, "_hide", []), *captured]

    async def _start(self, **extra: Any) -> None:
        if self.options.start is None:
            self._started = True
            return
        try:
            body = await self._call(self.options.start, "start chat", retries=2, **extra)
        except HttpStatusError as exc:
            self._raise_if_offline(exc.body, str(exc))
            raise
        self._raise_if_offline(body, None)
        self._capture(self.options.session, body, "start chat")
        self._started = True

    def _raise_if_offline(self, body: Any, error: str | None) -> None:
        raise_if_offline(self.options.offline, body, error)

    async def _call(self, spec: RequestSpec, what: str, retries: int = 2, **extra: Any) -> Any:
        self.phase = what
        try:
            return await call(self._client, self.options.base_url, spec,
                              {**self._context, **extra}, what=what, retries=retries,
                              hide=self._secrets())
        except MalformedPayload as exc:
            if what.startswith("poll"):
                raise
            raise ChatTransportError(str(exc)) from None

    async def _send(self, text: str) -> None:
        if self._start_carries_text and not self._started:
            await self._start(text=text)
            self._begin_polling()
            return
        await self._call(self.options.send, "send message", text=text)

    # -- events -------------------------------------------------------------------------

    async def _poll(self) -> list[ChatEvent]:
        new: list[ChatEvent] = []
        for i, spec in enumerate(self._polls):
            what = "poll" if i == 0 else f"poll {i + 1}"
            body = await self._call(spec, what, retries=1)
            now = self.clock()
            mapping = spec.events or self.options.events
            seen = self._seen.setdefault(i, set())
            for event_id, event in map_payload(body, mapping, self.options.actor_rules, now):
                if spec.dedupe == "content":
                    key = (i, str(event.kind))
                    fingerprint = (event.actor, event.text, tuple(sorted(event.data.items())))
                    if self._last.get(key) == fingerprint:
                        continue
                    self._last[key] = fingerprint
                elif event_id is not None:
                    if event_id in seen:
                        continue
                    seen.add(event_id)
                    self._context[spec.cursor] = event_id
                new.append(event)
        return new

    async def _close_remote(self) -> None:
        if self.options.close is not None and getattr(self, "_started", False) \
                and self.options.start is not None:
            await self._call(self.options.close, "close chat", retries=0)

    # -- availability -------------------------------------------------------------------

    async def availability(self, timeout_s: float) -> Availability:
        spec = self.options.availability
        if spec is None:
            return await super().availability(timeout_s)
        self._client = self._new_client()
        try:
            await self._prepare()
            body = await self._call(spec, "availability")
        finally:
            await self._client.aclose()
        return availability_from(spec, body)


def _dumps(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
