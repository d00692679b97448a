"""Renderers for a :class:`svcbench.rank.Report`: terminal, CSV, JSON and HTML.

The flat records below are the one definition of the exported columns; CSV and JSON both use
them, and docs/report-columns.md documents them. Keep them stable: add columns at the end and
bump ``SCHEMA_VERSION`` when a column changes meaning.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..rank import Report

#: 2: tie_group replaced by tied_count (ties are pairwise: read them off the rank ranges);
#: period, headline, simulated_n, seal, streak and newcomer added at the end
SCHEMA_VERSION = 2
CHANNEL_ORDER = ("phone", "email", "form", "chat", "returns", "delivery")
#: shares within targets are exported as within_1..within_N (at least this many columns)
MIN_TARGET_COLUMNS = 3

RANKING_COLUMNS = [
    "quarter", "channel", "rank", "rank_low", "rank_high", "company", "name",
    "industry", "status", "score", "speed", "within_target_score", "n", "excluded",
    "median_s", "median_low_s", "median_high_s", "mean_answered_s", "p90_s",
    "share_answered", "share_human", "share_unanswered", "previous_rank", "rank_change",
    "movement", "business_hours", "period", "tied_count", "headline",
    "simulated_n", "seal", "streak", "newcomer",
]
#: columns added later: after the per-target ones, so existing positions never move
LATER_RANKING_COLUMNS = ["share_unavailable"]
#: after the quality columns: probes of an email row that are a form-only company's web-form
#: probes (``report --merge-form-into-email``)
FORM_RANKING_COLUMNS = ["via_web_form_n"]
#: the web-form findings file (``rankings-2026Q4-forms.csv``), one row per company
FORM_FINDING_COLUMNS = [
    "period", "company", "name", "form_only", "probes", "counted", "acknowledged",
    "ack_median_s", "human_replies", "human_median_s", "business_hours", "broken_probes",
    "broken_submission_error", "broken_no_confirmation", "broken_dates", "broken_words",
]
OVERALL_COLUMNS = [
    "quarter", "rank", "rank_low", "rank_high", "company", "name", "industry",
    "status", "score", "channels_ranked", "top_n_channels", "top_n_summary",
    *[f"score_{c}" for c in CHANNEL_ORDER], *[f"rank_{c}" for c in CHANNEL_ORDER],
    "previous_rank", "rank_change", "movement", "period", "tied_count",
    "simulated_n", "seal", "streak", "newcomer",
]


def _quality_columns() -> list[str]:
    from ..grading.quality import QUALITY_COLUMNS

    return QUALITY_COLUMNS


def target_columns(report: Report) -> int:
    return max([MIN_TARGET_COLUMNS, *(len(c.targets) for c in report.channels.values())])


def ranking_columns(report: Report) -> list[str]:
    k = target_columns(report)
    return [*RANKING_COLUMNS, *[f"target_{i}_s" for i in range(1, k + 1)],
            *[f"within_{i}" for i in range(1, k + 1)], *LATER_RANKING_COLUMNS,
            *_quality_columns(), *FORM_RANKING_COLUMNS]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def quarter_of_report(report: Report) -> str:
    from ..periods import quarter_of_period

    return quarter_of_period(report.quarter)


def ranking_records(report: Report) -> list[dict[str, Any]]:
    """One record per company per channel (long format), in ranking order per channel.

    Ties are a count (``tied_count``), not lists of companies: two companies are tied
    exactly when their ``rank_low``-``rank_high`` ranges overlap, so the ranges already say
    it for every pair, and lists would grow with the square of the field."""
    from ..grading.quality import quality_record
    from .wording import headline, seal

    k = target_columns(report)
    quarter = quarter_of_report(report)
    records = []
    for channel in ordered_channels(report):
        ranking = report.channels[channel]
        for row in ranking.rows:
            record = {
                "quarter": quarter, "channel": channel, "rank": row.rank,
                "rank_low": row.rank_low, "rank_high": row.rank_high,
                "company": row.company, "name": row.name,
                "industry": row.industry, "status": row.status, "score": row.score,
                "speed": row.speed, "within_target_score": row.within_target_score,
                "n": row.n, "excluded": row.excluded, "median_s": _round(row.median_s),
                "median_low_s": _round(row.median_low_s),
                "median_high_s": _round(row.median_high_s),
                "mean_answered_s": _round(row.mean_answered_s), "p90_s": _round(row.p90_s),
                "share_answered": _share(row.share_answered),
                "share_human": _share(row.share_human),
                "share_unanswered": _share(row.share_unanswered),
                "previous_rank": row.previous_rank, "rank_change": row.rank_change,
                "movement": row.movement or None, "business_hours": report.business_hours,
                "period": report.quarter,
                "tied_count": len(row.tied_with), "headline": headline(channel, row.median_s),
                "simulated_n": row.simulated_n,
                "seal": seal(row.score) if report.seals else None,
                **_highlight_columns(report, channel, row.company),
            }
            targets = list(row.within)
            for i in range(k):
                record[f"target_{i + 1}_s"] = targets[i] if i < len(targets) else None
            for i in range(k):
                record[f"within_{i + 1}"] = (
                    _share(row.within[targets[i]]) if i < len(targets) else None)
            record["share_unavailable"] = _share(row.share_unavailable)
            record.update(quality_record(row.quality, row.n))  # answer quality columns
            # an email row that is a form-only company's web-form probes (merged on request)
            record["via_web_form_n"] = row.via_form_n
            records.append({key: _clean(v) for key, v in record.items()})
    return records


def form_finding_records(report: Report) -> list[dict[str, Any]]:
    """The report's web-form findings, one record per company (empty without any)."""
    section = report.sections.get("form_findings") or {}
    records = []
    for row in section.get("companies", []):
        broken = row["broken"] or {}
        kinds = broken.get("kinds", {})
        records.append({
            "period": report.quarter, "company": row["company"], "name": row["name"],
            "form_only": row["form_only"], "probes": row["probes"], "counted": row["counted"],
            "acknowledged": row["acknowledged"], "ack_median_s": _round(row["ack_median_s"]),
            "human_replies": row["human_replies"],
            "human_median_s": _round(row["human_median_s"]),
            "business_hours": section.get("business_hours"),
            "broken_probes": broken.get("probes", 0),
            "broken_submission_error": kinds.get("submission_error", 0),
            "broken_no_confirmation": kinds.get("no_confirmation", 0),
            "broken_dates": " ".join(broken.get("dates", [])) or None,
            "broken_words": " | ".join(broken.get("words", [])) or None,
        })
    return records


