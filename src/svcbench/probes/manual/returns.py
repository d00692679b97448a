"""Returns: how long from sending an item back until the refund arrives.

Events (``return.*``): requested, label_received, shipped, received (by the company, if
known), refunded {amount?}. The clock starts when the item was shipped back (or, if that was
not logged, when the return was requested).
"""

from __future__ import annotations

from ...hours import BusinessCalendar
from ...measure import build, first
from ...models import Channel, Event, Measurement, Outcome, Probe
from ._base import ManualProbe, effective

RETURN_EVENTS = ("return.requested", "return.label_received", "return.shipped",
                 "return.received", "return.refunded", "return.note")


class ReturnsProbe(ManualProbe):
    name = "returns"
    channel = Channel.RETURNS
    event_kinds = RETURN_EVENTS
    answer_kind = "return.refunded"

    def measure(self, probe: Probe, events: list[Event], calendar: BusinessCalendar) -> Measurement:
        events = effective(events)
        start = first(events, "return.shipped") or first(events, "return.requested")
        refunded = first(events, "return.refunded")
        acknowledged = first(
            events, lambda e: e.kind in ("return.label_received", "return.received",
                                         "return.refunded"))
        outcome = Outcome.ANSWERED if refunded else (probe.outcome or Outcome.UNANSWERED)
        metrics = {}
        if refunded and refunded.data.get("amount") is not None:
            metrics["refund_amount"] = refunded.data["amount"]
        m = build(probe, events, calendar, outcome=outcome, start=start.at if start else None,
                  first_response=acknowledged.at if acknowledged else None,
                  answer=refunded.at if refunded else None, human=refunded is not None,
                  metrics=metrics)
        if m.wait_s is not None:
            m.metrics["days"] = round(m.wait_s / 86400, 2)
        return m
