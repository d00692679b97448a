"""Commands: db merge / unmerge / batches (combine shoppers' databases, undo a merge),
db recompute, db info."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..render.safe import markup, plain
from ._app import app
from ._common import (
    JsonOption,
    WorkspaceOption,
    console,
    fail,
    open_workspace,
    print_json,
)
from ._output import Output, output_options

db_app = typer.Typer(help="The results database: merge shoppers' files, recompute, inspect.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("merge")
def merge(
    other: Path = typer.Argument(..., exists=True, dir_okay=False,
                                 help="Another svcbench database (e.g. a shopper's)."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Show what would be added; change nothing."),
    allow_unknown_companies: bool = typer.Option(
        False, "--allow-unknown-companies",
        help="Merge probes of companies this workspace's config does not define (without it "
        "you are asked, or, not on a terminal, the merge is refused)."),
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Copy another database's probes, events and results into this workspace's database.

    Safe to repeat: merging the same file again adds nothing, and merging several shoppers'
    files in any order gives the same result. What it adds is one merge batch (`db batches`),
    which `db unmerge BATCH` removes again. Probes keep their source, so a demo database's
    simulated probes stay out of reports unless --include-simulated. Measurements of the
    finished probes that came in are derived again with this workspace's rules.
    """
    import sys

    from ..errors import SvcbenchError
    from ..lifecycle import recompute
    from ..store._store import MergeResult

    ws = open_workspace(workspace)
    preview = MergeResult()
    ws.store.merge(other, dry_run=True, result=preview)
    unknown = [c for c in preview.companies if c not in ws.config.companies]
    if dry_run:
        _print_merge(preview, unknown, as_json)
        return
    if unknown and not allow_unknown_companies:
        listed = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5
                                           else "")
        message = (f"{other} has probes of {len(unknown)} companies not in this workspace's "
                   f"config ({listed})")
        if not (sys.stdin.isatty() and not as_json):
            fail(f"{message}; nothing was merged (pass --allow-unknown-companies to merge "
                 "them, or --dry-run to see what would be added)")
        console().print(markup("[yellow]Warning:[/yellow] {}; they would rank beside yours.",
                               message))
        if not typer.confirm("Merge them anyway?", default=False):
            fail("nothing was merged", code=1)
    touched: set[str] = set()
    result = MergeResult()
    ws.store.merge(other, touched=touched, result=result)
    if result.batch and unknown:
        ws.store.record_unknown_companies(result.batch, unknown)
    try:
        recomputed = recompute(ws.store, ws.config, touched) if touched else 0
    except SvcbenchError as exc:
        fail(f"merged {sum(result.counts.values())} new rows from {other}, but measuring them "
             f"failed: {exc} (fix it, then run 'svcbench db recompute')", code=exc.exit_code)
    _print_merge(result, unknown, as_json, into=str(ws.store.path), recomputed=recomputed)


def _print_merge(result: Any, unknown: list[str], as_json: bool, *, into: str | None = None,
                 recomputed: int = 0) -> None:
    data = {"merged": result.file, "into": into, "dry_run": result.dry_run,
            "batch": result.batch, "new_rows": result.counts,
            "new_probes_by_source": result.new_probes_by_source,
            "companies": result.companies, "unknown_companies": unknown,
            "probes_changed": len(result.touched), "recomputed": recomputed}
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    out = console()
    verb = "Would merge" if result.dry_run else "Merged"
    out.print(plain(f"{verb} {result.file}" + (f" into {into}" if into else "")))
    table = Table("table", "new rows", box=None, pad_edge=False)
    for name, number in result.counts.items():
        table.add_row(name, str(number))
    out.print(table)
    if result.new_probes_by_source:
        out.print("new probes by source: " + ", ".join(
            f"{k} {v}" for k, v in sorted(result.new_probes_by_source.items())))
    if unknown:
        out.print(plain(f"{len(unknown)} companies not in the config: " + ", ".join(unknown)))
    if result.dry_run:
        out.print("Dry run: nothing was changed.")
        return
    if result.batch:
        out.print(f"Merge batch {result.batch} (undo with: svcbench db unmerge "
                  f"{result.batch[:8]})")
    else:
        out.print("Nothing new: no batch recorded.")
    out.print(f"{len(result.touched)} probes changed; {recomputed} measurements recomputed")


