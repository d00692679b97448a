"""Synthetic but realistic benchmark data for demos and benchmarks (``svcbench simulate``).

Companies get syllable names, an industry, a time zone and opening hours, a persistent
quality and a quarter-to-quarter drift (so rankings move). Each quarter, each company's
channels get probes with channel-typical timings:

- phone: lognormal time to a person (seconds to minutes); callers hang up when the wait
  outlasts their patience (abandoned);
- email: some companies auto-acknowledge within a minute; human replies are bimodal (same
  business day, or a day or two of business hours later), so mails sent on Friday evening wait
  over the weekend; some are never answered before the 7-day deadline;
- chat: seconds to minutes; companies with a bot answer at once, and sometimes only the bot;
- returns and delivery: days.

About 1% of probes fail on our side (outcome ``failed``) and a few are cancelled, so reports
show the exclusion rule at work. Every simulated probe has source ``simulated`` (reports
leave it out unless asked), campaign ``simulated``, plugin ``simulated``, the measurement
flag ``simulated`` and ``metrics.simulated = true``; its company row has
``data.simulated = true``. Same seed, same data (ids included).

Business time uses each company's real calendar, built by ``config.Company`` and
``hours.BusinessCalendar`` exactly as for real companies (DST, public holidays of its
country): its open intervals over the simulated span are taken once from
``BusinessCalendar.intervals`` and searched vectorised, so every ``wait_bh_s`` equals
``calendar.business_seconds(start, answer)``. Quarters and months are the local ones.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .models import format_instant, stable_id, utcnow

SIMULATED = "simulated"
DEADLINE_S = {"phone": 3600.0, "email": 7 * 86400.0, "chat": 1800.0,
              "returns": 30 * 86400.0, "delivery": 21 * 86400.0}
CHANNELS = ("phone", "email", "chat", "returns", "delivery")
#: share of companies offering each channel
_CHANNEL_SHARE = {"phone": 0.85, "email": 0.95, "chat": 0.6, "returns": 0.7, "delivery": 0.7}

#: time zone and the country whose public holidays close the company
_ZONES = [("Europe/Berlin", "DE"), ("Europe/London", "GB"), ("Europe/Paris", "FR"),
          ("America/New_York", "US"), ("America/Chicago", "US"), ("America/Los_Angeles", "US"),
          ("Asia/Tokyo", "JP"), ("Australia/Sydney", "AU"), ("Europe/Madrid", "ES")]
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: weekly opening hours, local: name -> {day index: (open hour, close hour)}
_HOURS = {
    "office": {d: (9, 17) for d in range(5)},
    "extended": {**{d: (8, 20) for d in range(5)}, 5: (10, 16)},
    "retail": {d: (9, 19) for d in range(6)},
    "short": {d: (10, 16) for d in range(5)},
    "always": {d: (0, 24) for d in range(7)},
}
_INDUSTRIES = {
    "retail": ["Outfitters", "Stores", "Market", "Home"],
    "telecom": ["Telecom", "Mobile", "Networks"],
    "energy": ["Energy", "Power"],
    "insurance": ["Insurance", "Assurance"],
    "banking": ["Bank", "Financial"],
    "travel": ["Airways", "Travel", "Rail"],
    "utilities": ["Water", "Utilities"],
    "electronics": ["Electronics", "Devices"],
}
_FIRST = ["Vel", "Bright", "Nor", "Ara", "Cal", "Dun", "Fen", "Gal", "Har", "Kel", "Lum",
          "Mar", "Nex", "Or", "Pel", "Quin", "Ros", "Sol", "Tor", "Ul", "Ven", "Wex", "Yar",
          "Zen", "Bel", "Cor", "Dra", "Eld", "Fal", "Gor", "Ith", "Jun", "Kor", "Lin"]
_MIDDLE = ["a", "o", "i", "e", "", "", "an", "er"]
_LAST = ["ra", "mont", "vik", "lia", "dale", "ton", "wick", "ly", "nix", "vo", "stra",
         "bury", "field", "gate", "ford", "ris", "mere", "haven"]


@dataclass
class SimCompany:
    slug: str
    name: str
    industry: str
    timezone: str
    country: str
    hours: str
    quality: float
    channels: tuple[str, ...]
    ack_share: float
    has_bot: bool

    def as_data(self) -> dict:
        week = _HOURS[self.hours]
        return {
            "id": self.slug, "name": self.name, "industry": self.industry,
            "timezone": self.timezone, SIMULATED: True,
            "hours": {_DAYS[d]: [f"{o:02d}:00-{c:02d}:00" if c < 24 else f"{o:02d}:00-24:00"]
                      for d, (o, c) in sorted(week.items())},
            "holidays": {"country": self.country},
            "channels": {c: {} for c in self.channels},
        }

    def calendar(self):
        """The company's BusinessCalendar, built as a real company's is."""
        return _calendar(self.timezone, self.hours, self.country)


@dataclass
class SimulationSummary:
    companies: int
    probes: int
    events: int
    measurements: int
    quarters: list[str]
    seconds: float


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def make_companies(count: int, rng: np.random.Generator,
                   taken: set[str] | frozenset[str] = frozenset()) -> list[SimCompany]:
    """``count`` companies with unique names and slugs (avoiding ``taken`` slugs)."""
    companies: list[SimCompany] = []
    seen = set(taken)
    industries = list(_INDUSTRIES)
    hour_names = list(_HOURS)
    while len(companies) < count:
        stem = (_FIRST[rng.integers(len(_FIRST))] + _MIDDLE[rng.integers(len(_MIDDLE))]
                + _LAST[rng.integers(len(_LAST))]).capitalize()
        industry = industries[rng.integers(len(industries))]
        words = _INDUSTRIES[industry]
        name = f"{stem} {words[rng.integers(len(words))]}"
        slug = _slugify(name)
        if slug in seen:
            continue
        seen.add(slug)
        zone, country = _ZONES[rng.integers(len(_ZONES))]
        channels = tuple(c for c in CHANNELS if rng.random() < _CHANNEL_SHARE[c])
        companies.append(SimCompany(
            slug=slug, name=name, industry=industry, timezone=zone, country=country,
            hours=hour_names[rng.choice(len(hour_names), p=[0.35, 0.25, 0.2, 0.1, 0.1])],
            quality=float(rng.normal()), channels=channels or ("email",),
            ack_share=float(rng.uniform(0, 0.9)), has_bot=bool(rng.random() < 0.35),
        ))
    return companies


@functools.cache
def _calendar(timezone: str, hours: str, country: str):
    from .config import Company

    data = SimCompany("x", "x", "general", timezone, country, hours, 0.0, (), 0.0,
                      False).as_data()
    data.pop(SIMULATED)
    return Company.model_validate(data).calendar()


class IntervalCalendar:
    """A BusinessCalendar's open intervals between two instants, as arrays, so business
    seconds and their inverse are vectorised (times are epoch seconds, UTC)."""

    def __init__(self, calendar, t0: float, t1: float):
        from datetime import UTC, datetime

        spans = list(calendar.intervals(datetime.fromtimestamp(t0, UTC),
                                        datetime.fromtimestamp(t1, UTC)))
        self.starts = np.array([a.timestamp() for a, _ in spans], dtype=float)
        self.ends = np.array([b.timestamp() for _, b in spans], dtype=float)
        lengths = self.ends - self.starts
        self.cum_end = np.cumsum(lengths)
        self.cum_start = self.cum_end - lengths
        self.t0, self.t1 = t0, t1

    def business(self, t: np.ndarray) -> np.ndarray:
        """Business seconds from t0 to t (NaN stays NaN)."""
        i = np.clip(np.searchsorted(self.starts, t, side="right") - 1, 0, len(self.starts) - 1)
        inside = np.clip(t - self.starts[i], 0, self.ends[i] - self.starts[i])
        value = self.cum_start[i] + inside
        return np.where(t < self.starts[0], 0.0, value)

    def instant(self, business: np.ndarray) -> np.ndarray:
        """The earliest instant at which ``business`` seconds have passed since t0."""
        i = np.clip(np.searchsorted(self.cum_end, business, side="left"), 0,
                    len(self.ends) - 1)
        return self.starts[i] + (business - self.cum_start[i])


def _local_bounds(quarter: str, timezone: str) -> tuple[float, float]:
    """Epoch seconds of a quarter's start and end in a time zone (local midnights)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from .hours import local_to_utc
    from .periods import shift

    def start_of(q: str) -> float:
        naive = datetime(int(q[:4]), 3 * (int(q[5]) - 1) + 1, 1)
        return local_to_utc(naive, ZoneInfo(timezone)).timestamp()

    return start_of(quarter), start_of(shift(quarter, 1))


