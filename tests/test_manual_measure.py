"""Manual probes' measurements (pure) and the phone stopwatch's key handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from svcbench.hours import BusinessCalendar
from svcbench.manual_log import (
    DeliveryOrder,
    EntryError,
    PhoneCall,
    ReturnCase,
    parse_seconds,
    parse_when,
)
from svcbench.models import Channel, Event, Outcome, Probe
from svcbench.probes.manual.delivery import DeliveryProbe
from svcbench.probes.manual.phone import PhoneProbe
from svcbench.probes.manual.returns import ReturnsProbe
from svcbench.probes.manual.stopwatch import CallStopwatch

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)  # a Monday, 10:15 in Berlin
ALWAYS = BusinessCalendar()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def probe(channel: Channel = Channel.PHONE) -> Probe:
    return Probe(id="p1", company="acme", channel=channel, plugin=str(channel))


def ev(kind: str, offset: float, **data) -> Event:
    return Event(probe_id="p1", kind=kind, at=at(offset), data=data, source="manual")


def test_phone_time_to_agent_ivr_steps_and_hold():
    events = [
        ev("call.dialed", 0), ev("call.ivr_prompt", 4), ev("call.option_pressed", 10, option="2"),
        ev("call.option_pressed", 15, option="1"), ev("call.hold_started", 20),
        ev("call.hold_music", 21, playing=False), ev("call.wait_announced", 25, seconds=300),
        ev("call.agent_answered", 95), ev("call.transferred", 120), ev("call.hung_up", 400),
    ]
    m = PhoneProbe().measure(probe(), events, ALWAYS)
    assert m.outcome == Outcome.ANSWERED
    assert m.wait_s == 95
    assert m.first_response_s == 4
    assert m.answered_by_human
    assert m.metrics["ivr_steps"] == 2
    assert m.metrics["hold_s"] == 75
    assert m.metrics["hold_music"] is False
    assert m.metrics["wait_announced_s"] == 300
    assert m.metrics["transfers"] == 1
    assert m.metrics["call_length_s"] == 400
    assert "abandoned_after_s" not in m.metrics


def test_phone_abandoned_call_has_no_wait_and_counts_the_give_up_time():
    events = [ev("call.dialed", 0), ev("call.hold_started", 30), ev("call.hung_up", 330)]
    m = PhoneProbe().measure(probe(), events, ALWAYS)
    assert m.outcome == Outcome.ABANDONED
    assert m.wait_s is None and not m.answered_by_human
    assert m.metrics["abandoned_after_s"] == 330
    assert m.metrics["hold_s"] == 300


def test_undo_takes_back_a_mark():
    wrong = ev("call.agent_answered", 50)
    events = [ev("call.dialed", 0), wrong,
              ev("call.undo", 51, event_id=wrong.id), ev("call.agent_answered", 80)]
    m = PhoneProbe().measure(probe(), events, ALWAYS)
    assert m.wait_s == 80


def test_business_hours_wait_counts_from_opening():
    berlin = BusinessCalendar(timezone="Europe/Berlin")
    assert berlin.business_seconds(at(0), at(10)) == 10  # sanity: always open by default
    from svcbench.config import Company

    company = Company(id="acme", name="Acme", timezone="Europe/Berlin",
                      hours={"mon": ["10:20-18:00"]})
    m = PhoneProbe().measure(probe(), [ev("call.dialed", 0), ev("call.agent_answered", 600)],
                             company.calendar())
    assert m.wait_s == 600
    assert m.wait_bh_s == 300  # opened 5 minutes after dialing
    assert "started_outside_hours" in m.flags


def test_returns_days_to_refund_from_shipping_back():
    events = [ev("return.requested", 0), ev("return.shipped", 86400),
              ev("return.refunded", 8 * 86400, amount=49.9)]
    m = ReturnsProbe().measure(probe(Channel.RETURNS), events, ALWAYS)
    assert m.outcome == Outcome.ANSWERED
    assert m.metrics["days"] == 7.0
    assert m.metrics["refund_amount"] == 49.9


def test_delivery_days_to_deliver_and_to_ship():
    events = [ev("order.placed", 0), ev("order.shipped", 36 * 3600),
              ev("order.delivered", 3 * 86400)]
    m = DeliveryProbe().measure(probe(Channel.DELIVERY), events, ALWAYS)
    assert m.metrics["days"] == 3.0
    assert m.metrics["days_to_ship"] == 1.5
    open_order = DeliveryProbe().measure(probe(Channel.DELIVERY), events[:2], ALWAYS)
    assert open_order.wait_s is None and open_order.outcome == Outcome.UNANSWERED


# -- logged entries -------------------------------------------------------------------------


def test_logged_call_events_measure_as_given():
    call = PhoneCall("acme", dialed_at=T0, agent_after_s=95, ivr_steps=3, hold_s=60,
                     transfers=2, resolved=True, wait_announced_s=120)
    call.check()
    m = PhoneProbe().measure(probe(), call.events("p1"), ALWAYS)
    assert (m.wait_s, m.metrics["ivr_steps"], m.metrics["hold_s"]) == (95, 3, 60)
    assert m.metrics["transfers"] == 2 and m.metrics["resolved"]
    assert m.metrics["wait_announced_s"] == 120


def test_logged_abandoned_call():
    call = PhoneCall("acme", dialed_at=T0, abandoned_after_s=300, hold_s=200)
    call.check()
    events = call.events("p1")
    m = PhoneProbe().measure(probe(), events, ALWAYS)
    assert call.outcome() == Outcome.ABANDONED
    assert m.metrics["abandoned_after_s"] == 300 and m.metrics["hold_s"] == 200


def test_logged_event_ids_are_stable():
    call = PhoneCall("acme", dialed_at=T0, agent_after_s=95)
    assert [e.id for e in call.events("p1")] == [e.id for e in call.events("p1")]


@pytest.mark.parametrize(("entry", "field"), [
    (PhoneCall("acme", dialed_at=T0), "agent_after"),
    (PhoneCall("acme", dialed_at=T0, agent_after_s=10, abandoned_after_s=20), "abandoned_after"),
    (PhoneCall("acme", dialed_at=T0, agent_after_s=10, hold_s=11), "hold"),
    (PhoneCall("acme", dialed_at=T0, abandoned_after_s=10, transfers=1), "transferred"),
    (ReturnCase("acme", requested_at=at(100), shipped_at=at(50)), "shipped_at"),
    (ReturnCase("acme", requested_at=T0, shipped_at=at(100), refunded_at=at(50)),
     "refunded_at"),
    (ReturnCase("acme", requested_at=T0, amount=5), "amount"),
    (DeliveryOrder("acme", placed_at=T0, delivered_at=at(-1)), "delivered_at"),
])
def test_contradictions_name_the_field(entry, field):
    with pytest.raises(EntryError) as info:
        entry.check()
    assert info.value.field == field


@pytest.mark.parametrize(("text", "seconds"), [
    ("95", 95), ("95s", 95), ("1m35s", 95), ("1:35", 95), ("2m", 120), ("1h", 3600),
    ("0:01:35", 95), ("1.5", 1.5), ("0", 0),
])
def test_parse_seconds(text, seconds):
    assert parse_seconds(text, "x") == seconds


@pytest.mark.parametrize("text", ["-5", "abc", "", "5 parsecs"])
def test_parse_seconds_rejects(text):
    with pytest.raises(EntryError):
        parse_seconds(text, "x")


def test_dates_and_naive_times_are_company_local():
    assert parse_when("2026-03-02", "Europe/Berlin", "x") == datetime(2026, 3, 1, 23, tzinfo=UTC)
    assert parse_when("2026-03-02T10:15", "Europe/Berlin", "x") == T0
    assert parse_when("2026-03-02T09:15Z", "Europe/Berlin", "x") == T0
    with pytest.raises(EntryError, match="future"):
        parse_when("2999-01-01", "UTC", "x")


# -- stopwatch ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.mono = 1000.0

    def wall(self) -> datetime:
        return T0

    def monotonic(self) -> float:
        return self.mono


def test_stopwatch_turns_keys_into_timed_events():
    clock = FakeClock()
    watch = CallStopwatch("p1", wall=clock.wall, monotonic=clock.monotonic)
    assert watch.press("a") == []  # nothing before dialing
    stored = watch.press("d")
    assert stored[0].kind == "call.dialed" and stored[0].at == T0
    clock.mono += 5
    assert watch.press("o") == []  # asks which digit
    assert "option" in (watch.prompt() or "").lower()
    clock.mono += 3  # the time is the key press, not the answer
    [option] = watch.press("2")
    assert option.data == {"option": "2"} and option.at == at(5)
    clock.mono += 2
    watch.press("w")
    for key in "90":
        watch.press(key)
    [announced] = watch.press("\r")
    assert announced.data == {"seconds": 90} and announced.at == at(10)
    watch.press("h")
    clock.mono += 30
    [agent] = watch.press("a")
    assert agent.at == at(40)
    assert watch.press("a") == []  # only one first answer
    watch.press("t")
    [undo] = watch.press("u")
    assert undo.data["kind"] == "call.transferred"
    watch.press("n")
    for key in "hi\x7fey":
        watch.press(key)
    [note] = watch.press("\n")
    assert note.data == {"text": "hey"}
    clock.mono += 10
    [hung] = watch.press("x")
    assert hung.kind == "call.hung_up" and watch.finished == "hung_up"
    m = PhoneProbe().measure(probe(), watch.events, ALWAYS)
    assert m.wait_s == 40 and m.metrics["ivr_steps"] == 1 and m.metrics["transfers"] == 0
    assert m.metrics["hold_s"] == 30


def test_stopwatch_escape_cancels_a_prompt_and_quit_asks_first():
    clock = FakeClock()
    watch = CallStopwatch("p1", wall=clock.wall, monotonic=clock.monotonic)
    watch.press(" ")
    watch.press("o")
    assert watch.press("\x1b") == [] and watch.prompt() is None
    watch.press("q")
    watch.press("n")
    assert watch.finished is None
    watch.press("q")
    watch.press("y")
    assert watch.finished == "quit"
