"""Business calendars against a brute-force reference, the field-notes table, and properties.

The reference below walks every minute in UTC and asks "is the shop open now?" from the local
wall clock alone, independently of how hours.py converts interval ends. It follows the wall
clock's high-water mark, so an hour repeated when clocks go back is counted by what the clock
showed first (an interval ending at 02:30 on that night ends at the first 02:30), and a time
skipped when clocks go forward is passed the moment the clock jumps over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svcbench.config import Company
from svcbench.hours import (
    ALWAYS_OPEN,
    BusinessCalendar,
    Schedule,
    from_micros,
    local_to_utc,
    micros,
    parse_interval,
)

MINUTE = timedelta(minutes=1)
HOUR = 3600.0

# -- the reference ---------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A calendar as plain data: weekly minute ranges per version, closures, overrides."""

    timezone: str
    #: (valid_from or None, 7 weekdays of [(open_minute, close_minute)]); close <= open: next day
    versions: tuple[tuple[date | None, tuple[tuple[tuple[int, int], ...], ...]], ...]
    holiday: tuple[str, str | None] | None = None
    closed: frozenset[date] = frozenset()
    overrides: tuple[tuple[date, tuple[tuple[int, int], ...]], ...] = ()


def _text(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _interval_text(opens: int, closes: int) -> str:
    return f"{_text(opens)}-{'24:00' if closes == 1440 else _text(closes)}"


def calendar_of(spec: Spec) -> BusinessCalendar:
    """The same calendar built through hours.py's public constructors (text intervals)."""
    schedules = tuple(
        Schedule.from_mapping(
            {day: [_interval_text(o, c) for o, c in week[i]]
             for i, day in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
            valid_from,
        )
        for valid_from, week in spec.versions
    )
    return BusinessCalendar(
        timezone=spec.timezone,
        schedules=schedules,
        holiday_country=spec.holiday[0] if spec.holiday else None,
        holiday_subdiv=spec.holiday[1] if spec.holiday else None,
        closed_dates=spec.closed,
        overrides=tuple((d, tuple(parse_interval(_interval_text(o, c)) for o, c in ranges))
                        for d, ranges in spec.overrides),
    )


def reference_seconds(spec: Spec, a: datetime, b: datetime) -> int:
    """Open seconds in [a, b), minute by minute (a and b aligned to whole minutes)."""
    tz = ZoneInfo(spec.timezone)
    start_day = a.astimezone(tz).date()
    dated = sorted((v for v in spec.versions if v[0] is not None), key=lambda v: v[0])
    week = next((w for v, w in spec.versions if v is None), dated[0][1] if dated else None)
    for valid_from, weekly in dated:
        if valid_from <= start_day:
            week = weekly
    overrides = dict(spec.overrides)
    public: dict[int, object] = {}

    def closed(day: date) -> bool:
        if day in spec.closed:
            return True
        if spec.holiday is None:
            return False
        if day.year not in public:
            public[day.year] = holidays.country_holidays(
                spec.holiday[0], subdiv=spec.holiday[1], years=day.year)
        return day in public[day.year]

    def ranges(day: date):
        if day in overrides:
            return overrides[day]
        return () if closed(day) else week[day.weekday()]

    total = 0
    high = None
    instant = a - timedelta(hours=3)  # enough history for the high-water mark
    while instant < b:
        wall = instant.astimezone(tz).replace(tzinfo=None)
        high = wall if high is None or wall > high else high
        if instant >= a:
            for day in (high.date(), high.date() - timedelta(days=1)):
                minute = (high - datetime.combine(day, time(0))) // MINUTE
                if any(o <= minute < (c if c > o else c + 1440) for o, c in ranges(day)):
                    total += 60
                    break
        instant += MINUTE
    return total


# -- strategies ------------------------------------------------------------------------

ZONES = {
    "Europe/Berlin": ("DE", "BY"),
    "America/New_York": ("US", "NY"),
    "Australia/Lord_Howe": ("AU", "NSW"),
    "Asia/Kolkata": ("IN", None),
    "UTC": None,
}
#: local dates of DST transitions (and a plain date for zones without DST)
TRANSITIONS = {
    "Europe/Berlin": [date(2025, 3, 30), date(2025, 10, 26), date(2026, 3, 29),
                      date(2026, 10, 25)],
    "America/New_York": [date(2025, 3, 9), date(2025, 11, 2), date(2026, 3, 8),
                         date(2026, 11, 1)],
    "Australia/Lord_Howe": [date(2025, 4, 6), date(2025, 10, 5), date(2026, 4, 5),
                            date(2026, 10, 4)],
    "Asia/Kolkata": [date(2025, 4, 18), date(2025, 12, 25)],
    "UTC": [date(2025, 12, 24)],
}
# times around 00:00-03:00 are where the clocks jump; 22:00 and 06:00 are night shifts
NOTABLE = [0, 30, 60, 90, 120, 150, 180, 210, 360, 540, 720, 1020, 1080, 1320, 1410]
minute_of_day = st.one_of(st.sampled_from(NOTABLE), st.integers(0, 1439))
#: the hours clocks skip or repeat (01:00-03:00 in these zones), and a little around them
dst_minute = st.sampled_from([0, 60, 90, 100, 120, 130, 150, 170, 180, 210, 1320])


@st.composite
def interval(draw, minutes=minute_of_day) -> tuple[int, int]:
    kind = draw(st.sampled_from(["day", "day", "overnight", "24h", "to-midnight", "any"]))
    if kind == "24h":
        return (0, 0)
    if kind == "to-midnight":
        return (draw(minutes), 1440)
    opens = draw(minutes)
    closes = draw(minutes.filter(lambda m: m != opens))
    if kind == "day" and closes < opens:
        opens, closes = closes, opens
    if kind == "overnight" and closes > opens:
        opens, closes = closes, opens
    return (opens, closes)


day_ranges = st.lists(interval(), max_size=2).map(tuple)
week = st.tuples(*[day_ranges] * 7)
dst_ranges = st.lists(interval(dst_minute), min_size=1, max_size=2).map(tuple)


#: zones whose clocks change at midnight, or that skipped a whole day
MIDNIGHT_TRANSITIONS = {
    "America/Santiago": [date(2025, 4, 5), date(2025, 9, 6)],
    "America/Sao_Paulo": [date(2018, 2, 17), date(2018, 11, 4)],
    "Pacific/Apia": [date(2011, 12, 29)],
}


@st.composite
def specs_and_span(draw, max_days: int = 10, dst_night: bool = False,
                   transitions: dict[str, list[date]] = TRANSITIONS):
    zone = draw(st.sampled_from(sorted(z for z in transitions if not dst_night or len(
        transitions[z]) == 4)))
    anchor = draw(st.sampled_from(transitions[zone]))
    tz = ZoneInfo(zone)
    earliest = -1440 if dst_night else -3 * 1440
    start_local = datetime.combine(anchor, time(0)) + timedelta(
        minutes=draw(st.integers(earliest, 2 * 1440)))
    a = local_to_utc(start_local, tz)
    a = a.replace(second=0, microsecond=0)
    span = draw(st.one_of(st.integers(0, 2 * 1440), st.integers(0, max_days * 1440)))
    b = a + span * MINUTE
    nearby = st.dates(min_value=anchor - timedelta(days=4), max_value=anchor + timedelta(days=8))
    versions = [(None, draw(week))]
    if dst_night:  # the night of the change and the one before it get hours near the jump
        weekly = list(versions[0][1])
        for day in (anchor, anchor - timedelta(days=1)):
            weekly[day.weekday()] = draw(dst_ranges)
        versions = [(None, tuple(weekly))]
    if draw(st.booleans()):
        versions.append((draw(nearby), draw(week)))
    spec = Spec(
        timezone=zone,
        versions=tuple(versions),
        holiday=ZONES.get(zone) if draw(st.booleans()) else None,
        closed=frozenset(draw(st.lists(nearby, max_size=3))),
        overrides=tuple(sorted(draw(st.dictionaries(nearby, day_ranges, max_size=2)).items())),
    )
    return spec, a, b


bounded = settings(max_examples=200, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


@bounded
@given(specs_and_span())
def test_business_seconds_match_the_minute_by_minute_reference(case):
    spec, a, b = case
    assert calendar_of(spec).business_seconds(a, b) == reference_seconds(spec, a, b)


@bounded
@given(specs_and_span(max_days=3, dst_night=True))
def test_hours_next_to_the_clock_change_match_the_reference(case):
    spec, a, b = case
    assert calendar_of(spec).business_seconds(a, b) == reference_seconds(spec, a, b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_and_span(max_days=4), st.data())
def test_additive_within_one_schedule_version(case, data):
    spec, a, c = case
    calendar = calendar_of(spec)
    tz = ZoneInfo(spec.timezone)
    minutes = int((c - a) / MINUTE)
    b = a + data.draw(st.integers(0, minutes)) * MINUTE
    whole = calendar.business_seconds(a, c)
    assert 0 <= whole <= (c - a).total_seconds()
    if calendar.schedule_at(a.astimezone(tz).date()) == calendar.schedule_at(
            b.astimezone(tz).date()):
        assert whole == calendar.business_seconds(a, b) + calendar.business_seconds(b, c)


@bounded
@given(specs_and_span(max_days=2))
def test_is_open_and_next_opening_agree_with_business_seconds(case):
    spec, t, _ = case
    calendar = calendar_of(spec)
    open_now = calendar.is_open(t)
    assert open_now == (calendar.business_seconds(t, t + MINUTE) > 0)
    assert open_now == (reference_seconds(spec, t, t + MINUTE) > 0)
    nxt = calendar.next_opening(t, horizon_days=30)
    if open_now:
        assert nxt == t
    elif nxt is not None:
        # the version valid at t decides, as for business_seconds from t
        assert nxt > t
        assert calendar.business_seconds(t, nxt) == 0
        assert calendar.business_seconds(t, nxt + MINUTE) > 0
        tz = ZoneInfo(spec.timezone)
        if calendar.schedule_at(t.astimezone(tz).date()) == calendar.schedule_at(
                nxt.astimezone(tz).date()):
            assert calendar.is_open(nxt)
    else:
        assert calendar.business_seconds(t, t + timedelta(days=30)) == 0


@bounded
@given(specs_and_span(max_days=3))
def test_bounds_and_direction(case):
    spec, a, b = case
    calendar = calendar_of(spec)
    seconds = calendar.business_seconds(a, b)
    assert 0 <= seconds <= (b - a).total_seconds()
    assert calendar.business_seconds(b, a) == 0 or a == b
    # the same instants in another zone are the same instants
    assert calendar.business_seconds(a.astimezone(ZoneInfo("Asia/Tokyo")), b) == seconds


def _minute_edges(a: datetime, b: datetime) -> list[datetime]:
    """Every whole minute in [a, b) and the microsecond before it: the hypothesis calendars
    and zones change state only on whole minutes, so these instants decide everything."""
    first = a.replace(second=0, microsecond=0)
    edges = []
    at = first if first >= a else first + MINUTE
    while at < b:
        edges.append(at)
        if at - timedelta(microseconds=1) >= a:
            edges.append(at - timedelta(microseconds=1))
        at += MINUTE
    return edges


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(specs_and_span(max_days=2),
                 specs_and_span(max_days=2, dst_night=True),
                 specs_and_span(max_days=2, transitions=MIDNIGHT_TRANSITIONS)),
       st.integers(0, 59_999_999))
def test_timeline_is_open_equals_the_calendar_at_every_minute(case, shift_us):
    """The planner's fast path (open intervals built once, then bisection) against is_open."""
    spec, a, b = case
    a = a + timedelta(microseconds=shift_us)  # a timeline need not start on a whole minute
    b = max(b, a + MINUTE)
    calendar = calendar_of(spec)
    timeline = calendar.timeline(a, b)
    for t in [a, *_minute_edges(a, b), b - timedelta(microseconds=1)]:
        assert timeline.is_open(t) == calendar.is_open(t), t
    open_parts, closed_parts = timeline.open_parts(a, b), timeline.closed_parts(a, b)
    total = sum((y - x for x, y in open_parts + closed_parts), timedelta())
    assert total == b - a
    for x, y in open_parts:
        assert calendar.is_open(x) and calendar.is_open(y - timedelta(microseconds=1))
    for x, y in closed_parts:
        assert not calendar.is_open(x) and not calendar.is_open(y - timedelta(microseconds=1))
    # the planner's draw: the instant a fraction of the way through the open (closed) time
    for want_open, parts in ((True, open_parts), (False, closed_parts)):
        for fraction in (0.0, 0.37, 0.999999):
            picked = timeline.pick(a, b, fraction, want_open)
            if not parts:
                assert picked is None
                continue
            assert a <= picked < b and calendar.is_open(picked) == want_open
            measure = sum((y - x for x, y in parts), timedelta())
            before = sum((min(y, picked) - x for x, y in parts if x < picked), timedelta())
            assert abs(before - measure * fraction) <= timedelta(microseconds=1)



@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(specs_and_span(max_days=3), specs_and_span(max_days=3, dst_night=True),
                 specs_and_span(max_days=3, transitions=MIDNIGHT_TRANSITIONS)),
       st.lists(st.tuples(st.floats(-0.2, 1.1), st.floats(0, 1.2), st.floats(0, 1),
                          st.booleans()), min_size=1, max_size=25))
def test_pick_many_draws_the_instants_pick_draws(case, slots):
    """The planner draws every slot of a company at once (numpy): the same instants, to the
    microsecond, as one pick per slot, for slots inside, across and outside the timeline."""
    spec, a, b = case
    timeline = calendar_of(spec).timeline(a, b)
    start, span = micros(a), micros(b) - micros(a)
    lows = [start + int(offset * span) for offset, _, _, _ in slots]
    highs = [low + int(length * span) for low, (_, length, _, _) in zip(lows, slots, strict=True)]
    fractions = [min(f, 0.9999999999) for _, _, f, _ in slots]
    wants = [want for *_, want in slots]
    picked = timeline.pick_many(lows, highs, fractions, wants)
    for low, high, fraction, want, got in zip(lows, highs, fractions, wants, picked,
                                               strict=True):
        expected = timeline.pick(from_micros(low), from_micros(high), fraction, want)
        assert got == (micros(expected) if expected is not None else None)


def test_pick_many_on_a_timeline_never_open():
    closed = BusinessCalendar(schedules=(Schedule(weekly=((),) * 7),))
    a = datetime(2026, 10, 1, tzinfo=UTC)
    timeline = closed.timeline(a, a + timedelta(days=2))
    low, high = micros(a), micros(a + timedelta(days=1))
    assert timeline.pick_many([low, low], [high, high], [0.5, 0.5], [True, False]) == [
        None, micros(a + timedelta(hours=12))]

def test_timeline_day_after_the_clock_change_starts_at_its_real_midnight():
    # 30 Mar 2025 Berlin goes forward: Monday starts at 22:00 UTC on Sunday, not 23:00
    calendar = BusinessCalendar("Europe/Berlin", (Schedule.from_mapping({"mon": ["00:00-01:00"]}),))
    timeline = calendar.timeline(berlin(2025, 3, 29), berlin(2025, 4, 1))
    assert timeline.intervals == ((berlin(2025, 3, 31, 0), berlin(2025, 3, 31, 1)),)
    assert timeline.is_open(datetime(2025, 3, 30, 22, 30, tzinfo=UTC))


def test_timeline_follows_the_version_valid_on_each_day_and_rejects_outside_instants():
    calendar = versioned_calendar()
    timeline = calendar.timeline(berlin(2025, 6, 16), berlin(2025, 6, 18))
    assert timeline.intervals == ((berlin(2025, 6, 16, 9), berlin(2025, 6, 16, 17)),
                                  (berlin(2025, 6, 17, 9), berlin(2025, 6, 17, 11)))
    assert timeline.is_open(berlin(2025, 6, 17, 10)) and not timeline.is_open(
        berlin(2025, 6, 17, 12))
    with pytest.raises(ValueError, match="outside the timeline"):
        timeline.is_open(berlin(2025, 6, 18, 10))


# -- the table from the field notes (email.md section 5) -------------------------------

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture(scope="module")
def bavarian_office() -> BusinessCalendar:
    weekdays = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    company = Company(id="office", name="Office", timezone="Europe/Berlin", hours=weekdays,
                      holidays={"country": "DE", "subdiv": "BY"})
    return company.calendar()


@pytest.mark.parametrize(("start", "end", "raw_h", "business_h"), [
    (berlin(2025, 3, 14, 16), berlin(2025, 3, 17, 10), 66, 2),  # Fri -> Mon
    (berlin(2025, 3, 28, 16), berlin(2025, 3, 31, 10), 65, 2),  # over the DST change
    (berlin(2025, 4, 17, 16), berlin(2025, 4, 22, 10), 114, 2),  # Easter, Bavaria
    (berlin(2025, 3, 15, 11), berlin(2025, 3, 17, 9, 30), 46.5, 0.5),  # Sat -> Mon 09:30
    (berlin(2025, 3, 15, 11), berlin(2025, 3, 16, 12), 25, 0),  # reply before opening
], ids=["weekend", "dst-weekend", "easter", "saturday-to-monday", "before-opening"])
def test_field_notes_table(bavarian_office, start, end, raw_h, business_h):
    utc_start, utc_end = start.astimezone(UTC), end.astimezone(UTC)
    assert (utc_end - utc_start).total_seconds() == raw_h * HOUR  # same-zone '-' is wall time
    assert bavarian_office.business_seconds(start, end) == business_h * HOUR
    assert bavarian_office.business_seconds(utc_start, utc_end) == business_h * HOUR


@pytest.mark.parametrize(("evening", "raw_h", "business_h"), [
    (date(2025, 10, 25), 11, 9),  # clocks go back: the night has an extra hour
    (date(2025, 3, 29), 9, 7),  # clocks go forward
    (date(2025, 6, 14), 10, 8),
], ids=["fall-back", "spring-forward", "ordinary"])
def test_night_shift_counts_real_hours_worked(evening, raw_h, business_h):
    nights = {d: ["22:00-06:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    calendar = Company(id="night", name="Night desk", timezone="Europe/Berlin",
                       hours=nights).calendar()
    start = datetime.combine(evening, time(21), tzinfo=BERLIN)
    end = datetime.combine(evening + timedelta(days=1), time(7), tzinfo=BERLIN)
    assert (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() == raw_h * HOUR
    assert calendar.business_seconds(start, end) == business_h * HOUR


# -- specific rules ----------------------------------------------------------------------


def test_opening_time_skipped_by_dst_opens_when_the_clock_jumps_past_it():
    calendar = BusinessCalendar("Europe/Berlin", (Schedule.from_mapping(
        {"sun": ["02:30-04:00"]}),))
    # 30 Mar 2025: 02:00 CET jumps to 03:00 CEST (01:00 UTC)
    assert calendar.next_opening(berlin(2025, 3, 30, 0)) == datetime(2025, 3, 30, 1, tzinfo=UTC)
    assert calendar.business_seconds(berlin(2025, 3, 30, 0), berlin(2025, 3, 30, 5)) == HOUR
    # an interval lying wholly inside the skipped hour never opens
    gap = BusinessCalendar("Europe/Berlin", (Schedule.from_mapping({"sun": ["02:10-02:40"]}),))
    assert gap.business_seconds(berlin(2025, 3, 29), berlin(2025, 3, 31)) == 0


def test_repeated_hour_ends_at_the_first_occurrence():
    calendar = BusinessCalendar("Europe/Berlin", (Schedule.from_mapping(
        {"sun": ["01:00-02:30"]}),))
    # 26 Oct 2025: 03:00 CEST goes back to 02:00 CET; 01:00 CEST -> first 02:30 CEST = 1.5 h
    day = (datetime(2025, 10, 25, 12, tzinfo=UTC), datetime(2025, 10, 26, 12, tzinfo=UTC))
    assert calendar.business_seconds(*day) == 1.5 * HOUR


def test_24h_days_follow_the_clock_change():
    calendar = BusinessCalendar("Australia/Lord_Howe", (Schedule.from_mapping(
        {"sun": ["00:00-24:00"]}),))
    tz = ZoneInfo("Australia/Lord_Howe")
    # 6 Apr 2025 Lord Howe goes back 30 minutes (02:00 -> 01:30): a 24.5 h Sunday
    sunday = datetime(2025, 4, 6, tzinfo=tz)
    assert calendar.business_seconds(sunday - timedelta(days=1),
                                     sunday + timedelta(days=2)) == 24.5 * HOUR
    # 5 Oct 2025 it goes forward 30 minutes: a 23.5 h Sunday
    spring = datetime(2025, 10, 5, tzinfo=tz)
    assert calendar.business_seconds(spring - timedelta(days=1),
                                     spring + timedelta(days=2)) == 23.5 * HOUR
    assert ALWAYS_OPEN.weekly[0] == ((time(0), time(0)),)


def test_overlapping_intervals_count_once():
    calendar = BusinessCalendar("UTC", (Schedule.from_mapping(
        {"mon": ["09:00-17:00", "12:00-18:00"], "sun": ["22:00-10:00"]}),))
    monday = datetime(2025, 6, 16, tzinfo=UTC)
    # Sunday 22:00 -> Monday 10:00 joins Monday 09:00-18:00: 20 h in all
    assert calendar.business_seconds(monday - timedelta(days=1),
                                     monday + timedelta(days=1)) == 20 * HOUR


def versioned_calendar() -> BusinessCalendar:
    """Mondays and Tuesdays 09:00-17:00; from Tue 17 June 2025 Tuesdays 09:00-11:00."""
    return Company(
        id="versioned", name="Versioned", timezone="Europe/Berlin",
        hours={"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]},
        hours_changes=[{"valid_from": "2025-06-17", "hours": {"tue": ["09:00-11:00"]}}],
    ).calendar()


def test_schedule_version_valid_at_the_start_applies_to_the_whole_span():
    calendar = versioned_calendar()
    # started Monday under the old hours: Tuesday counts 8 h although the new version has 2 h
    assert calendar.business_seconds(berlin(2025, 6, 16, 9), berlin(2025, 6, 18)) == 16 * HOUR
    # started Tuesday under the new version
    assert calendar.business_seconds(berlin(2025, 6, 17, 0), berlin(2025, 6, 18)) == 2 * HOUR
    # before the first dated version the undated one applies
    assert calendar.business_seconds(berlin(2025, 6, 10, 9), berlin(2025, 6, 11)) == 8 * HOUR


def test_special_hours_and_closed_dates_override_the_week():
    company = Company(
        id="shop", name="Shop", timezone="Europe/Berlin",
        hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
        holidays={"country": "DE", "subdiv": "BY"},
        closed_dates=["2026-12-31"],
        special_hours={"2026-12-24": ["09:00-12:00"], "2026-12-26": ["10:00-14:00"]},
    )
    calendar = company.calendar()
    # Thu 24 Dec half-day 3 h, Fri 25 holiday 0, Sat 26 holiday but overridden 4 h
    assert calendar.business_seconds(berlin(2026, 12, 24), berlin(2026, 12, 27)) == 7 * HOUR
    assert calendar.business_seconds(berlin(2026, 12, 31), berlin(2027, 1, 1)) == 0
    assert not calendar.is_open(berlin(2026, 12, 24, 13))
    assert calendar.next_opening(berlin(2026, 12, 24, 13)) == berlin(2026, 12, 26, 10)


def test_naive_datetimes_are_rejected():
    calendar = BusinessCalendar()
    with pytest.raises(ValueError, match="naive"):
        calendar.business_seconds(datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC))


@pytest.mark.parametrize("text", ["9-5", "09:00", "09:00-10:00-11:00", "25:00-26:00",
                                  "10:00-10:00", "nine-five", ""])
def test_bad_intervals_are_rejected(text):
    with pytest.raises(ValueError, match="interval|empty"):
        parse_interval(text)


def test_interval_forms():
    assert parse_interval("22:00-06:00") == (time(22), time(6))
    assert parse_interval("09:00-24:00") == (time(9), time(0))
    assert parse_interval("00:00-24:00") == (time(0), time(0))
    with pytest.raises(ValueError, match="weekday"):
        Schedule.from_mapping({"monday": ["09:00-17:00"]})
