"""`svcbench import csv`: idempotent, row-level errors, nothing half-written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dbsnapshot import db_rows
from svcbench.csv_import import import_csv, read_csv
from svcbench.errors import ConfigError
from svcbench.models import Channel

DATA = Path(__file__).parent / "data" / "csv"



def results(cli, workspace_dir, *args) -> list[dict]:
    out = cli("results", "--json", *args, cwd=workspace_dir)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_phone_import_is_idempotent(workspace_dir, cli):
    first = cli("import", "csv", str(DATA / "phone.csv"), "--channel", "phone", "--json",
                cwd=workspace_dir)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["imported"], summary["rejected"]) == (3, 0)
    rows = {r["company"]: r for r in results(cli, workspace_dir)}
    north = rows["northwind-outfitters"]
    assert north["wait_s"] == 95 and north["metrics"]["hold_s"] == 60
    assert north["metrics"]["ivr_steps"] == 2 and north["metrics"]["transfers"] == 1
    assert north["started_local"] == "2026-03-02T10:15+01:00"
    contoso = rows["contoso-telecom"]  # named by its display name in the file
    assert contoso["outcome"] == "abandoned" and contoso["metrics"]["abandoned_after_s"] == 300
    assert rows["fabrikam-home"]["wait_s"] == 90
    assert rows["fabrikam-home"]["started_at"] == "2026-03-04T14:00:00.000000Z"

    before = db_rows(workspace_dir)
    second = cli("import", "csv", str(DATA / "phone.csv"), "--channel", "phone",
                 cwd=workspace_dir)
    assert second.returncode == 0, second.stderr
    assert "imported 0" in second.stdout and "already present 3" in second.stdout
    assert db_rows(workspace_dir) == before


def test_bad_rows_are_named_and_good_rows_kept(workspace_dir, cli):
    result = cli("import", "csv", str(DATA / "phone_mixed.csv"), "--channel", "phone",
                 cwd=workspace_dir)
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 5, result.stderr
    expected = [("line 3", "dialed_at"), ("line 4", "company"),
                ("line 5", "agent_answered_after_s"), ("line 7", "hold_s"),
                ("line 8", "abandoned_after_s")]
    for line, (where, column) in zip(errors, expected, strict=True):
        assert "phone_mixed.csv" in line and f"{where}, column {column}:" in line
    assert "imported 2, rejected 5" in result.stdout
    assert sorted(r["company"] for r in results(cli, workspace_dir)) == [
        "contoso-telecom", "northwind-outfitters"]
    # re-import: the good rows are already there, the bad ones still reported
    again = cli("import", "csv", str(DATA / "phone_mixed.csv"), "--channel", "phone",
                cwd=workspace_dir)
    assert again.returncode == 2 and "imported 0, rejected 5, already present 2" in again.stdout


def test_returns_with_ids_and_open_rows(workspace_dir, cli):
    result = cli("import", "csv", str(DATA / "returns.csv"), "--channel", "returns", "--json",
                 cwd=workspace_dir)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 2
    [done] = results(cli, workspace_dir)
    assert done["metrics"]["days"] == 7.0 and done["metrics"]["refund_amount"] == 49.9
    open_ones = json.loads(cli("log", "open", "--json", cwd=workspace_dir).stdout)
    assert [p["company"] for p in open_ones] == ["fabrikam-home"]
    # an id column: the same ids with other content are not imported twice
    changed = workspace_dir / "returns2.csv"
    changed.write_text((DATA / "returns.csv").read_text().replace("jacket", "coat"))
    again = cli("import", "csv", str(changed), "--channel", "returns", "--json",
                cwd=workspace_dir)
    assert json.loads(again.stdout)["already_present"] == 2


def test_all_rows_bad_leaves_the_database_unchanged(workspace_dir, cli):
    before = db_rows(workspace_dir)
    bad = workspace_dir / "bad.csv"
    bad.write_text("company,placed_at,delivered_at\nnorthwind-outfitters,2026-03-05,2026-03-01\n"
                   "fabrikam-home,not-a-date,\n")
    result = cli("import", "csv", str(bad), "--channel", "delivery", cwd=workspace_dir)
    assert result.returncode == 2
    assert "line 2, column delivered_at" in result.stderr
    assert "line 3, column placed_at" in result.stderr
    assert "imported 0, rejected 2" in result.stdout
    assert db_rows(workspace_dir) == before


def test_dry_run_writes_nothing(workspace_dir, cli):
    before = db_rows(workspace_dir)
    result = cli("import", "csv", str(DATA / "delivery.csv"), "--channel", "delivery",
                 "--dry-run", cwd=workspace_dir)
    assert result.returncode == 2  # one row delivered before it was placed
    assert "would import 1, rejected 1" in result.stdout
    assert "line 3, column delivered_at" in result.stderr
    assert db_rows(workspace_dir) == before


def test_a_database_error_mid_import_writes_nothing(workspace_dir, cli):
    """A real SQLite failure on the third probe rolls back the two before it."""
    conn = sqlite3.connect(workspace_dir / "svcbench.db")
    conn.execute("CREATE TRIGGER fail_third BEFORE INSERT ON probes "
                 "WHEN NEW.company = 'fabrikam-home' "
                 "BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END")
    conn.commit()
    conn.close()
    before = db_rows(workspace_dir)
    result = cli("import", "csv", str(DATA / "phone.csv"), "--channel", "phone",
                 cwd=workspace_dir)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1
    assert "simulated disk failure" in result.stderr and "nothing was imported" in result.stderr
    assert db_rows(workspace_dir) == before


@pytest.mark.parametrize(("content", "message"), [
    (None, "file not found"),
    (b"company,dialed_at,agent_after\nnorthwind-outfitters,2026-03-02,95\n",
     "unknown column 'agent_after'"),
])
def test_file_level_problems_are_one_line(workspace_dir, cli, content, message):
    path = workspace_dir / "calls.csv"
    if content is not None:
        path.write_bytes(content)
    before = db_rows(workspace_dir)
    result = cli("import", "csv", str(path), "--channel", "phone", cwd=workspace_dir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr and "calls.csv" in result.stderr
    assert db_rows(workspace_dir) == before


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"),
    (b"\n \n", "empty file"),
    (b"company,dialed_at\nnorthwind-outfitters,2026-03-02\nM\xfcller,2026-03-02\n",
     "line 3: not UTF-8"),
    (b"company,agent_answered_after_s\nnorthwind-outfitters,95\n",
     "missing required column 'dialed_at'"),
    (b"company,dialed_at,company\nx,y,z\n", "column 'company' appears twice"),
])
def test_file_level_problems_in_the_library(workspace, tmp_path, content, message):
    path = tmp_path / "calls.csv"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as info:
        import_csv(workspace.store, workspace.config, path, Channel.PHONE)
    assert "calls.csv" in str(info.value) and "\n" not in str(info.value)
    assert workspace.store.probes() == []


def test_unknown_channel(workspace_dir, cli):
    result = cli("import", "csv", str(DATA / "phone.csv"), "--channel", "email",
                 cwd=workspace_dir)
    assert result.returncode == 2 and "--channel" in result.stderr


def test_bom_semicolons_and_blank_lines(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffCompany;Placed_At\r\n\r\nfabrikam-home;2026-03-02\r\n".encode())
    header, rows = read_csv(path)
    assert header == ["company", "placed_at"]
    assert rows == [(3, {"company": "fabrikam-home", "placed_at": "2026-03-02"})]


def test_duplicate_rows_without_ids_are_reported(workspace, tmp_path):
    path = tmp_path / "dups.csv"
    path.write_text("company,placed_at\nfabrikam-home,2026-03-02\nfabrikam-home,2026-03-02\n")
    result = import_csv(workspace.store, workspace.config, path, Channel.DELIVERY)
    assert len(result.added) == 1
    [error] = result.errors
    assert error.line == 3 and "duplicate of line 2" in error.problem


def test_library_raises_clear_errors(workspace, tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        import_csv(workspace.store, workspace.config, tmp_path / "nope.csv", Channel.PHONE)