def _local_periods(seconds: np.ndarray, zones: np.ndarray) -> tuple[list[str], list[str]]:
    """(quarter, month) of each instant in its zone's local time."""
    from zoneinfo import ZoneInfo

    import pandas as pd

    quarters = np.empty(len(seconds), dtype=object)
    months = np.empty(len(seconds), dtype=object)
    for zone in np.unique(zones):
        sel = zones == zone
        local = pd.to_datetime(seconds[sel], unit="s", utc=True).tz_convert(ZoneInfo(zone))
        year, month = local.year.to_numpy(), local.month.to_numpy()
        quarters[sel] = [f"{y}Q{(m - 1) // 3 + 1}" for y, m in zip(year, month, strict=True)]
        months[sel] = [f"{y}-{m:02d}" for y, m in zip(year, month, strict=True)]
    return quarters.tolist(), months.tolist()


def _instants(seconds: np.ndarray) -> list[str | None]:
    """Epoch seconds (NaN = None) to svcbench's ISO format."""
    ok = ~np.isnan(seconds)
    micro = np.where(ok, np.round(seconds * 1e6), 0).astype("int64").astype("datetime64[us]")
    text = np.datetime_as_string(micro, unit="us")
    return [f"{t}Z" if good else None for t, good in zip(text.tolist(), ok.tolist(), strict=True)]


