"""Commands: report (quarterly or monthly rankings in the terminal, CSV, JSON, HTML) and
simulate."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app
from ._common import (
    RawCsvOption,
    WorkspaceOption,
    console,
    fail,
    open_workspace,
    quarter_option,
)
from ._output import choose_format

FORMATS = ("table", "csv", "json", "html", "pdf")
CHANNELS = ("phone", "email", "form", "chat", "returns", "delivery")


@app.command()
def report(
    quarter: str = typer.Option(None, "--quarter", "-q",
                                help="Quarter like 2026Q4 (default: the latest with data)."),
    period: str = typer.Option(None, "--period", "-p",
                               help="Quarter (2026Q4) or month (2026-11); months and quarters "
                               "by the companies' local time."),
    include_simulated: bool = typer.Option(
        False, "--include-simulated",
        help="Also rank simulated probes (left out by default; marked in every format)."),
    seals: bool = typer.Option(False, "--seals",
                               help="Show seal bands beside scores (Elite 90-100, Excellent "
                               "80-89, Approved 70-79)."),
    channel: list[str] = typer.Option(
        None, "--channel", "-c", help="Channel to rank (repeatable; default: all with data): "
        "phone, email, chat, returns, delivery."),
    format: list[str] = typer.Option(
        ["table"], "--format", "-f",
        help="table (terminal), csv, json, html or pdf (repeatable; files go to --output)."),
    output: str = typer.Option(
        None, "--output", "-o", metavar="DIR|FILE|-",
        help="Directory for the files (default: the workspace's reports/); or, with one "
        "--format, a file name or '-' for standard output (CSV: the channel rankings)."),
    company: list[str] = typer.Option(
        None, "--company", help="Only show these companies (slugs; ranks stay among all)."),
    business_hours: bool = typer.Option(
        True, "--business-hours/--raw",
        help="Phone, email and chat waits in business hours (default) or raw clock time."),
    raw_csv: bool = RawCsvOption,
    limit: int = typer.Option(25, "--limit", help="Rows per table in the terminal (0 = all)."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (same seed, same intervals)."),
    overall_min_channels: int = typer.Option(
        None, "--overall-min-channels", min=1,
        help="Channels a company must be ranked in for the overall ranking (default 2)."),
    merge_form: bool = typer.Option(
        None, "--merge-form-into-email/--separate-form",
        help="Also rank companies that offer only a web form in the email ranking, by their "
        "form probes, marked 'via web form' (default: scoring.merge_form_into_email)."),
    as_json: bool = typer.Option(
        False, "--json", help="The JSON report on standard output (or -o FILE): -f json -o -."),
    as_csv: bool = typer.Option(
        False, "--csv", help="The channel rankings as CSV on standard output (or -o FILE)."),
    as_nl: bool = typer.Option(
        False, "--nl", help="The channel rankings as newline-delimited JSON, a row a line."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Rankings per channel and overall for a quarter or a month, with confidence, ties,
    movement, streaks and sources."""
    flag = choose_format(as_json=as_json, as_csv=as_csv, as_nl=as_nl)  # 'table': none given
    flagged = flag != "table"
    if flagged:
        if format and format != ["table"]:
            fail(f"--{flag}: give --{flag} or --format, not both")
        if output is not None and Path(output).is_dir():
            fail(f"--output: {output} is a directory; --{flag} writes one file")
        formats, output = [flag], output or "-"
    else:
        formats = _check_choices(format or ["table"], FORMATS, "--format")
    single = _single_file(output, formats, file=flagged)
    channels = _check_choices(channel or [], CHANNELS, "--channel")
    wanted_quarter = None
    if quarter is not None and period is not None:
        fail("--period: give --period or --quarter, not both")
    if quarter is not None:
        wanted_quarter = quarter_option(quarter)
    if period is not None:
        from ..periods import parse_period

        try:
            wanted_quarter = parse_period(period)
        except ValueError as exc:
            fail(f"--period: {exc}")
    if limit < 0:
        fail("--limit: must be 0 (all) or more")

    from ..errors import ConfigError
    from ..periods import is_month, quarter_of_period
    from ..rank import build_report, history_quarters, load_frame, quarters_with_data

    ws = open_workspace(workspace, read_only=True)
    try:
        store = ws.store
        available = quarters_with_data(store.conn)
        if not available:
            fail("no measurements yet: run probes, import results, or `svcbench simulate`",
                 code=1)
        wanted_quarter = wanted_quarter or available[-1]
        if quarter_of_period(wanted_quarter) not in available:
            option = "--period" if period is not None else "--quarter"
            fail(f"{option}: no measurements for {wanted_quarter} "
                 f"(quarters with data: {', '.join(available)})")
        names = store.company_names()
        unknown = [c for c in company or [] if c not in names]
        if unknown:
            fail(f"--company: unknown company {unknown[0]!r}")
        if merge_form is None:
            merge_form = ws.config.scoring.merge_form_into_email
        merging = merge_form and (not channels or "email" in channels)
        loaded = channels or None
        if merging and loaded and "form" not in loaded:
            loaded = [*loaded, "form"]  # the form probes the email ranking takes in
        frame = load_frame(store.conn, quarters=history_quarters(wanted_quarter),
                           channels=loaded)
        simulated = frame.simulated()
        shown = frame if include_simulated or not simulated.any() else frame.take(~simulated)
        present = {c for p, c in shown.period_groups(is_month(wanted_quarter))
                   if p == wanted_quarter}
        selected = [c for c in (channels or CHANNELS) if c in present]
        form_only = None
        if merging:
            from ..probes.form.summary import form_only_companies

            form_only = form_only_companies(store.conn, history_quarters(wanted_quarter))
            if "form" in present and "email" not in selected:  # only form-only companies
                selected.insert(selected.index("form") if "form" in selected else 0, "email")
        if not selected:
            everything = {c for p, c in frame.period_groups(is_month(wanted_quarter))
                          if p == wanted_quarter and c in (channels or CHANNELS)}
            if everything:
                fail(f"only simulated measurements in {wanted_quarter}: pass "
                     "--include-simulated to rank them (they are marked as simulated)", code=1)
            fail(f"no measurements for {', '.join(channels or CHANNELS)} in {wanted_quarter}",
                 code=1)
        from ..grading.quality import load_quality_frame

        quality = load_quality_frame(store.conn, ws.config.grading,
                                     quarters=history_quarters(wanted_quarter))
        try:
            result = build_report(
                frame, quarter=wanted_quarter, channels=selected, targets=ws.config.targets,
                scoring=ws.config.scoring, business_hours=business_hours, seed=seed,
                overall_min_channels=overall_min_channels, names=names,
                industries=store.company_industries(), quality=quality,
                include_simulated=include_simulated, batches=merge_batch_files(store),
                form_only=form_only)
        except ValueError as exc:
            raise ConfigError(str(exc), file=str(ws.root / "svcbench.toml"),
                              key="scoring.weights") from None
        if "chat" in selected:
            from ..chat_service import chat_service_findings

            findings = chat_service_findings(store.conn, wanted_quarter, names)
            if company:
                findings = {k: [r for r in v if r["company"] in set(company)]
                            for k, v in findings.items()}
            if any(findings.values()):
                result.sections["chat_service"] = findings
        result.seals = seals
        if company:
            _keep_companies(result, set(company))

        def reported(channel: str):
            """The period's measurements of a channel that the rankings count."""
            return (m for m in store.measurements(channel=channel, period=wanted_quarter)
                    if (not company or m.company in company)
                    and (include_simulated or "simulated" not in m.flags))

        if "email" in selected:
            from ..probes.email.summary import reply_summary

            result.sections["email_replies"] = reply_summary(reported("email"), names)
        if "phone" in selected:
            from ..probes.phone.summary import wait_promise_summary

            waits = wait_promise_summary(reported("phone"), names)
            if waits:
                result.sections["phone_waits"] = waits
        if "form" in selected:
            from ..probes.form import blocked_summary
            from ..probes.form.summary import load_form_findings

            blocked = blocked_summary(store.conn, wanted_quarter, names,
                                      set(company) if company else None)
            if blocked:
                result.sections["forms_blocked"] = blocked
            findings = load_form_findings(store, wanted_quarter, names,
                                          companies=set(company) if company else None,
                                          business_hours=business_hours,
                                          include_simulated=include_simulated)
            if findings:
                result.sections["form_findings"] = findings
        out_dir = Path(output) if output and not single else ws.config.reports_dir
    finally:
        ws.close()

    if single:
        _write_single(result, formats[0], output, raw_csv=raw_csv)
        return

    written: list[Path] = []
    for fmt in formats:
        if fmt == "table":
            from ..render.terminal import print_report

            print_report(result, console(), limit=limit)
            continue
        try:
            if fmt == "csv":
                from ..render.tables import write_csv

                written += write_csv(result, out_dir, raw=raw_csv)
            elif fmt == "json":
                from ..render.json_ import write_json

                written += write_json(result, out_dir)
            elif fmt == "html":
                from ..render.html import write_html

                written += write_html(result, out_dir)
            elif fmt == "pdf":
                from ..render.pdf import write_pdf

                written += write_pdf(result, out_dir)
        except OSError as exc:
            from ..errors import StoreError

            raise StoreError(f"{exc.filename or out_dir}: cannot write the {fmt} report "
                             f"({exc.strerror}); choose another --output") from None
    for path in written:
        typer.echo(f"wrote {path}")


