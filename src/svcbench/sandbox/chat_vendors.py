"""Vendor-shaped routes on the sandbox chat engine, so the vendor connectors are tested over
real HTTP/WebSocket: subsets of the LiveChat Customer Chat API v3.5 (RTM WebSocket), the
Rocket.Chat Livechat REST API and the Chatwoot client API, with payload shapes from their
public documentation. Mounted under ``/c/{company}/livechat``, ``/rocketchat``, ``/chatwoot``.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from .chat import GARBAGE_FRAMES, ChatEngine, SandboxChat


def iso(ts: float, *, micro: bool = True) -> str:
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text if micro else text[:-3]) + "Z"


def _user_id(author: dict[str, str]) -> str:
    return f"{author['kind']}-{author['name'].lower().replace(' ', '-')}"


def vendor_routes(engine: ChatEngine, api, pump) -> list:
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    ids = itertools.count(1)

    async def body_of(request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return body if isinstance(body, dict) else {}

    def gone_or_garbage(chat: SandboxChat):
        if chat.dropped:
            return JSONResponse({"success": False, "error": "chat is gone"}, status_code=410)
        if chat.garbage:
            return HTMLResponse(GARBAGE_FRAMES[0])
        return None

    # -- LiveChat: customer RTM API ------------------------------------------------------

    async def livechat_rtm(websocket: WebSocket):
        company = websocket.path_params["company"]
        if engine.behaviour(company) is None:
            await websocket.close(code=4404)
            return
        await websocket.accept()
        customer_id = None
        chat: SandboxChat | None = None

        async def respond(frame: dict, payload: dict | None = None, error: str | None = None):
            reply: dict[str, Any] = {"request_id": frame.get("request_id"),
                                     "action": frame.get("action"), "type": "response",
                                     "success": error is None}
            reply["payload"] = ({"error": {"type": "validation", "message": error}}
                                if error else payload or {})
            await websocket.send_text(json.dumps(reply))

        # before a chat exists: login and start_chat
        while chat is None:
            try:
                frame = json.loads(await websocket.receive_text())
            except json.JSONDecodeError:
                continue
            except Exception:  # noqa: BLE001 - the client went away
                return
            action = frame.get("action")
            payload = frame.get("payload") or {}
            if action == "login":
                if not str(payload.get("token", "")).strip():
                    await respond(frame, error="token is required")
                    continue
                customer_id = "customer-" + secrets.token_hex(4)
                await respond(frame, {"customer_id": customer_id, "has_active_thread": False,
                                      "chats": []})
            elif action == "ping":
                await respond(frame)
            elif action == "start_chat":
                if customer_id is None:
                    await respond(frame, error="login first")
                    continue
                customer = (payload.get("chat") or {}).get("users") or []
                name = customer[0].get("name") if customer and isinstance(customer[0], dict) \
                    else None
                chat = engine.create(company, {"name": name or "Customer"})
                chat.meta.update(customer_id=customer_id, thread_id="T" + chat.id[:8],
                                 added=set())
                await respond(frame, {"chat_id": chat.id, "thread_id": chat.meta["thread_id"],
                                      "event_ids": []})
            else:
                await respond(frame, error=f"{action} needs an active chat")

        def encode(event: dict[str, Any]) -> list[str]:
            return [json.dumps({"action": a, "type": "push", "payload": p})
                    for a, p in livechat_pushes(chat, event)]

        async def on_frame(frame: dict) -> None:
            action = frame.get("action")
            payload = frame.get("payload") or {}
            if action == "send_event":
                event = payload.get("event") or {}
                if payload.get("chat_id") != chat.id or not str(event.get("text", "")).strip():
                    await respond(frame, error="chat_id and event.text are required")
                    return
                sent = engine.visitor_message(chat, str(event["text"]))
                await respond(frame, {"event_id": f"E{sent['seq']}"})
            elif action == "deactivate_chat":
                await respond(frame)
                engine.close(chat)
            elif action == "ping":
                await respond(frame)
            else:
                await respond(frame, error=f"unsupported action {action!r}")

        await pump(websocket, chat, 0, encode, None, on_frame=on_frame)

    def livechat_pushes(chat: SandboxChat, event: dict[str, Any]) -> list[tuple[str, dict]]:
        base = {"chat_id": chat.id, "thread_id": chat.meta["thread_id"]}
        author = event.get("author") or {}
        kind = event["type"]
        pushes: list[tuple[str, dict]] = []
        if kind == "message":
            body: dict[str, Any] = {"id": f"E{event['seq']}", "created_at": iso(event["ts"]),
                                    "visibility": "all"}
            if author.get("kind") == "system":
                body.update(type="system_message", text=event.get("text"),
                            system_message_type="routing.unassigned")
            else:
                if author.get("kind") == "visitor":
                    body["author_id"] = chat.meta["customer_id"]
                else:
                    user_id = _user_id(author)
                    if user_id not in chat.meta["added"]:
                        chat.meta["added"].add(user_id)
                        pushes.append(("user_added_to_chat", {**base, "user": {
                            "id": user_id, "type": "agent", "name": author["name"],
                            "present": True}}))
                    body["author_id"] = user_id
                body.update(type="message", text=event.get("text"))
            pushes.append(("incoming_event", {**base, "event": body}))
        elif kind == "queue_position":
            chat.meta["position"] = event["position"]
            pushes.append(("queue_position_updated", {**base, "queue": {
                "position": event["position"], "wait_time": chat.meta.get("wait_time", 0),
                "queued_at": iso(event["ts"])}}))
        elif kind == "wait_estimate":
            chat.meta["wait_time"] = int(event["wait_s"])
            pushes.append(("queue_position_updated", {**base, "queue": {
                "position": chat.meta.get("position", 0), "wait_time": int(event["wait_s"]),
                "queued_at": iso(event["ts"])}}))
        elif kind == "agent_joined":
            user_id = _user_id(author)
            chat.meta["added"].add(user_id)
            pushes.append(("user_added_to_chat", {**base, "user": {
                "id": user_id, "type": "agent", "name": author.get("name"), "present": True}}))
        elif kind == "chat_ended":
            pushes.append(("chat_deactivated", base))
        return pushes

    # -- Rocket.Chat: Livechat REST ----------------------------------------------------

    rc_visitors: dict[tuple[str, str], dict[str, Any]] = {}
    rc_rooms: dict[tuple[str, str], SandboxChat] = {}

    def rc_error(message: str, status: int = 400):
        return JSONResponse({"success": False, "error": message}, status_code=status)

    def rc_user(chat: SandboxChat, author: dict[str, str]) -> dict[str, Any]:
        kind = author.get("kind")
        if kind == "visitor":
            token = chat.meta["rc_token"]
            return {"_id": "v-" + token[:8], "username": "guest-" + token[:4],
                    "name": author.get("name")}
        if kind == "system":
            return {"_id": "rocket.cat", "username": "rocket.cat"}
        return {"_id": _user_id(author), "username": author["name"].lower().replace(" ", "."),
                "name": author["name"]}

    def rc_message(chat: SandboxChat, event: dict[str, Any]) -> dict[str, Any] | None:
        author = event.get("author") or {"kind": "system", "name": "system"}
        msg = {"_id": f"m{event['seq']}", "rid": chat.id, "ts": iso(event["ts"], micro=False),
               "u": rc_user(chat, author)}
        if event["type"] == "message":
            msg["msg"] = event.get("text") or ""
            if author.get("kind") == "visitor":
                msg["token"] = chat.meta["rc_token"]
        elif event["type"] == "agent_joined":
            msg.update(t="uj", msg=msg["u"]["username"])
        elif event["type"] == "chat_ended":
            msg.update(t="livechat-close", msg=event.get("text") or "")
        else:
            return None  # queue data only travels on the DDP stream
        return msg

    @api
    async def rc_config(request, company):
        token = request.query_params.get("token")
        room = rc_rooms.get((company, token or ""))
        online = not engine.behaviour(company).offline
        engine.status_checks[company] = engine.status_checks.get(company, 0) + 1
        return JSONResponse({"config": {"enabled": True, "online": online, "title": company,
                                        "room": {"_id": room.id} if room else None},
                             "success": True})

    @api
    async def rc_visitor(request, company):
        visitor = (await body_of(request)).get("visitor")
        if not isinstance(visitor, dict) or not visitor.get("token"):
            return rc_error("visitor.token is required")
        record = {"_id": "v-" + str(visitor["token"])[:8], "token": visitor["token"],
                  "name": visitor.get("name"), "username": "guest-" + str(visitor["token"])[:4]}
        rc_visitors[(company, visitor["token"])] = record
        return JSONResponse({"visitor": record, "success": True})

    @api
    async def rc_room(request, company):
        token = request.query_params.get("token", "")
        visitor = rc_visitors.get((company, token))
        if visitor is None:
            return rc_error("invalid-token")
        chat = rc_rooms.get((company, token))
        new = chat is None
        if chat is None and engine.behaviour(company).offline:
            return rc_error("no-agent-online")
        if chat is None:
            chat = engine.create(company, {"name": visitor.get("name")})
            chat.meta["rc_token"] = token
            rc_rooms[(company, token)] = chat
        room: dict[str, Any] = {"_id": chat.id, "t": "l", "open": not chat.closed,
                                "v": {"_id": visitor["_id"], "token": token}}
        if chat.agent_joined:
            room["servedBy"] = {"_id": _user_id({"kind": "agent",
                                                 "name": chat.behaviour.agent_name})}
        return JSONResponse({"room": room, "newRoom": new, "success": True})

    def rc_chat(company: str, rid: str, token: str | None):
        chat = engine.get(company, rid)
        if chat is None or chat.meta.get("rc_token") != token:
            return None
        return chat

    @api
    async def rc_send(request, company):
        body = await body_of(request)
        chat = rc_chat(company, str(body.get("rid")), body.get("token"))
        if chat is None:
            return rc_error("invalid-room")
        if (bad := gone_or_garbage(chat)) is not None and chat.dropped:
            return bad
        if not str(body.get("msg", "")).strip():
            return rc_error("msg is required")
        event = engine.visitor_message(chat, str(body["msg"]))
        return JSONResponse({"message": {"_id": f"m{event['seq']}", "rid": chat.id,
                                         "msg": body["msg"], "token": body["token"],
                                         "u": rc_user(chat, event["author"]),
                                         "ts": iso(event["ts"], micro=False)},
                             "success": True})

    @api
    async def rc_history(request, company):
        chat = rc_chat(company, request.path_params["rid"], request.query_params.get("token"))
        if chat is None:
            return rc_error("invalid-room")
        if (bad := gone_or_garbage(chat)) is not None:
            return bad
        messages = [m for e in chat.events if (m := rc_message(chat, e)) is not None]
        messages.reverse()  # newest first, as loadMessageHistory returns them
        limit = int(request.query_params.get("limit", "20") or 20)
        return JSONResponse({"messages": messages[:limit], "success": True})

    @api
    async def rc_close(request, company):
        body = await body_of(request)
        chat = rc_chat(company, str(body.get("rid")), body.get("token"))
        if chat is None:
            return rc_error("invalid-room")
        engine.close(chat)
        return JSONResponse({"rid": chat.id, "comment": "Closed by visitor", "success": True})

    # -- Chatwoot: client API ------------------------------------------------------------

    cw_contacts: dict[tuple[str, str, str], dict[str, Any]] = {}
    cw_conversations: dict[tuple[str, int], SandboxChat] = {}

    def cw_message(chat: SandboxChat, event: dict[str, Any]) -> dict[str, Any] | None:
        if event["type"] != "message":
            return None  # activity messages never reach the public API
        author = event.get("author") or {}
        kind = author.get("kind")
        message: dict[str, Any] = {
            "id": event["seq"], "content": event.get("text"), "content_type": "text",
            "message_type": 0 if kind == "visitor" else 1,
            "created_at": int(event["ts"]), "conversation_id": chat.meta["cw_id"],
            "private": False, "attachments": []}
        if kind == "visitor":
            message["sender"] = {"id": chat.meta["cw_contact"]["id"], "type": "contact",
                                 "name": author.get("name")}
        elif kind == "bot":
            message["sender"] = {"id": 1, "name": author["name"], "type": "agent_bot",
                                 "avatar_url": ""}
        elif kind == "agent":
            message["sender"] = {"id": 7, "name": author["name"],
                                 "available_name": author["name"], "type": "user",
                                 "availability_status": "online"}
        else:
            message["sender"] = None
        return message

    def cw_chat(request, company):
        inbox, source = request.path_params["inbox"], request.path_params["source_id"]
        if (company, inbox, source) not in cw_contacts:
            return None
        try:
            number = int(request.path_params["conversation_id"])
        except ValueError:
            return None
        chat = cw_conversations.get((company, number))
        if chat is None or chat.meta["cw_source"] != source:
            return None
        return chat

    @api
    async def cw_create_contact(request, company):
        body = await body_of(request)
        contact = {"id": next(ids), "source_id": secrets.token_hex(16),
                   "pubsub_token": secrets.token_hex(12), "name": body.get("name"),
                   "email": body.get("email")}
        cw_contacts[(company, request.path_params["inbox"], contact["source_id"])] = contact
        return JSONResponse(contact)

    @api
    async def cw_create_conversation(request, company):
        key = (company, request.path_params["inbox"], request.path_params["source_id"])
        contact = cw_contacts.get(key)
        if contact is None:
            return JSONResponse({"error": "contact not found"}, status_code=404)
        chat = engine.create(company, {"name": contact.get("name")})
        number = next(ids)
        chat.meta.update(cw_id=number, cw_source=contact["source_id"], cw_contact=contact)
        cw_conversations[(company, number)] = chat
        return JSONResponse({"id": number, "inbox_id": request.path_params["inbox"],
                             "status": "pending", "contact": contact, "messages": []})

    @api
    async def cw_messages(request, company):
        chat = cw_chat(request, company)
        if chat is None:
            return JSONResponse({"error": "conversation not found"}, status_code=404)
        if request.method == "POST":
            if chat.dropped:
                return JSONResponse({"error": "conversation is gone"}, status_code=410)
            content = (await body_of(request)).get("content")
            if not isinstance(content, str) or not content.strip():
                return JSONResponse({"error": "content is required"}, status_code=422)
            event = engine.visitor_message(chat, content)
            return JSONResponse(cw_message(chat, event) if event["seq"] else
                                {"id": 0, "content": content, "message_type": 0,
                                 "created_at": int(time.time())})
        if (bad := gone_or_garbage(chat)) is not None:
            return bad
        return JSONResponse([m for e in chat.events if (m := cw_message(chat, e)) is not None])

    @api
    async def cw_toggle(request, company):
        chat = cw_chat(request, company)
        if chat is None:
            return JSONResponse({"error": "conversation not found"}, status_code=404)
        engine.close(chat)
        return JSONResponse({"id": chat.meta["cw_id"], "status": "resolved"})

    lc = "/c/{company}/livechat/v3.5/customer"
    rc = "/c/{company}/rocketchat/api/v1/livechat"
    cw = "/c/{company}/chatwoot/public/api/v1/inboxes/{inbox}/contacts"
    conv = cw + "/{source_id}/conversations/{conversation_id}"
    return [
        WebSocketRoute(lc + "/rpc/ws", livechat_rtm),
        Route(rc + "/config", rc_config, methods=["GET"]),
        Route(rc + "/visitor", rc_visitor, methods=["POST"]),
        Route(rc + "/room", rc_room, methods=["GET"]),
        Route(rc + "/message", rc_send, methods=["POST"]),
        Route(rc + "/messages.history/{rid}", rc_history, methods=["GET"]),
        Route(rc + "/room.close", rc_close, methods=["POST"]),
        Route(cw, cw_create_contact, methods=["POST"]),
        Route(cw + "/{source_id}/conversations", cw_create_conversation, methods=["POST"]),
        Route(conv + "/messages", cw_messages, methods=["GET", "POST"]),
        Route(conv + "/toggle_status", cw_toggle, methods=["POST"]),
    ]