def _ids(rng: np.random.Generator, count: int) -> list[str]:
    """Deterministic UUID-4-shaped ids from the generator."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = raw.tobytes().hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-"
            f"{h[i + 20:i + 32]}" for i in range(0, 32 * count, 32)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _channel_probes(channel: str, quality: np.ndarray, t0: np.ndarray, t1: np.ndarray,
                    cal_index: np.ndarray, calendars: list[IntervalCalendar],
                    ack_share: np.ndarray, has_bot: np.ndarray,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Timings for n probes of one channel. Times are epoch seconds (UTC); NaN = none."""
    n = len(quality)
    start = np.empty(n)
    live = channel in ("phone", "chat")
    for k, cal in enumerate(calendars):
        sel = cal_index == k
        if not sel.any():
            continue
        if live:  # shoppers call and chat while the company is open
            lo = cal.business(t0[sel])
            hi = cal.business(t1[sel])
            start[sel] = cal.instant(rng.uniform(lo, hi))
        else:
            start[sel] = rng.uniform(t0[sel], t1[sel])
    first = np.full(n, np.nan)
    answer = np.full(n, np.nan)
    human = np.zeros(n, dtype=bool)
    outcome = np.full(n, "answered", dtype=object)
    if channel == "phone":
        median = np.clip(60 * np.exp(-0.8 * quality), 5, 1800)
        wait = rng.lognormal(np.log(median), 0.8)
        patience = rng.lognormal(np.log(300), 0.6, n)
        first = start + rng.uniform(2, 12, n)  # the IVR greets everyone
        picked = wait <= patience
        answer = np.where(picked, start + wait, np.nan)
        human = picked
        outcome = np.where(picked, "answered", "abandoned").astype(object)
    elif channel == "chat":
        median = np.clip(40 * np.exp(-0.7 * quality), 3, 1200)
        wait = rng.lognormal(np.log(median), 1.0)
        no_agent = (rng.random(n) < 0.03 + 0.12 * _sigmoid(-1.5 * quality)) | (
            wait > DEADLINE_S["chat"])
        first = np.where(has_bot, start + rng.uniform(1, 3, n), np.nan)
        answer = np.where(no_agent, np.nan, start + wait)
        first = np.where(np.isnan(first), answer, np.minimum(first, np.nan_to_num(answer,
                                                                                  nan=np.inf)))
        human = ~no_agent
        outcome = np.where(~no_agent, "answered",
                           np.where(has_bot, "answered_auto_only", "unanswered")).astype(object)
    elif channel == "email":
        acked = rng.random(n) < ack_share
        ack_at = np.where(acked, start + rng.uniform(5, 120, n), np.nan)
        fast = rng.random(n) < _sigmoid(0.4 + 1.2 * quality)
        business_wait = np.where(
            fast, rng.lognormal(np.log(2 * 3600 * np.exp(-0.4 * quality)), 0.7),
            rng.lognormal(np.log(14 * 3600), 0.6, n))
        for k, cal in enumerate(calendars):
            sel = cal_index == k
            if sel.any():
                f0 = cal.business(start[sel])
                answer[sel] = cal.instant(f0 + business_wait[sel])
        ignored = rng.random(n) < 0.03 + 0.15 * _sigmoid(-1.5 * quality - 1)
        answer = np.where(ignored | (answer - start > DEADLINE_S["email"]), np.nan, answer)
        first = np.fmin(ack_at, answer)
        human = ~np.isnan(answer)
        outcome = np.where(human, "answered",
                           np.where(acked, "answered_auto_only", "unanswered")).astype(object)
    else:  # returns, delivery: days
        days = 8.0 if channel == "returns" else 3.0
        sigma = 0.35 if channel == "returns" else 0.3
        wait = rng.lognormal(np.log(days * 86400 * np.exp(-0.25 * quality)), sigma)
        lost = (rng.random(n) < 0.02 + 0.04 * _sigmoid(-quality)) | (
            wait > DEADLINE_S[channel])
        first = start + rng.uniform(0.2, 2.0, n) * 86400  # label, dispatch notice
        answer = np.where(lost, np.nan, start + wait)
        first = np.fmin(first, answer)
        human = ~lost
        outcome = np.where(lost, "unanswered", "answered").astype(object)
    # our side fails now and then; cancelled probes too: neither counts against anyone
    luck = rng.random(n)
    ours = luck < 0.01
    cancelled = (luck >= 0.01) & (luck < 0.013)
    outcome = np.where(ours, "failed", np.where(cancelled, "cancelled", outcome)).astype(object)
    void = ours | cancelled
    first = np.where(void, np.nan, first)
    answer = np.where(void, np.nan, answer)
    human = human & ~void
    # business-hours durations
    wait_bh = np.full(n, np.nan)
    first_bh = np.full(n, np.nan)
    for k, cal in enumerate(calendars):
        sel = cal_index == k
        if sel.any():
            f0 = cal.business(start[sel])
            wait_bh[sel] = cal.business(answer[sel]) - f0
            first_bh[sel] = cal.business(first[sel]) - f0
    # the same rule as real measurements (measure.elapsed): business seconds between the two
    # instants, so a call that runs past closing time counts only the open part
    wait_bh = np.where(np.isnan(answer), np.nan, wait_bh)
    first_bh = np.where(np.isnan(first), np.nan, first_bh)
    return {"start": start, "first": first, "answer": answer, "human": human,
            "outcome": outcome, "wait_bh": wait_bh, "first_bh": first_bh}


