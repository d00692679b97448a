"""A simulated live-chat service with known ground truth, for tests, benchmarks and the demo.

One Starlette app serves any number of companies, each with its own ``ChatBehaviour``
(greeting, bot, queue announcements, when a human joins, failures). The same engine speaks
the sandbox's own API (REST + WebSocket, below) and vendor-shaped subsets (LiveChat customer
RTM, Rocket.Chat Livechat REST, Chatwoot client API: ``chat_vendors.py``), so every connector
is tested over real HTTP/WebSocket. Server instants of what happened are recorded per chat
(``truth``) for measuring the probe's timing error.

API, per company slug::

    POST /c/{company}/api/chats                      {"visitor": {"name", "email"}}
                                                     -> 201 {"chat_id", "token"}
    POST /c/{company}/api/chats/{id}/messages        {"text"} (Bearer token) -> 201 {"id", "ts"}
    GET  /c/{company}/api/chats/{id}/events?after=N  -> {"events": [...]}
    WS   /c/{company}/ws/chats/{id}?token=...        pushes events; accepts {"type": "message"}
    POST /c/{company}/api/chats/{id}/close
    GET  /c/{company}/api/chats/{id}/truth           ground truth
    GET  /c/{company}/api/status                     {"online": bool, "message"} (no chat)
    GET  /c/{company}/widget                         web page with the chat widget (see
                                                     static/widget.js for its behaviours)
    GET  /c/{company}/imitate/{vendor}               a page imitating a vendor's embed

With ``offline`` the status says ``online: false`` and starting a chat is refused with
409 ``{"error": "offline", "online": false, "message": offline_text}`` (as a widget's visitor
API refuses a chat nobody staffs); nothing is created.

An event is ``{"seq", "type", "ts", "author": {"kind", "name"}, "text", "position", "wait_s"}``
with type message | queue_position | wait_estimate | agent_joined | chat_ended.

Times in ``ChatBehaviour`` are seconds after the visitor's first message, except
``agent_reply_after`` (after the agent joined) and, with ``human_on_request``,
``agent_joined_after`` (after the visitor asked for a human).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATIC_DIR = Path(__file__).resolve().parent / "static"
HUMAN_REQUEST = re.compile(
    r"(?i)\b(human|person|people|agent|someone|real|mensch|mitarbeiter\w*|humain|personne|"
    r"persona|agente|medewerker)\b")
_DROP = object()


@dataclass
class ChatBehaviour:
    """How one simulated company's chat behaves (seconds; see the module docstring)."""

    greeting: str | None = "Hi there! How can we help you today?"
    bot_name: str = "ShopBot"
    bot_reply_after: float | None = 0.2
    bot_text: str = "I'm the virtual assistant. Let me find someone who can help you."
    queue_positions: list[tuple[float, int]] = field(default_factory=list)
    #: (t, seconds): when a wait estimate is announced and its value
    wait_estimate: tuple[float, float] | None = None
    still_waiting_every: float | None = None
    still_waiting_text: str = "Thanks for waiting, an agent will be with you shortly."
    #: None: no human ever comes
    agent_joined_after: float | None = 1.0
    agent_name: str = "Anna"
    agent_reply_after: float = 0.3
    agent_text: str = "Hi, Anna here. Yes, we ship to Norway; delivery takes 3-5 working days."
    agent_follow_up_text: str = "Yes, returns from Norway are free within 30 days."
    #: whether the agent answers the visitor's later messages
    answers_follow_up: bool = True
    #: an agent comes only after the visitor asks for a human
    human_on_request: bool = False
    #: server-side delay before answering every HTTP request
    latency_s: float = 0.0
    drop_connection_after: float | None = None
    garbage_after: float | None = None
    never_answer: bool = False
    #: with never_answer: whether the visitor's own messages are still stored and shown
    #: (False: the platform swallows them, so the probe cannot observe the conversation)
    echo_visitor: bool = True
    #: the chat is offline ("leave a message"): no conversation can start, and the widget
    #: shows its "leave a message" form instead of a composer
    offline: bool = False
    offline_text: str = "We're offline right now. Leave us a message and we'll get back to you."
    #: share of HTTP API requests answered with a 500
    http_error_rate: float = 0.0
    #: text of queue announcements, also sent as a system message (None: structured only)
    queue_text: str | None = "You are number {position} in the queue."
    wait_text: str | None = "The expected waiting time is about {minutes} minutes."