_SUFFIXES = {".json": "json", ".html": "html", ".htm": "html", ".csv": "csv", ".pdf": "pdf"}


def _single_file(output: str | None, formats: list[str], *, file: bool = False) -> bool:
    """Whether ``-o`` names one file (or standard output) rather than a directory; ``file``:
    it does (--json, --csv, --nl)."""
    if output is None:
        return False
    path = Path(output)
    single = file or output == "-" or (path.exists() and not path.is_dir()) or (
        not path.exists() and path.suffix.lower() in _SUFFIXES)
    if not single:
        return False
    files = [f for f in formats if f != "table"]
    if len(files) != 1:
        fail(f"--output {output}: a single file takes exactly one --format of csv, json, html "
             "or pdf (or name a directory)")
    wanted = _SUFFIXES.get(path.suffix.lower())
    if output != "-" and path.suffix and wanted and wanted != files[0]:
        fail(f"--output {output}: the name says {wanted} but --format is {files[0]}")
    return True


def _write_single(result, fmt: str, output: str, *, raw_csv: bool) -> None:
    """One format to one file or standard output (a device such as /dev/stdout too)."""
    import json
    import shutil
    import sys
    import tempfile

    from ._output import opened

    if fmt == "pdf":
        from ..render.html import render_html
        from ..render.pdf import html_to_pdf

        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "report.pdf"
            html_to_pdf(render_html(result), target)
            if output == "-":
                sys.stdout.buffer.write(target.read_bytes())
                sys.stdout.buffer.flush()
            else:
                shutil.copyfile(target, output)
        return
    with opened(output) as f:
        if fmt == "nl":
            from ..render import ranking_records

            for record in ranking_records(result):
                f.write(json.dumps(record, ensure_ascii=False, allow_nan=False,
                                   default=str) + "\n")
        elif fmt == "json":
            from ..render.json_ import report_document

            f.write(json.dumps(report_document(result), indent=1, ensure_ascii=False,
                               allow_nan=False) + "\n")
        elif fmt == "html":
            from ..render.html import render_html

            f.write(render_html(result))
        else:
            from ..render.tables import write_rankings_csv

            write_rankings_csv(result, f, raw=raw_csv)
    if output != "-" and Path(output).is_file():
        typer.echo(f"wrote {output}", err=True)


