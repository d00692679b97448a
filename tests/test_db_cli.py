"""`svcbench db merge | recompute | info` through the real console script."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from svcbench.models import Channel, Event, Measurement, Outcome, Probe, ProbeStatus, new_id
from svcbench.store import Store
from svcbench.workspace import init_workspace

DIALED = datetime(2026, 10, 6, 10, 0, tzinfo=UTC)  # a Tuesday, 12:00 in Berlin


def phone_probe(status: ProbeStatus, **fields) -> Probe:
    return Probe(id=new_id(), company="northwind-outfitters", channel=Channel.PHONE,
                 plugin="phone", campaign="retail-q4", scenario="shipping-norway",
                 shopper="anna", status=status, due_at=DIALED, **fields)


@pytest.fixture
def shopper_db(tmp_path: Path) -> Path:
    """Another shopper's database: one answered call (with a stale measurement), one planned."""
    root = init_workspace(tmp_path / "bob", examples=True)
    path = root / "svcbench.db"
    with Store(path) as store:
        done = phone_probe(ProbeStatus.DONE, outcome=Outcome.ANSWERED, started_at=DIALED,
                           finished_at=DIALED + timedelta(minutes=5))
        store.add_probe(done, [
            Event(done.id, "call.dialed", DIALED, source="manual"),
            Event(done.id, "call.agent_answered", DIALED + timedelta(seconds=125),
                  source="manual"),
            Event(done.id, "call.hung_up", DIALED + timedelta(minutes=5), source="manual"),
        ])
        # computed with older rules: the merge must derive it again from the events
        store.save_measurement(Measurement(done.id, done.company, Channel.PHONE,
                                           Outcome.ANSWERED, DIALED, "2026Q4", wait_s=999.0))
        store.add_probe(phone_probe(ProbeStatus.PLANNED))
    return path


def run_json(cli, *args: str, cwd: Path) -> dict:
    result = cli(*args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_merge_is_idempotent_and_recomputes_measurements(workspace_dir, shopper_db, cli):
    first = run_json(cli, "db", "merge", str(shopper_db), cwd=workspace_dir)
    assert first["new_rows"]["probes"] == 2
    assert first["new_rows"]["events"] == 3
    assert first["new_rows"]["measurements"] == 1
    assert first["probes_changed"] == 2
    assert first["recomputed"] == 1  # only the finished probe is measured
    assert first["into"] == str(workspace_dir / "svcbench.db")
    with Store(workspace_dir / "svcbench.db") as store:
        [measurement] = store.measurements()
        assert measurement.wait_s == 125.0
        assert measurement.wait_bh_s == 125.0
    before = dump(workspace_dir / "svcbench.db")

    again = run_json(cli, "db", "merge", str(shopper_db), cwd=workspace_dir)
    assert set(again["new_rows"].values()) == {0}
    assert again["probes_changed"] == 0 and again["recomputed"] == 0
    assert dump(workspace_dir / "svcbench.db") == before

    text = cli("db", "merge", str(shopper_db), cwd=workspace_dir)
    assert text.returncode == 0, text.stderr
    assert "probes" in text.stdout and "0 measurements recomputed" in text.stdout


@pytest.mark.parametrize("kind", ["missing", "garbage", "foreign", "directory"])
def test_merge_of_a_bad_file_fails_in_one_line_and_changes_nothing(workspace_dir, cli, kind,
                                                                   tmp_path):
    other = tmp_path / f"{kind}.db"
    if kind == "garbage":
        other.write_bytes(b"SQLite format 2\x00" + b"\xde\xad\xbe\xef" * 1000)
    elif kind == "foreign":
        conn = sqlite3.connect(other)
        conn.execute("CREATE TABLE notes (x)")
        conn.commit()
        conn.close()
    elif kind == "directory":
        other.mkdir()
    cli("db", "info", cwd=workspace_dir)  # the database exists and is in sync with config
    before = dump(workspace_dir / "svcbench.db")
    result = cli("db", "merge", str(other), cwd=workspace_dir)
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("svcbench: error: ")
    assert str(other) in result.stderr
    assert "Traceback" not in result.stderr
    assert dump(workspace_dir / "svcbench.db") == before
    if kind == "missing":
        assert not other.exists()


def test_merge_without_argument_is_a_usage_error(workspace_dir, cli):
    result = cli("db", "merge", cwd=workspace_dir)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_info_reports_path_mode_migrations_and_counts(workspace_dir, shopper_db, cli):
    info = run_json(cli, "db", "info", cwd=workspace_dir)
    assert info["path"] == str(workspace_dir / "svcbench.db")
    assert info["journal_mode"] == "wal"
    assert info["size_bytes"] == (workspace_dir / "svcbench.db").stat().st_size
    assert {"set": "core", "name": "m001_initial"}.items() <= info["migrations"][0].items()
    assert info["tables"]["probes"] == 0
    assert info["tables"]["companies"] == 3
    run_json(cli, "db", "merge", str(shopper_db), cwd=workspace_dir)
    after = run_json(cli, "db", "info", cwd=workspace_dir)
    assert after["tables"]["probes"] == 2 and after["tables"]["events"] == 3
    text = cli("db", "info", cwd=workspace_dir)
    assert text.returncode == 0
    assert "wal" in text.stdout and "m001_initial" in text.stdout and "probes" in text.stdout


def test_recompute_derives_measurements_again(workspace_dir, shopper_db, cli):
    run_json(cli, "db", "merge", str(shopper_db), cwd=workspace_dir)
    conn = sqlite3.connect(workspace_dir / "svcbench.db")
    conn.execute("UPDATE measurements SET wait_s = 1, wait_bh_s = 1")
    conn.commit()
    conn.close()
    assert run_json(cli, "db", "recompute", cwd=workspace_dir) == {"recomputed": 1}
    with Store(workspace_dir / "svcbench.db") as store:
        assert [m.wait_s for m in store.measurements()] == [125.0]
    text = cli("db", "recompute", cwd=workspace_dir)
    assert text.returncode == 0 and "Recomputed 1 measurements" in text.stdout


def test_db_commands_outside_a_workspace_fail_in_one_line(tmp_path, cli):
    result = cli("db", "info", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "svcbench.toml" in result.stderr
