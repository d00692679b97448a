"""The report as rich tables: one per channel, the overall ranking, industry findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import duration, movement_mark, ordered_channels, percent, rank_range, target_label

if TYPE_CHECKING:
    from rich.console import Console

    from ..rank import Report


def print_report(report: Report, console: Console, *, limit: int = 25) -> None:
    from rich.table import Table
    from rich.text import Text

    mode = "business hours" if report.business_hours else "raw clock time"
    console.print(Text(f"Customer-service rankings {report.quarter} ({mode})", style="bold"))
    if report.first_started:
        console.print(f"Probes started {report.first_started[:10]} to "
                      f"{report.last_started[:10] if report.last_started else ''}; "
                      f"movement against {report.previous_quarter}.")
    for channel in ordered_channels(report):
        ranking = report.channels[channel]
        table = Table(title=f"{channel}: {ranking.ranked} of {ranking.companies} companies "
                      f"ranked, {ranking.probes} probes counted, {ranking.excluded} excluded",
                      title_justify="left")
        for header, justify in (("#", "right"), ("range", "right"), ("company", "left"),
                                ("n", "right"), ("median", "right"), ("95% CI", "right"),
                                ("p90", "right")):
            table.add_column(header, justify=justify)  # type: ignore[arg-type]
        for t in ranking.targets:
            table.add_column(f"≤{target_label(t)}", justify="right")
        table.add_column("human", justify="right")
        table.add_column("score", justify="right")
        table.add_column("move", justify="right")
        shown = ranking.rows if limit <= 0 else ranking.rows[:limit]
        for row in shown:
            ci = (f"{duration(row.median_low_s, none='∞')}–{duration(row.median_high_s, none='∞')}"
                  if row.median_low_s is not None or row.median_high_s is not None else "")
            table.add_row(
                str(row.rank) if row.rank is not None else "–",
                rank_range(row.rank_low, row.rank_high), Text(row.name),
                str(row.n), duration(row.median_s), ci, duration(row.p90_s),
                *[percent(row.within[t]) for t in ranking.targets],
                percent(row.share_human),
                f"{row.score:.1f}" if row.score is not None else Text(row.status, style="dim"),
                movement_mark(row.movement, row.rank_change),
            )
        console.print(table)
        if limit > 0 and len(ranking.rows) > limit:
            console.print(f"  … {len(ranking.rows) - limit} more (--limit 0 shows all)")
        for line in ranking.industry_lines:
            console.print(Text(f"  • {line}"))
    if report.overall:
        table = Table(title=f"overall: mean channel score, ranked in ≥ "
                      f"{report.overall_min_channels} channels", title_justify="left")
        for header in ("#", "range", "company", "score", "channels", "move"):
            table.add_column(header, justify="left" if header == "company" else "right")
        rows = report.overall if limit <= 0 else report.overall[:limit]
        for row in rows:
            table.add_row(
                str(row.rank) if row.rank is not None else "–",
                rank_range(row.rank_low, row.rank_high), Text(row.name),
                f"{row.score:.1f}" if row.score is not None else Text(row.status, style="dim"),
                row.top_n_summary, movement_mark(row.movement, row.rank_change))
        console.print(table)
        if limit > 0 and len(report.overall) > limit:
            console.print(f"  … {len(report.overall) - limit} more (--limit 0 shows all)")