def merge_batch_files(store) -> dict[str, str]:
    """Merge batch id -> the file it came from."""
    return {row[0]: row[1] for row in store.conn.execute("SELECT id, file FROM merge_batches")}


def _check_choices(values: list[str], allowed: tuple[str, ...], option: str) -> list[str]:
    out = []
    for value in values:
        for part in value.split(","):
            part = part.strip().lower()
            if part not in allowed:
                fail(f"{option}: {part!r} is not one of {', '.join(allowed)}")
            if part not in out:
                out.append(part)
    return out


def _keep_companies(result, companies: set[str]) -> None:
    for ranking in result.channels.values():
        ranking.rows = [r for r in ranking.rows if r.company in companies]
    result.overall = [r for r in result.overall if r.company in companies]


@app.command()
def simulate(
    companies: int = typer.Option(500, "--companies", min=1, help="How many companies."),
    quarters: int = typer.Option(4, "--quarters", min=1, max=40, help="How many quarters."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same data."),
    probes_per_company_channel: int = typer.Option(
        12, "--probes-per-company-channel", min=1,
        help="Probes per company, channel and quarter."),
    probes: int = typer.Option(None, "--probes", min=1,
                               help="Total probes instead (spread evenly)."),
    end_quarter: str = typer.Option(None, "--end-quarter",
                                    help="Last quarter (default: the current one)."),
    database: Path = typer.Option(None, "--database", dir_okay=False,
                                  help="Write into this SQLite file instead of a workspace."),
    replace: bool = typer.Option(False, "--replace",
                                 help="Delete earlier simulated data first (real data stays)."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Fill the database with realistic synthetic probes (marked 'simulated') for demos."""
    from ..models import quarter_of, utcnow
    last = quarter_option(end_quarter or None, "--end-quarter") or quarter_of(utcnow())
    from ..simulate import simulate as run

    if database is not None:
        from ..store import Store

        store = Store(database)
        try:
            summary = run(store, companies=companies, quarters=quarters, end_quarter=last,
                          seed=seed, probes_per_company_channel=probes_per_company_channel,
                          total_probes=probes, replace=replace)
        finally:
            store.close()
    else:
        ws = open_workspace(workspace)
        try:
            summary = run(ws.store, companies=companies, quarters=quarters, end_quarter=last,
                          seed=seed, probes_per_company_channel=probes_per_company_channel,
                          total_probes=probes, replace=replace)
        finally:
            ws.close()
    typer.echo(f"simulated {summary.companies} companies, {summary.probes} probes, "
               f"{summary.events} events, {summary.measurements} measurements for "
               f"{summary.quarters[0]}-{summary.quarters[-1]} in {summary.seconds:.1f} s")
