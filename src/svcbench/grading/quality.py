"""Answer quality per probe and the ranking's ``quality`` part (pure functions).

A probe's grade per rubric item comes from its best grader: people (the mean of their
values) before a model before the answer key. Its quality score (0-100) is the weighted mean
of its graded items, each scaled to 0-100. A company's ``quality`` in a channel is the mean
over its graded probes, with a bootstrap 95% interval; "fully answered" and "stellar" are
shares of graded probes with Wilson 95% intervals. ``graded`` of ``probed`` says how many of
the company's counted probes were graded.

In a channel score, the ``quality`` weight applies to companies with graded probes:
score = (1 - w) x (score of the other parts) + w x quality. A company without any keeps the
score of its other parts (it is neither rewarded nor punished for what nobody graded), and
its row says so (``quality_weighted`` false).
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .settings import GradingSettings
from .store import GradeRow

if TYPE_CHECKING:
    import sqlite3

    from ..rank import ChannelRanking

PRECEDENCE = ("human", "model", "key")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class ProbeQuality:
    probe_id: str
    values: dict[str, float]
    #: item -> which kind of grader the value came from
    sources: dict[str, str]
    score: float | None
    fully_answered: bool | None
    stellar: bool | None


def resolve(rows: Iterable[GradeRow], settings: GradingSettings) -> dict[str, ProbeQuality]:
    """Each probe's grade per item from its best grader, and its quality figures."""
    by_probe: dict[str, dict[str, dict[str, list[float]]]] = {}
    for r in rows:
        if r.value is not None:
            by_probe.setdefault(r.probe_id, {}).setdefault(r.item, {}).setdefault(
                r.kind, []).append(r.value)
    known = {i.id: i for i in settings.rubric}
    out = {}
    for probe, items in by_probe.items():
        values, sources = {}, {}
        for item, kinds in items.items():
            if item not in known:
                continue
            for kind in PRECEDENCE:
                if kinds.get(kind):
                    values[item] = sum(kinds[kind]) / len(kinds[kind])
                    sources[item] = kind
                    break
        out[probe] = probe_quality(probe, values, sources, settings)
    return out


def probe_quality(probe_id: str, values: Mapping[str, float], sources: Mapping[str, str],
                  settings: GradingSettings) -> ProbeQuality:
    total = weight = 0.0
    stellar: bool | None = None
    for item in settings.rubric:
        if item.id not in values:
            continue
        value = values[item.id]
        if item.weight > 0:
            total += item.weight * item.normalise(value)
            weight += item.weight
        if item.stellar_min is not None:
            stellar = (stellar is not False) and value >= item.stellar_min
    fully = values.get("fully_answered")
    return ProbeQuality(
        probe_id=probe_id, values=dict(values), sources=dict(sources),
        score=total / weight if weight else None,
        fully_answered=None if fully is None else fully > 0.5, stellar=stellar)


