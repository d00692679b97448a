"""Rocket.Chat Omnichannel Livechat REST API, polled.

``POST /api/v1/livechat/visitor`` (a random visitor token), ``GET /api/v1/livechat/room``
(creates the room), ``POST /api/v1/livechat/message``, ``GET
/api/v1/livechat/messages.history/:rid`` every ``poll_interval_s``, ``POST
/api/v1/livechat/room.close``. System messages: ``t: "uj"`` (an agent joined),
``t: "livechat-close"``. Queue data only travels on the DDP stream, so here queue
announcements are seen through message text.
"""

from __future__ import annotations

import secrets as token_source
from typing import Any

from pydantic import Field

from ..connector import Availability, ChatTransportError, ChatUnavailableError, ConnectorOptions
from ..events import Actor, ChatEvent, ChatEventKind
from ._actors import BOT_LIKE_NAMES, ActorRules
from ._base import PollingConnector, RequestSpec, call, http_client
from ._mapping import MalformedPayload, server_time

API = "/api/v1/livechat"


class RocketChatOptions(ConnectorOptions):
    #: the Rocket.Chat server root, e.g. https://chat.example.com
    base_url: str = Field(pattern=r"^https?://")
    department: str | None = None
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    history_limit: int = Field(default=50, ge=1, le=500)
    request_timeout_s: float = Field(default=10.0, gt=0)
    actor_rules: ActorRules = ActorRules(bot_name_regex=BOT_LIKE_NAMES,
                                         system_name_regex=r"^rocket\.cat$")


class RocketChatConnector(PollingConnector):
    name = "rocketchat"
    options_model = RocketChatOptions
    options: RocketChatOptions

    @property
    def open_budget_s(self) -> float:
        o = self.options
        return 3 * o.request_timeout_s

    @property
    def poll_interval_s(self) -> float:
        return self.options.poll_interval_s

    def _new_client(self):
        return http_client(self.options.request_timeout_s)

    async def _api(self, method: str, path: str, *, params: dict | None = None,
                   body: Any = None, what: str, retries: int = 2) -> dict[str, Any]:
        spec = RequestSpec(method=method, path=API + path, params=params or {}, json=body)
        try:
            reply = await call(self._client, self.options.base_url, spec, {}, what=what,
                               retries=retries)
        except MalformedPayload as exc:
            if what == "poll":
                raise
            raise ChatTransportError(str(exc)) from None
        if not isinstance(reply, dict):
            raise MalformedPayload(f"{what}: expected a JSON object")
        if reply.get("success") is False:
            raise ChatTransportError(f"{what}: {reply.get('error') or 'failed'}")
        return reply

    async def _start(self) -> None:
        self._token = token_source.token_hex(16)
        self._seen: set[str] = set()
        config = await self._api("GET", "/config", params={"token": self._token},
                                 what="config")
        state = _config_state(config)
        if state.state == "offline":
            raise ChatUnavailableError(f"the chat is offline ({state.detail})", source=state.source,
                                   raw=config)
        visitor: dict[str, Any] = {"token": self._token, "name": self.visitor.name}
        if self.visitor.email:
            visitor["email"] = self.visitor.email
        if self.options.department:
            visitor["department"] = self.options.department
        await self._api("POST", "/visitor", body={"visitor": visitor}, what="register visitor")
        room = await self._api("GET", "/room", params={"token": self._token}, what="open room")
        self._rid = (room.get("room") or {}).get("_id")
        if not self._rid:
            raise ChatTransportError("open room: the response has no room._id")

    async def _send(self, text: str) -> None:
        await self._api("POST", "/message", body={"token": self._token, "rid": self._rid,
                                                 "msg": text}, what="send message")

    async def _poll(self) -> list[ChatEvent]:
        reply = await self._api("GET", f"/messages.history/{self._rid}",
                                params={"token": self._token,
                                        "limit": self.options.history_limit},
                                what="poll", retries=1)
        messages = reply.get("messages")
        if not isinstance(messages, list):
            raise MalformedPayload("poll: no 'messages' list")
        now = self.clock()
        events: list[ChatEvent] = []
        stamped = []
        for message in messages:
            if not isinstance(message, dict) or "_id" not in message:
                raise MalformedPayload("poll: a message has no _id")
            try:
                stamped.append((server_time(message.get("ts"), "iso") or 0.0, message))
            except (TypeError, ValueError):
                raise MalformedPayload(f"poll: bad ts {message.get('ts')!r}") from None
        for t_server, message in sorted(stamped, key=lambda pair: pair[0]):
            if message["_id"] in self._seen:
                continue
            self._seen.add(message["_id"])
            event = self._event(message, t_server or None, now)
            if event is not None:
                events.append(event)
        return events

    def _event(self, message: dict[str, Any], t_server: float | None,
               now: float) -> ChatEvent | None:
        user = message.get("u") or {}
        name = user.get("name") or user.get("username")
        kind = message.get("t")
        if kind == "uj":
            actor = self.options.actor_rules.classify(None, name)
            if actor is not Actor.AGENT:
                return None
            return ChatEvent(kind=ChatEventKind.AGENT_JOINED, t_local=now, actor=actor,
                             t_server=t_server, data={"agent": name}, raw=message)
        if kind == "livechat-close":
            return ChatEvent(kind=ChatEventKind.CHAT_ENDED, t_local=now, t_server=t_server,
                             text=message.get("msg"), raw=message)
        if kind:
            return None  # other system records (command, livechat-started, ...)
        if message.get("token") == self._token:
            actor = Actor.VISITOR
        else:
            actor = self.options.actor_rules.classify(None, name)
        return ChatEvent(kind=ChatEventKind.MESSAGE, t_local=now, actor=actor,
                         text=message.get("msg"), t_server=t_server,
                         data={"author": name} if name else {}, raw=message)

    async def availability(self, timeout_s: float) -> Availability:
        """``GET /api/v1/livechat/config``: ``config.online`` is whether an agent is online
        (Rocket.Chat's livechat/config route, ``online: status``); starts no room."""
        self._client = self._new_client()
        try:
            config = await self._api("GET", "/config", what="config")
        finally:
            await self._client.aclose()
        return _config_state(config)

    async def _close_remote(self) -> None:
        if getattr(self, "_rid", None):
            await self._api("POST", "/room.close", body={"rid": self._rid, "token": self._token},
                            what="close room", retries=0)


def _config_state(reply: dict[str, Any]) -> Availability:
    config = reply.get("config") or {}
    source = "GET /api/v1/livechat/config"
    if config.get("enabled") is False:
        return Availability("offline", detail="livechat is disabled",
                            source=source + ": config.enabled = false", raw=reply)
    online = config.get("online")
    if online is True:
        return Availability("online", source=source + ": config.online = true", raw=reply)
    if online is False:
        return Availability("offline", detail="no agent online",
                            source=source + ": config.online = false", raw=reply)
    return Availability("unknown", detail=f"config.online is {online!r}", source=source,
                        raw=reply)
