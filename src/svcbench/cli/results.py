"""Commands: results (list measurements as a table, JSON or CSV)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..render.safe import markup, plain
from ._app import app
from ._common import (
    WorkspaceOption,
    choice,
    console,
    fail,
    open_workspace,
)
from ._output import Output, output_options

if TYPE_CHECKING:
    from ..config import Config
    from ..models import Measurement

#: the keys of ``svcbench results --json`` objects and the ``--csv`` columns, in order
RESULT_KEYS = (
    "probe_id", "company", "company_name", "channel", "campaign", "quarter", "started_at",
    "started_local", "outcome", "wait_s", "wait_bh_s", "first_response_s",
    "first_response_bh_s", "answered_by_human", "metrics", "flags",
)

_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")


def human_duration(seconds: float | None) -> str:
    """'42s', '1m 35s', '3h 05m', '2d 4h' ('-' when missing)."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 and seconds % 1 else f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def local_time(instant, timezone: str | None) -> str:
    """An instant as ISO 8601 in the company's zone, to the minute: '2026-03-02T10:15+01:00'."""
    from zoneinfo import ZoneInfo

    value = instant.astimezone(ZoneInfo(timezone)) if timezone else instant
    return value.isoformat(timespec="minutes")


def measurement_row(m: Measurement, config: Config | None) -> dict[str, Any]:
    """One measurement as the documented, stable JSON object (see RESULT_KEYS)."""
    from ..models import format_instant

    company = config.companies.get(m.company) if config is not None else None
    row = {
        "probe_id": m.probe_id, "company": m.company,
        "company_name": company.name if company else m.company, "channel": str(m.channel),
        "campaign": m.campaign, "quarter": m.quarter, "started_at": format_instant(m.started_at),
        "started_local": local_time(m.started_at, company.timezone if company else None),
        "outcome": str(m.outcome), "wait_s": m.wait_s, "wait_bh_s": m.wait_bh_s,
        "first_response_s": m.first_response_s, "first_response_bh_s": m.first_response_bh_s,
        "answered_by_human": m.answered_by_human, "metrics": m.metrics, "flags": m.flags,
    }
    return {key: row[key] for key in RESULT_KEYS}


def key_metrics(channel: str, metrics: dict[str, Any]) -> str:
    """The few metrics worth a table column, per channel."""
    parts = []
    if channel == "phone":
        parts.append(f"ivr {metrics.get('ivr_steps', 0)}")
        if metrics.get("hold_s"):
            parts.append(f"hold {human_duration(metrics['hold_s'])}")
        if metrics.get("transfers"):
            parts.append(f"transfers {metrics['transfers']}")
        if metrics.get("abandoned_after_s") is not None:
            parts.append(f"gave up after {human_duration(metrics['abandoned_after_s'])}")
        if metrics.get("resolved"):
            parts.append("resolved")
    elif channel in ("returns", "delivery"):
        if metrics.get("days") is not None:
            parts.append(f"{metrics['days']:g} days")
        if metrics.get("days_to_ship") is not None:
            parts.append(f"shipped after {metrics['days_to_ship']:g} d")
        if metrics.get("refund_amount") is not None:
            parts.append(f"refund {metrics['refund_amount']:g}")
    elif channel == "email" and (metrics.get("promise") or metrics.get("reviewed_by_person")):
        promise = metrics.get("promise")
        if promise:
            kept = {True: "kept", False: "missed", None: "open"}[metrics.get("promise_kept")]
            parts.append(f"promised {promise['amount']:g} {promise['unit'].replace('_', ' ')}"
                         f": {kept}")
        if metrics.get("reviewed_by_person"):
            parts.append(f"{metrics['reviewed_by_person']} reviewed by a person")
    else:
        for key, value in list(metrics.items())[:3]:
            if isinstance(value, bool | int | float | str) and value not in ("", None):
                parts.append(f"{key} {value}")
    return ", ".join(parts)