@dataclass
class SandboxChat:
    id: str
    company: str
    token: str
    behaviour: ChatBehaviour
    visitor: dict[str, Any]
    created_at: float
    events: list[dict[str, Any]] = field(default_factory=list)
    listeners: list[asyncio.Queue] = field(default_factory=list)
    tasks: list[asyncio.Task] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)
    first_message_at: float | None = None
    human_requested: bool = False
    agent_joined: bool = False
    agent_replies: int = 0
    dropped: bool = False
    garbage: bool = False
    closed: bool = False
    #: per-vendor bookkeeping (visitor tokens, ids)
    meta: dict[str, Any] = field(default_factory=dict)


class ChatEngine:
    """The chats of every company and their scripted behaviour (runs in the server's loop)."""

    def __init__(self, companies: dict[str, ChatBehaviour], seed: int = 0):
        self.companies = companies
        self.chats: dict[tuple[str, str], SandboxChat] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # truth is read from other threads
        #: availability checks answered per company (they must never start a chat)
        self.status_checks: dict[str, int] = {}

    def behaviour(self, company: str) -> ChatBehaviour | None:
        return self.companies.get(company)

    def http_fails(self, company: str) -> bool:
        behaviour = self.companies.get(company)
        return bool(behaviour and behaviour.http_error_rate
                    and self._rng.random() < behaviour.http_error_rate)

    def get(self, company: str, chat_id: str) -> SandboxChat | None:
        return self.chats.get((company, chat_id))

    def create(self, company: str, visitor: dict[str, Any]) -> SandboxChat:
        behaviour = self.companies[company]
        chat = SandboxChat(id=secrets.token_hex(8), company=company,
                           token=secrets.token_urlsafe(16), behaviour=behaviour,
                           visitor=visitor, created_at=time.time())
        chat.truth = {"created_at": chat.created_at, "queue": [], "wait_estimates": [],
                      "still_waiting": [], "messages": []}
        self.chats[(company, chat.id)] = chat
        if behaviour.greeting and not behaviour.never_answer:
            self.emit(chat, "message", _author("bot", behaviour.bot_name), text=behaviour.greeting)
        return chat

    # -- events ---------------------------------------------------------------------------

    def emit(self, chat: SandboxChat, type_: str, author: dict[str, str] | None = None,
             **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"seq": len(chat.events) + 1, "type": type_, "ts": time.time()}
        if author is not None:
            event["author"] = author
        event.update({k: v for k, v in fields.items() if v is not None})
        chat.events.append(event)
        self._record(chat, event)
        for queue in list(chat.listeners):
            queue.put_nowait(event)
        return event

    def _record(self, chat: SandboxChat, event: dict[str, Any]) -> None:
        kind = event.get("author", {}).get("kind")
        ts = event["ts"]
        with self._lock:
            truth = chat.truth
            if event["type"] == "message":
                truth["messages"].append([ts, kind, event.get("text")])
                if chat.first_message_at is None:
                    truth.setdefault("greeting_at", ts)
                elif kind != "visitor":
                    truth.setdefault("first_reply", ts)
                    if kind == "agent":
                        truth.setdefault("first_human_reply", ts)
            elif event["type"] == "agent_joined":
                truth.setdefault("agent_joined", ts)
            elif event["type"] == "queue_position":
                truth["queue"].append([ts, event["position"]])
            elif event["type"] == "wait_estimate":
                truth["wait_estimates"].append([ts, event["wait_s"]])

    def truth(self, chat: SandboxChat) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(chat.truth))

    def subscribe(self, chat: SandboxChat) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        chat.listeners.append(queue)
        if chat.dropped:
            queue.put_nowait(_DROP)
        return queue

    def unsubscribe(self, chat: SandboxChat, queue: asyncio.Queue) -> None:
        with contextlib.suppress(ValueError):
            chat.listeners.remove(queue)

    # -- the visitor's side ---------------------------------------------------------------

    def visitor_message(self, chat: SandboxChat, text: str) -> dict[str, Any]:
        b = chat.behaviour
        now = time.time()
        if b.never_answer and not b.echo_visitor:
            # accepted, but nothing ever comes back, not even the echo
            return {"seq": 0, "type": "message", "ts": now, "text": text,
                    "author": _author("visitor", chat.visitor.get("name") or "Visitor")}
        if b.never_answer:  # stored and shown, never answered
            return self.emit(chat, "message", _author("visitor", chat.visitor.get("name")
                                                      or "Visitor"), text=text)
        event = self.emit(chat, "message", _author("visitor", chat.visitor.get("name")
                                                    or "Visitor"), text=text)
        first = chat.first_message_at is None
        if first:
            chat.first_message_at = event["ts"]
            with self._lock:
                chat.truth["first_visitor_message"] = event["ts"]
            self._schedule_timeline(chat)
        asks_human = not first and HUMAN_REQUEST.search(text) is not None
        if asks_human and not chat.human_requested:
            chat.human_requested = True
            with self._lock:
                chat.truth["human_requested_at"] = event["ts"]
            if b.human_on_request and b.agent_joined_after is not None:
                self._later(chat, b.agent_joined_after, self._agent_joins)
        if chat.agent_joined:
            if not first and chat.agent_replies > 0 and b.answers_follow_up:
                self._later(chat, b.agent_reply_after, self._agent_follow_up)
        elif b.bot_reply_after is not None and not first:
            if asks_human:
                coming = b.agent_joined_after is not None
                reply = ("Of course, I'm connecting you with a colleague." if coming
                         else "Sorry, no agents are available right now.")
            else:
                reply = "I'm only a bot; ask me for a person if you need one."
            self._later(chat, b.bot_reply_after, lambda c: self._bot_says(c, reply))
        return event

    def close(self, chat: SandboxChat, by: str = "visitor") -> None:
        if chat.closed:
            return
        chat.closed = True
        with self._lock:
            chat.truth["closed_at"] = time.time()
            chat.truth["closed_by"] = by
        if not chat.behaviour.never_answer and not chat.dropped:
            self.emit(chat, "chat_ended", _author("system", "system"), text=f"closed by {by}")
        for task in chat.tasks:
            task.cancel()

    def shutdown(self) -> None:
        for chat in self.chats.values():
            for task in chat.tasks:
                task.cancel()

    # -- the company's side ---------------------------------------------------------------

    def _schedule_timeline(self, chat: SandboxChat) -> None:
        b = chat.behaviour
        if b.bot_reply_after is not None:
            self._later(chat, b.bot_reply_after, lambda c: self._bot_says(c, b.bot_text))
        for t, position in b.queue_positions:
            self._later(chat, t, lambda c, p=position: self._queue(c, p))
        if b.wait_estimate is not None:
            t, wait = b.wait_estimate
            self._later(chat, t, lambda c: self._wait(c, wait))
        if b.still_waiting_every:
            self._later(chat, b.still_waiting_every, self._still_waiting)
        if b.agent_joined_after is not None and not b.human_on_request:
            self._later(chat, b.agent_joined_after, self._agent_joins)
        if b.drop_connection_after is not None:
            self._later(chat, b.drop_connection_after, self._drop)
        if b.garbage_after is not None:
            self._later(chat, b.garbage_after, self._start_garbage)

    def _later(self, chat: SandboxChat, delay: float, action) -> None:
        async def run() -> None:
            await asyncio.sleep(max(0.0, delay))
            if not chat.closed and not chat.dropped:
                action(chat)

        task = asyncio.get_running_loop().create_task(run())
        chat.tasks.append(task)

    def _bot_says(self, chat: SandboxChat, text: str) -> None:
        if not chat.agent_joined:
            self.emit(chat, "message", _author("bot", chat.behaviour.bot_name), text=text)

    def _queue(self, chat: SandboxChat, position: int) -> None:
        if chat.agent_joined:
            return
        self.emit(chat, "queue_position", _author("system", "system"), position=position)
        if chat.behaviour.queue_text:
            self.emit(chat, "message", _author("system", "system"),
                      text=chat.behaviour.queue_text.format(position=position))

    def _wait(self, chat: SandboxChat, wait_s: float) -> None:
        if chat.agent_joined:
            return
        self.emit(chat, "wait_estimate", _author("system", "system"), wait_s=wait_s)
        if chat.behaviour.wait_text:
            minutes = max(1, round(wait_s / 60))
            self.emit(chat, "message", _author("system", "system"),
                      text=chat.behaviour.wait_text.format(minutes=minutes, seconds=wait_s))

    def _still_waiting(self, chat: SandboxChat) -> None:
        if chat.agent_joined:
            return
        event = self.emit(chat, "message", _author("system", "system"),
                          text=chat.behaviour.still_waiting_text)
        with self._lock:
            chat.truth["still_waiting"].append(event["ts"])
        self._later(chat, chat.behaviour.still_waiting_every or 1.0, self._still_waiting)

    def _agent_joins(self, chat: SandboxChat) -> None:
        if chat.agent_joined:
            return
        chat.agent_joined = True
        b = chat.behaviour
        self.emit(chat, "agent_joined", _author("agent", b.agent_name),
                  text=f"{b.agent_name} joined the chat")
        self._later(chat, b.agent_reply_after, self._agent_answers)

    def _agent_answers(self, chat: SandboxChat) -> None:
        chat.agent_replies += 1
        self.emit(chat, "message", _author("agent", chat.behaviour.agent_name),
                  text=chat.behaviour.agent_text)

    def _agent_follow_up(self, chat: SandboxChat) -> None:
        chat.agent_replies += 1
        self.emit(chat, "message", _author("agent", chat.behaviour.agent_name),
                  text=chat.behaviour.agent_follow_up_text)

    def _drop(self, chat: SandboxChat) -> None:
        chat.dropped = True
        with self._lock:
            chat.truth["dropped_at"] = time.time()
        for queue in list(chat.listeners):
            queue.put_nowait(_DROP)
        for task in chat.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    def _start_garbage(self, chat: SandboxChat) -> None:
        chat.garbage = True
        with self._lock:
            chat.truth["garbage_from"] = time.time()
        # one garbled frame right away, then every later event garbled too
        for queue in list(chat.listeners):
            queue.put_nowait({"__garbage__": True})
        self._later(chat, 0.05, self._garbage_tick)

    def _garbage_tick(self, chat: SandboxChat) -> None:
        for queue in list(chat.listeners):
            queue.put_nowait({"__garbage__": True})
        self._later(chat, 0.05, self._garbage_tick)


