"""The normalized chat event stream every connector produces, whatever its transport.

Times: ``t_local`` is wall-clock epoch seconds taken from a monotonic clock anchored once to
the wall clock at probe start (so intervals are exact); ``t_server`` is the platform's own
timestamp when it sends one (epoch seconds), kept for cross-checking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Actor(StrEnum):
    VISITOR = "visitor"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class ChatEventKind(StrEnum):
    CONNECTED = "connected"            # session opened (visitor API answered / widget loaded)
    MESSAGE = "message"                # a chat line from any actor (our own echo included)
    QUEUE_POSITION = "queue_position"  # data: {"position": int}
    WAIT_ESTIMATE = "wait_estimate"    # data: {"wait_s": float}
    AGENT_JOINED = "agent_joined"      # data: {"agent": name}
    CHAT_ENDED = "chat_ended"          # ended by the company or the platform
    ERROR = "error"                    # transport problem; data: {"reason": str}


@dataclass(frozen=True)
class ChatEvent:
    kind: ChatEventKind
    t_local: float
    actor: Actor | None = None
    text: str | None = None
    t_server: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    raw: Any = None