@app.command()
@output_options
def results(
    company: str | None = typer.Option(None, "--company", help="Only this company (id)."),
    channel: str | None = typer.Option(
        None, "--channel", "-c",
        help="Only this channel: phone, email, chat, returns, delivery."),
    quarter: str | None = typer.Option(None, "--quarter", "-q",
                                       help="Only this quarter, e.g. 2026Q4."),
    outcome: str | None = typer.Option(
        None, "--outcome",
        help="Only this outcome: answered, answered_auto_only, unanswered, abandoned, "
        "unavailable, failed, "
        "cancelled."),
    campaign: str | None = typer.Option(None, "--campaign", help="Only this campaign (id)."),
    limit: int | None = typer.Option(None, "--limit", min=1,
                                     help="Show at most this many (the most recent)."),
    out: Output = Output(),
    workspace: Path | None = WorkspaceOption,
) -> None:
    """List measurements, most recent first.

    --json prints a list of objects with the keys probe_id, company, company_name, channel,
    campaign, quarter, started_at (UTC), started_local (company time zone), outcome, wait_s,
    wait_bh_s, first_response_s, first_response_bh_s (seconds or null), answered_by_human,
    metrics (object), flags (list). --csv prints the same columns (metrics and flags as JSON).
    """
    from ..models import Channel, Outcome

    channel_value = choice(Channel, channel, "--channel")
    outcome_value = choice(Outcome, outcome, "--outcome")
    if quarter is not None:
        match = _QUARTER.match(quarter.strip())
        if not match:
            fail(f"--quarter: {quarter!r} is not a quarter like 2026Q4")
        quarter = f"{match.group(1)}Q{match.group(2)}"
    ws = open_workspace(workspace, read_only=True)
    store = ws.store
    if company is not None and company not in ws.config.companies \
            and company not in store.company_names():
        fail(f"--company: unknown company {company!r} (known: "
             f"{', '.join(sorted(ws.config.companies)) or 'none defined'})")
    if campaign is not None and campaign not in ws.config.campaigns:
        known_campaigns = {m.campaign for m in store.measurements()} - {None}
        if campaign not in known_campaigns:
            fail(f"--campaign: unknown campaign {campaign!r}")
    found = store.measurements(company=company, channel=channel_value, quarter=quarter,
                               outcome=outcome_value, campaign=campaign)
    found.sort(key=lambda m: (m.started_at, m.probe_id), reverse=True)
    if limit:
        found = found[:limit]
    rows = [measurement_row(m, ws.config) for m in found]
    out.emit(rows, table=render_table, columns=list(RESULT_KEYS))
    if out.format == "table":
        _awaiting_note(ws, channel_value)


def _awaiting_note(ws, channel) -> None:
    """Probes past their deadline that cannot be concluded yet are not in the results: say so."""
    from ..models import ProbeStatus, utcnow
    from .campaign import _status_notes

    running = [p for p in ws.store.probes(status=ProbeStatus.RUNNING, channel=channel,
                                          due_before=utcnow())
               if p.deadline_at and p.deadline_at <= utcnow()]
    waiting = sum(1 for note in _status_notes(ws, running).values()
                  if "awaiting collection" in note)
    if waiting:
        console(stderr=True).print(
            f"{waiting} probe(s) past their deadline are awaiting collection (their mailbox "
            "has not been read completely since): not counted yet; see 'svcbench probes "
            "--status running'")


def render_table(rows: list[dict[str, Any]]) -> None:
    """Outcomes in the channel's words ('refunded', 'delivered'); --json keeps the codes."""
    from ..render import column_durations
    from ..render.fit import Column, fitted_table, left_out_note
    from ..render.wording import outcome_label

    out = console()
    if not rows:
        out.print(markup("No results yet. Log a call with [bold]svcbench call[/bold] or "
                         "[bold]svcbench log[/bold], or run a campaign."))
        return
    style = {"answered": "green", "answered_auto_only": "yellow", "unanswered": "red",
             "abandoned": "red", "unavailable": "red", "failed": "dim", "cancelled": "dim"}

    def durations(key: str) -> list[str]:
        return column_durations([r[key] for r in rows], none="-")

    columns = [
        Column("probe", [r["probe_id"][:8] for r in rows], justify="left", drop=4),
        Column("company", [plain(r["company_name"]) for r in rows], justify="left",
               wraps=True, min_width=12),
        Column("channel", [r["channel"] for r in rows], justify="left"),
        Column("started (local)", [r["started_local"].replace("T", " ")[:16] for r in rows],
               justify="left"),
        Column("outcome", [plain(outcome_label(r["channel"], r["outcome"]),
                                  style.get(r["outcome"], "")) for r in rows],
               justify="left"),
        Column("wait", durations("wait_s")),
        Column("wait bh", durations("wait_bh_s"), drop=2),
        Column("1st resp.", durations("first_response_s"), drop=3),
        Column("human", ["yes" if r["answered_by_human"] else "no" for r in rows],
               justify="center", drop=1),
        Column("details", [plain(key_metrics(r["channel"], r["metrics"])) for r in rows],
               justify="left", wraps=True, drop=5, min_width=16),
    ]
    table, left_out = fitted_table(columns, out.width, show_edge=False, pad_edge=False)
    out.print(table)
    if left_out:
        out.print(left_out_note(left_out, out.width), style="dim")
    out.print(f"{len(rows)} result{'s' if len(rows) != 1 else ''}", style="dim")