def _frames(encoded: str | list[str] | None) -> list[str]:
    if encoded is None:
        return []
    return [encoded] if isinstance(encoded, str) else encoded


def _author(kind: str, name: str) -> dict[str, str]:
    return {"kind": kind, "name": name}


GARBAGE_FRAMES = ["<html><body>502 Bad Gateway</body></html>", '{"seq": 12, "type": "mess',
                  "\x00\x01garbage\x02"]


# -- the app ------------------------------------------------------------------------------

def create_chat_app(companies: dict[str, ChatBehaviour], *, engine: ChatEngine | None = None):
    """The sandbox chat service for these companies (slug -> behaviour), as a Starlette app."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket, WebSocketDisconnect

    from .chat_vendors import vendor_routes
    from .chat_visitor_api import visitor_api_routes

    engine = engine or ChatEngine(companies)

    def api(handler):
        """Company lookup, latency and random 500s for every HTTP API route."""
        async def wrapped(request):
            company = request.path_params["company"]
            behaviour = engine.behaviour(company)
            if behaviour is None:
                return JSONResponse({"error": f"unknown company {company!r}"}, status_code=404)
            if behaviour.latency_s:
                await asyncio.sleep(behaviour.latency_s)
            if engine.http_fails(company):
                return JSONResponse({"error": "internal server error"}, status_code=500)
            return await handler(request, company)
        return wrapped

    def chat_of(request, company: str) -> SandboxChat | Response:
        chat = engine.get(company, request.path_params["chat_id"])
        if chat is None:
            return JSONResponse({"error": "no such chat"}, status_code=404)
        auth = request.headers.get("authorization")
        if auth is not None and auth != f"Bearer {chat.token}":
            return JSONResponse({"error": "bad token"}, status_code=401)
        if chat.dropped:
            return JSONResponse({"error": "chat is gone"}, status_code=410)
        return chat

    async def json_body(request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    @api
    async def start_chat(request, company):
        body = await json_body(request)
        if body is None:
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        behaviour = engine.behaviour(company)
        if behaviour.offline:
            return JSONResponse({"error": "offline", "online": False,
                                 "message": behaviour.offline_text}, status_code=409)
        visitor = body.get("visitor") if isinstance(body.get("visitor"), dict) else {}
        chat = engine.create(company, visitor)
        return JSONResponse({"chat_id": chat.id, "token": chat.token}, status_code=201)

    @api
    async def post_message(request, company):
        chat = chat_of(request, company)
        if not isinstance(chat, SandboxChat):
            return chat
        if request.headers.get("authorization") is None:
            return JSONResponse({"error": "missing token"}, status_code=401)
        body = await json_body(request)
        if body is None or not isinstance(body.get("text"), str) or not body["text"].strip():
            return JSONResponse({"error": "expected {\"text\": ...}"}, status_code=400)
        event = engine.visitor_message(chat, body["text"])
        return JSONResponse({"id": event["seq"], "ts": event["ts"]}, status_code=201)

    @api
    async def get_events(request, company):
        chat = chat_of(request, company)
        if not isinstance(chat, SandboxChat):
            return chat
        if chat.garbage:
            return HTMLResponse(GARBAGE_FRAMES[0])
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError:
            return JSONResponse({"error": "after must be an integer"}, status_code=400)
        return JSONResponse({"events": [e for e in chat.events if e["seq"] > after]})

    @api
    async def close_chat(request, company):
        chat = chat_of(request, company)
        if not isinstance(chat, SandboxChat):
            return chat
        engine.close(chat)
        return JSONResponse({"ok": True})

    @api
    async def get_status(request, company):
        behaviour = engine.behaviour(company)
        engine.status_checks[company] = engine.status_checks.get(company, 0) + 1
        return JSONResponse({"online": not behaviour.offline,
                             "message": behaviour.offline_text if behaviour.offline else None})

    async def get_truth(request):
        chat = engine.get(request.path_params["company"], request.path_params["chat_id"])
        if chat is None:
            return JSONResponse({"error": "no such chat"}, status_code=404)
        return JSONResponse(engine.truth(chat))

    async def widget_page(request):
        company = request.path_params["company"]
        if engine.behaviour(company) is None:
            return PlainTextResponse(f"unknown company {company!r}", status_code=404)
        host = STATIC_DIR / "host.html"
        if not host.is_file():
            return PlainTextResponse("widget page not installed", status_code=404)
        page = host.read_text(encoding="utf-8").replace("{{company}}", company)
        return HTMLResponse(page)

    async def imitation_page(request):
        """A shop page embedding an imitation of a vendor's widget (``imitations.py``)."""
        from .imitations import imitation_html

        company, vendor = request.path_params["company"], request.path_params["vendor"]
        if engine.behaviour(company) is None:
            return PlainTextResponse(f"unknown company {company!r}", status_code=404)
        page = imitation_html(vendor, company, request.query_params)
        if page is None:
            return PlainTextResponse(f"no imitation of {vendor!r}", status_code=404)
        return HTMLResponse(page)

    async def vendor_script(request):
        """Stands in for a vendor's loader script at a path naming its real host and path, so
        pages reference it the way real embeds do (the script itself does nothing)."""
        return Response("/* svcbench sandbox: stands in for " + request.path_params["path"]
                        + " */", media_type="application/javascript")

    async def chat_socket(websocket: WebSocket):
        company = websocket.path_params["company"]
        chat = engine.get(company, websocket.path_params["chat_id"])
        if chat is None or websocket.query_params.get("token") != chat.token \
                or engine.behaviour(company) is None:
            await websocket.close(code=4404)
            return
        await websocket.accept()
        try:
            after = int(websocket.query_params.get("after", "0"))
        except ValueError:
            after = 0
        await pump(websocket, chat, after, lambda e: json.dumps(e),
                   lambda frame: frame.get("type") == "message" and frame.get("text"))

    async def pump(websocket: WebSocket, chat: SandboxChat, after: int, encode,
                   visitor_text, on_frame=None) -> None:
        """Push the chat's events (backlog, then live) while taking the visitor's frames."""
        queue = engine.subscribe(chat)

        async def push() -> None:
            last = after
            for event in list(chat.events):
                if event["seq"] > last:
                    last = event["seq"]
                    for frame in _frames(encode(event)):
                        await websocket.send_text(frame)
            garbage = 0
            while True:
                item = await queue.get()
                if item is _DROP:
                    await websocket.close(code=1011)
                    return
                if chat.garbage or "__garbage__" in item:
                    await websocket.send_text(GARBAGE_FRAMES[garbage % len(GARBAGE_FRAMES)])
                    garbage += 1
                    continue
                if item["seq"] <= last:
                    continue
                last = item["seq"]
                for frame in _frames(encode(item)):
                    await websocket.send_text(frame)

        async def take() -> None:
            while True:
                raw = await websocket.receive_text()
                try:
                    frame = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if not isinstance(frame, dict):
                    continue
                if on_frame is not None:
                    await on_frame(frame)
                    continue
                text = visitor_text(frame)
                if isinstance(text, str) and text.strip() and not chat.dropped:
                    engine.visitor_message(chat, text)

        tasks = [asyncio.create_task(push()), asyncio.create_task(take())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                    await task
            engine.unsubscribe(chat, queue)
            with contextlib.suppress(Exception):
                await websocket.close()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        engine.shutdown()

    routes = [
        Route("/c/{company}/api/chats", start_chat, methods=["POST"]),
        Route("/c/{company}/api/chats/{chat_id}/messages", post_message, methods=["POST"]),
        Route("/c/{company}/api/chats/{chat_id}/events", get_events, methods=["GET"]),
        Route("/c/{company}/api/chats/{chat_id}/close", close_chat, methods=["POST"]),
        Route("/c/{company}/api/chats/{chat_id}/truth", get_truth, methods=["GET"]),
        Route("/c/{company}/api/status", get_status, methods=["GET"]),
        WebSocketRoute("/c/{company}/ws/chats/{chat_id}", chat_socket),
        Route("/c/{company}/widget", widget_page, methods=["GET"]),
        Route("/c/{company}/imitate/{vendor}", imitation_page, methods=["GET"]),
        Route("/vendor-cdn/{path:path}", vendor_script, methods=["GET"]),
        *vendor_routes(engine, api, pump),
        *visitor_api_routes(engine, api),
    ]
    if STATIC_DIR.is_dir():
        routes.append(Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.engine = engine
    return app


class ChatSandbox:
    """Serves the sandbox chat app with uvicorn on 127.0.0.1 (a free port) in a thread.

    ``with ChatSandbox({"acme": ChatBehaviour()}) as sandbox: sandbox.url("acme")``
    """

    def __init__(self, companies: dict[str, ChatBehaviour], *, host: str = "127.0.0.1",
                 port: int = 0):
        from ._serve import ServedApp

        self.companies = companies
        self.engine = ChatEngine(companies)
        self.app = create_chat_app(companies, engine=self.engine)
        # no WebSocket pings (the sandbox's own timing must not be disturbed) and a deep
        # accept queue for the concurrency bench
        self._served = ServedApp(self.app, name="chat sandbox", host=host, port=port,
                                 ws_ping_interval=None, backlog=1024)

    @property
    def host(self) -> str:
        return self._served.host

    @property
    def port(self) -> int | None:
        return self._served.port

    @property
    def base_url(self) -> str:
        return self._served.base_url

    def url(self, company: str) -> str:
        """The company's root: the REST/WebSocket connectors' ``base_url``."""
        return f"{self.base_url}/c/{company}"

    def start(self) -> ChatSandbox:
        self._served.start()
        return self

    def stop(self) -> None:
        self._served.stop()

    def __enter__(self) -> ChatSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def chats(self, company: str) -> list[SandboxChat]:
        return [c for (slug, _), c in list(self.engine.chats.items()) if slug == company]

    def truth(self, company: str, chat_id: str | None = None) -> dict[str, Any]:
        """Ground truth of a chat (the company's only chat if no id is given)."""
        if chat_id is None:
            chats = self.chats(company)
            if len(chats) != 1:
                raise LookupError(f"{company} has {len(chats)} chats; name one")
            return self.engine.truth(chats[0])
        chat = self.engine.get(company, chat_id)
        if chat is None:
            raise LookupError(f"no chat {chat_id} at {company}")
        return self.engine.truth(chat)
