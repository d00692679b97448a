"""The database for analysts: views with names, and Datasette metadata hiding internals."""

from __future__ import annotations

import json
import sqlite3


def test_views_and_metadata(workspace_dir, cli, tmp_path):
    for day in ("02", "03"):
        done = cli("log", "call", "northwind-outfitters", "--at", f"2026-03-{day}T10:15",
                   "--agent-after", "95", cwd=workspace_dir)
        assert done.returncode == 0, done.stderr
    target = tmp_path / "metadata.json"
    done = cli("datasette-metadata", "-o", str(target), cwd=workspace_dir)
    assert done.returncode == 0, done.stderr
    tables = json.loads(target.read_text())["databases"]["svcbench"]["tables"]
    for internal in ("_svcbench_migrations", "measurement_columns", "measurement_slices",
                     "cursors", "meta"):
        assert tables[internal] == {"hidden": True}
    for shown in ("probes", "measurements", "probe_results", "replies",
                  "company_channel_quarters"):
        assert tables[shown]["description"] and not tables[shown].get("hidden")
    assert tables["companies"]["label_column"] == "name"
    with sqlite3.connect(workspace_dir / "svcbench.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM probe_results ORDER BY started_at").fetchall()
        assert [r["company_name"] for r in rows] == ["Northwind Outfitters"] * 2
        assert {r["source"] for r in rows} == {"manual"}
        assert rows[0]["wait_s"] == 95 and rows[0]["answered_by_human"] == 1
        [summary] = conn.execute("SELECT * FROM company_channel_quarters").fetchall()
        assert (summary["probes"], summary["answered_by_human"]) == (2, 2)


def test_a_probe_of_a_company_without_a_row_is_kept_and_shown(workspace_dir):
    """Why company columns are slugs, not foreign keys: a merged or imported probe may name
    a company this database has no row for; it must be stored, and the views still list it."""
    from svcbench.models import Channel, Probe, ProbeStatus, new_id, utcnow
    from svcbench.workspace import Workspace

    ws = Workspace.open(workspace_dir)
    try:
        probe = Probe(id=new_id(), company="not-in-any-config", channel=Channel.EMAIL,
                      plugin="email", status=ProbeStatus.PLANNED, due_at=utcnow())
        ws.store.add_probe(probe)
        [row] = ws.store.conn.execute(
            "SELECT company, company_name FROM probe_results WHERE probe_id = ?",
            (probe.id,)).fetchall()
        assert tuple(row) == ("not-in-any-config", None)
    finally:
        ws.close()
