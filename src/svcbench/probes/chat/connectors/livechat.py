"""LiveChat (Text.com) Customer Chat API over the RTM WebSocket (v3.5).

``login`` with the customer access token (from LiveChat's customer auth flow; its environment
variable is ``access_token_env``), ``start_chat``, ``send_event``, ``deactivate_chat``; an
application ``ping`` every ``ping_interval_s`` (the API wants one at least every 15 s).
Pushes used: ``incoming_event`` (messages; authors looked up among the chat's users),
``user_added_to_chat`` (an agent joined; bots appear as agents too, so ``actor_rules`` tells
them apart, by default from the name), ``queue_position_updated`` (``queue.position``,
``queue.wait_time``), ``chat_deactivated``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from pydantic import Field

from ..connector import ChatTransportError, ConnectorOptions
from ..events import Actor, ChatEvent, ChatEventKind
from ._actors import BOT_LIKE_NAMES, ActorRules
from ._base import cancel
from ._mapping import MalformedPayload, server_time
from ._ws import WebSocketConnectorBase, ws_base


class LiveChatOptions(ConnectorOptions):
    #: API root, e.g. https://api.livechatinc.com (wss is derived from it)
    base_url: str = Field(default="https://api.livechatinc.com", pattern=r"^(https?|wss?)://")
    api_version: str = "3.5"
    organization_id: str
    #: environment variable with the customer access token
    access_token_env: str | None = None
    ping_interval_s: float = Field(default=15.0, gt=0, le=15)
    request_timeout_s: float = Field(default=10.0, gt=0)
    open_timeout_s: float = Field(default=10.0, gt=0)
    actor_rules: ActorRules = ActorRules(bot_name_regex=BOT_LIKE_NAMES)


class LiveChatConnector(WebSocketConnectorBase):
    name = "livechat"
    options_model = LiveChatOptions
    options: LiveChatOptions

    @property
    def open_budget_s(self) -> float:
        o = self.options
        return o.open_timeout_s + 2 * o.request_timeout_s

    _chat_id: str | None = None
    _pinger: asyncio.Task | None = None

    async def open(self) -> None:
        o = self.options
        self._pending: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._users: dict[str, tuple[str | None, str | None]] = {}
        self._queue_state: dict[str, Any] = {}
        token = self.secrets.get(o.access_token_env, what="chat.access_token_env") \
            if o.access_token_env else "anonymous"
        url = (f"{ws_base(o.base_url)}/v{o.api_version}/customer/rpc/ws"
               f"?organization_id={o.organization_id}")
        await self._connect(url, ping_interval_s=None, open_timeout_s=o.open_timeout_s)
        login = await self._request("login", {"token": f"Bearer {token}"})
        self._customer_id = login.get("customer_id")
        self._pinger = asyncio.create_task(self._ping_loop())
        started = await self._request("start_chat", {"chat": {}})
        self._chat_id = started.get("chat_id")
        if not self._chat_id:
            raise ChatTransportError("start_chat: the response has no chat_id")
        self._emit(ChatEvent(kind=ChatEventKind.CONNECTED, t_local=self.clock(),
                             data={"chat_id": self._chat_id}))

    async def _request(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        request_id = str(next(self._ids))
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._send_frame({"request_id": request_id, "action": action,
                                    "payload": payload})
            reply = await asyncio.wait_for(future, self.options.request_timeout_s)
        except TimeoutError:
            raise ChatTransportError(f"{action}: no response within "
                                     f"{self.options.request_timeout_s:g} s") from None
        finally:
            self._pending.pop(request_id, None)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.ping_interval_s)
            with contextlib.suppress(ChatTransportError):
                await self._send_frame({"request_id": str(next(self._ids)), "action": "ping",
                                        "payload": {}})

    def _handle(self, payload: Any) -> None:
        if not isinstance(payload, dict) or "action" not in payload:
            raise MalformedPayload("frame has no 'action'")
        body = payload.get("payload") or {}
        if payload.get("type") == "response":
            future = self._pending.get(str(payload.get("request_id")))
            if future is not None and not future.done():
                if payload.get("success") is False:
                    error = (body.get("error") or {}).get("message") or "request failed"
                    future.set_result(ChatTransportError(f"{payload['action']}: {error}"))
                else:
                    future.set_result(body)
            return
        if not isinstance(body, dict):
            raise MalformedPayload(f"{payload['action']} payload is not an object")
        if self._chat_id is not None and body.get("chat_id") not in (None, self._chat_id):
            return
        now = self.clock()
        action = payload["action"]
        if action == "incoming_chat":
            for user in (body.get("chat") or {}).get("users") or []:
                self._users[str(user.get("id"))] = (user.get("type"), user.get("name"))
        elif action == "user_added_to_chat":
            user = body.get("user") or {}
            self._users[str(user.get("id"))] = (user.get("type"), user.get("name"))
            actor = self.options.actor_rules.classify(user.get("type"), user.get("name"))
            if actor is Actor.AGENT:
                self._emit(ChatEvent(kind=ChatEventKind.AGENT_JOINED, t_local=now, actor=actor,
                                     data={"agent": user.get("name")}, raw=payload))
        elif action == "incoming_event":
            self._incoming_event(body.get("event") or {}, now, payload)
        elif action == "queue_position_updated":
            queue = body.get("queue") or {}
            position, wait = queue.get("position"), queue.get("wait_time")
            if isinstance(position, int) and position > 0 \
                    and position != self._queue_state.get("position"):
                self._queue_state["position"] = position
                self._emit(ChatEvent(kind=ChatEventKind.QUEUE_POSITION, t_local=now,
                                     data={"position": position}, raw=payload))
            if isinstance(wait, int | float) and wait > 0 \
                    and wait != self._queue_state.get("wait"):
                self._queue_state["wait"] = wait
                self._emit(ChatEvent(kind=ChatEventKind.WAIT_ESTIMATE, t_local=now,
                                     data={"wait_s": float(wait)}, raw=payload))
        elif action == "chat_deactivated":
            self._emit(ChatEvent(kind=ChatEventKind.CHAT_ENDED, t_local=now, raw=payload))

    def _incoming_event(self, event: dict[str, Any], now: float, raw: Any) -> None:
        kind = event.get("type")
        if kind not in ("message", "system_message"):
            return
        try:
            t_server = server_time(event.get("created_at"), "iso")
        except (TypeError, ValueError):
            raise MalformedPayload(f"bad created_at {event.get('created_at')!r}") from None
        author_id = event.get("author_id")
        name = None
        if kind == "system_message":
            actor = Actor.SYSTEM
        elif author_id is not None and author_id == self._customer_id:
            actor = Actor.VISITOR
        else:
            user_type, name = self._users.get(str(author_id), (None, None))
            if user_type is None and name is None:
                raise MalformedPayload(f"message from unknown author {author_id!r}")
            actor = self.options.actor_rules.classify(user_type, name)
        self._emit(ChatEvent(kind=ChatEventKind.MESSAGE, t_local=now, actor=actor,
                             text=event.get("text"), t_server=t_server,
                             data={"author": name} if name else {}, raw=raw))

    async def send(self, text: str) -> None:
        if self._chat_id is None:
            raise ChatTransportError("the chat is not open")
        await self._request("send_event", {"chat_id": self._chat_id,
                                           "event": {"type": "message", "text": text}})

    async def close(self) -> None:
        await cancel(self._pinger)
        self._pinger = None
        if self._chat_id is not None and self._ws is not None and not self._finished:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._request("deactivate_chat", {"id": self._chat_id}),
                                       3.0)
        await self._close_ws()