def overall_records(report: Report) -> list[dict[str, Any]]:
    from .wording import seal, top_n_summary

    records = []
    for row in report.overall:
        record = {
            "quarter": quarter_of_report(report), "rank": row.rank, "rank_low": row.rank_low,
            "rank_high": row.rank_high, "company": row.company,
            "name": row.name, "industry": row.industry, "status": row.status,
            "score": row.score, "channels_ranked": row.channels_ranked,
            "top_n_channels": row.top_n_channels,
            "top_n_summary": top_n_summary(row, report.top_n),
        }
        for c in CHANNEL_ORDER:
            record[f"score_{c}"] = row.channel_scores.get(c)
        for c in CHANNEL_ORDER:
            record[f"rank_{c}"] = row.channel_ranks.get(c)
        record.update(previous_rank=row.previous_rank, rank_change=row.rank_change,
                      movement=row.movement or None, period=report.quarter,
                      tied_count=len(row.tied_with), simulated_n=row.simulated_n,
                      seal=seal(row.score) if report.seals else None,
                      **_highlight_columns(report, "overall", row.company))
        records.append(record)
    return records


def _highlight_columns(report: Report, key: str, company: str) -> dict[str, Any]:
    """``streak`` (its streak phrases, '; '-joined, or None) and ``newcomer`` (in the Top N,
    not in the previous period's)."""
    from .wording import streak_phrase

    found = report.highlights.get(key)
    if found is None:
        return {"streak": None, "newcomer": False}
    phrases = [streak_phrase(s, monthly=report.monthly, top_n=report.top_n)
               for s in found.streaks if s.company == company]
    return {"streak": "; ".join(phrases) or None, "newcomer": company in found.newcomers}


def ordered_channels(report: Report) -> list[str]:
    known = [c for c in CHANNEL_ORDER if c in report.channels]
    return known + sorted(c for c in report.channels if c not in CHANNEL_ORDER)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _share(value: float) -> float:
    return round(value, 6)


