"""A sandbox widget backend shaped like real visitor APIs (not a tidy JSON chat API), for
testing the generic ``rest`` connector over real HTTP. Per company, under ``/c/{company}/va``::

    GET  /init                   an HTML snippet with an anti-bot token in a hidden input whose
                                 *name* is computed per page load (``f_<random>``)
    POST /start   (form)         name, message (the first message is part of the start) and the
                                 token under its computed name -> {"sid"}; 403 without the
                                 token; 409 {"online": false, "message"} when offline
    POST /send    (form)         sid, message
    GET  /status?sid=            {"status": queued|accepted|closed, "position", "operator"}:
                                 the queue position and operator name change in place
    GET  /messages?sid=&since=N  {"html": "<div class='row' data-id='N' data-u='7'>…</div>…"}:
                                 rows with opaque numeric author ids (0 visitor, -1 system,
                                 99 the bot, 7 the operator)
    POST /end     (form)         sid

Behaviour (greeting, bot, queue, agent) comes from the company's ``ChatBehaviour``.
"""

from __future__ import annotations

import html
import secrets
from typing import Any

from .chat import ChatEngine, SandboxChat

AUTHOR_IDS = {"visitor": "0", "system": "-1", "bot": "99", "agent": "7"}


def visitor_api_routes(engine: ChatEngine, api) -> list:
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    tokens: dict[str, tuple[str, str]] = {}  # company -> (field name, value) of the last page

    async def init(request, company):
        field, value = "f_" + secrets.token_hex(3), secrets.token_urlsafe(12)
        tokens[company] = (field, value)
        return HTMLResponse(f'<div id="chat-root"><form class="pre" data-k="{field}">'
                            f'<input type="hidden" name="{field}" value="{value}">'
                            f'<input name="name"></form></div>')

    async def form_of(request) -> dict[str, str]:
        from urllib.parse import parse_qsl

        # stdlib parsing: starlette's form() needs python-multipart
        body = (await request.body()).decode("utf-8", "replace")
        return dict(parse_qsl(body, keep_blank_values=True))

    def chat_for(company: str, sid: str | None) -> SandboxChat | None:
        return engine.get(company, sid or "")

    async def start(request, company):
        form = await form_of(request)
        field, value = tokens.get(company, ("", ""))
        if not field or form.get(field) != value:
            return JSONResponse({"error": "forbidden", "detail": "missing or stale token"},
                                status_code=403)
        behaviour = engine.behaviour(company)
        if behaviour.offline:
            return JSONResponse({"online": False, "message": behaviour.offline_text},
                                status_code=409)
        text = form.get("message", "").strip()
        if not text:
            return JSONResponse({"error": "message is required"}, status_code=400)
        chat = engine.create(company, {"name": form.get("name") or "Visitor"})
        engine.visitor_message(chat, text)
        return JSONResponse({"sid": chat.id, "status": "queued"})

    async def send(request, company):
        form = await form_of(request)
        chat = chat_for(company, form.get("sid"))
        if chat is None:
            return JSONResponse({"error": "no such session"}, status_code=404)
        if form.get("message", "").strip():
            engine.visitor_message(chat, form["message"])
        return JSONResponse({"ok": True})

    async def status(request, company):
        chat = chat_for(company, request.query_params.get("sid"))
        if chat is None:
            return JSONResponse({"error": "no such session"}, status_code=404)
        state: dict[str, Any] = {"status": "closed" if chat.closed else "queued",
                                 "position": None, "operator": None}
        for event in chat.events:
            if event["type"] == "queue_position":
                state["position"] = event["position"]
            elif event["type"] == "agent_joined" and not chat.closed:
                state.update(status="accepted", position=None,
                             operator=event["author"]["name"])
        return JSONResponse(state)

    async def messages(request, company):
        chat = chat_for(company, request.query_params.get("sid"))
        if chat is None:
            return JSONResponse({"error": "no such session"}, status_code=404)
        try:
            since = int(request.query_params.get("since", "0"))
        except ValueError:
            return JSONResponse({"error": "since must be an integer"}, status_code=400)
        rows = []
        for event in chat.events:
            if event["type"] != "message" or event["seq"] <= since:
                continue
            author = event.get("author") or {}
            uid = AUTHOR_IDS.get(author.get("kind", "system"), "-1")
            rows.append(f'<div class="row" data-id="{event["seq"]}" data-u="{uid}" '
                        f'data-t="{int(event["ts"] * 1000)}">'
                        f'<b class="who">{html.escape(author.get("name") or "")}</b>'
                        f'<span class="txt">{html.escape(event.get("text") or "")}</span></div>')
        return JSONResponse({"html": "".join(rows)})

    async def end(request, company):
        form = await form_of(request)
        chat = chat_for(company, form.get("sid"))
        if chat is not None:
            engine.close(chat)
        return JSONResponse({"ok": True})

    base = "/c/{company}/va"
    return [
        Route(base + "/init", api(init), methods=["GET"]),
        Route(base + "/start", api(start), methods=["POST"]),
        Route(base + "/send", api(send), methods=["POST"]),
        Route(base + "/status", api(status), methods=["GET"]),
        Route(base + "/messages", api(messages), methods=["GET"]),
        Route(base + "/end", api(end), methods=["POST"]),
    ]


#: a ``rest`` connector config for this API (also the example in docs/chat.md)
def rest_options(base_url: str, poll_interval_s: float = 0.2) -> dict[str, Any]:
    return {
        "base_url": base_url + "/va",
        "prelude": [{"path": "/init", "response": "text",
                     "capture": {"field": 'data-k="([^"]+)"',
                                 "antibot": 'type="hidden" name="[^"]+" value="([^"]+)"'}}],
        "start": {"method": "POST", "path": "/start",
                  "form": {"name": "{visitor.name}", "message": "{text}",
                           "{field}": "{antibot}"}},
        "session": {"sid": "$.sid"},
        "send": {"method": "POST", "path": "/send",
                 "form": {"sid": "{sid}", "message": "{text}"}},
        "poll": [
            {"path": "/messages", "params": {"sid": "{sid}", "since": "{msg_cursor}"},
             "cursor": "msg_cursor",
             "events": {"list_path": "$.html", "html_items": "div.row",
                        "id_path": "$.attrs['data-id']", "kind_path": False,
                        "actor_path": "$.attrs['data-u']", "actor_name_path": "$.parts.who",
                        "text_path": "$.parts.txt", "t_server_path": "$.attrs['data-t']",
                        "t_server_unit": "ms"}},
            {"path": "/status", "params": {"sid": "{sid}"}, "dedupe": "content",
             "events": {"list_path": "$", "id_path": False, "kind_path": "$.status",
                        "kinds": {"queued": "queue_position", "accepted": "agent_joined"},
                        "actor_path": False, "actor_name_path": "$.operator",
                        "text_path": False, "t_server_path": False,
                        "position_path": "$.position"}},
        ],
        "close": {"method": "POST", "path": "/end", "form": {"sid": "{sid}"}},
        "availability": False,
        "offline": {"path": "$.online", "values": [False]},
        "actor_rules": {"types": {"0": "visitor", "-1": "system", "99": "bot", "7": "agent"}},
        "poll_interval_s": poll_interval_s,
    }
