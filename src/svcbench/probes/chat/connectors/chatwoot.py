"""Chatwoot client API (API-channel inboxes), polled.

``POST /public/api/v1/inboxes/{inbox}/contacts`` -> ``source_id``; ``POST
.../contacts/{source_id}/conversations``; ``POST|GET .../conversations/{id}/messages``;
``POST .../toggle_status`` to end. ``message_type`` 0 is the contact's, 1 outgoing, 2
activity (never public), 3 template; outgoing ``sender.type`` is ``user`` (a human) or
``agent_bot``; an outgoing message without a sender is an automated (system) one. The agent
assignment is not visible to the contact, so the first human message marks the handover.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from ..connector import ChatTransportError, ConnectorOptions
from ..events import Actor, ChatEvent, ChatEventKind
from ._actors import ActorRules
from ._base import PollingConnector, RequestSpec, call, http_client
from ._mapping import MalformedPayload, server_time


class ChatwootOptions(ConnectorOptions):
    #: the Chatwoot installation, e.g. https://app.chatwoot.com
    base_url: str = Field(pattern=r"^https?://")
    inbox_identifier: str = Field(min_length=1)
    #: environment variable with the HMAC identifier hash, for inboxes that require one
    identifier_hash_env: str | None = None
    identifier: str | None = None
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    request_timeout_s: float = Field(default=10.0, gt=0)
    actor_rules: ActorRules = ActorRules()


class ChatwootConnector(PollingConnector):
    name = "chatwoot"
    options_model = ChatwootOptions
    options: ChatwootOptions

    @property
    def open_budget_s(self) -> float:
        o = self.options
        return 2 * o.request_timeout_s

    @property
    def poll_interval_s(self) -> float:
        return self.options.poll_interval_s

    def _new_client(self):
        return http_client(self.options.request_timeout_s)

    async def _api(self, method: str, path: str, *, body: Any = None, what: str,
                   retries: int = 2) -> Any:
        root = f"/public/api/v1/inboxes/{self.options.inbox_identifier}/contacts"
        spec = RequestSpec(method=method, path=root + path, json=body)
        try:
            return await call(self._client, self.options.base_url, spec, {}, what=what,
                              retries=retries)
        except MalformedPayload as exc:
            if what == "poll":
                raise
            raise ChatTransportError(str(exc)) from None

    async def _start(self) -> None:
        self._seen: set[Any] = set()
        contact: dict[str, Any] = {"name": self.visitor.name}
        if self.visitor.email:
            contact["email"] = self.visitor.email
        if self.options.identifier:
            contact["identifier"] = self.options.identifier
        if self.options.identifier_hash_env:
            contact["identifier_hash"] = self.secrets.get(
                self.options.identifier_hash_env, what="chat.identifier_hash_env")
        created = await self._api("POST", "", body=contact, what="create contact")
        self._source_id = (created or {}).get("source_id")
        if not self._source_id:
            raise ChatTransportError("create contact: the response has no source_id")
        conversation = await self._api("POST", f"/{self._source_id}/conversations", body={},
                                       what="create conversation")
        self._conversation = (conversation or {}).get("id")
        if self._conversation is None:
            raise ChatTransportError("create conversation: the response has no id")

    def _path(self, tail: str) -> str:
        return f"/{self._source_id}/conversations/{self._conversation}{tail}"

    async def _send(self, text: str) -> None:
        await self._api("POST", self._path("/messages"),
                        body={"content": text, "echo_id": str(uuid.uuid4())},
                        what="send message")

    async def _poll(self) -> list[ChatEvent]:
        messages = await self._api("GET", self._path("/messages"), what="poll", retries=1)
        if isinstance(messages, dict):  # some versions wrap the list
            messages = messages.get("payload")
        if not isinstance(messages, list):
            raise MalformedPayload("poll: expected a list of messages")
        now = self.clock()
        events = []
        for message in sorted((m for m in messages if isinstance(m, dict)),
                              key=lambda m: (m.get("created_at") or 0, m.get("id") or 0)):
            if message.get("id") in self._seen:
                continue
            self._seen.add(message.get("id"))
            event = self._event(message, now)
            if event is not None:
                events.append(event)
        return events

    def _event(self, message: dict[str, Any], now: float) -> ChatEvent | None:
        kind = message.get("message_type")
        if kind == 2 or message.get("private"):
            return None
        sender = message.get("sender")
        name = sender.get("name") if isinstance(sender, dict) else None
        if kind == 0:
            actor = Actor.VISITOR
        elif isinstance(sender, dict):
            actor = self.options.actor_rules.classify(sender.get("type"), name)
        else:
            actor = Actor.SYSTEM
        try:
            t_server = server_time(message.get("created_at"), "s")
        except (TypeError, ValueError):
            raise MalformedPayload(f"bad created_at {message.get('created_at')!r}") from None
        return ChatEvent(kind=ChatEventKind.MESSAGE, t_local=now, actor=actor,
                         text=message.get("content"), t_server=t_server,
                         data={"author": name} if name else {}, raw=message)

    async def _close_remote(self) -> None:
        if getattr(self, "_conversation", None) is not None:
            await self._api("POST", self._path("/toggle_status"), body={},
                            what="close conversation", retries=0)
