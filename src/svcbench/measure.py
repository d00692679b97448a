"""Events in, numbers out: helpers shared by every probe plugin's ``measure``.

Pure functions only; the plugins decide which events mark the start, the first response and
the answer that counts for their channel. A measurement's quarter and month are those of its
start in the company's time zone (the calendar's), never UTC: see ``svcbench.periods``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from .hours import BusinessCalendar
from .models import Event, Measurement, Outcome, Probe
from .periods import month_of, quarter_of


def first(events: Iterable[Event], predicate: str | Callable[[Event], bool]) -> Event | None:
    """The earliest event of a kind (or matching a predicate)."""
    test = (lambda e: e.kind == predicate) if isinstance(predicate, str) else predicate
    matching = [e for e in events if test(e)]
    return min(matching, key=lambda e: e.at) if matching else None


def last(events: Iterable[Event], predicate: str | Callable[[Event], bool]) -> Event | None:
    test = (lambda e: e.kind == predicate) if isinstance(predicate, str) else predicate
    matching = [e for e in events if test(e)]
    return max(matching, key=lambda e: e.at) if matching else None


def elapsed(start: datetime | None, end: datetime | None,
            calendar: BusinessCalendar) -> tuple[float | None, float | None]:
    """(raw seconds, business seconds) from start to end; (None, None) if either is missing.

    A response before the company opened counts 0 business seconds.
    """
    if start is None or end is None:
        return None, None
    raw = max(0.0, (end - start).total_seconds())
    return raw, calendar.business_seconds(start, end)


def build(probe: Probe, events: list[Event], calendar: BusinessCalendar, *,
          outcome: Outcome, start: datetime | None, first_response: datetime | None,
          answer: datetime | None, human: bool, metrics: dict | None = None,
          flags: list[str] | None = None) -> Measurement:
    """A Measurement from the instants a plugin picked out of its events."""
    started = start or probe.started_at or probe.created_at
    wait_s, wait_bh_s = elapsed(start, answer, calendar)
    first_s, first_bh_s = elapsed(start, first_response, calendar)
    flags = list(flags or [])
    if start is not None and answer is not None and not calendar.is_open(start):
        flags.append("started_outside_hours")
    return Measurement(
        probe_id=probe.id, company=probe.company, channel=probe.channel, outcome=outcome,
        started_at=started, quarter=quarter_of(started, calendar.timezone),
        month=month_of(started, calendar.timezone), campaign=probe.campaign,
        wait_s=wait_s, wait_bh_s=wait_bh_s, first_response_s=first_s,
        first_response_bh_s=first_bh_s, answered_by_human=human, metrics=metrics or {},
        flags=flags,
    )


def failed_measurement(probe: Probe, reason: str | None,
                       timezone: str | None = None) -> Measurement:
    """Our side failed or the probe was cancelled: recorded, never counted against anyone."""
    started = probe.started_at or probe.due_at or probe.created_at
    return Measurement(
        probe_id=probe.id, company=probe.company, channel=probe.channel,
        outcome=probe.outcome or Outcome.FAILED, started_at=started,
        quarter=quarter_of(started, timezone), month=month_of(started, timezone),
        campaign=probe.campaign, metrics={"reason": reason} if reason else {},
    )
