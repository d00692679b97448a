"""Answered probes with known replies in a workspace, graded by answer key as a tick would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from svcbench.lifecycle import grade_probe
from svcbench.models import Channel, Event, Measurement, Outcome, Probe, ProbeStatus, new_id

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)

GOOD = ("Hi Anna, yes we ship to Norway! Delivery takes 5-7 working days and shipping costs "
        "14 EUR. Import VAT and customs may apply. Best, Marta \x1b]0;title\x07")
PARTIAL = "Dear customer, we deliver to Norway within 3 to 5 business days. Regards"
WRONG = "Hi! We ship to Norway in 1 week, shipping 9 EUR. No customs for you!"


def add_answered(ws, company: str, channel: Channel, reply: str, *, day: int = 0,
                 scenario: str = "shipping-norway") -> Probe:
    """A finished, answered probe whose company reply (email, chat agent, phone note) is
    ``reply``; grades it through the lifecycle hook."""
    store = ws.store
    at = START + timedelta(days=day)
    probe = Probe(id=new_id(), company=company, channel=channel, plugin=str(channel),
                  scenario=scenario, shopper="anna", status=ProbeStatus.DONE,
                  outcome=Outcome.ANSWERED, started_at=at, finished_at=at + timedelta(hours=1))
    events = []
    if channel == Channel.PHONE:
        events = [Event(probe.id, "call.dialed", at, source="manual"),
                  Event(probe.id, "call.agent_answered", at + timedelta(seconds=40),
                        source="manual"),
                  Event(probe.id, "call.note", at + timedelta(seconds=90), {"text": reply},
                        source="manual")]
    store.add_probe(probe, events)
    if channel in (Channel.EMAIL, Channel.FORM):  # form replies arrive by email
        store.add_message(probe_id=probe.id, channel=Channel.EMAIL, direction="in", actor="human",
                          at=at + timedelta(hours=1), subject="Re: Delivery to Norway",
                          text=reply + "\n\nOn Tue, Anna wrote:\n> Do you ship to Norway?")
    elif channel == Channel.CHAT:
        store.add_message(probe_id=probe.id, channel=channel, direction="out", actor="visitor",
                          at=at, text="Hi! Do you ship to Norway?")
        store.add_message(probe_id=probe.id, channel=channel, direction="in", actor="agent",
                          at=at + timedelta(seconds=50), text=reply)
    store.save_measurement(Measurement(
        probe_id=probe.id, company=company, channel=channel, outcome=Outcome.ANSWERED,
        started_at=at, quarter="2026Q4", wait_s=3600.0 + day, wait_bh_s=3600.0 + day,
        first_response_s=60.0, answered_by_human=True))
    grade_probe(store, probe, ws.config)
    return probe
