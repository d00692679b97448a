"""Reporting periods: quarters ('2026Q4') and months ('2026-11'), in the company's local time.

A probe belongs to the period of its start *as the company's clock showed it*: an email a New
York shopper sends at 23:30 on 31 December counts in December, not in January as UTC would
have it. Every writer of measurements (live probes, manual logs, CSV imports, merges and the
simulator) assigns periods with :func:`quarter_of` and :func:`month_of` from here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def local(value: datetime, timezone: str | None) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no timezone")
    return value.astimezone(ZoneInfo(timezone) if timezone else UTC)


def quarter_of(value: datetime, timezone: str | None = None) -> str:
    """'2026Q4' for an instant, in the given IANA time zone (UTC if None)."""
    day = local(value, timezone)
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def month_of(value: datetime, timezone: str | None = None) -> str:
    """'2026-11' for an instant, in the given IANA time zone (UTC if None)."""
    day = local(value, timezone)
    return f"{day.year}-{day.month:02d}"


def parse_period(text: str) -> str:
    """'2026Q4' / '2026q4' / '2026-Q4' -> '2026Q4'; '2026-11' / '2026-1' -> '2026-11'."""
    cleaned = text.strip().upper()
    if match := _QUARTER.match(cleaned):
        return f"{match[1]}Q{match[2]}"
    if (match := _MONTH.match(cleaned)) and 1 <= int(match[2]) <= 12:
        return f"{match[1]}-{int(match[2]):02d}"
    raise ValueError(f"{text!r} is not a period like 2026Q4 (quarter) or 2026-11 (month)")


def is_month(period: str) -> bool:
    return "-" in period


def quarter_of_period(period: str) -> str:
    """The quarter a period lies in (a quarter is its own)."""
    if not is_month(period):
        return period
    year, month = int(period[:4]), int(period[5:])
    return f"{year}Q{(month - 1) // 3 + 1}"


def shift(period: str, steps: int) -> str:
    """The period ``steps`` periods later (negative: earlier), of the same kind."""
    year = int(period[:4])
    if is_month(period):
        total = year * 12 + int(period[5:]) - 1 + steps
        return f"{total // 12}-{total % 12 + 1:02d}"
    total = year * 4 + int(period[5]) - 1 + steps
    return f"{total // 4}Q{total % 4 + 1}"


def previous(period: str) -> str:
    return shift(period, -1)


def periods_back(period: str, count: int) -> list[str]:
    """``count`` periods ending with ``period``, oldest first."""
    return [shift(period, -k) for k in range(count - 1, -1, -1)]


def year_to_date(period: str) -> list[str]:
    """The periods of ``period``'s year up to and including it, oldest first."""
    index = int(period[5:]) if is_month(period) else int(period[5])
    return periods_back(period, index)


def quarters_for(periods: list[str]) -> list[str]:
    """The quarters covering these periods, in order, without repeats."""
    out: list[str] = []
    for period in periods:
        quarter = quarter_of_period(period)
        if quarter not in out:
            out.append(quarter)
    return out
