"""Grades in the store: several reviewers side by side, merged across shoppers' databases;
what a grader sees of each channel."""

from __future__ import annotations

from datetime import timedelta

from grading_fixtures import GOOD, START, add_answered
from svcbench.grading.store import interaction, load_grades, save_grades
from svcbench.models import Channel, Event
from svcbench.store import Store
from svcbench.workspace import Workspace


def test_reviewers_grades_merge_in_either_order(tmp_path, workspace_dir):
    ws = Workspace.open(workspace_dir)
    try:
        probe = add_answered(ws, "northwind-outfitters", Channel.EMAIL, GOOD)
    finally:
        ws.close()
    # two copies of the database; each reviewer grades in their own
    base = workspace_dir / "svcbench.db"
    copies = {}
    for reviewer, value in (("anna", 1.0), ("bob", 0.0)):
        path = tmp_path / f"{reviewer}.db"
        with Store(base) as src:
            src.conn.execute("VACUUM INTO ?", (str(path),))
        with Store(path) as store:
            save_grades(store, probe.id, kind="human", reviewer=reviewer,
                        values={"fully_answered": value, "knowledge": 3.0})
        copies[reviewer] = path
    results = []
    for order in (("anna", "bob"), ("bob", "anna")):
        target = tmp_path / f"team-{'-'.join(order)}.db"
        with Store(base) as src:
            src.conn.execute("VACUUM INTO ?", (str(target),))
        with Store(target) as team:
            for reviewer in order:
                team.merge(copies[reviewer])
            again = team.merge(copies[order[0]])
            assert again.get("quality_grades") == 0
            rows = load_grades(team.conn)
            results.append(sorted((r.grader, r.item, r.value) for r in rows))
    assert results[0] == results[1]
    graders = {g for g, _, _ in results[0]}
    assert graders == {"key", "human:anna", "human:bob"}


def test_phone_grades_use_the_shoppers_notes_without_undone_ones(workspace_dir):
    ws = Workspace.open(workspace_dir)
    try:
        probe = add_answered(ws, "northwind-outfitters", Channel.PHONE, "ships to norway, 5 days")
        wrong = Event(probe.id, "call.note", START + timedelta(minutes=3),
                      {"text": "typo note"}, source="manual")
        ws.store.add_events([wrong, Event(probe.id, "call.undo", START + timedelta(minutes=4),
                                          {"event_id": wrong.id}, source="manual"),
                             Event(probe.id, "call.resolved", START + timedelta(minutes=5),
                                   source="manual")])
        seen = interaction(ws.store, ws.config, probe)
        assert seen.source == "shopper notes"
        assert [ln.text for ln in seen.lines] == ["ships to norway, 5 days",
                                                  "(shopper marked the call resolved)"]
        assert "Ask whether they ship to Norway" in seen.question
    finally:
        ws.close()




def test_web_form_replies_are_graded_like_email(workspace_dir):
    ws = Workspace.open(workspace_dir)
    try:
        probe = add_answered(ws, "northwind-outfitters", Channel.FORM, GOOD)
        seen = interaction(ws.store, ws.config, probe)
        assert seen.source == "email replies" and "On Tue" not in seen.company_text()
        [fully] = [r for r in load_grades(ws.store.conn, [probe.id]) if r.item == "fully_answered"]
        assert fully.kind == "key" and fully.value == 1.0
    finally:
        ws.close()


def test_recompute_grades_again_after_the_answer_key_changed(workspace_dir, cli):
    ws = Workspace.open(workspace_dir)
    try:
        probe = add_answered(ws, "northwind-outfitters", Channel.EMAIL,
                             "We ship to Norway in 5 days for 9 EUR.")
    finally:
        ws.close()
    scenarios = workspace_dir / "probes" / "scenarios.toml"
    before = grades_of(workspace_dir, probe.id)
    assert before["fully_answered"] == 1.0
    # a stricter key: the reply must now mention customs
    scenarios.write_text(scenarios.read_text().replace(
        '[[scenario.answer_key.extras]]\nid = "customs"',
        '[[scenario.answer_key.facts]]\nid = "customs"', 1))
    done = cli("db", "recompute", cwd=workspace_dir)
    assert done.returncode == 0, done.stderr
    assert grades_of(workspace_dir, probe.id)["fully_answered"] == 0.0


def grades_of(workspace_dir, probe_id):
    ws = Workspace.open(workspace_dir)
    try:
        return {r.item: r.value for r in load_grades(ws.store.conn, [probe_id])}
    finally:
        ws.close()
