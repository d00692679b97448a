"""Measurements in, rankings out: statistics, scores, ranks, confidence, ties, movement.

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
- Ties: two ranked companies are statistically tied exactly when their 95% rank intervals
  overlap. The relation is pairwise (not a partition: A~B and B~C does not make A~C), so
  each row carries the companies it is tied with (``tied_with``), never a group number.
- Overall: mean of channel scores for companies ranked in at least ``overall_min_channels``
  channels; ranked like a channel.
- Periods: a quarter ('2026Q4') or a month ('2026-11') of the probes' local start
  (``svcbench.periods``). Earlier periods are ranked too (without bootstrap) for movement,
  streaks and newcomers (:class:`Highlights`).
- Simulated probes are left out unless ``include_simulated``; every report counts its
  probes per source (:attr:`Report.sources`).

No English here: wording lives in ``svcbench.render.wording``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
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
#: at most this many bootstrap draws are held in memory at once: 2 MB arrays, which the
#: allocator reuses (at 4,000,000 every chunk's 32 MB arrays were fresh pages: 15,000 page
#: faults and a third more time on a 1M-probe report); the draws do not depend on it
_CHUNK_DRAWS = 250_000
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
    #: local month 1-12 of each probe's start
    month: np.ndarray | None = None
    #: provenance label of each probe: 'live', 'manual', 'csv', 'simulated', plus
    #: '@<merge batch>' for merged ones
    source: np.ndarray | None = None
    #: which rows are simulated, when known from loading (else derived from ``source``)
    simulated_mask: np.ndarray | None = None
    #: rows of the email channel that are a form-only company's web-form probes
    #: (:func:`merge_form_into_email`)
    via_form: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.company)

    def take(self, index: np.ndarray) -> MeasurementFrame:
        """Rows by boolean mask or integer index (a run of consecutive rows, as the groups of
        a loaded frame are, is taken as views: no copies)."""
        index = np.asarray(index)
        if index.dtype != bool and len(index) > 1 and index[0] >= 0 \
                and index[-1] - index[0] == len(index) - 1 and (np.diff(index) == 1).all():
            index = slice(int(index[0]), int(index[-1]) + 1)  # type: ignore[assignment]
        arrays = {k: v[index] for k, v in self.__dict__.items()
                  if k not in ("spans", "group_index") and v is not None}
        return MeasurementFrame(**arrays, spans=self.spans)

    def simulated(self) -> np.ndarray:
        """Boolean mask of simulated probes."""
        if self.simulated_mask is not None:
            return self.simulated_mask
        if self.source is None or not len(self):
            return np.zeros(len(self), dtype=bool)
        import pandas as pd

        labels = pd.Series(self.source)
        wanted = [x for x in labels.unique() if is_simulated_label(str(x))]
        return labels.isin(wanted).to_numpy() if wanted else np.zeros(len(self), dtype=bool)

    def period_groups(self, monthly: bool) -> dict[tuple[str, str], np.ndarray]:
        """Row indices per (period, channel): quarters, or months ('2026-11')."""
        groups = self.groups()
        if not monthly:
            return groups
        months = self.month if self.month is not None else np.zeros(len(self), np.uint8)
        out: dict[tuple[str, str], np.ndarray] = {}
        for (quarter, channel), index in groups.items():
            these = months[index]
            for m in np.unique(these):
                out[(f"{quarter[:4]}-{int(m):02d}", channel)] = index[these == m]
        return out

    def groups(self) -> dict[tuple[str, str], np.ndarray]:
        """Row indices per (quarter, channel), by hashing rather than repeated comparisons."""
        if self.group_index is not None:
            return self.group_index
        if not len(self):
            return {}
        import pandas as pd

        frame = pd.DataFrame({"q": self.quarter, "c": self.channel})
        return {(str(q), str(c)): idx for (q, c), idx in frame.groupby(["q", "c"]).indices.items()}


def is_simulated_label(label: str) -> bool:
    return label.split("@", 1)[0] == "simulated"


def frame_from_measurements(measurements: Iterable[Measurement],
                            sources: Mapping[str, str] | None = None) -> MeasurementFrame:
    """A frame from Measurement objects (small data, tests); ``sources`` maps probe ids to
    provenance labels (default: 'simulated' for measurements flagged so, else 'live')."""
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
        spans=spans, unavailable=column(lambda m: m.outcome == Outcome.UNAVAILABLE, bool),
        month=column(lambda m: int((m.month or format_instant(m.started_at)[:7])[5:7]),
                     np.uint8),
        source=column(lambda m: (sources or {}).get(
            m.probe_id, "simulated" if "simulated" in m.flags else "live"), object))


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
    sizes = [len(s.flags) for s in slices]
    ends = np.cumsum(sizes).tolist()
    which = np.repeat(np.arange(len(slices)), sizes)

    def text(name: str) -> np.ndarray:
        values = np.empty(len(slices), dtype=object)
        values[:] = [shared.setdefault(v, v) for v in (getattr(s, name) for s in slices)]
        return values[which]

    def column(name: str) -> np.ndarray:
        return np.concatenate([getattr(s, name) for s in slices])

    # slices come sorted by (quarter, channel, company): each (quarter, channel) is one run
    spans: dict[tuple[str, str], tuple[str, str]] = {}
    runs: dict[tuple[str, str], list[int]] = {}
    for s, size, end in zip(slices, sizes, ends, strict=True):
        key = (s.quarter, s.channel)
        first, last = spans.get(key, (s.first_started, s.last_started))
        spans[key] = (min(first, s.first_started), max(last, s.last_started))
        runs.setdefault(key, [end - size, end])[1] = end
    flags = column("flags")
    # labels are few: codes into one list of labels, so the object column (and the simulated
    # mask) is one fancy index; a slice of one source (the usual case) is one repeated code
    label_code: dict[str, int] = {}
    first_code = [label_code.setdefault((s.sources or ["live"])[0], len(label_code))
                  for s in slices]
    codes = np.repeat(np.array(first_code, dtype=np.int64), sizes)
    for s, size, end in zip(slices, sizes, ends, strict=True):
        if len(s.sources) > 1 and len(s.source) == size:
            local = np.array([label_code.setdefault(v, len(label_code)) for v in s.sources],
                             dtype=np.int64)
            codes[end - size:end] = local[s.source]
    label_values = np.empty(len(label_code), dtype=object)
    label_values[:] = list(label_code)
    source = label_values[codes]
    simulated_mask = np.array([is_simulated_label(v) for v in label_code], dtype=bool)[codes]
    month = np.concatenate([s.month if len(s.month) == size else np.zeros(size, np.uint8)
                            for s, size in zip(slices, sizes, strict=True)])
    return MeasurementFrame(
        company=text("company"), channel=text("channel"), quarter=text("quarter"),
        counted=(flags & COUNTED) != 0, responded=(flags & RESPONDED) != 0,
        wait_s=column("wait_s"), wait_bh_s=column("wait_bh_s"),
        first_response_s=column("first_response_s"), human=(flags & HUMAN) != 0,
        spans=spans, group_index={k: np.arange(a, b) for k, (a, b) in runs.items()},
        unavailable=(flags & UNAVAILABLE) != 0, month=month, source=source,
        simulated_mask=simulated_mask)


def merge_form_into_email(frame: MeasurementFrame,
                          form_only: Collection[tuple[str, str]]) -> MeasurementFrame:
    """The frame with the web-form probes of companies that offer only a form added to the
    email channel too, marked ``via_form``; ``form_only`` holds (quarter, company) pairs whose
    form probes are flagged so (:func:`svcbench.probes.form.summary.form_only_companies`).

    Never counted twice: a company with any email probe in a quarter keeps only its email
    probes there. The form channel keeps all its rows."""
    if not len(frame) or not form_only:
        return frame
    keys = np.array([f"{q}\0{c}" for q, c in zip(frame.quarter, frame.company, strict=True)],
                    dtype=object)
    has_email = set(keys[frame.channel == "email"].tolist())
    wanted = {f"{q}\0{c}" for q, c in form_only} - has_email
    copy = np.flatnonzero((frame.channel == "form") & np.isin(keys, list(wanted)))
    if not len(copy):
        return frame
    extra = frame.take(copy)
    extra.channel = np.full(len(copy), "email", dtype=object)
    base_via = frame.via_form if frame.via_form is not None else np.zeros(len(frame), bool)
    extra.via_form = np.ones(len(copy), dtype=bool)
    arrays: dict[str, Any] = {}
    for name, value in frame.__dict__.items():
        if name in ("spans", "group_index", "via_form") or value is None:
            continue
        arrays[name] = np.concatenate([value, getattr(extra, name)])
    spans = dict(frame.spans)
    for quarter in set(extra.quarter.tolist()):
        parts = [spans[k] for k in ((quarter, "email"), (quarter, "form")) if k in spans]
        if parts:
            spans[(quarter, "email")] = (min(p[0] for p in parts), max(p[1] for p in parts))
    return MeasurementFrame(**arrays, via_form=np.concatenate([base_via, extra.via_form]),
                            spans=spans)


def quarters_with_data(conn: sqlite3.Connection) -> list[str]:
    """Quarters that have measurements, oldest first (a skip scan of the quarter index)."""
    return [r[0] for r in conn.execute(
        "WITH RECURSIVE q(quarter) AS (SELECT MIN(quarter) FROM measurements UNION ALL "
        "SELECT (SELECT MIN(quarter) FROM measurements WHERE quarter > q.quarter) FROM q "
        "WHERE q.quarter IS NOT NULL) SELECT quarter FROM q WHERE quarter IS NOT NULL")]


# -- periods ----------------------------------------------------------------------------

#: how many periods back a report ranks (for movement, streaks and newcomers)
HISTORY = {"quarter": 4, "month": 12}


def parse_quarter(text: str) -> str:
    """'2026Q4' (also '2026q4', '2026-Q4'); ValueError otherwise."""
    from .periods import is_month, parse_period

    try:
        period = parse_period(text)
    except ValueError:
        period = ""
    if not period or is_month(period):
        raise ValueError(f"{text!r} is not a quarter like 2026Q4")
    return period


def previous_quarter(quarter: str) -> str:
    from .periods import previous

    return previous(quarter)


def shift_quarter(quarter: str, steps: int) -> str:
    from .periods import shift

    return shift(quarter, steps)


def history_periods(period: str) -> list[str]:
    """The periods a report on ``period`` ranks, oldest first, ending with it."""
    from .periods import is_month, periods_back

    return periods_back(period, HISTORY["month" if is_month(period) else "quarter"])


def history_quarters(period: str) -> list[str]:
    """The quarters to load for a report on ``period`` (see :func:`history_periods`)."""
    from .periods import quarters_for

    return quarters_for(history_periods(period))


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
    #: companies whose rank interval overlaps this one's (statistically tied), by rank
    tied_with: list[str] = field(default_factory=list)
    #: counted probes of this row that are simulated (0 unless the report includes them)
    simulated_n: int = 0
    #: probes of this row (counted and excluded) that are web-form probes of a company that
    #: offers only a form, merged into email (:func:`merge_form_into_email`)
    via_form_n: int = 0


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
    score: float | None
    channel_scores: dict[str, float]
    channel_ranks: dict[str, int]
    top_n_channels: int
    previous_rank: int | None = None
    movement: str = "new"
    rank_change: int | None = None
    tied_with: list[str] = field(default_factory=list)
    simulated_n: int = 0


@dataclass
class IndustryFact:
    """One industry-wide count, phrased by the renderers (``render.wording``).

    ``companies_half_within``: ranked companies with at least half of their counted probes
    answered within ``target_s`` (k of n companies). ``probes_over``: counted probes not
    answered within ``target_s`` (longer, or never). ``probes_never``: counted probes never
    answered.
    """

    kind: str
    k: int
    n: int
    target_s: float | None = None


@dataclass
class Streak:
    """A company's run up to this period: ``kind`` is 'top' (rank 1), 'top_n' (consecutive
    periods in the Top N) or 'top_n_year' (every period of the year so far in the Top N).
    ``at_least``: the run reaches back as far as the report looked."""

    company: str
    kind: str
    periods: int
    at_least: bool = False


@dataclass
class Highlights:
    """Per channel (or overall): streaks, newcomers to the Top N, best movers."""

    streaks: list[Streak] = field(default_factory=list)
    #: in the Top N now, not in the previous period's Top N (ranked there or not)
    newcomers: list[str] = field(default_factory=list)
    #: (company, places gained), best first, only gains
    movers: list[tuple[str, int]] = field(default_factory=list)


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
    industry: list[IndustryFact]
    #: histogram of all counted probes' waits: (edges in seconds, counts), plus unanswered
    histogram: tuple[list[float], list[int]] = ((), ())  # type: ignore[assignment]
    unanswered: int = 0


@dataclass
class SourceCount:
    """Probes of the report's period and channels from one source."""

    source: str  # live, manual, csv, simulated
    merge_batch: str | None
    probes: int
    counted: int
    included: bool


