"""Stored plans follow their inputs: nothing re-planned while nothing changed, and a changed
calendar or campaign moves only the future, never-tried probes it concerns."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from svcbench.models import Outcome, ProbeStatus
from svcbench.plan_sync import sync_plans
from svcbench.planning import quarter_bounds
from svcbench.workspace import Workspace

NOW = datetime(2026, 10, 20, 12, tzinfo=UTC)


def sync(root: Path, now: datetime = NOW, **kwargs):
    ws = Workspace.open(root)
    try:
        return sync_plans(ws.store, ws.config, now, **kwargs)
    finally:
        ws.close()


def plan_rows(root: Path) -> dict[str, tuple]:
    ws = Workspace.open(root)
    try:
        return {r[0]: r[1:] for r in ws.store.conn.execute(
            "SELECT id, company, channel, status, outcome, due_at, deadline_at, scenario, "
            "state, token, updated_at FROM probes")}
    finally:
        ws.close()


def edit(root: Path, file: str, old: str, new: str) -> None:
    path = root / "probes" / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_unchanged_inputs_plan_nothing_and_change_no_row(workspace_dir):
    first = sync(workspace_dir)
    assert first.added and first.replanned == 2 and first.unchanged == 0
    before = plan_rows(workspace_dir)
    assert len(before) == first.planned == len(first.added)
    again = sync(workspace_dir, NOW + timedelta(hours=3))
    assert (again.replanned, again.added, again.moved, again.cancelled) == (0, [], [], [])
    assert again.unchanged == 2 and again.planned == first.planned
    assert plan_rows(workspace_dir) == before  # not even updated_at moved


def test_a_calendar_change_moves_only_that_companys_future_untried_probes(workspace_dir):
    sync(workspace_dir)
    before = plan_rows(workspace_dir)
    later = NOW + timedelta(days=20)
    # one northwind probe was started meanwhile, one is due but not yet started
    ws = Workspace.open(workspace_dir)
    mine = sorted((p for p in ws.store.probes(company="northwind-outfitters")),
                  key=lambda p: p.due_at)
    future = [p for p in mine if p.due_at > later]
    started, due = future[0], [p for p in mine if p.due_at <= later][-1]
    ws.store.update_probe(started.id, status=ProbeStatus.RUNNING, attempts=1,
                          started_at=later)
    ws.close()
    edit(workspace_dir, "companies.toml", 'mon = ["09:00-18:00"]', 'mon = ["07:00-11:00"]')
    result = sync(workspace_dir, later)
    assert result.replanned == 1 and result.unchanged == 1 and not result.added
    after = plan_rows(workspace_dir)
    moved = {i for i in after if after[i][4] != before[i][4]}
    assert moved == {p.id for p in result.moved} and moved
    assert all(before[i][0] == "northwind-outfitters" for i in moved)
    assert started.id not in moved and due.id not in moved
    assert all(datetime.fromisoformat(after[i][4]) > later for i in moved)
    # the moved probes keep their ids and tokens; the other company's rows are untouched
    assert all(after[i][8] == before[i][8] for i in moved)
    assert {i: r for i, r in after.items() if r[0] != "northwind-outfitters"} == {
        i: r for i, r in before.items() if r[0] != "northwind-outfitters"}
    # the new due times follow the new hours, as planned from scratch would
    ws = Workspace.open(workspace_dir)
    calendar = ws.config.companies["northwind-outfitters"].calendar()
    for probe in result.moved:
        assert probe.state["out_of_hours"] == (not calendar.is_open(probe.due_at))
    ws.close()
    # and planning again is quiet
    assert sync(workspace_dir, later).replanned == 0


def test_a_campaign_change_replans_every_company(workspace_dir):
    sync(workspace_dir)
    edit(workspace_dir, "campaigns.toml", "seed = 7", "seed = 8")
    result = sync(workspace_dir, NOW + timedelta(minutes=5))
    assert result.replanned == 2 and result.unchanged == 0
    assert result.moved and not result.added and not result.cancelled


def test_fewer_probes_and_a_company_leaving_cancel_future_planned_probes(workspace_dir):
    first = sync(workspace_dir)
    edit(workspace_dir, "campaigns.toml", "probes_per_quarter = 6", "probes_per_quarter = 4")
    result = sync(workspace_dir, NOW + timedelta(minutes=5))
    assert result.cancelled
    ws = Workspace.open(workspace_dir)
    for probe_id in result.cancelled:
        probe = ws.store.get_probe(probe_id)
        assert probe.status == ProbeStatus.DONE and probe.outcome == Outcome.CANCELLED
        assert probe.state["plan_index"] >= 4 and "plan" in probe.outcome_reason
    ws.close()
    edit(workspace_dir, "companies.toml", 'id = "fabrikam-home"\nname = "Fabrikam Home"\n'
         'industry = "retail"', 'id = "fabrikam-home"\nname = "Fabrikam Home"\n'
         'industry = "garden"')
    left = sync(workspace_dir, NOW + timedelta(minutes=10))
    ws = Workspace.open(workspace_dir)
    fabrikam = ws.store.probes(company="fabrikam-home")
    assert fabrikam and all(p.outcome == Outcome.CANCELLED for p in fabrikam)
    assert set(left.cancelled) == {p.id for p in fabrikam} - set(result.cancelled)
    ws.close()
    assert len(first.added) > 0


def test_a_new_quarter_is_planned_once(workspace_dir):
    edit(workspace_dir, "campaigns.toml", 'quarter = "2026Q4"\n', "")
    sync(workspace_dir)
    january = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    result = sync(workspace_dir, january)
    start, end = quarter_bounds("2027Q1")
    assert result.added and all(start <= p.due_at < end for p in result.added)
    assert result.sizes == {("retail-q4", "2027Q1"): len(result.added)}
    assert sync(workspace_dir, january + timedelta(minutes=1)).replanned == 0


def test_dry_run_writes_nothing(workspace_dir):
    result = sync(workspace_dir, dry_run=True)
    assert result.added and plan_rows(workspace_dir) == {}
    assert sync(workspace_dir).added  # and it was not recorded as planned either


@pytest.mark.parametrize("query", ["due", "running", "starting"])
def test_tick_reads_probes_through_indexes(workspace, query):
    """EXPLAIN QUERY PLAN of the tick's probe queries: a search on an index, never a scan."""
    status = {"due": "planned", "running": "running", "starting": "starting"}[query]
    sql = ("SELECT * FROM probes WHERE status IN (?) AND due_at <= ? ORDER BY due_at, "
           "created_at, id" if query == "due" else
           "SELECT * FROM probes WHERE status IN (?) ORDER BY due_at, created_at, id")
    params = [status, "2026-10-20T00:00:00.000000Z"] if query == "due" else [status]
    plan = " / ".join(r[3] for r in workspace.store.conn.execute(
        "EXPLAIN QUERY PLAN " + sql, params))
    assert "SEARCH probes USING INDEX probes_status_due" in plan, plan
    assert "SCAN probes" not in plan, plan