def simulate(store, *, companies: int = 500, quarters: int = 4, end_quarter: str,
             seed: int = 7, probes_per_company_channel: int = 12,
             total_probes: int | None = None, replace: bool = False) -> SimulationSummary:
    """Write simulated companies, probes, events and measurements into ``store``.

    ``total_probes`` (if given) is spread as evenly as possible over every company, channel
    and quarter instead of ``probes_per_company_channel``.
    """
    import time

    from .errors import ConfigError
    from .periods import shift
    from .slices import read_slices

    began = time.perf_counter()
    conn = store.conn
    existing = conn.execute("SELECT COUNT(*) FROM probes WHERE campaign = ?",
                            (SIMULATED,)).fetchone()[0]
    if existing and not replace:
        raise ConfigError(f"the database already holds {existing} simulated probes; "
                          "pass --replace to regenerate them")
    rng = np.random.default_rng(seed)
    taken = {r[0] for r in conn.execute(
        "SELECT slug FROM companies WHERE json_extract(data, '$.simulated') IS NOT 1")}
    firms = make_companies(companies, rng, taken)
    quarter_list = [shift(end_quarter, -k) for k in range(quarters - 1, -1, -1)]

    # quality: persistent per company, drifting per quarter, with a per-channel accent
    base = np.array([f.quality for f in firms])
    drift = np.cumsum(rng.normal(0, 0.35, size=(quarters, len(firms))), axis=0)
    accent = {c: rng.normal(0, 0.5, size=len(firms)) for c in CHANNELS}

    groups = [(qi, ci, ch) for qi in range(quarters) for ci, f in enumerate(firms)
              for ch in f.channels]
    if total_probes is not None:
        per, extra = divmod(total_probes, len(groups))
        sizes = np.full(len(groups), per, dtype=np.int64)
        sizes[:extra] += 1
    else:
        sizes = np.full(len(groups), probes_per_company_channel, dtype=np.int64)

    now = format_instant(utcnow())
    totals = {"probes": 0, "events": 0, "measurements": 0}
    # random-keyed inserts into big indexes thrash SQLite's small default page cache
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute("PRAGMA cache_size = -524288")
    try:
        _fill(store, conn, firms, groups, sizes, quarter_list, base, drift, accent, rng, now,
              totals, replace)
    finally:
        conn.execute(f"PRAGMA cache_size = {int(cache)}")
    # pack the report columns now, so the first report on a big history is not the slow one
    read_slices(conn, quarters=quarter_list)
    return SimulationSummary(companies=len(firms), quarters=quarter_list,
                             seconds=time.perf_counter() - began, **totals)


