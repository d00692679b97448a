"""The report as rich tables: one per channel, the overall ranking, industry findings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import (
    movement_mark,
    ordered_channels,
    percent,
    quality_cells,
    quality_line,
    rank_range,
    ranking_durations,
    target_label,
)
from .fit import Column, fitted_table, left_out_note
from .safe import plain
from .wording import (
    VIA_WEB_FORM,
    form_finding_cells,
    form_merge_note,
    form_not_automatable,
    highlight_lines,
    industry_lines,
    seal,
    simulated_banner,
    source_line,
    top_n_summary,
    vocabulary,
)

if TYPE_CHECKING:
    from rich.console import Console

    from ..rank import Report


def print_report(report: Report, console: Console, *, limit: int = 25) -> None:
    from rich.table import Table
    from rich.text import Text

    mode = "business hours" if report.business_hours else "raw clock time"
    console.print(Text(f"Customer-service rankings {report.quarter} ({mode})", style="bold"))
    banner = simulated_banner(report)
    if banner:
        console.print(Text(f"⚠ {banner}", style="bold yellow"))
    if report.first_started:
        console.print(f"Probes started {report.first_started[:10]} to "
                      f"{report.last_started[:10] if report.last_started else ''}; "
                      f"movement against {report.previous_quarter}.")
    else:
        console.print(f"Movement against {report.previous_quarter}; periods by the companies' "
                      "local time.")
    for source in report.sources:
        console.print(plain(f"  source: {source_line(report, source)}", style="dim"))
    width = console.width
    for channel in ordered_channels(report):
        ranking = report.channels[channel]
        shown = ranking.rows if limit <= 0 else ranking.rows[:limit]
        cells = ranking_durations(shown)
        columns = [
            Column("#", [str(r.rank) if r.rank is not None else "–" for r in shown]),
            Column("range", [rank_range(r.rank_low, r.rank_high) for r in shown], drop=3),
            Column("company", [_name(r) for r in shown], justify="left", wraps=True),
            Column("n", [str(r.n) for r in shown]),
            Column("median", [c["median"] for c in cells]),
            Column("95% CI", [c["ci"] for c in cells], drop=5),
            Column("p90", [c["p90"] for c in cells], drop=4),
            *[Column(f"≤{target_label(t)}", [percent(r.within[t]) for r in shown],
                     drop=0 if i == 0 else 6 + i) for i, t in enumerate(ranking.targets)],
            Column(vocabulary(channel)["answered"], [percent(r.share_answered) for r in shown],
                   drop=9),
            Column("human", [percent(r.share_human) for r in shown], drop=2),
            # answer quality (svcbench.grading): score (graded of probed), fully, stellar
            *[Column(header, [quality_cells(r.quality, r.n)[i] for r in shown], drop=drop)
              for i, (header, drop) in enumerate((("quality (graded/n)", 1), ("fully", 2),
                                                   ("stellar", 3)))],
            Column("score", [f"{r.score:.1f}" if r.score is not None
                             else Text(r.status, style="dim") for r in shown]),
            *([Column("seal", [seal(r.score) for r in shown], justify="left")]
              if report.seals else []),
            Column("tied with", [str(len(r.tied_with)) if r.ranked else "" for r in shown],
                   drop=8),
            Column("move", [movement_mark(r.movement, r.rank_change) for r in shown], drop=1),
        ]
        table, left_out = fitted_table(
            columns, width, title=f"{channel}: {ranking.ranked} of {ranking.companies} "
            f"companies ranked, {ranking.probes} probes counted, {ranking.excluded} excluded",
            title_justify="left")
        console.print(table)
        if left_out:
            console.print(left_out_note(left_out, width), style="dim")
        if limit > 0 and len(ranking.rows) > limit:
            console.print(f"  … {len(ranking.rows) - limit} more (--limit 0 shows all)")
        notes = [*industry_lines(ranking), *highlight_lines(report, channel)]
        if channel == "email" and form_merge_note(report):
            notes.append(form_merge_note(report))
        for line in notes:
            console.print(plain(f"  • {line}"))
    if report.quality.get("graded_probes"):
        console.print(Text(quality_line(report.quality), style="dim"))
    if report.overall:
        table = Table(title=f"overall: mean channel score, ranked in ≥ "
                      f"{report.overall_min_channels} channels", title_justify="left")
        headers = ("#", "range", "company", "score", *(("seal",) if report.seals else ()),
                   "channels", "tied with", "move")
        for header in headers:
            table.add_column(header, justify="left" if header in ("company", "seal")
                             else "right")
        rows = report.overall if limit <= 0 else report.overall[:limit]
        for row in rows:
            table.add_row(
                str(row.rank) if row.rank is not None else "–",
                rank_range(row.rank_low, row.rank_high), _name(row),
                f"{row.score:.1f}" if row.score is not None else Text(row.status, style="dim"),
                *([seal(row.score)] if report.seals else []),
                top_n_summary(row, report.top_n),
                str(len(row.tied_with)) if row.ranked else "",
                movement_mark(row.movement, row.rank_change))
        console.print(table)
        if limit > 0 and len(report.overall) > limit:
            console.print(f"  … {len(report.overall) - limit} more (--limit 0 shows all)")
        for line in highlight_lines(report, "overall"):
            console.print(plain(f"  • {line}"))
    if "chat_service" in report.sections:
        print_chat_service(report.sections["chat_service"], console)
    if report.sections.get("email_replies"):
        print_email_replies(report.sections["email_replies"], console)
    if report.sections.get("phone_waits"):
        print_phone_waits(report.sections["phone_waits"], console)
    if report.sections.get("forms_blocked"):
        console.print(plain(form_not_automatable(report.sections["forms_blocked"])))
    if report.sections.get("form_findings"):
        print_form_findings(report.sections["form_findings"], console)
    if banner:
        console.print(Text(f"⚠ {banner}", style="bold yellow"))


def print_chat_service(findings: dict, console: Console) -> None:
    """Availability during posted hours and queue promises kept, one line per company."""
    from .safe import plain

    for row in findings.get("availability", []):
        console.print(plain(
            f"  • {row['name']}: chat available in {percent(row['share_available']) or '–'} "
            f"of {row['checks']} checks during posted hours"
            + (f" ({row['unknown']} could not tell)" if row["unknown"] else "")))
    for row in findings.get("promises", []):
        console.print(plain(
            f"  • {row['name']}: {row['kept']} queue promises kept, {row['broken']} broken"
            + (f", {row['open']} not judged" if row["open"] else "")
            + f" (in {row['with_promise']} of {row['chats']} chats)"))


def print_phone_waits(section: dict, console: Console) -> None:
    """Announced versus actual wait per company, one line each."""
    from rich.text import Text

    from .wording import wait_promise_verdict

    console.print(Text("phone: announced wait vs actual wait"))
    for row in section["companies"]:
        console.print(plain(f"  • {row['name']}: {wait_promise_verdict(row)} "
                            f"(n={row['calls']})"))


def print_email_replies(summary: dict, console: Console) -> None:
    """Replies a person reviewed, and promised reply times kept, per company."""
    from rich.table import Table
    from rich.text import Text

    console.print(Text(f"email: {summary['reviewed_by_person']} replies reviewed by a person "
                       f"across {summary['probes']} probes"))
    if not summary["promises"]:
        return
    table = Table(title="email: promised reply times kept (first human reply within the "
                  "time the acknowledgement promised)", title_justify="left")
    for header in ("company", "promised", "kept", "missed", "open", "kept share"):
        table.add_column(header, justify="left" if header == "company" else "right")
    for row in summary["promises"]:
        table.add_row(plain(row["company_name"]), str(row["promised"]), str(row["kept"]),
                      str(row["missed"]), str(row["open"]),
                      percent(row["kept_share"]) if row["kept_share"] is not None else "–")
    console.print(table)


def print_form_findings(section: dict, console: Console) -> None:
    """Per company: form only, acknowledgement, human reply, form broken (page's words)."""
    from rich.table import Table

    table = Table(title="web form: findings per company (not part of any score)",
                  title_justify="left")
    for header in ("company", "form only", "acknowledged", "human reply", "form broken"):
        table.add_column(header, justify="left", overflow="fold")
    for row in section["companies"]:
        cells = form_finding_cells(row, section["business_hours"])
        table.add_row(plain(row["name"]), cells["form_only"], cells["ack"], cells["human"],
                      plain(cells["broken"]))
    console.print(table)


def _name(row):
    """The company's name as plain text, marked when its row has simulated probes or is a
    form-only company's web-form probes."""
    name = plain(row.name)
    if row.simulated_n:
        name.append(" [sim]", style="yellow")
    if getattr(row, "via_form_n", 0):
        name.append(f" [{VIA_WEB_FORM}]", style="cyan")
    return name