def test_an_idle_tick_builds_no_calendar_and_draws_nothing(workspace_dir, monkeypatch):
    import asyncio

    import svcbench.hours
    from svcbench.schedule import Ticker

    built = []
    real = svcbench.hours.BusinessCalendar.timeline
    monkeypatch.setattr(svcbench.hours.BusinessCalendar, "timeline",
                        lambda self, a, b: built.append(self) or real(self, a, b))

    def run_tick(now):
        ws = Workspace.open(workspace_dir)
        try:
            return asyncio.run(Ticker(ws, now=lambda: now, dry_run=True).run())
        finally:
            ws.close()

    sync(workspace_dir)
    assert built
    built.clear()
    report = run_tick(NOW + timedelta(minutes=1))
    assert report.planned == 0 and built == []


# -- a big first plan drawn in worker processes ------------------------------------------------

DRAW_SCRIPT = """
import json, os, sys
from datetime import UTC, datetime
from pathlib import Path
from svcbench import plan_sync
from svcbench.workspace import Workspace

if sys.argv[2] == "a-worker-dies":
    drawn_chunk = plan_sync._drawn_chunk

    def dying(chunk):
        _, companies, *_ = plan_sync._FORKED  # what the workers inherit
        if any(company.id == "co050" for company in companies[chunk[0]:chunk[1]]):
            os._exit(9)  # as a worker killed by the OOM killer
        return drawn_chunk(chunk)

    plan_sync._drawn_chunk = dying
if sys.argv[2] == "storing-fails":
    first_plan = plan_sync._first_plan

    def failing(store, campaign, company, *args):
        if company.id == "co050":
            raise OSError("disk on fire")
        return first_plan(store, campaign, company, *args)

    plan_sync._first_plan = failing
ws = Workspace.open(Path(sys.argv[1]))
result = plan_sync.sync_plans(ws.store, ws.config, datetime(2026, 10, 20, 12, tzinfo=UTC),
                              keep=3)
print(json.dumps({"workers": result.workers, "added": result.n_added,
                  "shown": [p.id for p in result.added]}))
"""


