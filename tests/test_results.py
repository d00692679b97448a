"""`svcbench results`: filters, table, JSON and CSV output."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from conftest import run_cli
from svcbench.cli.results import RESULT_KEYS, human_duration
from svcbench.workspace import init_workspace

DATA = Path(__file__).parent / "data" / "csv"


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """Three phone calls, a finished return and a finished delivery (plus an open one).

    Shared by the read-only tests of this module.
    """
    workspace_dir = init_workspace(tmp_path_factory.mktemp("results") / "ws")
    cli = run_cli
    for channel, name in (("phone", "phone.csv"), ("returns", "returns.csv")):
        result = cli("import", "csv", str(DATA / name), "--channel", channel, cwd=workspace_dir)
        assert result.returncode == 0, result.stderr
    result = cli("log", "delivery", "northwind-outfitters", "--placed", "2025-11-03",
                 "--delivered", "2025-11-06", "--campaign", "retail-q4", cwd=workspace_dir)
    assert result.returncode == 0, result.stderr
    return workspace_dir


def as_json(cli, ws, *args) -> list[dict]:
    result = cli("results", "--json", *args, cwd=ws)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_json_lists_every_measurement_newest_first_with_stable_keys(filled, cli):
    rows = as_json(cli, filled)
    assert len(rows) == 5
    assert all(list(row) == list(RESULT_KEYS) for row in rows)
    started = [row["started_at"] for row in rows]
    assert started == sorted(started, reverse=True)
    assert as_json(cli, filled, "--limit", "2") == rows[:2]


def test_filters(filled, cli):
    assert {r["channel"] for r in as_json(cli, filled, "--channel", "phone")} == {"phone"}
    assert len(as_json(cli, filled, "--channel", "phone")) == 3
    [abandoned] = as_json(cli, filled, "--outcome", "abandoned")
    assert abandoned["company"] == "contoso-telecom"
    north = as_json(cli, filled, "--company", "northwind-outfitters")
    assert sorted(r["channel"] for r in north) == ["delivery", "phone", "returns"]
    [q4] = as_json(cli, filled, "--quarter", "2025q4")
    assert q4["channel"] == "delivery" and q4["metrics"]["days"] == 3.0
    assert as_json(cli, filled, "--campaign", "retail-q4") == [q4]
    assert len(as_json(cli, filled, "--quarter", "2026Q1")) == 4


def test_csv_has_the_json_columns(filled, cli):
    result = cli("results", "--csv", "--channel", "returns", cwd=filled)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(RESULT_KEYS)
    assert rows[0]["answered_by_human"] == "yes"
    assert json.loads(rows[0]["metrics"])["days"] == 7.0


def test_table_shows_the_key_figures(filled, cli):
    result = cli("results", "--channel", "phone", cwd=filled)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Northwind Outfitters" in text and "2026-03-02 10:15" in text
    # one unit per duration column: 95 s and 90 s read as minutes beside each other
    assert "1.6 min" in text and "1.5 min" in text and "1m 35s" not in text
    assert "ivr 2" in text and "hold 1m 00s" in text
    assert "abandoned" in text and "gave up after 5m 00s" in text


def test_table_words_outcomes_per_channel(filled, cli):
    result = cli("results", "--channel", "returns", cwd=filled)
    assert result.returncode == 0, result.stderr
    assert "refunded" in result.stdout and "answered" not in result.stdout
    assert as_json(cli, filled, "--channel", "returns")[0]["outcome"] == "answered"


def test_empty_workspace_says_so(workspace_dir, cli):
    result = cli("results", cwd=workspace_dir)
    assert result.returncode == 0 and "No results yet" in result.stdout
    assert as_json(cli, workspace_dir) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--channel", "fax"], "--channel: unknown channel 'fax'"),
    (["--quarter", "2026-Q4"], "--quarter: '2026-Q4' is not a quarter"),
    (["--quarter", "2026Q5"], "--quarter"),
    (["--outcome", "great"], "--outcome: unknown outcome 'great'"),
    (["--company", "nobody"], "--company: unknown company 'nobody'"),
    (["--json", "--csv"], "cannot be combined"),
])
def test_bad_filters_are_one_line_errors(workspace_dir, cli, args, message):
    result = cli("results", *args, cwd=workspace_dir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0, "0s"), (4.5, "4.5s"), (42, "42s"), (95, "1m 35s"), (3 * 3600 + 300, "3h 05m"),
    (3 * 86400 + 4 * 3600, "3d 4h"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text
