"""Commands: plan, probes, tick (the cron entry), schedule, metrics."""

from __future__ import annotations

import contextlib
import logging
import shlex
import sys
from pathlib import Path

import typer

from ..render.safe import markup
from ._app import app
from ._common import (
    JsonOption,
    WorkspaceOption,
    choice,
    console,
    fail,
    open_workspace,
    print_json,
)
from ._output import Output, output_options

TICK_EXIT_CODES = """Exit codes: 0 the tick ran (probes that failed on our side are recorded, not
fatal); 2 bad configuration or arguments; 3 the database, lock or log file cannot be written
(read-only, disk full, locked too long); 75 another svcbench run holds the workspace lock (cron
may simply retry; 'stale lock' when the holder is gone or overdue); 70 internal error. The
[workspace] tick_budget bounds a run: see docs/cron.md."""


def _setup_logging(log_file: Path | None, interactive: bool) -> None:
    logger = logging.getLogger("svcbench")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if log_file is not None:
        if log_file.is_dir():
            fail(f"--log-file: {log_file} is a directory; give a file name")
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_file)
        except OSError as exc:
            from ..errors import StoreError

            raise StoreError(f"{log_file}: cannot write the log file ({exc.strerror}); "
                             "is the workspace read-only or the disk full?") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
        logger.addHandler(handler)
    if interactive:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("svcbench: %(message)s"))
        logger.addHandler(stream)