def big_workspace(root: Path, companies: int) -> Path:
    from svcbench.tomlwrite import toml_table
    from svcbench.workspace import init_workspace

    root = init_workspace(root, examples=False)
    parts = [toml_table("scenario", {"id": "shipping", "subject": "Norway?",
                                     "question": "Do you ship to Norway?"})]
    for i in range(companies):
        parts.append(toml_table("company", {
            "id": f"co{i:03d}", "name": f"Company {i}", "timezone": ("Europe/Berlin",
                                                                      "America/New_York")[i % 2],
            "hours": {d: [f"{8 + i % 3:02d}:00-17:00"] for d in ("mon", "tue", "wed", "thu")},
            "holidays": {"country": ("DE", "US")[i % 2]},
            "closed_dates": [f"2026-11-{1 + i % 28:02d}"],
            "channels": {"email": {"address": f"help@co{i:03d}.test"},
                         "phone": {"number": f"+49 89 555 {i:04d}"}}}))
    parts.append(toml_table("campaign", {
        "id": "big", "channels": ["email", "phone"], "scenarios": ["shipping"],
        "quarter": "2026Q4", "probes_per_quarter": 60, "seed": 3}))
    (root / "probes" / "big.toml").write_text("\n".join(parts))
    return root


def probe_indexes(root: Path) -> list[tuple]:
    with sqlite3.connect(root / "svcbench.db") as conn:
        return conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                            "AND tbl_name = 'probes' ORDER BY name").fetchall()


def draw_in_process(root: Path, workers: str, mode: str = "") -> tuple[dict, list[tuple]]:
    subprocess.run([sys.executable, "-m", "svcbench", "db", "info", "-w", str(root)],
                   check=True, capture_output=True)  # the database, migrated
    indexes = probe_indexes(root)
    assert len(indexes) >= 5
    done = subprocess.run([sys.executable, "-c", DRAW_SCRIPT, str(root), mode or "-"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SVCBENCH_PLAN_WORKERS": workers})
    assert probe_indexes(root) == indexes  # dropped while storing, built again
    if mode == "storing-fails":
        assert done.returncode == 1 and "disk on fire" in done.stderr
        with sqlite3.connect(root / "svcbench.db") as conn:
            assert conn.execute("SELECT count(*) FROM probes").fetchone() == (0,)
        return {}, []
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(root / "svcbench.db") as conn:
        rows = conn.execute(
            "SELECT id, campaign, company, channel, plugin, scenario, shopper, status, due_at, "
            "deadline_at, state, source, length(token) FROM probes ORDER BY id").fetchall()
        (tokens,) = conn.execute("SELECT count(DISTINCT token) FROM probes").fetchone()
    assert tokens == len(rows)
    return json.loads(done.stdout), rows


def test_a_big_first_plan_drawn_by_workers_equals_the_one_drawn_here(tmp_path):
    # 90 companies x 2 channels x 60 probes: over BIG_PLAN
    serial, alone = draw_in_process(big_workspace(tmp_path / "one", 90), "1")
    parallel, workers = draw_in_process(big_workspace(tmp_path / "two", 90), "2")
    assert serial["workers"] == 1 and parallel["workers"] == 2
    assert serial["added"] == parallel["added"] == len(alone) > 10_000
    assert workers == alone
    assert parallel["shown"] == serial["shown"] and len(parallel["shown"]) == 3
    # a worker that dies leaves its companies to this process: the same plan, nothing lost
    died, rows = draw_in_process(big_workspace(tmp_path / "dies", 90), "2", "a-worker-dies")
    assert died["workers"] == 1 and rows == alone
    # a failure while storing rolls the whole plan back, indexes included
    failed = big_workspace(tmp_path / "fails", 90)
    assert draw_in_process(failed, "2", "storing-fails") == ({}, [])


def test_a_bad_worker_count_is_one_clear_line(tmp_path, cli):
    root = big_workspace(tmp_path / "ws", 2)
    done = cli("plan", "-w", str(root), env={"SVCBENCH_PLAN_WORKERS": "two",
                                             "SVCBENCH_NO_FAST_PATH": "1"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "svcbench: error: environment variable SVCBENCH_PLAN_WORKERS: must be a whole number of "
        "worker processes, 1 or more, not 'two'"]