def _fill(store, conn, firms, groups, sizes, quarter_list, base, drift, accent, rng, now,
          totals, replace) -> None:
    keys = sorted({(f.timezone, f.hours, f.country) for f in firms})
    key_index = {k: i for i, k in enumerate(keys)}
    firm_cal = np.array([key_index[(f.timezone, f.hours, f.country)] for f in firms])
    # local quarter bounds per (zone, quarter); intervals cover them plus the longest deadline
    bounds_by_zone = {z: np.array([_local_bounds(q, z) for q in quarter_list])
                      for z in {k[0] for k in keys}}
    span0 = min(b[0, 0] for b in bounds_by_zone.values()) - 2 * 86400
    span1 = max(b[-1, 1] for b in bounds_by_zone.values()) + max(DEADLINE_S.values()) + 30 * 86400
    calendars = [IntervalCalendar(_calendar(*k), span0, span1) for k in keys]
    with store.transaction():
        if replace:
            _delete_simulated(conn)
        conn.executemany(
            "INSERT INTO companies (id, slug, name, industry, data, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(slug) DO UPDATE SET name = excluded.name, "
            "industry = excluded.industry, data = excluded.data, "
            "updated_at = excluded.updated_at",
            [(stable_id("company", f.slug), f.slug, f.name, f.industry,
              json.dumps(f.as_data(), sort_keys=True), now) for f in firms])
        for channel in CHANNELS:
            chosen = [i for i, g in enumerate(groups) if g[2] == channel and sizes[i]]
            if not chosen:
                continue
            counts = sizes[chosen]
            q_idx = np.repeat([groups[i][0] for i in chosen], counts)
            c_idx = np.repeat([groups[i][1] for i in chosen], counts)
            zones = np.array([firms[c].timezone for c in c_idx], dtype=object)
            t0, t1 = np.empty(len(c_idx)), np.empty(len(c_idx))
            for zone, bounds in bounds_by_zone.items():
                sel = zones == zone
                t0[sel], t1[sel] = bounds[q_idx[sel], 0], bounds[q_idx[sel], 1]
            # history, not prophecy: the current quarter is filled only up to now
            now_s = time.time()
            t1 = np.where(t0 < now_s, np.minimum(t1, now_s), t1)
            quality = 0.8 * (base[c_idx] + drift[q_idx, c_idx]) + accent[channel][c_idx]
            sim = _channel_probes(
                channel, quality, t0, t1, firm_cal[c_idx], calendars,
                np.array([firms[c].ack_share for c in c_idx]),
                np.array([firms[c].has_bot for c in c_idx]), rng)
            local_quarters, local_months = _local_periods(sim["start"], zones)
            written = _write(conn, channel, sim, [firms[c].slug for c in c_idx],
                             local_quarters, local_months, rng, now)
            for key, value in written.items():
                totals[key] += value


