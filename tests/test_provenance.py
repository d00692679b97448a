"""Provenance end to end: sources on probes, merge batches (dry run, unknown companies,
unmerge), simulated data kept out of reports unless asked, channel validation."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from svcbench.simulate import simulate
from svcbench.store import Store


def run_json(cli, *args: str, cwd: Path, **kw) -> dict:
    done = cli(*args, "--json", cwd=cwd, **kw)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [line for line in conn.iterdump() if "merge_new" not in line]
    finally:
        conn.close()


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    """A database like the demo's: simulated companies and probes only."""
    path = tmp_path / "demo.db"
    with Store(path) as store:
        simulate(store, companies=6, quarters=1, end_quarter="2026Q4", seed=1,
                 probes_per_company_channel=4)
    return path


def _log_calls(cli, ws: Path) -> None:
    for company, waits in (("northwind-outfitters", ("25s", "40s", "1m")),
                           ("fabrikam-home", ("2m", "3m", "90s"))):
        for day, wait in enumerate(waits, start=2):
            done = cli("log", "call", company, "--at", f"2026-11-{day:02d}T10:00",
                       "--agent-after", wait, cwd=ws, env={"SVCBENCH_REGION": "eu-west"})
            assert done.returncode == 0, done.stderr


def test_merging_a_demo_database_into_a_real_workspace(workspace_dir, demo_db, cli):
    ws = workspace_dir
    _log_calls(cli, ws)
    db = ws / "svcbench.db"
    with sqlite3.connect(db) as conn:
        assert set(conn.execute("SELECT source, region FROM probes")) == {("manual", "eu-west")}
    before = dump(db)

    # not on a terminal and no flag: refused in one line, nothing changed
    refused = cli("db", "merge", str(demo_db), cwd=ws)
    assert refused.returncode == 2
    assert "6 companies not in this workspace's config" in refused.stderr
    assert "--allow-unknown-companies" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and dump(db) == before

    preview = run_json(cli, "db", "merge", str(demo_db), "--dry-run", cwd=ws)
    assert preview["dry_run"] is True and preview["batch"] is not None
    assert len(preview["unknown_companies"]) == 6
    probes = preview["new_rows"]["probes"]
    assert preview["new_probes_by_source"] == {"simulated": probes} and probes > 50
    assert dump(db) == before

    merged = run_json(cli, "db", "merge", str(demo_db), "--allow-unknown-companies", cwd=ws)
    assert merged["new_rows"]["probes"] == probes
    batch = merged["batch"]
    again = run_json(cli, "db", "merge", str(demo_db), "--allow-unknown-companies", cwd=ws)
    assert again["batch"] is None and set(again["new_rows"].values()) == {0}
    [recorded] = run_json(cli, "db", "batches", cwd=ws)
    assert recorded["id"] == batch and recorded["probes"] == probes
    assert len(recorded["unknown_companies"]) == 6
    as_csv = cli("db", "batches", "--csv", cwd=ws).stdout.splitlines()
    assert as_csv[0] == "id,file,merged_at,probes,events,companies,unknown_companies,unmerged_at"
    assert len(as_csv) == 2 and as_csv[1].startswith(f"{batch},")

    # the report shows only what the user chose, and says where the numbers came from
    out = ws / "out"
    done = cli("report", "-p", "2026-11", "-f", "json", "-f", "csv", "-o", str(out), cwd=ws)
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "rankings-2026-11.json").read_text())
    assert {r["company"] for r in doc["rankings"]} == {"northwind-outfitters", "fabrikam-home"}
    assert doc["includes_simulated"] is False and doc["notice"] is None
    sources = {(s["source"], s["merge_batch"]): s for s in doc["methodology"]["sources"]}
    assert sources[("manual", None)]["included"] is True
    assert sources[("manual", None)]["probes"] == 6
    sim = [s for (kind, _), s in sources.items() if kind == "simulated"]
    assert sim and all(not s["included"] and s["merge_batch"] == batch
                       and s["file"] == str(demo_db) for s in sim)
    assert "left out" in sim[0]["text"] and "demo.db" in sim[0]["text"]

    mixed = cli("report", "-p", "2026-11", "--include-simulated", "-f", "csv", "-o", str(out),
                cwd=ws)
    assert mixed.returncode == 0, mixed.stderr
    marked = (out / "rankings-2026-11-incl-simulated.csv").read_text()
    assert "simulated_n" in marked.splitlines()[0]

    removed = run_json(cli, "db", "unmerge", batch[:8], cwd=ws)
    assert removed["probes"] == probes and removed["already_removed"] is False
    assert removed["companies"] == 6
    twice = run_json(cli, "db", "unmerge", batch, cwd=ws)
    assert twice["already_removed"] is True and twice["probes"] == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM probes WHERE source = 'simulated'"
                            ).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM measurements WHERE source = 'simulated'"
                            ).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM probes").fetchone()[0] == 6
    unknown = cli("db", "unmerge", "ffffffff", cwd=ws)
    assert unknown.returncode == 2 and "not found" in unknown.stderr


