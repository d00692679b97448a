"""`svcbench tick`: never a probe twice, nothing lost, our side's trouble never blamed on a company.

Most tests run the real console script in a subprocess, with the ledger-writing fake probe
(tests/fake_probe.py) standing in for the outside world.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from dbsnapshot import db_rows
from fake_probe import ENV, FakeProbe
from svcbench.models import Channel, Outcome, Probe, ProbeStatus, utcnow
from svcbench.plugins import PROBES_GROUP, register
from svcbench.schedule import Ticker, workspace_lock
from svcbench.workspace import Workspace, init_workspace

SVCBENCH = Path(sys.executable).with_name("svcbench")


def _company(ledger: Path, extra: str = "") -> str:
    return f"""
[[company]]
id = "fake-co"
name = "Fake Company"
[company.channels.chat]
plugin = "fake"
ledger = "{ledger}"
{extra}
"""


@pytest.fixture
def fake_ws(tmp_path, monkeypatch):
    monkeypatch.setenv("SVCBENCH_EXTRA_PROBES", ENV["SVCBENCH_EXTRA_PROBES"])
    root = init_workspace(tmp_path / "ws", examples=False)
    ledger = tmp_path / "ledger.txt"
    (root / "probes" / "fake.toml").write_text(_company(
        ledger, f'down_flag = "{tmp_path / "down"}"\nreject_flag = "{tmp_path / "reject"}"\n'
        'send_delay_s = 0.05'))
    return root, ledger


def add_due_probes(root: Path, n: int, *, deadline: timedelta = timedelta(hours=1)) -> list[str]:
    ws = Workspace.open(root)
    now = utcnow()
    ids = []
    with ws.store.transaction():
        for i in range(n):
            probe = Probe(id=f"probe-{i:03d}", company="fake-co", channel=Channel.CHAT,
                          plugin="fake", due_at=now - timedelta(minutes=1),
                          deadline_at=now + deadline, token=f"tok{i:03d}")
            ws.store.add_probe(probe)
            ids.append(probe.id)
    ws.close()
    return ids


def run_tick(root: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, **ENV, "COLUMNS": "200"}
    return subprocess.run([str(SVCBENCH), "tick", "-w", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=120, **kwargs)


def ledger_ids(ledger: Path) -> list[str]:
    return [line.split()[0] for line in ledger.read_text().splitlines()] if ledger.exists() else []


def test_tick_sends_each_due_probe_once_and_finishes_it(fake_ws):
    root, ledger = fake_ws
    ids = add_due_probes(root, 5)
    first = run_tick(root, "--json")
    assert first.returncode == 0, first.stderr
    assert sorted(ledger_ids(ledger)) == ids
    again = run_tick(root)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "" and again.stderr == ""  # quiet when not on a terminal
    assert sorted(ledger_ids(ledger)) == ids
    ws = Workspace.open(root)
    done = ws.store.probes(status=ProbeStatus.DONE)
    assert {p.id for p in done} == set(ids)
    assert all(p.outcome == Outcome.ANSWERED for p in done)
    assert len(ws.store.measurements(channel=Channel.CHAT)) == 5


def test_dry_run_sends_nothing(fake_ws):
    root, ledger = fake_ws
    add_due_probes(root, 3)
    result = run_tick(root, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    assert '"would_start"' in result.stdout and result.stdout.count('"company": "fake-co"') == 3
    assert ledger_ids(ledger) == []
    assert len(Workspace.open(root).store.probes(status=ProbeStatus.PLANNED)) == 3


def test_overlapping_run_exits_at_once_with_75(fake_ws):
    root, ledger = fake_ws
    add_due_probes(root, 2)
    with workspace_lock(root):
        started = time.monotonic()
        result = run_tick(root)
        assert time.monotonic() - started < 10
    assert result.returncode == 75
    assert "holds the lock" in result.stderr and result.stderr.count("\n") == 1
    assert ledger_ids(ledger) == []


def test_kill_9_mid_tick_then_rerun_sends_nothing_twice_and_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SVCBENCH_EXTRA_PROBES", ENV["SVCBENCH_EXTRA_PROBES"])
    root = init_workspace(tmp_path / "ws", examples=False)
    ledger = tmp_path / "ledger.txt"
    (root / "probes" / "fake.toml").write_text(_company(ledger, "send_delay_s = 0.1"))
    ids = add_due_probes(root, 30)
    env = {**os.environ, **ENV}
    proc = subprocess.Popen([str(SVCBENCH), "tick", "-w", str(root), "--concurrency", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(ledger_ids(ledger)) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    sent_before = ledger_ids(ledger)
    assert 8 <= len(sent_before) < 30, "the kill must land in the middle of the tick"

    result = run_tick(root)
    assert result.returncode == 0, result.stderr
    sent = ledger_ids(ledger)
    assert len(sent) == len(set(sent)), "a probe was sent twice"
    ws = Workspace.open(root)
    for probe_id in ids:
        probe = ws.store.get_probe(probe_id)
        kinds = [e.kind for e in ws.store.events(probe_id)]
        if probe_id in sent:
            # every send that happened is recorded: no event lost
            assert kinds.count("fake.sent") == 1, (probe_id, kinds)
            assert probe.status == ProbeStatus.DONE and probe.outcome == Outcome.ANSWERED
        else:
            # claimed but killed before sending: failed on our side, never sent later
            assert probe.outcome == Outcome.FAILED and "crash" in probe.outcome_reason
    assert sum(1 for i in ids if i in sent) >= 29
    integrity = sqlite3.connect(root / "svcbench.db").execute("PRAGMA integrity_check")
    assert integrity.fetchone()[0] == "ok"


def test_server_down_leaves_probes_pending_and_retries_without_blaming_company(fake_ws):
    root, ledger = fake_ws
    (root.parent / "down").touch()
    add_due_probes(root, 3, deadline=timedelta(minutes=30))
    register(PROBES_GROUP, "fake", FakeProbe)
    clock = {"now": utcnow()}
    ws = Workspace.open(root)

    def tick_at(offset: timedelta):
        return asyncio.run(Ticker(ws, now=lambda: clock["now"] + offset).run())

    report = tick_at(timedelta(0))
    assert report.retried == 3 and report.started == 0
    probes = ws.store.probes()
    assert all(p.status == ProbeStatus.PLANNED for p in probes)
    assert all("connection refused" in p.state["last_error"] for p in probes)
    assert ledger_ids(ledger) == []
    # within the backoff nothing is tried again
    assert tick_at(timedelta(seconds=30)).retried == 0
    (root.parent / "down").unlink()
    report = tick_at(timedelta(minutes=2))
    assert report.started == 3
    assert sorted(ledger_ids(ledger)) == sorted(p.id for p in probes)
    assert {p.outcome for p in ws.store.probes()} == {Outcome.ANSWERED}


def test_server_down_until_deadline_fails_on_our_side_only(fake_ws):
    root, ledger = fake_ws
    (root.parent / "down").touch()
    add_due_probes(root, 2, deadline=timedelta(minutes=5))
    register(PROBES_GROUP, "fake", FakeProbe)
    ws = Workspace.open(root)
    now = utcnow()
    asyncio.run(Ticker(ws, now=lambda: now).run())
    asyncio.run(Ticker(ws, now=lambda: now + timedelta(minutes=10)).run())
    probes = ws.store.probes()
    assert {p.outcome for p in probes} == {Outcome.FAILED}
    assert all("never started before its deadline" in p.outcome_reason for p in probes)
    measurements = ws.store.measurements()
    assert {m.outcome for m in measurements} == {Outcome.FAILED}
    assert ledger_ids(ledger) == []


def test_permanent_rejection_fails_the_probe_with_reason(fake_ws):
    root, ledger = fake_ws
    (root.parent / "reject").touch()
    add_due_probes(root, 1)
    result = run_tick(root)
    assert result.returncode == 0, result.stderr
    probe = Workspace.open(root).store.get_probe("probe-000")
    assert probe.outcome == Outcome.FAILED and "550" in probe.outcome_reason


def test_database_locked_by_a_writer_waits_then_proceeds(fake_ws):
    root, ledger = fake_ws
    add_due_probes(root, 2)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(root / 'svcbench.db')!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(2.5)\n"
        "c.execute('COMMIT')\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    result = run_tick(root)
    elapsed = time.monotonic() - started
    holder.wait()
    assert result.returncode == 0, result.stderr
    assert elapsed >= 1.5, "tick must have waited for the lock"
    assert len(ledger_ids(ledger)) == 2


def test_reader_holding_a_snapshot_does_not_block_tick(fake_ws):
    root, ledger = fake_ws
    add_due_probes(root, 2)
    reader = sqlite3.connect(root / "svcbench.db", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM probes").fetchone()
    try:
        result = run_tick(root)
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert result.returncode == 0, result.stderr
    assert len(ledger_ids(ledger)) == 2



def test_disk_full_gives_one_clear_line_and_corrupts_nothing(fake_ws):
    root, ledger = fake_ws
    add_due_probes(root, 3)
    db = root / "svcbench.db"
    subprocess.run([str(SVCBENCH), "probes", "-w", str(root)], env={**os.environ, **ENV},
                   capture_output=True, check=True)  # checkpoints the WAL
    before = db_rows(root)
    limit = max(db.stat().st_size, (root / "svcbench.db-wal").stat().st_size
                if (root / "svcbench.db-wal").exists() else 0)

    def no_room():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_tick(root, preexec_fn=no_room)
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "svcbench.db" in result.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    after = db_rows(root)
    assert after["probes"] and len(after["probes"]) == len(before["probes"])


@pytest.mark.parametrize("writable_dir", [False, True], ids=["read-only-dir", "read-only-file"])
def test_read_only_database_gives_one_clear_line(fake_ws, writable_dir):
    root, ledger = fake_ws
    add_due_probes(root, 2)
    db = root / "svcbench.db"
    subprocess.run([str(SVCBENCH), "probes", "-w", str(root)], env={**os.environ, **ENV},
                   capture_output=True, check=True)
    before = db_rows(root)
    db.chmod(0o444)
    if not writable_dir:
        root.chmod(0o555)
    elif os.geteuid() == 0:
        root.chmod(0o777)  # nobody may create the lock and WAL files, not write the db
    command = [str(SVCBENCH), "tick", "-w", str(root)]
    if os.geteuid() == 0:  # root ignores file modes: run as nobody, as a cron user would be
        for parent in [*root.parents][:-1]:
            parent.chmod(parent.stat().st_mode | 0o005)
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    try:
        result = subprocess.run(command, env={**os.environ, **ENV}, capture_output=True,
                                text=True, timeout=60)
    finally:
        root.chmod(0o755)
        db.chmod(0o644)
    assert result.returncode in (2, 3), (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "read-only" in result.stderr or "readonly" in result.stderr or \
        "permission" in result.stderr.lower()
    assert db_rows(root) == before
    assert ledger_ids(ledger) == []


def test_metrics_textfile_follows_node_exporter_format(fake_ws, cli):
    root, ledger = fake_ws
    add_due_probes(root, 2)
    assert run_tick(root).returncode == 0
    target = root / "metrics" / "svcbench.prom"
    result = cli("metrics", "--textfile", str(target), "-w", str(root), env=ENV)
    assert result.returncode == 0, result.stderr
    text = target.read_text()
    assert '# TYPE svcbench_probes gauge' in text
    assert 'svcbench_probes{channel="chat",status="done",outcome="answered"} 2' in text
    assert 'svcbench_latest_wait_seconds{company="fake-co",channel="chat"}' in text
    assert not list(target.parent.glob(".*.tmp"))
