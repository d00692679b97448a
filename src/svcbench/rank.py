"""Measurements in, quarterly rankings out: statistics, scores, ranks, confidence, movement.

Everything here is a pure function of a :class:`MeasurementFrame` (columns as numpy arrays, so
a million probes aggregate in well under a second) except :func:`load_frame`, the one reader.
The rules (documented for readers in docs/report-columns.md):

- Only counted outcomes (answered, answered_auto_only, unanswered, abandoned, unavailable)
  are used; ``failed`` and ``cancelled`` are our side's and never count against a company.
- ``unavailable`` (the channel was offline or not offered during posted hours) counts like a
  contact nobody answered: an infinite wait, not within any target, not human, not answered;
  it is in ``share_unanswered`` and also shown on its own as ``share_unavailable``.
- A probe's *wait* is ``wait_bh_s`` (business hours, the default) or ``wait_s`` (raw). A probe
  that never got the channel's headline answer (no human reply, abandoned call, no refund) has
  an infinite wait: it is never "within target", and a median or p90 that lands on such
  probes is reported as ``None`` ("no answer"). The mean is over answered probes only.
- Channel score (0-100) = weighted mean of parts (weights normalised): ``speed`` (percentile of
  the median wait among the channel's ranked companies, 100 = fastest), ``within_target``
  (mean share within the channel's targets), ``human`` (share answered by a person),
  ``answered`` (share with any response). Scores are rounded to 0.1; equal scores share a
  rank (competition ranking: 1, 2, 2, 4). Companies with fewer counted probes than
  ``minimum_sample`` are listed as not ranked.
- Bootstrap (``bootstrap_samples`` resamples of each company's probes, seeded): 95% intervals
  for the median and for the rank (the whole score and ranking recomputed per resample).
  Companies are put in the same "statistically tied" group as the group's first company when
  their rank interval overlaps that company's.
- Overall: mean of channel scores for companies ranked in at least ``overall_min_channels``
  channels; ranked like a channel.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from .models import COUNTED_OUTCOMES, RESPONDED_OUTCOMES, Channel, Measurement, Outcome

if TYPE_CHECKING:
    import sqlite3

    from .config import Scoring, Targets
    from .grading.quality import QualityFrame

SCORE_PARTS = ("speed", "within_target", "human", "answered", "quality")
#: channels whose waits are counted in business hours in business-hours mode; returns and
#: deliveries take days and their targets are calendar days
BUSINESS_HOURS_CHANNELS = frozenset({"phone", "email", "form", "chat"})
#: at most this many bootstrap draws are held in memory at once
_CHUNK_DRAWS = 4_000_000
CHART_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


# -- input ------------------------------------------------------------------------------


@dataclass
class MeasurementFrame:
    """Measurements as columns: the ones rankings need. Missing durations are NaN.

    ``counted`` marks outcomes that say something about the company; ``responded`` marks
    answered / answered_auto_only. ``spans`` maps (quarter, channel) to the first and last
    ``started_at`` (ISO text) of its probes.
    """

    company: np.ndarray
    channel: np.ndarray
    quarter: np.ndarray
    counted: np.ndarray
    responded: np.ndarray
    wait_s: np.ndarray
    wait_bh_s: np.ndarray
    first_response_s: np.ndarray
    human: np.ndarray
    spans: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    #: row indices per (quarter, channel) when known from loading (see ``groups``)
    group_index: dict[tuple[str, str], np.ndarray] | None = None
    #: outcome ``unavailable`` (None: no row is)
    unavailable: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.company)

    def take(self, index: np.ndarray) -> MeasurementFrame:
        """Rows by boolean mask or integer index."""
        arrays = {k: v[index] for k, v in self.__dict__.items()
                  if k not in ("spans", "group_index") and v is not None}
        return MeasurementFrame(**arrays, spans=self.spans)

    def groups(self) -> dict[tuple[str, str], np.ndarray]:
        """Row indices per (quarter, channel), by hashing rather than repeated comparisons."""
        if self.group_index is not None:
            return self.group_index
        if not len(self):
            return {}
        import pandas as pd

        frame = pd.DataFrame({"q": self.quarter, "c": self.channel})
        return {(str(q), str(c)): idx for (q, c), idx in frame.groupby(["q", "c"]).indices.items()}


def frame_from_measurements(measurements: Iterable[Measurement]) -> MeasurementFrame:
    """A frame from Measurement objects (small data, tests)."""
    from .models import format_instant

    ms = list(measurements)
    spans: dict[tuple[str, str], tuple[str, str]] = {}
    for m in ms:
        key, at = (m.quarter, str(m.channel)), format_instant(m.started_at)
        first, last = spans.get(key, (at, at))
        spans[key] = (min(first, at), max(last, at))

    def column(value, dtype) -> np.ndarray:
        out = np.empty(len(ms), dtype=dtype)
        out[:] = [value(m) for m in ms]
        return out

    return MeasurementFrame(
        company=column(lambda m: m.company, object),
        channel=column(lambda m: str(m.channel), object),
        quarter=column(lambda m: m.quarter, object),
        counted=column(lambda m: m.outcome in COUNTED_OUTCOMES, bool),
        responded=column(lambda m: m.outcome in RESPONDED_OUTCOMES, bool),
        wait_s=column(lambda m: m.wait_s, float),  # None becomes NaN
        wait_bh_s=column(lambda m: m.wait_bh_s, float),
        first_response_s=column(lambda m: m.first_response_s, float),
        human=column(lambda m: bool(m.answered_by_human), bool),
        spans=spans, unavailable=column(lambda m: m.outcome == Outcome.UNAVAILABLE, bool))


def load_frame(conn: sqlite3.Connection, *, quarters: Sequence[str] | None = None,
               channels: Sequence[str] | None = None) -> MeasurementFrame:
    """The measurements of these quarters and channels (None: all), via the column cache."""
    from .slices import COUNTED, HUMAN, RESPONDED, UNAVAILABLE, read_slices

    slices = read_slices(conn, quarters=quarters, channels=channels)
    if not slices:
        o, f, b = (np.array([], dtype=t) for t in (object, float, bool))
        return MeasurementFrame(o, o, o, b, b, f, f, f, b, spans={})
    # text columns index small arrays of shared str objects: a pointer per row, no copies
    shared: dict[str, str] = {}
    which = np.repeat(np.arange(len(slices)), [len(s) for s in slices])

    def text(name: str) -> np.ndarray:
        values = np.empty(len(slices), dtype=object)
        values[:] = [shared.setdefault(v, v) for v in (getattr(s, name) for s in slices)]
        return values[which]

    def column(name: str) -> np.ndarray:
        return np.concatenate([getattr(s, name) for s in slices])

    # slices come sorted by (quarter, channel, company): each (quarter, channel) is one run
    spans: dict[tuple[str, str], tuple[str, str]] = {}
    runs: dict[tuple[str, str], list[int]] = {}
    end = 0
    for s in slices:
        key, end = (s.quarter, s.channel), end + len(s)
        first, last = spans.get(key, (s.first_started, s.last_started))
        spans[key] = (min(first, s.first_started), max(last, s.last_started))
        runs.setdefault(key, [end - len(s), end])[1] = end
    flags = column("flags")
    return MeasurementFrame(
        company=text("company"), channel=text("channel"), quarter=text("quarter"),
        counted=(flags & COUNTED) != 0, responded=(flags & RESPONDED) != 0,
        wait_s=column("wait_s"), wait_bh_s=column("wait_bh_s"),
        first_response_s=column("first_response_s"), human=(flags & HUMAN) != 0,
        spans=spans, group_index={k: np.arange(a, b) for k, (a, b) in runs.items()},
        unavailable=(flags & UNAVAILABLE) != 0)


def quarters_with_data(conn: sqlite3.Connection) -> list[str]:
    """Quarters that have measurements, oldest first (a skip scan of the quarter index)."""
    return [r[0] for r in conn.execute(
        "WITH RECURSIVE q(quarter) AS (SELECT MIN(quarter) FROM measurements UNION ALL "
        "SELECT (SELECT MIN(quarter) FROM measurements WHERE quarter > q.quarter) FROM q "
        "WHERE q.quarter IS NOT NULL) SELECT quarter FROM q WHERE quarter IS NOT NULL")]


# -- quarters ---------------------------------------------------------------------------


def parse_quarter(text: str) -> str:
    """'2026Q4' (also '2026q4', '2026-Q4'); ValueError otherwise."""
    cleaned = text.strip().upper().replace("-", "")
    if len(cleaned) == 6 and cleaned[:4].isdigit() and cleaned[4] == "Q" and cleaned[5] in "1234":
        return cleaned
    raise ValueError(f"{text!r} is not a quarter like 2026Q4")


def previous_quarter(quarter: str) -> str:
    year, q = int(quarter[:4]), int(quarter[5])
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"


def shift_quarter(quarter: str, steps: int) -> str:
    year, q = int(quarter[:4]), int(quarter[5]) - 1
    total = year * 4 + q + steps
    return f"{total // 4}Q{total % 4 + 1}"


# -- results ----------------------------------------------------------------------------


@dataclass
class CompanyChannelRow:
    """One company in one channel's ranking. Columns documented in docs/report-columns.md."""

    channel: str
    company: str
    name: str
    industry: str
    n: int
    excluded: int
    ranked: bool
    status: str
    rank: int | None
    rank_low: int | None
    rank_high: int | None
    tie_group: int | None
    score: float | None
    speed: float | None
    within_target_score: float | None
    median_s: float | None
    median_low_s: float | None
    median_high_s: float | None
    mean_answered_s: float | None
    p90_s: float | None
    within: dict[float, float]
    share_answered: float
    share_human: float
    share_unanswered: float
    previous_rank: int | None = None
    movement: str = "new"
    rank_change: int | None = None
    quantiles: dict[float, float | None] = field(default_factory=dict)
    #: share of counted probes that found the channel unavailable (also in share_unanswered)
    share_unavailable: float = 0.0
    #: answer quality (svcbench.grading.quality.QualityCell), set by build_report
    quality: Any = None


