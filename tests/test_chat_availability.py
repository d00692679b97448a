"""Availability checks through a campaign: planned inside posted hours, started without a
conversation, summarised as "chat available during what share of posted hours" in the
report; an offline chat probe counts against the company as unavailable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svcbench.chat_service import availability_summary, promise_summary
from svcbench.errors import ConfigError
from svcbench.models import ProbeStatus
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox
from svcbench.schedule import tick
from svcbench.workspace import Workspace

CAMPAIGN = """
[[scenario]]
id = "avail"
question = "Do you ship to Norway?"
[scenario.chat]
greeting_wait_s = 0.1
connect_timeout_s = 5
first_reply_timeout_s = 2
human_timeout_s = 3
close_text = ""

[[campaign]]
id = "chat-uptime"
companies = ["open-shop", "closed-shop"]
channels = ["chat"]
scenarios = ["avail"]
kind = "availability"
probes_per_quarter = 6
"""


@pytest.fixture(scope="module")
def sandbox():
    with ChatSandbox({"open-shop": ChatBehaviour(agent_joined_after=0.2),
                      "closed-shop": ChatBehaviour(offline=True)}) as box:
        yield box


@pytest.fixture
def avail_ws(workspace_dir: Path, sandbox) -> Path:
    companies = "".join(f"""
[[company]]
id = "{slug}"
name = "{slug.replace('-', ' ').title()}"
[company.hours]
mon = ["00:00-12:00", "12:00-23:59"]
tue = ["00:00-12:00", "12:00-23:59"]
wed = ["00:00-12:00", "12:00-23:59"]
thu = ["00:00-12:00", "12:00-23:59"]
fri = ["00:00-12:00", "12:00-23:59"]
sat = ["00:00-12:00", "12:00-23:59"]
sun = ["00:00-12:00", "12:00-23:59"]
[company.channels.chat]
connector = "rest"
base_url = "{sandbox.url(slug)}"
poll_interval_s = 0.1
""" for slug in ("open-shop", "closed-shop"))
    (workspace_dir / "probes" / "chat.toml").write_text(CAMPAIGN + companies)
    return workspace_dir


def test_checks_are_planned_in_posted_hours_and_start_no_conversation(avail_ws, sandbox, cli):
    assert cli("plan", "--campaign", "chat-uptime", cwd=avail_ws).returncode == 0
    ws = Workspace.open(avail_ws)
    try:
        checks = ws.store.probes(campaign="chat-uptime")
        assert checks and {p.plugin for p in checks} == {"chat_availability"}
        for p in checks:
            calendar = ws.config.companies[p.company].calendar()
            assert calendar.is_open(p.due_at) and not p.state["out_of_hours"]
        chosen = {c: [p for p in checks if p.company == c][:2]
                  for c in ("open-shop", "closed-shop")}
    finally:
        ws.close()
    for probes in chosen.values():
        for p in probes:
            ws = Workspace.open(avail_ws)
            try:
                tick(ws, only_probe=p.id)
            finally:
                ws.close()
    ws = Workspace.open(avail_ws)
    try:
        outcomes = {c: [ws.store.get_probe(p.id) for p in ps] for c, ps in chosen.items()}
        assert all(p.status == ProbeStatus.DONE for ps in outcomes.values() for p in ps)
        assert {str(p.outcome) for p in outcomes["open-shop"]} == {"answered"}
        assert {str(p.outcome) for p in outcomes["closed-shop"]} == {"unavailable"}
        # checks are not contacts: no measurement, nothing for the rankings
        assert ws.store.measurements(campaign="chat-uptime") == []
    finally:
        ws.close()
    assert sandbox.chats("open-shop") == [] and sandbox.chats("closed-shop") == []
    assert sandbox.engine.status_checks["closed-shop"] >= 2

    # a real chat probe finds the closed shop offline: unavailable, counted against it
    tried = cli("chat", "try", "closed-shop", "--scenario", "avail", "--json", cwd=avail_ws)
    assert tried.returncode == 0, tried.stderr
    assert json.loads(tried.stdout)["outcome"] == "unavailable"
    assert cli("chat", "try", "open-shop", "--scenario", "avail", cwd=avail_ws).returncode == 0

    summary = cli("chat", "availability", "--json", cwd=avail_ws)
    rows = {r["company"]: r for r in json.loads(summary.stdout)["availability"]}
    assert rows["open-shop"]["share_available"] == 1.0 and rows["open-shop"]["checks"] == 2
    assert rows["closed-shop"]["share_available"] == 0.0
    as_nl = [json.loads(line) for line in
             cli("chat", "availability", "--nl", cwd=avail_ws).stdout.splitlines()]
    by_company = {r["company"]: r for r in as_nl}
    assert by_company["open-shop"]["share_available"] == 1.0
    # no queue promise announced: the promise columns are empty, not zeros
    assert by_company["open-shop"]["with_promise"] is None
    assert by_company["open-shop"]["promise_source"] is None
    assert by_company["closed-shop"]["availability_source"].startswith("scheduled availability")

    out = avail_ws / "out"
    report = cli("report", "--format", "json", "--format", "html", "--output", str(out),
                 cwd=avail_ws)
    assert report.returncode == 0, report.stderr
    document = json.loads(next(out.glob("*.json")).read_text())
    shares = {r["company"]: r["share_available"]
              for r in document["chat_service"]["availability"]}
    assert shares == {"closed-shop": 0.0, "open-shop": 1.0}
    chat_rows = {r["company"]: r for r in document["rankings"] if r["channel"] == "chat"}
    assert chat_rows["closed-shop"]["share_unavailable"] == 1.0
    assert chat_rows["closed-shop"]["n"] == 1  # counted, not excluded
    html = next(out.glob("*.html")).read_text()
    assert "Chat available during posted hours" in html and "Closed Shop" in html


def test_summaries_count_only_what_could_tell():
    rows = availability_summary([("a", "online", True), ("a", "offline", True),
                                 ("a", "unknown", True), ("a", "offline", False)])
    assert (rows[0].checks, rows[0].unknown, rows[0].outside_hours) == (2, 1, 1)
    assert rows[0].share_available == 0.5
    kept = promise_summary([("a", {"promises": [{"verdict": "kept"}, {"verdict": "open"}]}),
                            ("a", {"promises": [{"verdict": "broken"}]}), ("a", {})])
    assert (kept[0].kept, kept[0].broken, kept[0].open, kept[0].chats) == (1, 1, 1, 3)
    assert kept[0].share_kept == 0.5


def test_availability_campaign_must_be_chat(workspace_dir, cli):
    (workspace_dir / "probes" / "bad.toml").write_text(
        CAMPAIGN.replace('channels = ["chat"]', 'channels = ["email"]'))
    result = cli("config", "check", cwd=workspace_dir)
    assert result.returncode == 2
    assert "availability" in result.stderr and "\n" not in result.stderr.strip()
    assert ConfigError  # the same error class as every config problem
