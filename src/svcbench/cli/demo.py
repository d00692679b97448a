"""Command: demo (a live campaign against built-in simulated companies, then a report)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..render.safe import markup
from ._app import app
from ._common import console


@app.command()
def demo(
    directory: Path = typer.Option(Path("demo-workspace"), "--dir", file_okay=False,
                                   help="Demo workspace (replaced on every demo run)."),
    browser: bool = typer.Option(None, "--browser/--no-browser",
                                 help="Probe one chat through a real headless Chromium "
                                 "(default: when /usr/bin/chromium exists)."),
    companies: int = typer.Option(60, "--history-companies", min=5, max=2000,
                                  help="Synthetic companies in the quarter of history."),
) -> None:
    """Probe simulated companies live by email and chat, then write the report.

    The companies run on 127.0.0.1 (SMTP, IMAP, chat REST/WebSocket, a page with a chat
    widget); a quarter of synthetic history is added so the rankings have something to show.
    """
    from ..demo import run_demo

    out = console()
    result = run_demo(directory, browser=browser, history_companies=companies,
                      say=lambda text: out.print(text))
    from rich.table import Table

    table = Table(title="Live probes against the simulated companies")
    for column in ("company", "channel", "outcome", "first response", "human reply"):
        table.add_column(column)
    for row in sorted(result.live, key=lambda r: (r["channel"], r["company"])):
        table.add_row(row["company"], row["channel"], row["outcome"],
                      _seconds(row["first_response_s"]),
                      _seconds(row["wait_s"]) if row["human"] else "none")
    out.print(table)
    for note in result.notes:
        out.print(markup("[yellow]note:[/yellow] {}", note))
    html = [p for p in result.report_files if p.suffix == ".html"]
    out.print(f"Workspace: {result.workspace}")
    for path in result.report_files:
        out.print(f"  {path}")
    if html:
        out.print(markup("[bold]Open the report:[/bold] {}", html[0]))
    out.print(f"Demo finished in {result.seconds:.0f} s.")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"
