"""The idle fast path of ``tick`` and ``plan``: taken only when the full run would do nothing.

Which path ran is told by the modules the process imported (the fast path imports neither
typer nor pydantic) and by what it did, never by timing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fake_probe import ENV
from svcbench import fastpath
from svcbench.models import Channel, Probe, ProbeStatus, format_instant, utcnow
from svcbench.planning import quarter_bounds
from svcbench.workspace import Workspace, init_workspace

HEAVY = ("typer", "rich", "pydantic", "sqlite_utils", "asyncio")
#: runs the console script's entry point and says which heavy modules it imported
WRAP = f"""import atexit, sys
atexit.register(lambda: sys.stderr.write(
    "\\nHEAVY " + ",".join(m for m in {HEAVY!r} if m in sys.modules) + "\\n"))
from svcbench.launch import main
sys.argv = ["svcbench", *sys.argv[1:]]
main()
"""


def _next_quarter() -> str:
    _, end = quarter_bounds(fastpath.quarter_of(utcnow()))
    return fastpath.quarter_of(end)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """A workspace whose one campaign is planned for next quarter: nothing due yet."""
    monkeypatch.setenv("SVCBENCH_EXTRA_PROBES", ENV["SVCBENCH_EXTRA_PROBES"])
    root = init_workspace(tmp_path / "ws", examples=False)
    (root / "probes" / "fake.toml").write_text(f"""
[[company]]
id = "fake-co"
name = "Fake Company"
[company.channels.chat]
plugin = "fake"
ledger = "{tmp_path / "ledger.txt"}"

[[scenario]]
id = "ask"
question = "Do you ship to Norway?"

