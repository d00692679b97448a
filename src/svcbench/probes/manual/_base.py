"""What the manual probes share: they are logged, never started by ``tick``."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from ...models import Event, Outcome, Probe
from ...plugins import ProbePlugin


def effective(events: list[Event]) -> list[Event]:
    """Events minus those a person took back: an ``*.undo`` event names the event it cancels.

    Events are facts and stay stored; undoing appends a fact instead of deleting one.
    """
    undone = {e.data.get("event_id") for e in events if e.kind.endswith(".undo")}
    return [e for e in events if e.id not in undone and not e.kind.endswith(".undo")]


class ManualEndpoint(BaseModel):
    """Free-form notes about how the shopper reaches the company (a number, a portal)."""

    model_config = ConfigDict(extra="allow")


class ManualProbe(ProbePlugin):
    automatic = False
    endpoint_model = ManualEndpoint
    #: event kinds, in the order a person logs them; the first one starts the clock
    event_kinds: ClassVar[tuple[str, ...]]
    #: the kind that answers the customer (agent answered, refund received, delivered)
    answer_kind: ClassVar[str]
    #: the kind that ends the probe without an answer
    give_up_kind: ClassVar[str | None] = None

    def outcome(self, probe: Probe, events: list[Event], now: datetime) -> Outcome | None:
        kinds = {e.kind for e in effective(events)}
        if self.answer_kind in kinds:
            return Outcome.ANSWERED
        if self.give_up_kind and self.give_up_kind in kinds:
            return Outcome.ABANDONED
        if probe.deadline_at is not None and now >= probe.deadline_at:
            return Outcome.UNANSWERED
        return None
