"""Chart geometry for the HTML report: plain numbers and labels that the template turns into
inline SVG (so every label from the data goes through jinja2's autoescaping)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import target_label

if TYPE_CHECKING:
    from ..rank import ChannelRanking

_TICKS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400,
          2 * 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 60 * 86400]


@dataclass
class Axis:
    low: float
    high: float
    left: float
    right: float

    def x(self, seconds: float) -> float:
        s = min(max(seconds, self.low), self.high)
        frac = (math.log10(s) - math.log10(self.low)) / (
            math.log10(self.high) - math.log10(self.low))
        return round(self.left + frac * (self.right - self.left), 1)

    def ticks(self) -> list[tuple[float, str]]:
        inside = [t for t in _TICKS if self.low <= t <= self.high]
        step = max(1, math.ceil(len(inside) / 7))
        return [(self.x(t), target_label(t)) for t in inside[::step]]


@dataclass
class BoxRow:
    y: float
    label: str
    rank: int | None
    whisker: tuple[float, float]
    box: tuple[float, float]
    median: float | None
    open_ended: bool  # p90 lies in the unanswered probes


@dataclass
class BoxChart:
    width: int
    height: int
    axis: Axis
    rows: list[BoxRow]
    targets: list[tuple[float, str]]
    ticks: list[tuple[float, str]]
    top: float
    bottom: float
    shown: int
    total: int


@dataclass
class Histogram:
    width: int
    height: int
    bars: list[tuple[float, float, float, float, str]] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    unanswered_bar: tuple[float, float, float, float, str] | None = None
    baseline: float = 0.0


def _axis(values: list[float], targets: list[float], left: float, right: float) -> Axis:
    finite = [v for v in (*values, *targets) if v is not None and math.isfinite(v) and v > 0]
    low = max(1.0, min(finite) / 1.5) if finite else 1.0
    high = max(finite) * 1.5 if finite else 60.0
    if high <= low * 10:
        high = low * 10
    return Axis(low=low, high=high, left=left, right=right)


def box_chart(ranking: ChannelRanking, *, limit: int = 30, width: int = 760) -> BoxChart:
    """Per-company wait distribution (p10-p90 whiskers, p25-p75 box, median) for the top
    ``limit`` ranked companies, log time axis, target lines."""
    rows = [r for r in ranking.rows if r.ranked][:limit]
    values = [v for r in rows for v in r.quantiles.values() if v is not None]
    left, right, top, row_h = 230.0, width - 20.0, 24.0, 18.0
    axis = _axis(values, ranking.targets, left, right)
    out = []
    for i, r in enumerate(rows):
        q = r.quantiles
        y = top + i * row_h + row_h / 2
        p10, p25, p50, p75, p90 = (q.get(k) for k in (0.1, 0.25, 0.5, 0.75, 0.9))
        end = axis.right if p90 is None else axis.x(p90)
        start = axis.x(p10) if p10 is not None else axis.right
        out.append(BoxRow(
            y=round(y, 1), label=r.name, rank=r.rank, whisker=(start, end),
            box=(axis.x(p25) if p25 is not None else axis.right,
                 axis.x(p75) if p75 is not None else axis.right),
            median=axis.x(p50) if p50 is not None else None, open_ended=p90 is None))
    bottom = top + len(rows) * row_h
    return BoxChart(
        width=width, height=int(bottom + 34), axis=axis, rows=out,
        targets=[(axis.x(t), target_label(t)) for t in ranking.targets],
        ticks=axis.ticks(), top=top, bottom=bottom, shown=len(rows),
        total=sum(1 for r in ranking.rows if r.ranked))


def histogram(ranking: ChannelRanking, *, width: int = 760, height: int = 180) -> Histogram:
    """All counted probes' waits in log-spaced bins, plus a bar for the never answered."""
    edges, counts = ranking.histogram
    chart = Histogram(width=width, height=height)
    if not edges:
        return chart
    left, right, top, baseline = 50.0, width - 90.0, 10.0, height - 30.0
    axis = Axis(low=edges[0], high=edges[-1], left=left, right=right)
    peak = max([*counts, ranking.unanswered, 1])
    for c, lo, hi in zip(counts, edges[:-1], edges[1:], strict=True):
        h = (baseline - top) * c / peak
        x0, x1 = axis.x(lo), axis.x(hi)
        chart.bars.append((x0, round(baseline - h, 1), round(max(x1 - x0 - 1, 1), 1),
                           round(h, 1), f"{c} probes between {target_label(round(lo))} and "
                           f"{target_label(round(hi))}"))
    if ranking.unanswered:
        h = (baseline - top) * ranking.unanswered / peak
        chart.unanswered_bar = (right + 20, round(baseline - h, 1), 40.0, round(h, 1),
                                f"{ranking.unanswered} probes never answered")
    chart.ticks = axis.ticks()
    chart.baseline = baseline
    return chart