[[campaign]]
id = "later"
channels = ["chat"]
scenarios = ["ask"]
quarter = "{_next_quarter()}"
probes_per_quarter = 3
""")
    return root


def run(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    env = {**os.environ, **ENV, "COLUMNS": "200"}
    env.pop("SVCBENCH_NO_FAST_PATH", None)
    done = subprocess.run([sys.executable, "-c", WRAP, *args, "-w", str(root)], env=env,
                          capture_output=True, text=True, timeout=120)
    line = next(x for x in done.stderr.splitlines() if x.startswith("HEAVY"))
    return done, set(filter(None, line.split()[1].split(","))) if len(line.split()) > 1 else set()


def tick(root: Path, *args: str) -> tuple[dict, set[str]]:
    done, heavy = run(root, "tick", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), heavy


def ledger(root: Path) -> list[str]:
    path = root.parent / "ledger.txt"
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def add_probe(root: Path, probe_id: str, *, due=timedelta(minutes=-1), plugin="fake",
              deadline=timedelta(hours=1), status=ProbeStatus.PLANNED, state=None) -> None:
    ws = Workspace.open(root)
    now = utcnow()
    ws.store.add_probe(Probe(id=probe_id, company="fake-co", channel=Channel.CHAT,
                             plugin=plugin, due_at=now + due, deadline_at=now + deadline,
                             status=status, token=f"t-{probe_id}", state=state or {},
                             started_at=now if status == ProbeStatus.RUNNING else None))
    ws.close()


def test_an_idle_tick_takes_the_fast_path_and_reports_like_a_full_one(ws, tmp_path):
    full, heavy = tick(ws)
    assert not full["fast_path"] and {"typer", "pydantic"} <= heavy
    assert full["planned"] == 3
    log = tmp_path / "tick.log"
    idle, heavy = tick(ws, "--log-file", str(log))
    assert idle["fast_path"] and heavy == set()
    assert set(idle) == set(full) and idle["planned"] == 0 and idle["started"] == 0
    assert idle["budget_s"] == full["budget_s"]
    assert "INFO tick: {'planned': 0" in log.read_text()
    # --dry-run, --probe or anything unusual is never answered by the fast path
    done, heavy = run(ws, "tick", "--dry-run")
    assert done.returncode == 0 and "typer" in heavy


def test_a_due_probe_is_started_by_a_full_tick_once(ws):
    tick(ws)
    assert tick(ws)[0]["fast_path"]
    add_probe(ws, "due-1")
    report, heavy = tick(ws)
    assert not report["fast_path"] and "pydantic" in heavy
    assert report["started"] == 1 and ledger(ws) == ["due-1"]
    # answered and done: idle again, and the probe is never started again
    assert tick(ws)[0]["fast_path"] and ledger(ws) == ["due-1"]


def test_a_running_probe_is_advanced_and_a_stale_claim_recovered(ws):
    tick(ws)
    add_probe(ws, "claimed", status=ProbeStatus.STARTING,
              state={"claimed_at": format_instant(utcnow() - timedelta(hours=1)),
                     "claimed_by": 999999999})
    report, heavy = tick(ws)
    assert not report["fast_path"] and "pydantic" in heavy
    assert report["finished"] == {"failed": 1}  # no evidence it was sent: never sent again
    assert ledger(ws) == []
    add_probe(ws, "running", status=ProbeStatus.RUNNING, due=timedelta(minutes=-5))
    report, _ = tick(ws)
    assert not report["fast_path"] and report["finished"] == {"answered": 1}
    assert tick(ws)[0]["fast_path"]


def test_a_config_edit_or_code_change_runs_the_full_tick(ws):
    tick(ws)
    assert tick(ws)[0]["fast_path"]
    path = ws / "probes" / "fake.toml"
    path.write_text(path.read_text().replace("probes_per_quarter = 3", "probes_per_quarter = 4"))
    report, heavy = tick(ws)
    assert not report["fast_path"] and report["planned"] == 1 and "pydantic" in heavy
    assert tick(ws)[0]["fast_path"]
    settings = ws / "svcbench.toml"
    settings.write_text(settings.read_text().replace(
        "[workspace]\n", '[workspace]\nprometheus_textfile = "svcbench.prom"\n'))
    for _ in range(2):  # the textfile is rewritten by every tick
        assert not tick(ws)[0]["fast_path"]
    assert (ws / "svcbench.prom").is_file()


def test_a_held_or_stale_lock_goes_to_the_full_tick(ws):
    tick(ws)
    (ws / fastpath.LOCK_FILE).write_text("pid 999999999 since 2026-01-01T00:00:00+00:00\n")
    report, heavy = tick(ws)
    assert not report["fast_path"] and report["stale_lock"] and "pydantic" in heavy
    import fcntl

    with (ws / fastpath.LOCK_FILE).open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done, heavy = run(ws, "tick", "--json")
    assert done.returncode == 75 and "typer" in heavy


def _check(root: Path, now):
    digest = fastpath.inputs_digest(root)
    conn = sqlite3.connect(root / "svcbench.db")
    try:
        return fastpath._tick_idle(conn, digest, now), fastpath._plan_unchanged(conn, digest, now)
    finally:
        conn.close()


def test_a_new_quarter_and_waiting_probes_coming_due_are_not_idle(ws):
    """Manual probes due but not yet past their deadline, and retries in backoff, wait
    without keeping ticks from the fast path, until their time comes; a new quarter has
    plans to make."""
    add_probe(ws, "manual", plugin="phone", deadline=timedelta(hours=2))
    retry_at = utcnow() + timedelta(hours=1)
    add_probe(ws, "backoff", state={"next_attempt_at": retry_at.isoformat()})
    report, _ = tick(ws)
    assert report["started"] == 0 and not report["fast_path"]
    report, heavy = tick(ws)
    assert report["fast_path"] and heavy == set()
    now = utcnow()
    assert all(_check(ws, now))
    assert _check(ws, now + timedelta(minutes=61))[0] is None  # the retry is due
    start, end = quarter_bounds(fastpath.quarter_of(now))
    assert _check(ws, end) == (None, None)  # a new quarter: plan (and tick) in full
    # a probe newly due is not among the waiting ones
    add_probe(ws, "new", due=timedelta(seconds=-1))
    assert _check(ws, utcnow())[0] is None
    report, _ = tick(ws)
    assert report["started"] == 1 and ledger(ws) == ["new"]


def test_plan_with_nothing_changed_answers_without_the_cli(ws):
    full, heavy = run(ws, "plan", "--json")
    assert full.returncode == 0 and "pydantic" in heavy
    assert json.loads(full.stdout)["added"] == 3
    again, heavy = run(ws, "plan", "--json")
    assert heavy == set() and again.returncode == 0
    expected = {**json.loads(full.stdout), "added": 0, "replanned": 0, "unchanged": 1,
                "probes": []}
    assert json.loads(again.stdout) == expected
    text, heavy = run(ws, "plan")
    assert heavy == set()
    assert text.stdout.strip() == ("3 probes planned: 0 were added, 0 moved, 0 cancelled "
                                   "(inputs unchanged for 1 companies)")
    # someone else's change to the stored plan fingerprints is not trusted
    with sqlite3.connect(ws / "svcbench.db") as conn:
        conn.execute("UPDATE plan_inputs SET fingerprint = 'edited'")
    replanned, heavy = run(ws, "plan", "--json")
    assert "pydantic" in heavy and json.loads(replanned.stdout)["replanned"] == 1
