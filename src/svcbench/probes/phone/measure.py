"""Numbers only an automated call has (pure): time to answer, rings, announced vs actual wait."""

from __future__ import annotations

from typing import Any

from ...measure import first
from ...models import Event

#: an announced wait is kept when the agent came within it plus this slack (or 25 %)
PROMISE_SLACK_S = 30.0


def promise_kept(announced_s: float, actual_s: float) -> bool:
    return actual_s <= announced_s + max(PROMISE_SLACK_S, 0.25 * announced_s)


def wait_promise(events: list[Event]) -> dict[str, Any]:
    """Announced wait versus actual wait (from the first announcement with a number to the
    first agent): ``wait_announced_s``, ``wait_after_announcement_s``, ``wait_promise_kept``.
    Empty when no number was announced, no agent came, or the announcement's instant is an
    estimate (a call logged afterwards)."""
    announced = first(events, lambda e: e.kind == "call.wait_announced"
                      and e.data.get("seconds") is not None)
    agent = first(events, "call.agent_answered")
    if announced is None:
        return {}
    out: dict[str, Any] = {"wait_announced_s": announced.data["seconds"]}
    if agent is not None and announced.data.get("time") != "estimated":
        actual = max(0.0, (agent.at - announced.at).total_seconds())
        out["wait_after_announcement_s"] = round(actual, 1)
        out["wait_promise_kept"] = promise_kept(float(announced.data["seconds"]), actual)
    return out


def automatic_metrics(events: list[Event]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    connected = first(events, "call.connected")
    if connected is not None:
        out["answer_s"] = connected.data.get("answer_s")
        out["rings"] = connected.data.get("rings")
    positions = [e.data.get("position") for e in sorted(events, key=lambda e: e.at)
                 if e.kind == "call.queue_position"]
    if positions:
        out["queue_position_first"] = positions[0]
    out.update(wait_promise(events))
    detections = [e for e in events if e.kind == "call.detector"]
    out["recordings_rejected"] = sum(1 for e in detections
                                     if e.data.get("detector") in ("human_rejected",
                                                                   "repeat_recording"))
    failed = first(events, "call.failed")
    if failed is not None:
        out["reason"] = failed.data.get("reason")
    out["source"] = "sip"
    return out