@db_app.command("unmerge")
def unmerge(
    batch: str = typer.Argument(..., help="The merge batch id (or its first 4+ characters)."),
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove everything one merge batch added (its probes, events and company rows)."""
    from ..errors import StoreError
    from ..lifecycle import recompute

    ws = open_workspace(workspace)
    try:
        result = ws.store.unmerge(batch)
    except StoreError as exc:
        fail(str(exc))
    recomputed = recompute(ws.store, ws.config, result["recompute"]) if result["recompute"] \
        else 0
    result["recomputed"] = recomputed
    if as_json:
        print_json(result)
        return
    if result["already_removed"]:
        console().print(plain(f"Batch {result['batch']} ({result['file']}) was already "
                             "removed; nothing changed."))
        return
    console().print(plain(f"Removed batch {result['batch']} ({result['file']}): "
                         f"{result['probes']} probes, {result['events']} other events, "
                         f"{result['companies']} company rows; {recomputed} measurements "
                         "recomputed"))


#: the keys of `db batches --json` objects and the --csv columns
BATCH_KEYS = ["id", "file", "merged_at", "probes", "events", "companies", "unknown_companies",
              "unmerged_at"]


@db_app.command("batches")
@output_options
def batches(
    workspace: Path | None = WorkspaceOption,
    out: Output = Output(),
) -> None:
    """The merge batches of this database: file, when, what each added, removed or not."""
    ws = open_workspace(workspace)
    rows = [{key: row[key] for key in BATCH_KEYS} for row in ws.store.merge_batches()]
    out.emit(rows, table=_batches_table, columns=BATCH_KEYS)


def _batches_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table("batch", "file", "merged at", "probes", "events", "companies", "unknown",
                  "removed", box=None, pad_edge=False)
    for row in rows:
        table.add_row(row["id"][:8], row["file"], row["merged_at"][:19], str(row["probes"]),
                      str(row["events"]), str(row["companies"]),
                      str(len(row["unknown_companies"])), (row["unmerged_at"] or "")[:19])
    console().print(table if rows else "No merge batches.")


@db_app.command("recompute")
def recompute_command(
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Derive every finished probe's measurement again from its events."""
    from ..lifecycle import recompute

    ws = open_workspace(workspace)
    count = recompute(ws.store, ws.config)
    if as_json:
        print_json({"recomputed": count})
    else:
        console().print(f"Recomputed {count} measurements")


def database_info(store: Any) -> dict[str, Any]:
    """Path, size, journal mode, applied migrations and row counts of a store."""
    path = Path(store.path)
    conn = store.conn
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name")]
    wal = path.with_name(path.name + "-wal")
    return {
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
        "migrations": [
            {"set": r[0], "name": r[1], "applied_at": r[2]}
            for r in conn.execute("SELECT migration_set, name, applied_at "
                                  "FROM _svcbench_migrations ORDER BY applied_at, name")
        ],
        "tables": {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                   for t in tables},
    }


@db_app.command("info")
@output_options
def info(
    workspace: Path | None = WorkspaceOption,
    out: Output = Output(),
) -> None:
    """Where the database is, its size, journal mode, migrations and row counts.

    --json prints one object (path, size_bytes, wal_bytes, journal_mode, migrations, tables);
    --csv and --nl one row per table (table, rows).
    """
    ws = open_workspace(workspace)
    data = database_info(ws.store)
    rows = [{"table": name, "rows": number} for name, number in data["tables"].items()]
    out.emit_document(data, rows, table=lambda: _print_info(data), columns=["table", "rows"])


def _print_info(data: dict[str, Any]) -> None:
    from rich.table import Table

    out = console()
    out.print(markup("[bold]{}[/bold]", data["path"]))
    out.print(f"  size {data['size_bytes']:,} bytes (+{data['wal_bytes']:,} in the WAL), "
              f"journal mode {data['journal_mode']}")
    out.print("  migrations: " + ", ".join(f"{m['set']}.{m['name']}" for m in data["migrations"]))
    table = Table("table", "rows", box=None, pad_edge=False)
    for name, number in data["tables"].items():
        table.add_row(name, f"{number:,}")
    out.print(table)
