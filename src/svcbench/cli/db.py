"""Commands: db merge (combine shoppers' databases), db recompute, db info."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..render.safe import markup
from ._app import app
from ._common import JsonOption, WorkspaceOption, console, fail, open_workspace, print_json

db_app = typer.Typer(help="The results database: merge shoppers' files, recompute, inspect.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("merge")
def merge(
    other: Path = typer.Argument(..., help="Another svcbench database (e.g. a shopper's)."),
    workspace: Path | None = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Copy another database's probes, events and results into this workspace's database.

    Safe to repeat: merging the same file again adds nothing, and merging several shoppers'
    files in any order gives the same result. Measurements of the finished probes that came
    in are derived again with this workspace's rules.
    """
    from ..errors import SvcbenchError
    from ..lifecycle import recompute

    ws = open_workspace(workspace)
    touched: set[str] = set()
    counts = ws.store.merge(other, touched=touched)
    try:
        recomputed = recompute(ws.store, ws.config, touched) if touched else 0
    except SvcbenchError as exc:
        fail(f"merged {sum(counts.values())} new rows from {other}, but measuring them failed: "
             f"{exc} (fix it, then run 'svcbench db recompute')", code=exc.exit_code)
    result = {"merged": str(other), "into": str(ws.store.path), "new_rows": counts,
              "probes_changed": len(touched), "recomputed": recomputed}
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    out = console()
    out.print(markup("Merged [bold]{}[/bold] into {}", other, ws.store.path))
    table = Table("table", "new rows", box=None, pad_edge=False)
    for name, number in counts.items():
        table.add_row(name, str(number))
    out.print(table)
    out.print(f"{len(touched)} probes changed; {recomputed} measurements recomputed")


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
def info(workspace: Path | None = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Where the database is, its size, journal mode, migrations and row counts."""
    ws = open_workspace(workspace)
    data = database_info(ws.store)
    if as_json:
        print_json(data)
        return
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
