"""Deliveries: how long from placing an order until it arrives.

Events (``order.*``): placed, confirmed, shipped, delivered.
"""

from __future__ import annotations

from ...hours import BusinessCalendar
from ...measure import build, first
from ...models import Channel, Event, Measurement, Outcome, Probe
from ._base import ManualProbe, effective

DELIVERY_EVENTS = ("order.placed", "order.confirmed", "order.shipped", "order.delivered",
                   "order.note")


class DeliveryProbe(ManualProbe):
    name = "delivery"
    channel = Channel.DELIVERY
    event_kinds = DELIVERY_EVENTS
    answer_kind = "order.delivered"

    def measure(self, probe: Probe, events: list[Event], calendar: BusinessCalendar) -> Measurement:
        events = effective(events)
        placed = first(events, "order.placed")
        delivered = first(events, "order.delivered")
        confirmed = first(events, lambda e: e.kind in ("order.confirmed", "order.shipped"))
        shipped = first(events, "order.shipped")
        outcome = Outcome.ANSWERED if delivered else (probe.outcome or Outcome.UNANSWERED)
        m = build(probe, events, calendar, outcome=outcome, start=placed.at if placed else None,
                  first_response=confirmed.at if confirmed else None,
                  answer=delivered.at if delivered else None, human=delivered is not None)
        if m.wait_s is not None:
            m.metrics["days"] = round(m.wait_s / 86400, 2)
        if placed and shipped:
            m.metrics["days_to_ship"] = round((shipped.at - placed.at).total_seconds() / 86400, 2)
        return m