def _delete_simulated(conn) -> None:
    ids = "SELECT id FROM probes WHERE campaign = 'simulated'"
    for table in ("events", "messages", "grades", "measurements"):
        conn.execute(f"DELETE FROM {table} WHERE probe_id IN ({ids})")
    conn.execute("DELETE FROM probes WHERE campaign = 'simulated'")
    conn.execute("DELETE FROM companies WHERE json_extract(data, '$.simulated') = 1")


def _write(conn, channel: str, sim: dict[str, np.ndarray], companies: Sequence[str],
           quarters: Sequence[str], months: Sequence[str], rng: np.random.Generator,
           now: str) -> dict[str, int]:
    n = len(companies)
    ids = _ids(rng, n)
    # inserting in key order appends to the primary-key b-trees instead of splitting pages
    order = sorted(range(n), key=ids.__getitem__)
    ids = [ids[i] for i in order]
    companies = [companies[i] for i in order]
    quarters = [quarters[i] for i in order]
    months = [months[i] for i in order]
    sim = {k: v[order] for k, v in sim.items()}
    start, first, answer = sim["start"], sim["first"], sim["answer"]
    deadline = start + DEADLINE_S[channel]
    finished = np.where(np.isnan(answer), deadline, answer)
    outcome = sim["outcome"].tolist()
    start_s, first_s, answer_s = _instants(start), _instants(first), _instants(answer)
    deadline_s, finished_s = _instants(deadline), _instants(finished)
    wait = (answer - start).tolist()
    first_wait = (first - start).tolist()
    wait_bh, first_bh = sim["wait_bh"].tolist(), sim["first_bh"].tolist()
    human = sim["human"].tolist()

    def clean(x: float) -> float | None:
        return None if math.isnan(x) else round(x, 3)

    conn.executemany(
        "INSERT INTO probes (id, campaign, company, channel, plugin, scenario, shopper, status, "
        "outcome, outcome_reason, due_at, deadline_at, started_at, finished_at, token, state, "
        "attempts, created_at, updated_at, source) "
        "VALUES (?, 'simulated', ?, ?, 'simulated', NULL, NULL, 'done', ?, ?, ?, ?, ?, ?, NULL, "
        "'{}', 1, ?, ?, 'simulated')",
        [(ids[i], companies[i], channel, outcome[i],
          "simulated failure on our side" if outcome[i] == "failed" else None,
          start_s[i], deadline_s[i], start_s[i], finished_s[i], start_s[i], now)
         for i in range(n)])
    events = [(f"{ids[i]}:start", ids[i], "sim.started", start_s[i]) for i in range(n)]
    events += [(f"{ids[i]}:first", ids[i], "sim.first_response", first_s[i])
               for i in range(n) if first_s[i] is not None and first_s[i] != answer_s[i]]
    events += [(f"{ids[i]}:answer", ids[i], "sim.answered", answer_s[i])
               for i in range(n) if answer_s[i] is not None]
    conn.executemany(
        "INSERT INTO events (id, probe_id, kind, at, source, data, recorded_at) "
        "VALUES (?, ?, ?, ?, 'simulated', '{}', ?)",
        [(*e, now) for e in events])
    metrics = json.dumps({SIMULATED: True})
    flags = json.dumps([SIMULATED])
    conn.executemany(
        "INSERT INTO measurements (probe_id, company, campaign, channel, quarter, outcome, "
        "started_at, wait_s, wait_bh_s, first_response_s, first_response_bh_s, "
        "answered_by_human, metrics, flags, computed_at, month, source) "
        "VALUES (?, ?, 'simulated', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'simulated')",
        [(ids[i], companies[i], channel, quarters[i], outcome[i], start_s[i], clean(wait[i]),
          clean(wait_bh[i]), clean(first_wait[i]), clean(first_bh[i]), int(human[i]),
          metrics, flags, now, months[i]) for i in range(n)])
    return {"probes": n, "events": len(events), "measurements": n}
