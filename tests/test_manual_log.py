"""`svcbench log call/return/delivery` through the real console script."""

from __future__ import annotations

import json

import pytest

from dbsnapshot import db_rows


def test_log_call_answered(workspace_dir, cli):
    result = cli("log", "call", "northwind-outfitters", "--at", "2026-03-02T10:15",
                 "--ivr-steps", "2", "--hold", "60s", "--agent-after", "1m35s",
                 "--transferred", "1", "--resolved", "--wait-announced", "120",
                 "--scenario", "shipping-norway", "--note", "friendly", "--json",
                 cwd=workspace_dir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "done" and data["outcome"] == "answered"
    m = data["measurement"]
    assert m["wait_s"] == 95 and m["answered_by_human"] is True
    assert m["started_local"] == "2026-03-02T10:15+01:00"  # naive time is Berlin time
    assert m["metrics"]["ivr_steps"] == 2 and m["metrics"]["hold_s"] == 60
    assert m["metrics"]["transfers"] == 1 and m["metrics"]["resolved"] is True
    assert m["metrics"]["wait_announced_s"] == 120
    listed = json.loads(cli("results", "--json", cwd=workspace_dir).stdout)
    assert [r["probe_id"] for r in listed] == [data["probe_id"]]


def test_log_call_abandoned_prints_the_probe_id(workspace_dir, cli):
    result = cli("log", "call", "contoso-telecom", "--at", "2026-03-03T14:00:00Z",
                 "--abandoned-after", "5m", "--hold", "4m", cwd=workspace_dir)
    assert result.returncode == 0, result.stderr
    assert "abandoned" in result.stdout
    [row] = json.loads(cli("results", "--json", cwd=workspace_dir).stdout)
    assert row["probe_id"] in result.stdout
    assert row["outcome"] == "abandoned" and row["wait_s"] is None
    assert row["metrics"]["abandoned_after_s"] == 300


@pytest.mark.parametrize(("args", "message"), [
    (["--at", "2026-03-02T10:15", "--hold", "100", "--agent-after", "95"], "--hold"),
    (["--at", "yesterday-ish", "--agent-after", "95"], "--at"),
    (["--at", "2026-03-02T10:15", "--agent-after", "9", "--scenario", "nope"], "--scenario"),
])
def test_log_call_rejects_bad_input_and_writes_nothing(workspace_dir, cli, args, message):
    before = db_rows(workspace_dir)
    result = cli("log", "call", "northwind-outfitters", *args, cwd=workspace_dir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
    assert db_rows(workspace_dir) == before


def test_unknown_company_is_one_line(workspace_dir, cli):
    result = cli("log", "delivery", "nobody", "--placed", "2026-03-02", cwd=workspace_dir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown company 'nobody'" in result.stderr


def test_return_stays_open_until_refunded(workspace_dir, cli):
    first = cli("log", "return", "northwind-outfitters", "--requested", "2026-03-02",
                "--shipped", "2026-03-03", "--json", cwd=workspace_dir)
    assert first.returncode == 0, first.stderr
    opened = json.loads(first.stdout)
    assert opened["status"] == "running" and opened["measurement"] is None
    listed = json.loads(cli("log", "open", "--json", cwd=workspace_dir).stdout)
    assert [p["probe_id"] for p in listed] == [opened["probe_id"]]

    # refunded before it was shipped back: refused, nothing written
    before = db_rows(workspace_dir)
    bad = cli("log", "return", "northwind-outfitters", "--probe", opened["probe_id"][:8],
              "--refunded", "2026-03-01", cwd=workspace_dir)
    assert bad.returncode == 2 and "--refunded" in bad.stderr and "before" in bad.stderr
    assert db_rows(workspace_dir) == before

    done = cli("log", "return", "northwind-outfitters", "--probe", opened["probe_id"][:8],
               "--refunded", "2026-03-10", "--amount", "49.90", "--json", cwd=workspace_dir)
    assert done.returncode == 0, done.stderr
    finished = json.loads(done.stdout)
    assert finished["status"] == "done" and finished["outcome"] == "answered"
    assert finished["measurement"]["metrics"]["days"] == 7.0  # from shipping back
    assert finished["measurement"]["metrics"]["refund_amount"] == 49.9
    assert json.loads(cli("log", "open", "--json", cwd=workspace_dir).stdout) == []

    again = cli("log", "return", "northwind-outfitters", "--probe", opened["probe_id"],
                "--refunded", "2026-03-11", cwd=workspace_dir)
    assert again.returncode == 2 and "already finished" in again.stderr


def test_delivery_logged_in_one_go_and_validated(workspace_dir, cli):
    ok = cli("log", "delivery", "Fabrikam Home", "--placed", "2026-03-02T08:00",
             "--shipped", "2026-03-03T12:00", "--delivered", "2026-03-05T08:00", "--json",
             cwd=workspace_dir)
    assert ok.returncode == 0, ok.stderr
    metrics = json.loads(ok.stdout)["measurement"]["metrics"]
    assert metrics["days"] == 3.0 and metrics["days_to_ship"] == 1.17
    before = db_rows(workspace_dir)
    bad = cli("log", "delivery", "fabrikam-home", "--placed", "2026-03-05",
              "--delivered", "2026-03-02", cwd=workspace_dir)
    assert bad.returncode == 2 and "--delivered" in bad.stderr
    assert db_rows(workspace_dir) == before


def test_completing_needs_the_right_channel(workspace_dir, cli):
    opened = json.loads(cli("log", "delivery", "fabrikam-home", "--placed", "2026-03-02",
                            "--json", cwd=workspace_dir).stdout)
    wrong = cli("log", "return", "fabrikam-home", "--probe", opened["probe_id"],
                "--refunded", "2026-03-04", cwd=workspace_dir)
    assert wrong.returncode == 2 and "delivery probe" in wrong.stderr
    changed = cli("log", "delivery", "fabrikam-home", "--probe", opened["probe_id"],
                  "--placed", "2026-03-01", "--delivered", "2026-03-04", cwd=workspace_dir)
    assert changed.returncode == 2 and "already logged" in changed.stderr


def test_a_planned_return_is_refused_with_what_to_do(workspace_dir, cli):
    from svcbench.models import quarter_of, utcnow

    (workspace_dir / "probes" / "returns.toml").write_text(
        '[[campaign]]\nid = "returns-q1"\ncompanies = ["northwind-outfitters"]\n'
        'channels = ["returns"]\nscenarios = ["shipping-norway"]\n'
        f'quarter = "{quarter_of(utcnow())}"\nprobes_per_quarter = 2\n')
    assert cli("plan", "--campaign", "returns-q1", cwd=workspace_dir).returncode == 0
    [planned, _] = json.loads(cli("probes", "-c", "returns", "--json", cwd=workspace_dir).stdout)
    before = db_rows(workspace_dir)
    done = cli("log", "return", "northwind-outfitters", "--probe", planned["id"],
               "--requested", "now", cwd=workspace_dir)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "is a planned returns probe of campaign " \
        "returns-q1, not an open one" in done.stderr
    assert "svcbench log return northwind-outfitters ... --campaign returns-q1" in done.stderr
    assert db_rows(workspace_dir) == before
