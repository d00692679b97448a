"""Chat events in, chat numbers out (pure).

t0 is our question (its echo, or when it was sent). Times to the first reply of any kind,
to the agent being connected (joined, or first human message, whichever came first) and to
the first human reply. Queue announcements come from structured events or from a
multilingual reading of system and bot text; "still waiting" lines are counted with the
gaps between them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...hours import BusinessCalendar
from ...measure import build, elapsed, first
from ...models import Event, Measurement, Outcome, Probe
from .phrases import is_still_waiting, queue_position_in, wait_estimate_in

__all__ = ["chat_measurement", "chat_metrics", "is_still_waiting", "queue_position_in",
           "wait_estimate_in"]

#: a wait promise is kept when the agent came within the promised wait plus this margin
PROMISE_GRACE_S = 30.0
PROMISE_GRACE_SHARE = 0.25


def promise_verdicts(events: list[Event], connected: datetime | None,
                     observed_until: datetime | None) -> list[dict[str, Any]]:
    """Each ``chat.promise`` (a queue announcement) against what happened.

    A wait promise ("about 2 minutes") is *kept* if an agent connected (joined, or first human
    message) within the promised wait plus max(30 s, 25 %) after the announcement, *broken*
    if later or, with no agent, once we had watched past that; otherwise *open* (we stopped
    watching before the promised time was up: not counted either way). A position promise
    ("you are number 3") is *broken* if a later position was higher (the queue went
    backwards) or no agent came while we watched; *kept* if an agent came.
    """
    promises = sorted((e for e in events if e.kind == "chat.promise"), key=lambda e: e.at)
    positions = [e for e in promises if e.data.get("kind") == "position"]
    out = []
    for e in promises:
        kind, value = e.data.get("kind"), e.data.get("value")
        actual = _seconds(e.at, connected) if connected is not None and connected >= e.at \
            else (0.0 if connected is not None else None)
        verdict = "open"
        if kind == "wait_s" and isinstance(value, int | float):
            allowed = float(value) + max(PROMISE_GRACE_S, PROMISE_GRACE_SHARE * float(value))
            if actual is not None:
                verdict = "kept" if actual <= allowed else "broken"
            elif observed_until is not None and _seconds(e.at, observed_until) > allowed:
                verdict = "broken"
        elif kind == "position" and isinstance(value, int | float):
            later = [p.data.get("value") for p in positions if p.at > e.at]
            if any(isinstance(v, int | float) and v > value for v in later):
                verdict = "broken"
            elif actual is not None:
                verdict = "kept"
            elif observed_until is not None:
                verdict = "broken"
        out.append({"kind": kind, "value": value, "source": e.data.get("source"),
                    "text": e.data.get("text"), "actual_s": actual, "verdict": verdict})
    return out


def _actor(event: Event) -> str | None:
    return event.data.get("actor")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)


def chat_metrics(events: list[Event]) -> dict[str, Any]:
    """Everything measurable about one conversation, from its events."""
    events = sorted(events, key=lambda e: e.at)
    question = first(events, lambda e: e.kind == "chat.message"
                     and e.data.get("role") == "question")
    t0 = question.at if question else None
    messages = [e for e in events if e.kind == "chat.message"]
    after = [e for e in events if t0 is not None and e.at >= t0]
    replies = [e for e in after if e.kind == "chat.message" and _actor(e) != "visitor"]
    first_reply = replies[0] if replies else None
    first_human = next((e for e in replies if _actor(e) == "agent"), None)
    joined = first(after, "chat.agent_joined")
    connected = min((e for e in (joined, first_human) if e is not None), key=lambda e: e.at,
                    default=None)
    before_human = [e for e in replies if first_human is None or e.at < first_human.at]
    automated = [e for e in before_human if _actor(e) in ("system", "bot")]

    positions = [(e.at, e.data.get("position")) for e in after if e.kind == "chat.queue_position"]
    waits = [(e.at, e.data.get("wait_s")) for e in after if e.kind == "chat.wait_estimate"]
    queue_texts = []
    for e in automated:
        position, wait = queue_position_in(e.data.get("text")), wait_estimate_in(e.data.get("text"))
        if position is not None:
            positions.append((e.at, position))
        if wait is not None:
            waits.append((e.at, wait))
        if position is not None or wait is not None:
            queue_texts.append(e.data.get("text"))
    positions.sort(key=lambda p: p[0])
    waits.sort(key=lambda p: p[0])

    still = [e for e in automated if is_still_waiting(e.data.get("text"))]
    gaps = [round((b.at - a.at).total_seconds(), 3) for a, b in zip(still, still[1:],
                                                                     strict=False)]
    asked = first(events, "chat.asked_human")
    human_after_ask = first_human is not None and asked is not None and first_human.at >= asked.at
    ended = first(events, "chat.ended")

    server_first_reply = None
    if question and first_reply and question.data.get("t_server") is not None \
            and first_reply.data.get("t_server") is not None:
        server_first_reply = round(first_reply.data["t_server"] - question.data["t_server"], 3)

    promises = promise_verdicts(events, connected.at if connected else None,
                                ended.at if ended else (events[-1].at if events else None))
    timed = [e for e in (first_reply, first_human, joined) if e is not None]
    resolutions = [e.data["resolution_s"] for e in timed
                   if isinstance(e.data.get("resolution_s"), int | float)]
    sources = sorted({str(e.data["time_source"]) for e in timed if e.data.get("time_source")})
    return {
        "question_echoed": bool(question and question.data.get("echoed")),
        #: how exactly the company's instants are known (e.g. +-3.5 s behind a polling widget)
        "resolution_s": max(resolutions) if resolutions else None,
        "time_source": ", ".join(sources) or None,
        "first_reply_s": _seconds(t0, first_reply.at if first_reply else None),
        "first_reply_by": _actor(first_reply) if first_reply else None,
        "first_reply_server_s": server_first_reply,
        "connect_s": _seconds(t0, connected.at if connected else None),
        "agent_joined_s": _seconds(t0, joined.at if joined else None),
        "first_human_s": _seconds(t0, first_human.at if first_human else None),
        "agent": (joined.data.get("agent") if joined else None)
        or (first_human.data.get("author") if first_human else None),
        "queue_announced": bool(positions or waits),
        "queue_positions": [p for _, p in positions],
        "queue_first_s": _seconds(t0, positions[0][0] if positions else None),
        "wait_estimates_s": [w for _, w in waits],
        "queue_texts": queue_texts,
        "still_waiting_count": len(still),
        "still_waiting_gaps_s": gaps,
        "bot_messages": sum(1 for e in before_human if _actor(e) == "bot"),
        "asked_human": asked is not None,
        "human_on_request": human_after_ask if asked is not None else None,
        "transcript_length": len(messages),
        "ended_by": ended.data.get("by") if ended else None,
        "greetings": sum(1 for e in messages if e.data.get("role") == "greeting"),
        "promises": promises,
        "promises_kept": sum(1 for p in promises if p["verdict"] == "kept"),
        "promises_broken": sum(1 for p in promises if p["verdict"] == "broken"),
        "unavailable": next((e.data.get("reason") for e in events
                             if e.kind == "chat.unavailable"), None),
    }


def chat_measurement(probe: Probe, events: list[Event], calendar: BusinessCalendar,
                     outcome: Outcome) -> Measurement:
    metrics = chat_metrics(events)
    question = first(events, lambda e: e.kind == "chat.message"
                     and e.data.get("role") == "question")
    t0 = question.at if question else None
    replies = sorted((e for e in events if e.kind == "chat.message" and t0 is not None
                      and e.at >= t0 and _actor(e) != "visitor"), key=lambda e: e.at)
    first_reply = replies[0].at if replies else None
    human = next((e.at for e in replies if _actor(e) == "agent"), None)
    connect = None
    if metrics["connect_s"] is not None and t0 is not None:
        from datetime import timedelta

        connect = t0 + timedelta(seconds=metrics["connect_s"])
    metrics["connect_bh_s"] = elapsed(t0, connect, calendar)[1]
    flags = []
    if t0 is not None and question is not None and not question.data.get("echoed"):
        flags.append("t0_from_send")
    return build(probe, events, calendar, outcome=outcome, start=t0, first_response=first_reply,
                 answer=human, human=human is not None, metrics=metrics, flags=flags)
