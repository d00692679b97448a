"""A person in the loop: flagged replies, verdicts as events, outcomes and measurements derived
again; `svcbench replies review` driven with keys in a real terminal (tmux); promises kept."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta

import pytest

from svcbench.hours import BusinessCalendar, Schedule
from svcbench.lifecycle import finish_probe
from svcbench.models import Channel, Event, Outcome, Probe, ProbeStatus, new_id
from svcbench.probes.email import promise_deadline, replies
from svcbench.probes.email.review import REVIEWED, pending, record_verdict
from svcbench.workspace import Workspace
from test_manual_call import SVCBENCH, Terminal, needs_tmux

SENT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


def seed(ws: Workspace, *, kind: str = "auto_ack", review: bool = True,
         promise: dict | None = None, human_after: timedelta | None = None) -> Probe:
    """A finished email probe: sent, one flagged reply (plus, optionally, a human one)."""
    probe = Probe(id=new_id(), company="northwind-outfitters", channel=Channel.EMAIL,
                  plugin="email", scenario="shipping", shopper="anna",
                  status=ProbeStatus.RUNNING, due_at=SENT, started_at=SENT,
                  deadline_at=SENT + timedelta(days=3), state={"sent_at": SENT.isoformat()})
    ws.store.add_probe(probe)
    at = SENT + timedelta(hours=2)
    events = [Event(probe_id=probe.id, kind="email.sent", at=SENT, source="smtp"),
              Event(probe_id=probe.id, kind="email.received", at=at, source="imap.internaldate",
                    data={"kind": kind, "review": review, "confidence": 0.55,
                          "from": "support@northwind.example",
                          "subject": "Re: [Evil] Shipping to Norway?", "match": "message-id",
                          "reasons": ["receipt wording 'we have received your message'",
                                      "personal sign-off (Best, / Jonas)"],
                          "headers_used": ["auto-submitted"], "dedupe_key": "email:x:1",
                          "promise": promise})]
    # a complete collection after the deadline, as every concluded email probe has
    events.append(Event(probe_id=probe.id, kind="email.collected",
                        at=SENT + timedelta(days=3, minutes=5), source="imap"))
    if human_after is not None:
        events.append(Event(probe_id=probe.id, kind="email.received",
                            at=SENT + human_after, source="imap.internaldate",
                            data={"kind": "human", "from": "jonas@northwind.example"}))
    ws.store.add_events(events)
    ws.store.add_message(probe_id=probe.id, channel=Channel.EMAIL, direction="in", at=at,
                         subject="Re: [Evil] Shipping to Norway?", actor="auto",
                         text="Hi Anna,\n\nwe have received your message. Yes, we ship to "
                              "Norway in 5 days.\n\nBest,\nJonas",
                         headers={"auto-submitted": ["auto-generated"]},
                         classification=kind, dedupe_key="email:x:1")
    outcome = Outcome.ANSWERED if human_after else Outcome.ANSWERED_AUTO_ONLY
    finish_probe(ws.store, probe, outcome, config=ws.config, at=SENT + timedelta(days=3))
    return probe


def test_verdict_is_an_event_and_the_probe_is_derived_again(workspace):
    probe = seed(workspace)
    [m] = workspace.store.measurements()
    assert not m.answered_by_human and m.outcome == Outcome.ANSWERED_AUTO_ONLY
    [item] = pending(workspace.store)
    verdict = record_verdict(workspace.store, workspace.config, item, "human")
    events = workspace.store.events(probe.id)
    assert verdict.kind == REVIEWED and verdict.data["classified_as"] == "auto_ack"
    # the classifier's event is kept unchanged; the person's verdict is applied on top
    received = [e for e in events if e.kind == "email.received"]
    assert received[0].data["kind"] == "auto_ack"
    assert replies(events)[0].data["kind"] == "human"
    assert workspace.store.get_probe(probe.id).outcome == Outcome.ANSWERED
    [m] = workspace.store.measurements()
    assert m.answered_by_human and m.metrics["reviewed_by_person"] == 1
    assert m.wait_s == pytest.approx(2 * 3600 + 0.5)
    assert pending(workspace.store) == []  # reviewed replies leave the queue


def test_a_later_verdict_replaces_an_earlier_one(workspace):
    seed(workspace)
    [item] = pending(workspace.store)
    record_verdict(workspace.store, workspace.config, item, "human",
                   now=SENT + timedelta(days=4))
    [item] = pending(workspace.store, everything=True)
    record_verdict(workspace.store, workspace.config, item, "auto_ack",
                   now=SENT + timedelta(days=5))
    [m] = workspace.store.measurements()
    assert not m.answered_by_human and m.outcome == Outcome.ANSWERED_AUTO_ONLY


def test_unknown_kind_is_refused(workspace):
    seed(workspace)
    [item] = pending(workspace.store)
    with pytest.raises(ValueError):
        record_verdict(workspace.store, workspace.config, item, "robot")


@needs_tmux
def test_review_in_a_real_terminal(workspace_dir):
    ws = Workspace.open(workspace_dir)
    try:
        first = seed(ws)
        second = seed(ws, kind="human")
    finally:
        ws.close()
    command = " ".join(shlex.quote(a) for a in (
        str(SVCBENCH), "replies", "review", "--workspace", str(workspace_dir)))
    term = Terminal(f"{command}; echo EXIT=$?; sleep 120")
    try:
        screen = term.wait_for("reply 1 of 2")
        # what a person needs to decide, with company text escaped (no markup eaten)
        assert "support@northwind.example" in screen and "[Evil]" in screen
        assert "auto-submitted: auto-generated" in screen  # the header that counted
        assert "receipt wording" in screen and "ship to" in screen
        assert "h human" in screen
        term.keys("z", "Enter")
        term.wait_for("unknown key")
        term.keys("h", "Enter")
        term.wait_for("recorded: human (was auto_ack)")
        term.wait_for("reply 2 of 2")
        term.keys("Enter")  # confirm the classifier
        screen = term.wait_for("EXIT=0")
        assert "reviewed 2 of 2 replies, 1 changed" in screen
    finally:
        term.close()
    ws = Workspace.open(workspace_dir)
    try:
        assert ws.store.get_probe(first.id).outcome == Outcome.ANSWERED
        assert ws.store.get_probe(second.id).outcome == Outcome.ANSWERED
        kinds = [e.data["kind"] for p in (first, second) for e in ws.store.events(p.id)
                 if e.kind == REVIEWED]
        assert kinds == ["human", "human"]
        assert sum(m.metrics.get("reviewed_by_person", 0) for m in ws.store.measurements()) == 2
    finally:
        ws.close()


def test_replies_list_json(workspace_dir, cli):
    ws = Workspace.open(workspace_dir)
    try:
        seed(ws)
    finally:
        ws.close()
    import json

    result = cli("replies", "list", "--json", "--workspace", str(workspace_dir))
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["kind"] == "auto_ack" and row["confidence"] == 0.55
    as_nl = cli("replies", "list", "--nl", "--workspace", str(workspace_dir))
    assert [json.loads(line) for line in as_nl.stdout.splitlines()] == [row]
    as_csv = cli("replies", "list", "--csv", "--workspace", str(workspace_dir))
    assert as_csv.stdout.splitlines()[0].startswith("probe_id,company,event_id,at,from")
    assert row["probe_id"] in as_csv.stdout.splitlines()[1]
    table = cli("replies", "list", "--workspace", str(workspace_dir))
    assert table.returncode == 0 and "auto_ack (0.55)" in table.stdout


# ------------------------------------------------------------------------------ promises

WEEKDAYS_9_17 = BusinessCalendar(
    timezone="Europe/Berlin", holiday_country="DE", holiday_subdiv="BY",
    schedules=(Schedule.from_mapping({d: ["09:00-17:00"] for d in
                                      ("mon", "tue", "wed", "thu", "fri")}),))


def test_promise_deadlines_business_vs_calendar_days():
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert promise_deadline(friday, {"amount": 24, "unit": "hours"}, WEEKDAYS_9_17) == \
        friday + timedelta(hours=24)
    assert promise_deadline(friday, {"amount": 2, "unit": "days"}, WEEKDAYS_9_17) == \
        friday + timedelta(days=2)
    # 2 business days from Friday: Monday and Tuesday, until Tuesday ends (Berlin time)
    due = promise_deadline(friday, {"amount": 2, "unit": "business_days"}, WEEKDAYS_9_17)
    assert due == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    # over Christmas: 24 Dec (Thu) sent, 25/26 holidays, weekend: the 1st business day is the 28th
    due = promise_deadline(datetime(2026, 12, 24, 10, 0, tzinfo=UTC),
                           {"amount": 1, "unit": "business_days"}, WEEKDAYS_9_17)
    assert due == datetime(2026, 12, 28, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(("human_after", "kept"), [(timedelta(hours=20), True),
                                                   (timedelta(hours=30), False),
                                                   (None, False)])
def test_promise_kept_is_measured(workspace, human_after, kept):
    seed(workspace, review=False, promise={"amount": 24, "unit": "hours", "text": "within 24 "
                                           "hours", "lang": "en"}, human_after=human_after)
    [m] = workspace.store.measurements()
    assert m.metrics["promise"]["unit"] == "hours"
    assert m.metrics["promise_kept"] is kept


def test_report_and_results_show_promises_and_reviews(workspace_dir, cli, tmp_path):
    import json

    ws = Workspace.open(workspace_dir)
    try:
        seed(ws, review=False, promise={"amount": 24, "unit": "hours", "text": "within 24 hours",
                                        "lang": "en"}, human_after=timedelta(hours=20))
        seed(ws, review=False, promise={"amount": 1, "unit": "business_days", "text": "x",
                                        "lang": "en"}, human_after=timedelta(days=2, hours=20))
        assert pending(ws.store) == []  # nothing flagged yet
        seed(ws)
        [item] = pending(ws.store)
        record_verdict(ws.store, ws.config, item, "human")
        months = {m.month for m in ws.store.measurements()}
    finally:
        ws.close()
    [month] = months
    monthly = cli("report", "--period", month, "--channel", "email", "--json",
                  "--workspace", str(workspace_dir))
    assert monthly.returncode == 0, monthly.stderr
    # a monthly report's section counts the month's probes as the quarter's does
    assert json.loads(monthly.stdout)["email_replies"]["probes"] == 3
    out = tmp_path / "out"
    result = cli("report", "--quarter", "2026Q4", "--channel", "email", "--format", "table",
                 "--format", "json", "--output", str(out), "--workspace", str(workspace_dir))
    assert result.returncode == 0, result.stderr
    assert "1 replies reviewed by a person across 3 probes" in result.stdout
    assert "promised reply times kept" in result.stdout
    [doc] = [json.loads(p.read_text()) for p in out.glob("*.json")]
    [row] = doc["email_replies"]["promises"]
    assert (row["company"], row["promised"], row["kept"], row["missed"]) == (
        "northwind-outfitters", 2, 1, 1)
    result = cli("results", "--channel", "email", "--workspace", str(workspace_dir))
    assert result.returncode == 0, result.stderr
    assert "promised 24 hours: kept" in result.stdout
    assert "1 reviewed by a person" in result.stdout


def test_a_verdict_that_takes_the_answer_away_reopens_the_probe(workspace):
    """Reviewed as automatic before any collection covered the deadline: the probe runs
    again (the next tick concludes it) instead of keeping a stale 'answered'."""
    probe = seed(workspace, kind="human")
    workspace.store.conn.execute("DELETE FROM events WHERE kind = 'email.collected'")
    [item] = pending(workspace.store)
    record_verdict(workspace.store, workspace.config, item, "auto_ack",
                   now=SENT + timedelta(days=4))
    again = workspace.store.get_probe(probe.id)
    assert again.status == ProbeStatus.RUNNING and again.outcome is None
    assert workspace.store.measurements() == []