@dataclass
class Report:
    #: the period: a quarter ('2026Q4') or a month ('2026-11')
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
    include_simulated: bool = False
    sources: list[SourceCount] = field(default_factory=list)
    #: counted simulated probes in the rankings (0 unless include_simulated)
    simulated_counted: int = 0
    #: the periods ranked, oldest first, ending with this one
    history: list[str] = field(default_factory=list)
    #: channel (or 'overall') -> period -> company -> rank
    history_ranks: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    highlights: dict[str, Highlights] = field(default_factory=dict)
    #: merge batch id -> the file it came from
    batches: dict[str, str] = field(default_factory=dict)
    #: show seal bands beside scores (a rendering option)
    seals: bool = False
    #: the email ranking also ranks form-only companies by their web-form probes (rows with
    #: ``via_form_n``); see :func:`merge_form_into_email`
    form_merged_into_email: bool = False

    @property
    def period(self) -> str:
        return self.quarter

    @property
    def monthly(self) -> bool:
        return "-" in self.quarter

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


def _finite_list(values: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


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
    simulated: np.ndarray  # counted simulated probes per company
    via_form: np.ndarray  # counted probes per company merged in from the web form
    excluded_via_form: dict[str, int]


def _slice(frame: MeasurementFrame, business_hours: bool) -> _Slice:
    counted_mask = frame.counted
    excluded_companies = frame.company[~counted_mask]
    excluded: dict[str, int] = {}
    if len(excluded_companies):
        names, counts = np.unique(excluded_companies, return_counts=True)
        excluded = dict(zip(names.tolist(), counts.tolist(), strict=True))
    excluded_via_form: dict[str, int] = {}
    if frame.via_form is not None and frame.via_form.any():
        merged = frame.company[~counted_mask & frame.via_form]
        if len(merged):
            names, counts = np.unique(merged, return_counts=True)
            excluded_via_form = dict(zip(names.tolist(), counts.tolist(), strict=True))
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
    simulated = np.bincount(codes, weights=f.simulated(), minlength=len(uniques))
    via_form = (np.bincount(codes, weights=f.via_form, minlength=len(uniques))
                if f.via_form is not None else np.zeros(len(uniques)))
    return _Slice(
        companies=uniques, n=n, off=off, wait=wait[order], human=f.human[order],
        answered=answered[order], excluded=excluded, unavailable=unavailable[order],
        simulated=simulated.astype(np.int64), via_form=via_form.astype(np.int64),
        excluded_via_form=excluded_via_form,
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


def tied(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The tie relation: ``[i, j]`` is True when rank intervals i and j overlap (i != j).

    Symmetric and pairwise by construction; not transitive, so it is never turned into
    groups."""
    low, high = np.asarray(low), np.asarray(high)
    overlap = (low[:, None] <= high[None, :]) & (low[None, :] <= high[:, None])
    np.fill_diagonal(overlap, False)
    return overlap


def _tied_with(companies: Sequence[str], order: np.ndarray, low: np.ndarray,
               high: np.ndarray) -> dict[str, list[str]]:
    """Each company's tied companies, in ``order`` (rank order)."""
    relation = tied(low[order], high[order])
    names = [companies[i] for i in order]
    rows, cols = np.nonzero(relation)  # row-major: each row's columns in rank order
    cuts = np.searchsorted(rows, np.arange(len(order) + 1)).tolist()
    tied_names = np.array(names, dtype=object)[cols].tolist()
    return {name: tied_names[a:b] for name, a, b in zip(names, cuts[:-1], cuts[1:], strict=True)}


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
    ties: dict[str, list[str]] = {}
    if len(ranked_idx):
        order = ranked_idx[np.lexsort((s.companies[ranked_idx].astype(str), rank[ranked_idx]))]
        ties = _tied_with(s.companies.tolist(), order, rank_low, rank_high)

    rows = []
    all_companies = set(s.companies.tolist()) | set(s.excluded)
    index = {c: i for i, c in enumerate(s.companies.tolist())}
    # Python numbers once per column, not a numpy scalar per cell (thousands of rows)
    col_n, col_ranked, col_rank = s.n.tolist(), ranked_mask.tolist(), rank.tolist()
    col_low, col_high, col_score = rank_low.tolist(), rank_high.tolist(), score.tolist()
    col_speed, col_within_score = speed.tolist(), within_score.tolist()
    col_median, col_p90 = _finite_list(median), _finite_list(p90)
    col_med_low, col_med_high = _finite_list(med_low), _finite_list(med_high)
    col_mean = _finite_list(mean_answered)
    col_within = [within[j].tolist() for j in range(len(targets))]
    col_answered, col_human = share_answered.tolist(), share_human.tolist()
    col_unanswered = (1.0 - answered_n / np.maximum(s.n, 1)).tolist()
    col_quantiles = {q: _finite_list(v) for q, v in quantiles.items()}
    col_unavailable, col_simulated = share_unavailable.tolist(), s.simulated.tolist()
    col_via_form = s.via_form.tolist()
    for company in sorted(all_companies):
        i = index.get(company)
        excluded = s.excluded.get(company, 0)
        if i is None:
            rows.append(CompanyChannelRow(
                channel=channel, company=company, name=names.get(company, company),
                industry=industries.get(company, ""), n=0, excluded=excluded, ranked=False,
                status=f"not ranked (n<{minimum_sample})", rank=None, rank_low=None,
                rank_high=None, score=None, speed=None,
                within_target_score=None, median_s=None, median_low_s=None,
                median_high_s=None, mean_answered_s=None, p90_s=None,
                within={t: 0.0 for t in targets}, share_answered=0.0, share_human=0.0,
                share_unanswered=0.0, via_form_n=s.excluded_via_form.get(company, 0)))
            continue
        is_ranked = col_ranked[i]
        rows.append(CompanyChannelRow(
            channel=channel, company=company, name=names.get(company, company),
            industry=industries.get(company, ""), n=col_n[i], excluded=excluded,
            ranked=is_ranked,
            status="ranked" if is_ranked else f"not ranked (n<{minimum_sample})",
            rank=col_rank[i] if is_ranked else None,
            rank_low=col_low[i] if is_ranked else None,
            rank_high=col_high[i] if is_ranked else None,
            score=col_score[i] if is_ranked else None,
            speed=round(col_speed[i], 1) if is_ranked else None,
            within_target_score=round(col_within_score[i], 1) if is_ranked else None,
            median_s=col_median[i],
            median_low_s=col_med_low[i] if bootstrap_samples else None,
            median_high_s=col_med_high[i] if bootstrap_samples else None,
            mean_answered_s=col_mean[i], p90_s=col_p90[i],
            within={t: col_within[j][i] for j, t in enumerate(targets)},
            share_answered=col_answered[i], share_human=col_human[i],
            share_unanswered=col_unanswered[i],
            quantiles={q: v[i] for q, v in col_quantiles.items()},
            share_unavailable=col_unavailable[i],
            tied_with=ties.get(company, []), simulated_n=col_simulated[i],
            via_form_n=col_via_form[i] + s.excluded_via_form.get(company, 0),
        ))
    rows.sort(key=_row_order)
    edges, counts = _histogram(x)
    span = frame.spans.get((quarter, channel))
    ranking = ChannelRanking(
        channel=channel, targets=list(targets), rows=rows, companies=len(all_companies),
        ranked=len(ranked_idx), probes=int(s.n.sum()), excluded=sum(s.excluded.values()),
        first_started=span[0] if span else None, last_started=span[1] if span else None,
        industry=[],
        histogram=(edges, counts), unanswered=int((~finite).sum()),
    )
    ranking.industry = industry_facts(ranking, x)
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
            if row.via_form_n and "form" in channels:
                # a form-only company's email row is its web-form probes again: they count
                # once, in the form channel
                scores.setdefault(row.company, {})
                ranks.setdefault(row.company, {})
            elif row.ranked and row.score is not None and row.rank is not None:
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
    ties: dict[str, list[str]] = {}
    if eligible:
        order = np.lexsort((np.array(eligible, dtype=object).astype(str), rank))
        ties = _tied_with(eligible, order, low, high)
    simulated: dict[str, int] = {}
    for ranking in channels.values():
        for row in ranking.rows:
            if row.ranked:
                simulated[row.company] = simulated.get(row.company, 0) + row.simulated_n
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
            score=float(overall[i]) if i is not None else None,
            channel_scores=scores[c], channel_ranks=ranks[c], top_n_channels=in_top,
            tied_with=ties.get(c, []), simulated_n=simulated.get(c, 0),
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


# -- industry facts ---------------------------------------------------------------------


def industry_facts(ranking: ChannelRanking, waits: np.ndarray) -> list[IndustryFact]:
    """Industry-wide counts for one channel (see :class:`IndustryFact`)."""
    facts = []
    targets = ranking.targets
    ranked = [r for r in ranking.rows if r.ranked]
    if targets and ranked:
        t = targets[0]
        k = sum(1 for r in ranked if r.within[t] >= 0.5)
        facts.append(IndustryFact("companies_half_within", k, len(ranked), t))
    n_probes = len(waits)
    if targets and n_probes:
        t = targets[len(targets) // 2]
        facts.append(IndustryFact("probes_over", int((waits > t).sum()), n_probes, t))
        never = int(np.isinf(waits).sum())
        if never:
            facts.append(IndustryFact("probes_never", never, n_probes))
    return facts


def highlights(ranks: Mapping[str, Mapping[str, int]], history: Sequence[str], *,
               top_n: int, changes: Mapping[str, int] | None = None,
               movers: int = 3) -> Highlights:
    """Streaks, newcomers and movers from ranks per period (``history`` oldest first, ending
    with the current period; a company missing from a period was not ranked there)."""
    from .periods import year_to_date

    current = history[-1]
    now = ranks.get(current, {})
    previous = ranks.get(history[-2], {}) if len(history) > 1 else {}
    ytd = [p for p in year_to_date(current) if p in history]
    out = Highlights()
    for company in sorted(now, key=lambda c: (now[c], c)):
        def run(test, company=company) -> int:
            count = 0
            for period in reversed(history):
                rank = ranks.get(period, {}).get(company)
                if rank is None or not test(rank):
                    break
                count += 1
            return count

        top = run(lambda r: r == 1)
        top_n_run = run(lambda r: r <= top_n)
        if top >= 2:
            out.streaks.append(Streak(company, "top", top, top == len(history)))
        if len(ytd) >= 2 and top_n_run >= len(ytd):
            out.streaks.append(Streak(company, "top_n_year", len(ytd)))
        elif top_n_run >= 2 and top < 2:
            out.streaks.append(Streak(company, "top_n", top_n_run, top_n_run == len(history)))
        if now[company] <= top_n and previous and previous.get(company, top_n + 1) > top_n:
            out.newcomers.append(company)
    gains = sorted(((c, d) for c, d in (changes or {}).items() if d > 0),
                   key=lambda item: (-item[1], now.get(item[0], 0), item[0]))
    out.movers = gains[:movers]
    return out


# -- the whole report -------------------------------------------------------------------


def build_report(frame: MeasurementFrame, *, quarter: str, channels: Sequence[str],
                 targets: Targets, scoring: Scoring, business_hours: bool = True,
                 seed: int = 0, overall_min_channels: int | None = None,
                 names: Mapping[str, str] | None = None,
                 industries: Mapping[str, str] | None = None,
                 now: datetime | None = None, quality: QualityFrame | None = None,
                 include_simulated: bool = False,
                 batches: Mapping[str, str] | None = None,
                 form_only: Collection[tuple[str, str]] | None = None) -> Report:
    """Rankings for the period ``quarter`` (a quarter or a month like '2026-11'), with
    movement, streaks and newcomers against the earlier periods in the frame (up to
    :data:`HISTORY` back). Simulated probes count only with ``include_simulated``. With
    ``form_only`` (see :func:`merge_form_into_email`) the email ranking also ranks the
    companies that offer only a web form, by their form probes."""
    from .grading.quality import QualityFrame
    from .periods import is_month, previous

    weights = normalised_weights(scoring.weights)
    quality = quality or QualityFrame.empty()  # the quality part: svcbench.grading.quality
    period = quarter
    monthly = is_month(period)
    history = history_periods(period)
    groups = frame.period_groups(monthly)
    sources = _source_counts(frame, groups, period, channels, include_simulated)
    if form_only is not None:  # after counting sources: a merged probe is one probe
        merged = merge_form_into_email(frame, form_only)
        if merged is not frame:
            frame, groups = merged, merged.period_groups(monthly)
    if not include_simulated:
        keep = ~frame.simulated()
        if not keep.all():
            frame = frame.take(keep)
            groups = frame.period_groups(monthly)
    per_period: dict[str, dict[str, ChannelRanking]] = {p: {} for p in history}
    boot: dict[str, dict[str, np.ndarray]] = {}
    for channel in map(str, channels):
        for p in history:
            index = groups.get((p, channel))
            if index is None:
                continue
            ranking, scores = rank_channel(
                frame.take(index), channel, targets=targets.for_channel(Channel(channel)),
                weights=quality.score_weights(weights), minimum_sample=scoring.minimum_sample,
                bootstrap_samples=scoring.bootstrap_samples if p == period else 0,
                seed=seed, quarter=p, names=names,
                business_hours=business_hours and channel in BUSINESS_HOURS_CHANNELS,
                industries=industries)
            # graded quality is kept per quarter: a month's report has no quality part
            scores = quality.apply(
                ranking, scores, quarter=p, weight=weights.get("quality", 0.0), seed=seed,
                bootstrap_samples=scoring.bootstrap_samples if p == period else 0)
            if monthly and p == period:  # spans are per quarter: a month's are its own
                ranking.first_started = ranking.last_started = None
            per_period[p][channel] = ranking
            if p == period:
                boot[channel] = scores
    current = per_period[period]
    before = per_period.get(previous(period), {})
    for channel, ranking in current.items():
        apply_movement(ranking.rows, before[channel].rows if channel in before else [])
    channels_present = sum(1 for c in current.values() if c.ranked)
    k = overall_min_channels or min(2, max(channels_present, 1))
    overall_by_period: dict[str, list[OverallRow]] = {}
    for p, rankings in per_period.items():
        if rankings:
            overall_by_period[p] = rank_overall(
                rankings, min_channels=k, top_n=scoring.top_n,
                boot_scores=boot if p == period else None, names=names, industries=industries)
    overall = overall_by_period.get(period, [])
    apply_movement(overall, overall_by_period.get(previous(period), []))
    history_ranks: dict[str, dict[str, dict[str, int]]] = {}
    for p, rankings in per_period.items():
        for channel, ranking in rankings.items():
            history_ranks.setdefault(channel, {})[p] = {
                r.company: r.rank for r in ranking.rows if r.ranked and r.rank is not None}
        if p in overall_by_period:
            history_ranks.setdefault("overall", {})[p] = {
                r.company: r.rank for r in overall_by_period[p]
                if r.ranked and r.rank is not None}
    found = {}
    for key, rows in [*((c, r.rows) for c, r in current.items()), ("overall", overall)]:
        changes = {r.company: r.rank_change for r in rows if r.rank_change is not None}
        found[key] = highlights(history_ranks.get(key, {}), history, top_n=scoring.top_n,
                                changes=changes)
    simulated = sum(r.simulated_n for c in current.values() for r in c.rows)
    return Report(
        quarter=period, previous_quarter=previous(period), business_hours=business_hours,
        channels=current, overall=overall, overall_min_channels=k, weights=weights,
        minimum_sample=scoring.minimum_sample, bootstrap_samples=scoring.bootstrap_samples,
        seed=seed, top_n=scoring.top_n, generated_at=now or datetime.now(UTC),
        quality=quality.methodology,
        include_simulated=include_simulated, sources=sources, simulated_counted=simulated,
        history=history, history_ranks=history_ranks, highlights=found,
        batches=dict(batches or {}), form_merged_into_email=form_only is not None,
    )


def _source_counts(frame: MeasurementFrame, groups: Mapping[tuple[str, str], np.ndarray],
                   period: str, channels: Sequence[str],
                   include_simulated: bool) -> list[SourceCount]:
    """Probes and counted probes per provenance label in the period's channels."""
    parts = [groups[(period, str(c))] for c in channels if (period, str(c)) in groups]
    if not parts or frame.source is None:
        return []
    import pandas as pd

    index = np.concatenate(parts)
    table = pd.DataFrame({"label": frame.source[index], "counted": frame.counted[index]})
    out = []
    for label, group in table.groupby("label", sort=True):
        source, _, batch = str(label).partition("@")
        out.append(SourceCount(source, batch or None, len(group), int(group["counted"].sum()),
                               include_simulated or source != "simulated"))
    return out