def test_channel_a_company_does_not_offer_is_refused_unless_overridden(workspace_dir, cli,
                                                                       tmp_path):
    ws = workspace_dir
    # contoso-telecom lists email, phone and chat: no returns
    refused = cli("log", "return", "contoso-telecom", "--requested", "2026-11-02", cwd=ws)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "contoso-telecom does not offer returns" in refused.stderr
    assert "--allow-unlisted-channel" in refused.stderr
    kept = cli("log", "return", "contoso-telecom", "--requested", "2026-11-02",
               "--refunded", "2026-11-09", "--allow-unlisted-channel", cwd=ws)
    assert kept.returncode == 0, kept.stderr

    rows = tmp_path / "returns.csv"
    rows.write_text("company,requested_at,refunded_at\n"
                    "contoso-telecom,2026-10-01,2026-10-05\n"
                    "northwind-outfitters,2026-10-01,2026-10-06\n")
    partly = cli("import", "csv", str(rows), "--channel", "returns", cwd=ws)
    assert partly.returncode == 2
    assert "line 2, column company: contoso-telecom does not offer returns" in partly.stderr
    assert "imported 1, rejected 1" in partly.stdout
    forced = run_json(cli, "import", "csv", str(rows), "--channel", "returns",
                      "--allow-unlisted-channel", cwd=ws)
    assert forced["imported"] == 1 and forced["already_present"] == 1
    with sqlite3.connect(ws / "svcbench.db") as conn:
        found = set(conn.execute("SELECT company, source, source_detail FROM probes"))
    assert found == {("contoso-telecom", "manual", None),
                     ("contoso-telecom", "csv", "returns.csv"),
                     ("northwind-outfitters", "csv", "returns.csv")}


def test_migration_infers_sources_and_local_periods(tmp_path):
    """A database from before m003: sources inferred, quarters moved to local time."""
    from svcbench.store._migrations import core

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    names = [n for n, _ in core._functions]
    for name, fn in core._functions[:names.index("m003_provenance_and_local_periods")]:
        fn(db)
        conn.execute("CREATE TABLE IF NOT EXISTS _svcbench_migrations (migration_set TEXT, "
                     "name TEXT, applied_at TEXT, PRIMARY KEY (migration_set, name))")
        conn.execute("INSERT INTO _svcbench_migrations VALUES ('core', ?, 'x')", (name,))
    conn.execute("INSERT INTO companies VALUES ('c', 'ny', 'NY', 'x', "
                 "'{\"timezone\": \"America/New_York\"}', 'x')")
    probes = [("a", "email", "{}", None), ("b", "phone", '{"imported_from": "x.csv"}', None),
              ("c", "phone", "{}", None), ("d", "simulated", "{}", "simulated")]
    for pid, plugin, state, campaign in probes:
        conn.execute("INSERT INTO probes (id, campaign, company, channel, plugin, status, "
                     "state, created_at, updated_at) VALUES (?, ?, 'ny', 'email', ?, 'done', "
                     "?, 'x', 'x')", (pid, campaign, plugin, state))
        conn.execute("INSERT INTO measurements (probe_id, company, channel, quarter, outcome, "
                     "started_at, answered_by_human, computed_at) VALUES (?, 'ny', 'email', "
                     "'2027Q1', 'answered', '2027-01-01T04:30:00.000000Z', 1, 'x')", (pid,))
    conn.commit()
    conn.close()
    with Store(path) as store:
        rows = store.conn.execute("SELECT p.id, p.source, m.source, m.quarter, m.month FROM "
                                  "probes p JOIN measurements m ON m.probe_id = p.id "
                                  "ORDER BY p.id").fetchall()
    assert rows == [("a", "live", "live", "2026Q4", "2026-12"),
                    ("b", "csv", "csv", "2026Q4", "2026-12"),
                    ("c", "manual", "manual", "2026Q4", "2026-12"),
                    ("d", "simulated", "simulated", "2026Q4", "2026-12")]


def test_on_a_terminal_an_unknown_company_merge_asks_first(workspace_dir, demo_db):
    """stdin is a real pseudo-terminal: the merge warns, asks, and obeys the answer."""
    import os
    import subprocess

    from conftest import SVCBENCH

    def merge(answer: str) -> subprocess.CompletedProcess:
        leader, follower = os.openpty()
        try:
            os.write(leader, answer.encode())
            return subprocess.run([str(SVCBENCH), "db", "merge", str(demo_db)],
                                  cwd=workspace_dir, stdin=follower, capture_output=True,
                                  text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
        finally:
            os.close(follower)
            os.close(leader)

    db = workspace_dir / "svcbench.db"
    declined = merge("n\n")
    assert declined.returncode == 1, declined.stderr
    assert "6 companies not in this workspace's config" in declined.stdout
    assert "Merge them anyway?" in declined.stdout and "nothing was merged" in declined.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM probes").fetchone()[0] == 0
    accepted = merge("y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "Merge batch" in accepted.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM probes WHERE source = 'simulated' AND "
                            "merge_batch IS NOT NULL").fetchone()[0] > 50