def duration(seconds: float | None, *, none: str = "no answer") -> str:
    """A short human duration: '45 s', '12 min', '5.2 h', '3.1 d'."""
    if seconds is None or not math.isfinite(seconds):
        return none
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min" if seconds < 600 else f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


_UNITS = (("s", 1.0), ("min", 60.0), ("h", 3600.0), ("d", 86400.0))


def column_unit(values: list[float | None]) -> tuple[str, float]:
    """The one unit a column of durations is shown in: the one :func:`duration` would pick
    for the column's median finite value, so a column never mixes '39.0 h' and '2.1 d'."""
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:
        return _UNITS[0]
    middle = finite[len(finite) // 2]
    for (unit, size), limit in zip(_UNITS, (90, 90 * 60, 48 * 3600, math.inf), strict=True):
        if middle < limit:
            return unit, size
    return _UNITS[-1]  # pragma: no cover - the last limit is infinite


def column_durations(values: list[float | None], *, none: str = "no answer",
                     unit: tuple[str, float] | None = None) -> list[str]:
    """``values`` formatted in one unit (``unit``, or :func:`column_unit`'s): whole seconds,
    else one decimal below 100 of the unit."""
    unit, size = unit or column_unit(values)
    out = []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(none)
            continue
        scaled = v / size
        digits = 0 if unit == "s" or scaled >= 100 else 1
        out.append(f"{scaled:.{digits}f} {unit}")
    return out


def ranking_durations(rows: list[Any]) -> list[dict[str, str]]:
    """The median, its 95% CI and p90 of ranking rows as shown in every table: each column
    in one unit, the CI in the median's unit so the two read together."""
    unit = column_unit([r.median_s for r in rows])
    medians = column_durations([r.median_s for r in rows], unit=unit)
    p90s = column_durations([r.p90_s for r in rows])
    out = []
    for row, median, p90 in zip(rows, medians, p90s, strict=True):
        ci = ""
        if row.median_low_s is not None or row.median_high_s is not None:
            low, high = column_durations([row.median_low_s, row.median_high_s], unit=unit,
                                         none="∞")
            ci = f"{low}–{high}"
        out.append({"median": median, "ci": ci, "p90": p90})
    return out


def percent(share: float | None) -> str:
    return "" if share is None else f"{100 * share:.0f}%"


def target_label(seconds: float) -> str:
    """'30 s', '2 min', '12 h', '7 d' for a target threshold."""
    s = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size and s % size == 0:
            return f"{s / size:g} {unit}"
    return f"{s:g} s"


def rank_range(low: int | None, high: int | None) -> str:
    if low is None or high is None:
        return ""
    return str(low) if low == high else f"{low}-{high}"


def movement_mark(movement: str | None, change: int | None) -> str:
    if movement == "up":
        return f"▲{change}"
    if movement == "down":
        return f"▼{-change}" if change is not None else "▼"
    if movement == "same":
        return "="
    if movement == "new":
        return "new"
    return ""


def output_name(report: Report, suffix: str) -> str:
    """'rankings-2026Q4.csv', 'rankings-2026-11.html'; '-incl-simulated' when it has any."""
    marker = "-incl-simulated" if report.simulated_counted else ""
    return f"rankings-{report.quarter}{marker}{suffix}"


def quality_cells(cell, probed: int) -> tuple[str, str, str]:
    """(quality with graded of probed, share fully answered, stellar share) for a table."""
    if cell is None or not cell.graded:
        return (f"– (0/{probed})", "", "")
    score = f"{cell.score:.0f}" if cell.score is not None else "–"
    return (f"{score} ({cell.graded}/{cell.probed})", percent(cell.fully_answered),
            percent(cell.stellar))


def quality_line(method: dict) -> str:
    """Where the quality figures came from, in one line (graders, agreement)."""
    by = ", ".join(f"{k} {v}" for k, v in method.get("graded_by", {}).items())
    parts = [f"Quality: {method.get('graded_probes', 0)} graded probes (grades from {by})"]
    for a in method.get("agreement", []):
        if a["item"] == "fully_answered" and a["kappa"] is not None:
            parts.append(f"fully answered, {a['pair']}: {100 * a['percent']:.0f}% agreement, "
                         f"kappa {a['kappa']:.2f} (n={a['n']})")
    return "; ".join(parts) + "."