@dataclass
class OverallRow:
    company: str
    name: str
    industry: str
    channels_ranked: int
    ranked: bool
    status: str
    rank: int | None
    rank_low: int | None
    rank_high: int | None
    tie_group: int | None
    score: float | None
    channel_scores: dict[str, float]
    channel_ranks: dict[str, int]
    top_n_channels: int
    top_n_summary: str
    previous_rank: int | None = None
    movement: str = "new"
    rank_change: int | None = None


@dataclass
class ChannelRanking:
    channel: str
    targets: list[float]
    rows: list[CompanyChannelRow]
    companies: int
    ranked: int
    probes: int
    excluded: int
    first_started: str | None
    last_started: str | None
    industry_lines: list[str]
    #: histogram of all counted probes' waits: (edges in seconds, counts), plus unanswered
    histogram: tuple[list[float], list[int]] = ((), ())  # type: ignore[assignment]
    unanswered: int = 0


@dataclass
class Report:
    quarter: str
    previous_quarter: str
    business_hours: bool
    channels: dict[str, ChannelRanking]
    overall: list[OverallRow]
    overall_min_channels: int
    weights: dict[str, float]
    minimum_sample: int
    bootstrap_samples: int
    seed: int
    top_n: int
    generated_at: datetime
    #: findings beside the rankings, by name ("chat_service": availability and queue
    #: promises; "email_replies": replies reviewed by a person, reply-time promises kept),
    #: added by the caller and rendered by each format when present
    sections: dict[str, Any] = field(default_factory=dict)
    #: how answer quality was graded (svcbench.grading.quality.QualityFrame.methodology)
    quality: dict[str, Any] = field(default_factory=dict)

    @property
    def first_started(self) -> str | None:
        values = [c.first_started for c in self.channels.values() if c.first_started]
        return min(values) if values else None

    @property
    def last_started(self) -> str | None:
        values = [c.last_started for c in self.channels.values() if c.last_started]
        return max(values) if values else None