@app.command()
def plan(
    campaign: list[str] = typer.Option(None, "--campaign", help="Campaign id (repeat)."),
    quarter: str = typer.Option(None, help="Quarter like 2026Q4 (default: each campaign's)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan, store nothing."),
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Spread each campaign's probes over the quarter (idempotent: planning again adds nothing).

    Only the companies whose plan inputs changed (campaign, calendar, channels) are planned
    again; their future probes follow the change, probes already due or started never move.
    """
    from ..models import utcnow
    from ..plan_sync import remember_plans, sync_plans
    from ..planning import quarter_bounds

    if quarter:
        try:
            quarter_bounds(quarter)
        except ValueError as exc:
            fail(f"--quarter: {exc}")
    ws = open_workspace(workspace)
    unknown = [c for c in campaign or [] if c not in ws.config.campaigns]
    if unknown:
        fail(f"--campaign: unknown campaign {unknown[0]!r} "
             f"(known: {', '.join(sorted(ws.config.campaigns)) or 'none'})")
    now = utcnow()
    # a table shows the first changes only: a first plan need not keep 60,000 probes for it
    result = sync_plans(ws.store, ws.config, now, campaign or None, quarter, dry_run=dry_run,
                        keep=True if as_json else PLAN_ROWS_SHOWN)
    if not (dry_run or campaign or quarter):
        remember_plans(ws, now)
    changes = [("added", p) for p in result.added] + [("moved", p) for p in result.moved]
    rows = [{"id": p.id, "change": change, "campaign": p.campaign, "company": p.company,
             "channel": str(p.channel), "scenario": p.scenario, "due_at": p.due_at.isoformat(),
             "deadline_at": p.deadline_at.isoformat(),
             "out_of_hours": p.state.get("out_of_hours", False)} for change, p in changes]
    if as_json:
        print_json({**result.as_dict(), "dry_run": dry_run, "probes": rows,
                    "cancelled_ids": result.cancelled})
        return
    out = console()
    verb = "would be" if dry_run else "were"
    summary = (f"{result.planned} probes planned: {result.n_added} {verb} added, "
               f"{result.n_moved} moved, {len(result.cancelled)} cancelled")
    if not rows:
        out.print(f"{summary} (inputs unchanged for {result.unchanged} companies)"
                  if not result.cancelled else summary)
        return
    from rich.table import Table

    shown = rows[:PLAN_ROWS_SHOWN]
    table = Table(title=summary + (f" (first {len(shown)} changes; --json lists all)"
                                   if result.n_added + result.n_moved > len(shown) else ""))
    for column in ("due (UTC)", "company", "channel", "scenario", "out of hours", "change"):
        table.add_column(column)
    for r in shown:
        # the console shows every string as plain, cleaned text (render.safe)
        table.add_row(r["due_at"][:16].replace("T", " "), r["company"], r["channel"],
                      r["scenario"] or "", "yes" if r["out_of_hours"] else "", r["change"])
    out.print(table)


#: changes a table shows (a screenful; --json lists them all)
PLAN_ROWS_SHOWN = 30


probes_app = typer.Typer(help="List probes, or run one planned probe now.",
                         invoke_without_command=True)
app.add_typer(probes_app, name="probes")


@probes_app.callback()
@output_options
def probes(
    ctx: typer.Context,
    status: str = typer.Option(None, help="planned, starting, running or done."),
    channel: str = typer.Option(None, "--channel", "-c",
                                help="phone, email, form, chat, returns or delivery."),
    company: str = typer.Option(None, help="Company id."),
    campaign: str = typer.Option(None, help="Campaign id."),
    limit: int = typer.Option(200, min=1, help="At most this many rows."),
    workspace: Path | None = WorkspaceOption,
    out: Output = Output(),
) -> None:
    """List probes with their status, due time and outcome ('probes run ID' runs one now)."""
    from ..models import Channel, ProbeStatus

    if ctx.invoked_subcommand is not None:
        return
    status_value = choice(ProbeStatus, status or None, "--status")
    channel_value = choice(Channel, channel or None, "--channel")
    ws = open_workspace(workspace, read_only=True)
    found = ws.store.probes(status=status_value, channel=channel_value, company=company,
                            campaign=campaign, limit=limit)
    notes = _status_notes(ws, found)
    rows = [{"id": p.id, "company": p.company, "channel": str(p.channel), "status": str(p.status),
             "outcome": str(p.outcome) if p.outcome else None,
             "reason": p.outcome_reason or notes.get(p.id),
             "awaiting_collection": "awaiting collection" in (notes.get(p.id) or ""),
             "due_at": p.due_at.isoformat() if p.due_at else None,
             "started_at": p.started_at.isoformat() if p.started_at else None,
             "attempts": p.attempts} for p in found]
    out.emit(rows, table=_probes_table)


def _probes_table(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table(title=f"{len(rows)} probes")
    for column in ("id", "company", "channel", "status", "outcome", "due (UTC)", "note"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["id"][:8], r["company"], r["channel"], r["status"], r["outcome"] or "",
                      (r["due_at"] or "")[:16].replace("T", " "), r["reason"] or "")
    console().print(table)


@probes_app.command("run", epilog=TICK_EXIT_CODES)
def probes_run(
    probe_id: str = typer.Argument(..., help="Probe id (or a unique 8+ character prefix)."),
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Run one planned probe now, due or not (the same as 'tick --probe ID').

    It is claimed like any other, so it is never started twice: a probe that is already
    starting, running or done is refused (exit 2).
    """
    tick(dry_run=False, log_file=None, concurrency=1, workspace=workspace, as_json=as_json,
         probe=probe_id)


def _status_notes(ws, probes) -> dict[str, str]:
    """Notes on running probes past their deadline (e.g. awaiting collection)."""
    from ..models import ProbeStatus, utcnow
    from ..plugins import probe_plugin

    now, notes = utcnow(), {}
    for p in probes:
        if p.status == ProbeStatus.RUNNING and p.deadline_at and p.deadline_at <= now:
            with contextlib.suppress(Exception):  # an uninstalled plugin: no note
                note = probe_plugin(p.plugin).status_note(p, ws.store.events(p.id), now)
                if note:
                    notes[p.id] = note
    return notes


@app.command(epilog=TICK_EXIT_CODES)
def tick(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be sent; send nothing."),
    log_file: Path = typer.Option(None, help="Append a log here (default: workspace log_file)."),
    concurrency: int = typer.Option(20, min=1, max=500,
                                    help="Probes of each type in progress at once."),
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
    probe: str = typer.Option(None, "--probe", help="Run just this planned probe now (id or "
                              "8+ character prefix), due or not; never one already started."),
) -> None:
    """The cron entry: plan, send what is due, advance running probes, collect, expire.

    Quiet when not on a terminal (for cron); a second overlapping run exits at once with 75.
    """
    from ..schedule import tick as run_tick

    ws = open_workspace(workspace)
    interactive = sys.stderr.isatty() and not as_json
    target = log_file or (ws.root / ws.config.settings.log_file
                          if ws.config.settings.log_file else None)
    _setup_logging(target, interactive)
    log = logging.getLogger("svcbench")
    progress_cb = None
    bar = None
    if interactive and not dry_run:
        from rich.progress import Progress

        bar = Progress(console=console(stderr=True), transient=True)
        bar.start()
        task = bar.add_task("starting probes", total=0)

        def progress_cb(step: str, n: int) -> None:
            if step == "start":
                bar.update(task, total=n, description="starting due probes")
            elif step == "started":
                bar.advance(task, n)
            elif step == "advance":
                bar.update(task, description=f"checking {n} running probes")

    try:
        report = run_tick(ws, dry_run=dry_run, concurrency=concurrency, progress=progress_cb,
                          only_probe=probe)
    finally:
        if bar is not None:
            bar.stop()
    summary = report.as_dict()
    log.info("tick: %s", {k: v for k, v in summary.items() if k != "would_start"})
    if probe is not None and not dry_run:
        ran = ws.store.find_probe(probe)
        summary["probe"] = {"id": ran.id, "company": ran.company, "channel": str(ran.channel),
                            "status": str(ran.status),
                            "outcome": str(ran.outcome) if ran.outcome else None,
                            "reason": ran.outcome_reason} if ran else None
        if not as_json and ran is not None:
            from ..render.safe import plain

            console().print(plain(
                f"probe {ran.id[:8]} ({ran.company} {ran.channel}): {ran.status}"
                + (f", {ran.outcome}" if ran.outcome else "")
                + (f" ({ran.outcome_reason})" if ran.outcome_reason else "")))
    if as_json:
        print_json(summary)
        return
    if dry_run:
        out = console()
        out.print(f"Dry run: {report.planned} probes would be planned, "
                  f"{len(report.would_start)} would start now:")
        for p in report.would_start:
            out.print(f"  {p.due_at:%Y-%m-%d %H:%M} UTC  {p.company:<28} {p.channel}")
        return
    if interactive:
        finished = ", ".join(f"{n} {k}" for k, n in sorted(report.finished.items())) or "none"
        console(stderr=True).print(
            f"planned {report.planned}, started {report.started}, retried {report.retried}, "
            f"recovered {report.recovered}, new events {report.advanced_events}, "
            f"finished: {finished}")
        for line in report.failed:
            console(stderr=True).print(markup("[yellow]our side failed:[/yellow] {}", line))


@app.command()
def schedule(
    every: int = typer.Option(5, min=1, max=60, help="Minutes between ticks."),
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Print a crontab line and a systemd service + timer that run `svcbench tick`.

    cron starts commands with an almost empty environment: the secrets the config names
    (password_env, ...) must come from a file the line sources (chmod 600), or systemd's
    EnvironmentFile. The output lists the variables this workspace needs.
    """
    from ..config import find_workspace, load_config, named_secrets

    root = find_workspace(workspace)
    exe = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "svcbench" else "svcbench"
    command = f"{shlex.quote(str(exe))} tick --workspace {shlex.quote(str(root))}"
    log = shlex.quote(str(root / "svcbench.log"))
    variables = sorted({v for _, _, v in named_secrets(load_config(root))})
    env_file = shlex.quote(str(root / ".svcbench.env"))
    crontab = (f"*/{every} * * * * . {env_file} && {command} --log-file {log}" if variables
               else f"*/{every} * * * * {command} --log-file {log}")
    if as_json:
        print_json({"every_minutes": every, "crontab": crontab, "env_file": str(root /
                    ".svcbench.env"), "variables": variables,
                    "systemd_exec_start": f"{command} --log-file {log}"})
        return
    needs = ("\n# cron passes no login environment: put the secrets it needs in "
             f"{env_file}\n# (chmod 600; one 'export NAME=value' a line): "
             f"{', '.join(variables)}") if variables else ""
    print(f"""# crontab -e  (a tick every {every} minutes; overlapping runs exit with 75){needs}
{crontab}

# /etc/systemd/system/svcbench-tick.service
[Unit]
Description=svcbench tick (mystery-shopping probes)

[Service]
Type=oneshot
WorkingDirectory={root}
ExecStart={command} --log-file {log}
# secrets as environment variables ({', '.join(variables) or 'none named'}), e.g.:
# EnvironmentFile=/etc/svcbench/secrets.env  (NAME=value lines, chmod 600)

# /etc/systemd/system/svcbench-tick.timer
[Unit]
Description=Run svcbench tick every {every} minutes

[Timer]
OnCalendar=*:0/{every}
Persistent=true

[Install]
WantedBy=timers.target
# enable with: systemctl enable --now svcbench-tick.timer""")


@app.command()
@output_options
def metrics(
    textfile: Path = typer.Option(None, help="Write here (atomically) instead of stdout."),
    workspace: Path | None = WorkspaceOption,
    out: Output = Output(),
) -> None:
    """Prometheus metrics: probe counts and latest measurements (textfile collector format).

    --json, --csv and --nl give the same samples as rows with the keys metric, channel,
    status, outcome, company (null where the metric has no such label) and value (null for
    NaN: the latest counted probe was not answered).
    """
    from ..metrics_export import METRIC_KEYS, metric_rows, render_metrics, write_textfile

    if textfile is not None and (textfile.is_dir() or not textfile.name):
        fail(f"--textfile: {textfile} is a directory; give a file name such as svcbench.prom")
    if textfile is not None and out.format != "table":
        fail("--textfile writes the Prometheus format; for JSON, CSV or NL use --output")
    ws = open_workspace(workspace, read_only=True)
    if out.format != "table":
        out.emit(metric_rows(ws.store), columns=list(METRIC_KEYS))
    elif textfile:
        write_textfile(ws.store, textfile)
        console(stderr=True).print(f"wrote {textfile}")
    else:
        sys.stdout.write(render_metrics(ws.store))
