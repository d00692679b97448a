"""Reading a workspace database directly, to prove a failed command changed nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

TABLES = ("probes", "events", "measurements")


def db_rows(workspace_dir: Path, database: str = "svcbench.db") -> dict[str, list[tuple]]:
    """Every probe, event and measurement row, sorted, to compare before and after."""
    conn = sqlite3.connect(Path(workspace_dir) / database)
    try:
        return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall())
                for table in TABLES}
    finally:
        conn.close()