# -- pure statistics --------------------------------------------------------------------


def normalised_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights scaled to sum to 1; ValueError for unknown parts or a zero total."""
    unknown = sorted(set(weights) - set(SCORE_PARTS))
    if unknown:
        raise ValueError(f"unknown score part {unknown[0]!r} (known: {', '.join(SCORE_PARTS)})")
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must not be negative")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("weights must not all be zero")
    return {k: w / total for k, w in weights.items() if w > 0}


def round1(values: np.ndarray) -> np.ndarray:
    """Round to 0.1, halves up (as people expect: 91.65 -> 91.7, not numpy's 91.6)."""
    return np.floor(np.asarray(values, dtype=float) * 10 + 0.5 + 1e-9) / 10


def competition_ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score; equal scores share a rank; the next rank skips (1, 2, 2, 4)."""
    scores = np.asarray(scores, dtype=float)
    ordered = np.sort(scores)
    # number of strictly greater scores + 1
    return len(scores) - np.searchsorted(ordered, scores, side="right") + 1


def speed_percentiles(medians: np.ndarray) -> np.ndarray:
    """0-100 per company: share of the others with a slower median (half credit for equal)."""
    n = len(medians)
    if n == 1:
        return np.array([100.0])
    ordered = np.sort(medians)
    less = np.searchsorted(ordered, medians, side="left")
    less_eq = np.searchsorted(ordered, medians, side="right")
    slower = n - less_eq
    equal_others = less_eq - less - 1
    return 100.0 * (slower + 0.5 * equal_others) / (n - 1)


def _sorted_quantile(x: np.ndarray, off: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Quantile (linear interpolation, numpy's default) of sorted segments; inf-aware."""
    pos = q * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    a, b = x[off + lo], x[off + hi]
    with np.errstate(invalid="ignore"):
        out = a + (b - a) * frac
    out = np.where(frac == 0, a, out)
    return np.where(np.isinf(b) & (frac > 0), np.inf, out)


def _finite_or_none(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


@dataclass
class _Slice:
    """One channel in one quarter: counted probes sorted by (company, wait)."""

    companies: np.ndarray  # company slug per group
    n: np.ndarray
    off: np.ndarray
    wait: np.ndarray  # sorted within group; inf = never answered
    human: np.ndarray
    answered: np.ndarray
    excluded: dict[str, int]
    unavailable: np.ndarray


def _slice(frame: MeasurementFrame, business_hours: bool) -> _Slice:
    counted_mask = frame.counted
    excluded_companies = frame.company[~counted_mask]
    excluded: dict[str, int] = {}
    if len(excluded_companies):
        names, counts = np.unique(excluded_companies, return_counts=True)
        excluded = dict(zip(names.tolist(), counts.tolist(), strict=True))
    f = frame.take(counted_mask)
    # business-hours mode falls back to the raw wait where no adjusted one was recorded
    bh = np.where(np.isnan(f.wait_bh_s), f.wait_s, f.wait_bh_s)
    wait = bh if business_hours else f.wait_s
    wait = np.where(np.isnan(wait), np.inf, wait)
    answered = f.responded | ~np.isnan(f.first_response_s) | np.isfinite(wait)
    if len(f):
        import pandas as pd

        codes, uniques = pd.factorize(f.company, sort=True)
        uniques = np.asarray(uniques, dtype=object)
    else:
        codes, uniques = np.array([], dtype=np.int64), np.array([], dtype=object)
    order = np.lexsort((wait, codes))
    unavailable = f.unavailable if f.unavailable is not None else np.zeros(len(f), bool)
    n = np.bincount(codes, minlength=len(uniques)).astype(np.int64)
    off = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    return _Slice(
        companies=uniques, n=n, off=off, wait=wait[order], human=f.human[order],
        answered=answered[order], excluded=excluded, unavailable=unavailable[order],
    )


def _scores(median: np.ndarray, within: np.ndarray, human: np.ndarray, answered: np.ndarray,
            weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, speed, within_target_score) for ranked companies; the last axis is companies.

    ``within`` has the targets on axis 0. Works on one set or on (replicates, companies).
    """
    if median.ndim == 1:
        speed = speed_percentiles(median)
    else:
        speed = np.stack([speed_percentiles(row) for row in median])
    within_score = 100.0 * within.mean(axis=0)
    parts = {"speed": speed, "within_target": within_score, "human": 100.0 * human,
             "answered": 100.0 * answered}
    score = sum(w * parts[k] for k, w in weights.items())
    return round1(score), speed, within_score


def _bootstrap(s: _Slice, targets: Sequence[float], samples: int,
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Resample each company's probes ``samples`` times; (samples, companies) statistics.

    Rather than materialising resamples, draws are counted per sorted position (bincount);
    because each company's waits are sorted, the k-th order statistic of a resample is found
    by a search in the running count, and shares within a target by a difference of counts.
    """
    total, groups = int(s.n.sum()), len(s.n)
    seg = np.repeat(np.arange(groups), s.n)
    m_t = [np.array([np.searchsorted(s.wait[o:o + k], t, side="right")
                     for o, k in zip(s.off, s.n, strict=True)], dtype=np.int64) for t in targets]
    lo_k, hi_k = (s.n - 1) // 2, s.n // 2
    chunk = max(1, _CHUNK_DRAWS // max(total, 1))
    out: dict[str, list[np.ndarray]] = {"median": [], "human": [], "answered": [],
                                         "within": []}
    done = 0
    while done < samples:
        b = min(chunk, samples - done)
        draws = (rng.random((b, total)) * s.n[seg]).astype(np.int64) + s.off[seg]
        base = (np.arange(b, dtype=np.int64) * total)[:, None]
        counts = np.bincount((draws + base).ravel(), minlength=b * total)
        running = np.cumsum(counts)
        start = base + s.off[None, :]  # draws before each (replicate, company) segment

        def order_stat(k: np.ndarray, start: np.ndarray = start,
                       running: np.ndarray = running, base: np.ndarray = base) -> np.ndarray:
            pos = np.searchsorted(running, start + k[None, :] + 1, side="left")
            return s.wait[pos - base]

        with np.errstate(invalid="ignore"):
            med = (order_stat(lo_k) + order_stat(hi_k)) / 2
        out["median"].append(med)
        within = []
        for m in m_t:
            end = start + m[None, :] - 1
            inside = np.where(m[None, :] > 0, running[np.maximum(end, 0)] - start, 0)
            within.append(inside / s.n[None, :])
        out["within"].append(np.stack(within) if within else np.zeros((0, b, groups)))
        per_company = counts.reshape(b, total)
        for key, flags in (("human", s.human), ("answered", s.answered)):
            sums = np.add.reduceat(per_company * flags[None, :], s.off, axis=1)
            out[key].append(sums / s.n[None, :])
        done += b
    return {
        "median": np.concatenate(out["median"]), "human": np.concatenate(out["human"]),
        "answered": np.concatenate(out["answered"]),
        "within": np.concatenate(out["within"], axis=1),
    }


def _tie_groups(order: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Walk companies best first; one joins the group while its rank interval overlaps the
    interval of the group's first company."""
    group = np.zeros(len(low), dtype=np.int64)  # indexed by company, not by rank order
    current, leader_high = 0, -1
    for i in order:
        if current == 0 or low[i] > leader_high:
            current += 1
            leader_high = high[i]
        group[i] = current
    return group


def _seed_for(seed: int, *parts: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(":".join(parts).encode())])


def rank_channel(frame: MeasurementFrame, channel: str, *, targets: Sequence[float],
                 weights: dict[str, float], minimum_sample: int, bootstrap_samples: int = 0,
                 seed: int = 0, quarter: str = "", business_hours: bool = True,
                 names: Mapping[str, str] | None = None,
                 industries: Mapping[str, str] | None = None,
                 ) -> tuple[ChannelRanking, dict[str, np.ndarray]]:
    """Rank one channel of one quarter. Returns the ranking and each ranked company's
    bootstrap scores (for the overall ranking's confidence)."""
    names, industries = names or {}, industries or {}
    targets = sorted(float(t) for t in targets)
    s = _slice(frame, business_hours)
    groups = len(s.n)
    x = s.wait
    median = _sorted_quantile(x, s.off, s.n, 0.5) if groups else np.zeros(0)
    p90 = _sorted_quantile(x, s.off, s.n, 0.9) if groups else np.zeros(0)
    quantiles = {q: _sorted_quantile(x, s.off, s.n, q) for q in CHART_QUANTILES} if groups else {}
    finite = np.isfinite(x)
    seg = np.repeat(np.arange(groups), s.n)
    answered_n = np.bincount(seg, weights=finite, minlength=groups)
    sum_answered = np.bincount(seg, weights=np.where(finite, x, 0.0), minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_answered = np.where(answered_n > 0, sum_answered / np.maximum(answered_n, 1),
                                 np.nan)
    within = np.stack([np.bincount(seg, weights=x <= t, minlength=groups) / np.maximum(s.n, 1)
                       for t in targets]) if targets else np.zeros((0, groups))
    share_human = np.bincount(seg, weights=s.human, minlength=groups) / np.maximum(s.n, 1)
    share_answered = np.bincount(seg, weights=s.answered, minlength=groups) / np.maximum(s.n, 1)
    share_unavailable = (np.bincount(seg, weights=s.unavailable, minlength=groups)
                         / np.maximum(s.n, 1))

    ranked_mask = s.n >= minimum_sample
    ranked_idx = np.flatnonzero(ranked_mask)
    score = np.full(groups, np.nan)
    speed = np.full(groups, np.nan)
    within_score = np.full(groups, np.nan)
    rank = np.zeros(groups, dtype=np.int64)
    if len(ranked_idx):
        sc, sp, ws = _scores(median[ranked_idx], within[:, ranked_idx], share_human[ranked_idx],
                             share_answered[ranked_idx], weights)
        score[ranked_idx], speed[ranked_idx], within_score[ranked_idx] = sc, sp, ws
        rank[ranked_idx] = competition_ranks(sc)

    med_low = np.full(groups, np.nan)
    med_high = np.full(groups, np.nan)
    rank_low = rank.copy()
    rank_high = rank.copy()
    boot_scores: dict[str, np.ndarray] = {}
    if bootstrap_samples and groups:
        rng = _seed_for(seed, quarter, channel)
        boot = _bootstrap(s, targets, bootstrap_samples, rng)
        med_low = np.quantile(boot["median"], 0.025, axis=0, method="lower")
        med_high = np.quantile(boot["median"], 0.975, axis=0, method="higher")
        if len(ranked_idx):
            sc_b, _, _ = _scores(boot["median"][:, ranked_idx], boot["within"][:, :, ranked_idx],
                                 boot["human"][:, ranked_idx], boot["answered"][:, ranked_idx],
                                 weights)
            ranks_b = np.stack([competition_ranks(row) for row in sc_b])
            rank_low[ranked_idx] = np.quantile(ranks_b, 0.025, axis=0, method="lower")
            rank_high[ranked_idx] = np.quantile(ranks_b, 0.975, axis=0, method="higher")
            # the point rank always lies inside its own interval
            rank_low[ranked_idx] = np.minimum(rank_low[ranked_idx], rank[ranked_idx])
            rank_high[ranked_idx] = np.maximum(rank_high[ranked_idx], rank[ranked_idx])
            for j, i in enumerate(ranked_idx):
                boot_scores[str(s.companies[i])] = sc_b[:, j]
    tie_group = np.zeros(groups, dtype=np.int64)
    if len(ranked_idx):
        order = ranked_idx[np.lexsort((s.companies[ranked_idx].astype(str), rank[ranked_idx]))]
        tie_group = _tie_groups(order, rank_low, rank_high)

    rows = []
    all_companies = set(s.companies.tolist()) | set(s.excluded)
    index = {c: i for i, c in enumerate(s.companies.tolist())}
    for company in sorted(all_companies):
        i = index.get(company)
        excluded = s.excluded.get(company, 0)
        if i is None:
            rows.append(CompanyChannelRow(
                channel=channel, company=company, name=names.get(company, company),
                industry=industries.get(company, ""), n=0, excluded=excluded, ranked=False,
                status=f"not ranked (n<{minimum_sample})", rank=None, rank_low=None,
                rank_high=None, tie_group=None, score=None, speed=None,
                within_target_score=None, median_s=None, median_low_s=None,
                median_high_s=None, mean_answered_s=None, p90_s=None,
                within={t: 0.0 for t in targets}, share_answered=0.0, share_human=0.0,
                share_unanswered=0.0))
            continue
        is_ranked = bool(ranked_mask[i])
        rows.append(CompanyChannelRow(
            channel=channel, company=company, name=names.get(company, company),
            industry=industries.get(company, ""), n=int(s.n[i]), excluded=excluded,
            ranked=is_ranked,
            status="ranked" if is_ranked else f"not ranked (n<{minimum_sample})",
            rank=int(rank[i]) if is_ranked else None,
            rank_low=int(rank_low[i]) if is_ranked else None,
            rank_high=int(rank_high[i]) if is_ranked else None,
            tie_group=int(tie_group[i]) if is_ranked else None,
            score=float(score[i]) if is_ranked else None,
            speed=round(float(speed[i]), 1) if is_ranked else None,
            within_target_score=round(float(within_score[i]), 1) if is_ranked else None,
            median_s=_finite_or_none(median[i]),
            median_low_s=_finite_or_none(med_low[i]) if bootstrap_samples else None,
            median_high_s=_finite_or_none(med_high[i]) if bootstrap_samples else None,
            mean_answered_s=_finite_or_none(mean_answered[i]),
            p90_s=_finite_or_none(p90[i]),
            within={t: float(within[j, i]) for j, t in enumerate(targets)},
            share_answered=float(share_answered[i]), share_human=float(share_human[i]),
            share_unanswered=float(1.0 - answered_n[i] / s.n[i]),
            quantiles={q: _finite_or_none(v[i]) for q, v in quantiles.items()},
            share_unavailable=float(share_unavailable[i]),
        ))
    rows.sort(key=_row_order)
    edges, counts = _histogram(x)
    span = frame.spans.get((quarter, channel))
    ranking = ChannelRanking(
        channel=channel, targets=list(targets), rows=rows, companies=len(all_companies),
        ranked=len(ranked_idx), probes=int(s.n.sum()), excluded=sum(s.excluded.values()),
        first_started=span[0] if span else None, last_started=span[1] if span else None,
        industry_lines=[],
        histogram=(edges, counts), unanswered=int((~finite).sum()),
    )
    ranking.industry_lines = industry_lines(channel, ranking, x)
    return ranking, boot_scores


def _row_order(row: CompanyChannelRow | OverallRow) -> tuple:
    return (not row.ranked, row.rank or 0, row.name.casefold(), row.company)


def _histogram(x: np.ndarray, bins: int = 24) -> tuple[list[float], list[int]]:
    """Log-spaced histogram of the finite waits (seconds, at least 1 s)."""
    finite = x[np.isfinite(x)]
    if not len(finite):
        return [], []
    low = max(1.0, float(finite.min()))
    high = max(low * 10, float(finite.max()))
    edges = np.geomspace(low, high, bins + 1)
    counts, _ = np.histogram(np.clip(finite, low, high), bins=edges)
    return edges.tolist(), counts.astype(int).tolist()


# -- overall and movement ---------------------------------------------------------------


def rank_overall(channels: Mapping[str, ChannelRanking], *, min_channels: int, top_n: int,
                 boot_scores: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                 names: Mapping[str, str] | None = None,
                 industries: Mapping[str, str] | None = None) -> list[OverallRow]:
    """Mean of channel scores for companies ranked in at least ``min_channels`` channels."""
    names, industries = names or {}, industries or {}
    scores: dict[str, dict[str, float]] = {}
    ranks: dict[str, dict[str, int]] = {}
    for channel, ranking in channels.items():
        for row in ranking.rows:
            if row.ranked and row.score is not None and row.rank is not None:
                scores.setdefault(row.company, {})[channel] = row.score
                ranks.setdefault(row.company, {})[channel] = row.rank
            else:
                scores.setdefault(row.company, {})
                ranks.setdefault(row.company, {})
    companies = sorted(scores)
    eligible = [c for c in companies if len(scores[c]) >= min_channels]
    overall = np.array([np.mean(list(scores[c].values())) for c in eligible])
    overall = round1(overall)
    rank = competition_ranks(overall) if eligible else np.zeros(0, dtype=np.int64)
    low, high = rank.copy(), rank.copy()
    if boot_scores and eligible:
        per_company = []
        for c in eligible:
            parts = [boot_scores[ch][c] for ch in scores[c] if c in boot_scores.get(ch, {})]
            per_company.append(np.mean(parts, axis=0) if len(parts) == len(scores[c]) else None)
        if all(p is not None for p in per_company):
            boot = round1(np.stack(per_company, axis=1))  # type: ignore[arg-type]
            ranks_b = np.stack([competition_ranks(row) for row in boot])
            low = np.minimum(np.quantile(ranks_b, 0.025, axis=0, method="lower"), rank)
            high = np.maximum(np.quantile(ranks_b, 0.975, axis=0, method="higher"), rank)
    groups = np.zeros(len(eligible), dtype=np.int64)
    if eligible:
        order = np.lexsort((np.array(eligible, dtype=object).astype(str), rank))
        groups = _tie_groups(order, low, high)
    position = {c: i for i, c in enumerate(eligible)}
    rows = []
    for c in companies:
        in_top = sum(1 for r in ranks[c].values() if r <= top_n)
        m = len(ranks[c])
        i = position.get(c)
        rows.append(OverallRow(
            company=c, name=names.get(c, c), industry=industries.get(c, ""),
            channels_ranked=m, ranked=i is not None,
            status="ranked" if i is not None else
            f"not ranked (ranked in {m} of {min_channels} required channels)",
            rank=int(rank[i]) if i is not None else None,
            rank_low=int(low[i]) if i is not None else None,
            rank_high=int(high[i]) if i is not None else None,
            tie_group=int(groups[i]) if i is not None else None,
            score=float(overall[i]) if i is not None else None,
            channel_scores=scores[c], channel_ranks=ranks[c], top_n_channels=in_top,
            top_n_summary=f"top {top_n} in {in_top} of {m} {plural('channel', m)}",
        ))
    rows.sort(key=_row_order)
    return rows


def apply_movement(current: Sequence[CompanyChannelRow | OverallRow],
                   previous: Sequence[CompanyChannelRow | OverallRow]) -> None:
    """Set previous_rank, rank_change (positive = moved up) and movement on ranked rows."""
    before = {r.company: r.rank for r in previous if r.ranked}
    for row in current:
        prev = before.get(row.company)
        row.previous_rank = prev
        if not row.ranked or row.rank is None:
            row.movement, row.rank_change = ("", None)
        elif prev is None:
            row.movement, row.rank_change = ("new", None)
        else:
            row.rank_change = prev - row.rank
            row.movement = ("up" if row.rank_change > 0 else
                            "down" if row.rank_change < 0 else "same")


# -- industry lines ---------------------------------------------------------------------

#: per channel: (probe noun, company verb phrase "...within {t}", probe fail phrase, none phrase)
_PHRASES = {
    "phone": ("call", "connected at least half of their callers to a person within {t}",
              "waited more than {t} for a person or never reached one",
              "never reached a person"),
    "email": ("email", "answered at least half of their emails in person within {t}",
              "took more than {t} to get a human answer, or got none",
              "never got a human answer"),
    "chat": ("chat", "had a person reply to at least half of their chats within {t}",
             "waited more than {t} for a person or never got one",
             "never got a person"),
    "returns": ("return", "refunded at least half of their returns within {t}",
                "took more than {t} to be refunded, or never were",
                "were never refunded"),
    "delivery": ("order", "delivered at least half of their orders within {t}",
                 "took more than {t} to arrive, or never did",
                 "never arrived"),
}


def plural(noun: str, count: int) -> str:
    if count == 1:
        return noun
    if noun == "company":
        return "companies"
    return noun + "s"


def duration_phrase(seconds: float) -> str:
    """30 -> '30 seconds', 120 -> '2 minutes', 43200 -> '12 hours', 604800 -> '7 days'."""
    s = float(seconds)
    if s < 60 or s % 60:
        value, unit = s, "second"
    elif s < 3600 or s % 3600:
        value, unit = s / 60, "minute"
    elif s <= 48 * 3600 or s % 86400:
        value, unit = s / 3600, "hour"
    else:
        value, unit = s / 86400, "day"
    number = f"{value:g}"
    return f"{number} {plural(unit, 1 if value == 1 else 2)}"


_ONE_IN = (10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 100)


def share_phrase(k: int, n: int, noun: str) -> str:
    """'4 in 10 emails', '1 in 20 calls', 'almost all chats', 'none of the 12 orders'."""
    nouns = plural(noun, n)
    if n == 0:
        return f"no {nouns}"
    if k == 0:
        return f"none of the {n} {nouns}" if n > 1 else f"not the one {noun}"
    if k == n:
        return f"all {n} {nouns}" if n > 1 else f"the one {noun}"
    share = k / n
    tenths = round(share * 10)
    if share >= 0.95:
        return f"almost all {nouns}"
    if tenths >= 1:
        return f"{tenths} in 10 {plural(noun, 10)}"
    if share >= 0.01:
        nice = min(_ONE_IN, key=lambda d: abs(math.log(d * share)))
        return f"1 in {nice} {plural(noun, 2)}"
    return f"fewer than 1 in 100 {plural(noun, 2)}"


def _percent(k: int, n: int) -> str:
    pct = 100.0 * k / n if n else 0.0
    text = f"{pct:.0f}%" if pct >= 1 or pct == 0 else "<1%"
    return text


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def industry_lines(channel: str, ranking: ChannelRanking, waits: np.ndarray) -> list[str]:
    """Plain-English findings for one channel, generated from the data."""
    noun, company_verb, fail_phrase, none_phrase = _PHRASES.get(
        channel, ("probe", "answered at least half of their probes within {t}",
                  "took more than {t} or got no answer", "never got an answer"))
    lines = []
    targets = ranking.targets
    ranked = [r for r in ranking.rows if r.ranked]
    if targets and ranked:
        t = targets[0]
        k = sum(1 for r in ranked if r.median_s is not None and r.median_s <= t)
        n = len(ranked)
        phrase = share_phrase(k, n, "company")
        only = "only " if 0 < k / n < 0.25 else ""
        lines.append(_sentence(
            f"{only}{phrase} ({_percent(k, n)}, {k} of {n}) "
            f"{company_verb.format(t=duration_phrase(t))}"))
    n_probes = len(waits)
    if targets and n_probes:
        t = targets[len(targets) // 2]
        k = int((waits > t).sum())
        lines.append(_sentence(
            f"{share_phrase(k, n_probes, noun)} ({_percent(k, n_probes)}) "
            f"{fail_phrase.format(t=duration_phrase(t))}"))
        unanswered = int(np.isinf(waits).sum())
        if unanswered:
            # the "none" phrase uses a plural verb only where the subject needs it
            verb = none_phrase
            if unanswered == 1 or share_phrase(unanswered, n_probes, noun).startswith("1 in"):
                verb = verb.replace("were never", "was never")
            lines.append(_sentence(
                f"{share_phrase(unanswered, n_probes, noun)} ({_percent(unanswered, n_probes)}) "
                f"{verb}"))
    return lines


# -- the whole report -------------------------------------------------------------------


def build_report(frame: MeasurementFrame, *, quarter: str, channels: Sequence[str],
                 targets: Targets, scoring: Scoring, business_hours: bool = True,
                 seed: int = 0, overall_min_channels: int | None = None,
                 names: Mapping[str, str] | None = None,
                 industries: Mapping[str, str] | None = None,
                 now: datetime | None = None, quality: QualityFrame | None = None) -> Report:
    """Rankings for ``quarter`` (with movement against the quarter before, if in the frame)."""
    from .grading.quality import QualityFrame

    weights = normalised_weights(scoring.weights)
    quality = quality or QualityFrame.empty()  # the quality part: svcbench.grading.quality
    prev = previous_quarter(quarter)
    current_rankings: dict[str, ChannelRanking] = {}
    previous_rankings: dict[str, ChannelRanking] = {}
    boot: dict[str, dict[str, np.ndarray]] = {}
    groups = frame.groups()
    for channel in channels:
        for q, store_in in ((quarter, current_rankings), (prev, previous_rankings)):
            index = groups.get((q, str(channel)))
            if index is None:
                continue
            part = frame.take(index)
            ranking, scores = rank_channel(
                part, str(channel), targets=targets.for_channel(Channel(channel)),
                weights=quality.score_weights(weights), minimum_sample=scoring.minimum_sample,
                bootstrap_samples=scoring.bootstrap_samples if q == quarter else 0,
                seed=seed, quarter=q, names=names,
                business_hours=business_hours and str(channel) in BUSINESS_HOURS_CHANNELS,
                industries=industries)
            scores = quality.apply(
                ranking, scores, quarter=q, weight=weights.get("quality", 0.0), seed=seed,
                bootstrap_samples=scoring.bootstrap_samples if q == quarter else 0)
            store_in[str(channel)] = ranking
            if q == quarter:
                boot[str(channel)] = scores
        if str(channel) in current_rankings and str(channel) in previous_rankings:
            apply_movement(current_rankings[str(channel)].rows,
                           previous_rankings[str(channel)].rows)
        elif str(channel) in current_rankings:
            apply_movement(current_rankings[str(channel)].rows, [])
    channels_present = sum(1 for c in current_rankings.values() if c.ranked)
    k = overall_min_channels or min(2, max(channels_present, 1))
    overall = rank_overall(current_rankings, min_channels=k, top_n=scoring.top_n,
                           boot_scores=boot, names=names, industries=industries)
    if previous_rankings:
        prev_overall = rank_overall(previous_rankings, min_channels=k, top_n=scoring.top_n,
                                    names=names, industries=industries)
        apply_movement(overall, prev_overall)
    else:
        apply_movement(overall, [])
    return Report(
        quarter=quarter, previous_quarter=prev, business_hours=business_hours,
        channels=current_rankings, overall=overall, overall_min_channels=k, weights=weights,
        minimum_sample=scoring.minimum_sample, bootstrap_samples=scoring.bootstrap_samples,
        seed=seed, top_n=scoring.top_n, generated_at=now or datetime.now(UTC),
        quality=quality.methodology,
    )