def wilson(k: int, n: int) -> tuple[float | None, float | None]:
    """Wilson score 95% interval for k of n."""
    if n == 0:
        return None, None
    p = k / n
    denom = 1 + Z95 ** 2 / n
    centre = (p + Z95 ** 2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class QualityCell:
    """One company's answer quality in one channel and quarter."""

    graded: int
    probed: int
    score: float | None = None
    score_low: float | None = None
    score_high: float | None = None
    fully_answered: float | None = None
    fully_answered_low: float | None = None
    fully_answered_high: float | None = None
    stellar: float | None = None
    stellar_low: float | None = None
    stellar_high: float | None = None
    #: grader kind -> graded probes whose items came (at least partly) from it
    sources: dict[str, int] = field(default_factory=dict)
    #: whether the quality weight applied to this company's score
    weighted: bool = False


@dataclass
class QualityFrame:
    """Per-probe quality keyed by (quarter, channel, company), plus how it was made."""

    probes: dict[tuple[str, str, str], list[ProbeQuality]] = field(default_factory=dict)
    methodology: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> QualityFrame:
        return cls()

    @staticmethod
    def score_weights(weights: Mapping[str, float]) -> dict[str, float]:
        """The weights rank.py scores with: every part but quality, normalised to sum to 1
        (the quality part is mixed in afterwards by :meth:`apply`)."""
        rest = {k: w for k, w in weights.items() if k != "quality"}
        total = sum(rest.values())
        return {k: w / total for k, w in rest.items()} if total else {}

    def cell(self, quarter: str, channel: str, company: str, probed: int, *,
             bootstrap_samples: int = 0, seed: int = 0
             ) -> tuple[QualityCell, np.ndarray | None]:
        """The cell and, with bootstrap samples, the resampled mean quality scores."""
        graded = self.probes.get((quarter, channel, company), [])
        scores = np.array([p.score for p in graded if p.score is not None], dtype=float)
        cell = QualityCell(graded=len(graded), probed=probed)
        sources: dict[str, int] = defaultdict(int)
        for p in graded:
            for kind in set(p.sources.values()):
                sources[kind] += 1
        cell.sources = dict(sorted(sources.items()))
        boot = None
        if len(scores):
            cell.score = round(float(scores.mean()), 1)
            if bootstrap_samples:
                rng = np.random.default_rng(
                    [seed, zlib.crc32(f"quality:{quarter}:{channel}:{company}".encode())])
                draws = rng.integers(0, len(scores), (bootstrap_samples, len(scores)))
                boot = scores[draws].mean(axis=1)
                cell.score_low = round(float(np.quantile(boot, 0.025)), 1)
                cell.score_high = round(float(np.quantile(boot, 0.975)), 1)
        for name in ("fully_answered", "stellar"):
            known = [getattr(p, name) for p in graded if getattr(p, name) is not None]
            if known:
                k = sum(known)
                low, high = wilson(k, len(known))
                setattr(cell, name, k / len(known))
                setattr(cell, f"{name}_low", low)
                setattr(cell, f"{name}_high", high)
        return cell, boot

    def apply(self, ranking: ChannelRanking, boot_scores: dict[str, np.ndarray], *,
              quarter: str, weight: float, bootstrap_samples: int = 0, seed: int = 0
              ) -> dict[str, np.ndarray]:
        """Attach quality cells to a channel's rows and, with a weight, fold quality into the
        scores, ranks, rank intervals and ties. Returns the new bootstrap scores."""
        from ..rank import _row_order, _tied_with, competition_ranks, round1

        channel = ranking.channel
        boots: dict[str, np.ndarray | None] = {}
        for row in ranking.rows:
            cell, boot = self.cell(quarter, channel, row.company, row.n,
                                   bootstrap_samples=bootstrap_samples, seed=seed)
            row.quality = cell
            boots[row.company] = boot
        if weight <= 0:
            return boot_scores
        ranked = [r for r in ranking.rows if r.ranked and r.score is not None]
        new_boot: dict[str, np.ndarray] = {}
        for row in ranked:
            cell = row.quality
            partial = boot_scores.get(row.company)  # the score of the other parts
            if cell.score is not None:
                cell.weighted = True
                mixed = (1 - weight) * row.score + weight * cell.score
                row.score = float(round1(np.array([mixed]))[0])
                if partial is not None:
                    q = boots[row.company]
                    q = q if q is not None else np.full(len(partial), cell.score)
                    new_boot[row.company] = round1((1 - weight) * partial + weight * q)
            elif weight < 1:  # the other parts alone, as if quality had no weight
                if partial is not None:
                    new_boot[row.company] = partial
            else:  # quality is the whole score and nobody graded this company
                row.ranked, row.score, row.status = False, None, "not ranked (no quality grades)"
        ranked = [r for r in ranked if r.ranked]
        if ranked:
            scores = np.array([r.score for r in ranked])
            rank = competition_ranks(scores)
            low, high = rank.copy(), rank.copy()
            if len(new_boot) == len(ranked):
                stack = np.stack([new_boot[r.company] for r in ranked], axis=1)
                ranks_b = np.stack([competition_ranks(row) for row in stack])
                low = np.minimum(np.quantile(ranks_b, 0.025, axis=0, method="lower"), rank)
                high = np.maximum(np.quantile(ranks_b, 0.975, axis=0, method="higher"), rank)
            companies = [r.company for r in ranked]
            order = np.lexsort((np.array(companies, dtype=object).astype(str), rank))
            ties = _tied_with(companies, order, low, high)
            for i, row in enumerate(ranked):
                row.rank, row.rank_low, row.rank_high = int(rank[i]), int(low[i]), int(high[i])
                row.tied_with = ties[row.company]
        for row in ranking.rows:
            if not row.ranked:
                row.rank = row.rank_low = row.rank_high = None
                row.tied_with = []
        ranking.rows.sort(key=_row_order)
        ranking.ranked = len(ranked)
        return new_boot


def build_quality_frame(rows: Iterable[GradeRow], where: Mapping[str, tuple[str, str, str]],
                        settings: GradingSettings) -> QualityFrame:
    """A frame from grade rows and each probe's (quarter, channel, company)."""
    rows = list(rows)
    resolved = resolve(rows, settings)
    probes: dict[tuple[str, str, str], list[ProbeQuality]] = defaultdict(list)
    for probe_id, pq in sorted(resolved.items()):
        if probe_id in where:
            probes[where[probe_id]].append(pq)
    from .stats import agreement_table

    kinds: dict[str, int] = defaultdict(int)
    for pq in resolved.values():
        for kind in set(pq.sources.values()):
            kinds[kind] += 1
    models = sorted({(r.reviewer, r.prompt_version) for r in rows if r.kind == "model"},
                    key=str)
    return QualityFrame(probes=dict(probes), methodology={
        "rubric": [{"id": i.id, "label": i.label, "kind": i.kind, "weight": i.weight,
                    "stellar_min": i.stellar_min} for i in settings.rubric],
        "precedence": list(PRECEDENCE),
        "graded_probes": len(resolved),
        "graded_by": dict(sorted(kinds.items())),
        "models": [{"model": m, "prompt_version": v} for m, v in models],
        "agreement": [a.as_dict() for a in agreement_table(rows, settings)],
    })


def load_quality_frame(conn: sqlite3.Connection, settings: GradingSettings, *,
                       quarters: Iterable[str] | None = None) -> QualityFrame:
    """The grades of counted probes in these quarters (None: all), in one join."""
    import json

    from ..models import COUNTED_OUTCOMES

    sql = ("SELECT g.probe_id, g.grader, g.kind, g.reviewer, g.item, g.value, "
           "g.prompt_version, g.graded_at, m.quarter, m.channel, m.company "
           "FROM quality_grades g JOIN measurements m ON m.probe_id = g.probe_id "
           "WHERE m.outcome IN (SELECT value FROM json_each(?))")
    params: list[Any] = [json.dumps(sorted(COUNTED_OUTCOMES))]
    if quarters is not None:
        sql += " AND m.quarter IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(list(quarters)))
    rows, where = [], {}
    for r in conn.execute(sql, params):
        rows.append(GradeRow(r[0], r[1], r[2], r[3], r[4], r[5], {}, r[6], r[7]))
        where[r[0]] = (r[8], r[9], r[10])
    return build_quality_frame(rows, where, settings)


QUALITY_COLUMNS = [
    "quality", "quality_low", "quality_high", "quality_weighted", "graded_n", "probed_n",
    "share_fully_answered", "share_fully_answered_low", "share_fully_answered_high",
    "share_stellar", "share_stellar_low", "share_stellar_high", "graded_by",
]


def quality_record(cell: QualityCell | None, probed: int) -> dict[str, Any]:
    """The export columns of one row's quality (docs/report-columns.md)."""
    cell = cell or QualityCell(graded=0, probed=probed)

    def share(value: float | None) -> float | None:
        return None if value is None else round(value, 6)

    return {
        "quality": cell.score, "quality_low": cell.score_low, "quality_high": cell.score_high,
        "quality_weighted": cell.weighted, "graded_n": cell.graded, "probed_n": cell.probed,
        "share_fully_answered": share(cell.fully_answered),
        "share_fully_answered_low": share(cell.fully_answered_low),
        "share_fully_answered_high": share(cell.fully_answered_high),
        "share_stellar": share(cell.stellar), "share_stellar_low": share(cell.stellar_low),
        "share_stellar_high": share(cell.stellar_high),
        "graded_by": ", ".join(f"{k} {v}" for k, v in cell.sources.items()) or None,
    }
