"""`svcbench grade` in a real terminal (tmux), `grade auto`, `grade stats`, and the report's
quality part in every format."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pandas as pd
import pytest

from grading_fixtures import GOOD, PARTIAL, WRONG, add_answered
from svcbench.grading.store import load_grades
from svcbench.models import Channel
from svcbench.workspace import Workspace
from test_manual_call import Terminal, needs_tmux

SVCBENCH = Path(sys.executable).with_name("svcbench")


@pytest.fixture
def graded_ws(workspace_dir):
    toml = workspace_dir / "svcbench.toml"
    text = toml.read_text()
    assert "quality = 0.2" in text  # the example workspace ranks with answer quality
    toml.write_text(text.replace("quality = 0.2", "quality = 0.3")
                    .replace("bootstrap_samples = 200", "bootstrap_samples = 50"))
    ws = Workspace.open(workspace_dir)
    try:
        for company, reply in (("northwind-outfitters", GOOD), ("contoso-telecom", PARTIAL),
                               ("fabrikam-home", WRONG)):
            for day in range(3):
                add_answered(ws, company, Channel.EMAIL, reply, day=day)
        add_answered(ws, "northwind-outfitters", Channel.CHAT, "We ship to Norway, 4 days.")
        add_answered(ws, "northwind-outfitters", Channel.PHONE, "ships to norway, 5 days, 10 eur")
    finally:
        ws.close()
    return workspace_dir


def grades(workspace_dir: Path, kind: str):
    ws = Workspace.open(workspace_dir)
    try:
        return load_grades(ws.store.conn, kinds=[kind])
    finally:
        ws.close()


def test_answers_are_graded_by_key_when_they_finish(graded_ws, cli):
    rows = grades(graded_ws, "key")
    fully = [r for r in rows if r.item == "fully_answered"]
    assert len(fully) == 11 and sum(r.value for r in fully) == 5  # 3 good, the chat, the call
    wrong = next(r for r in fully if r.value == 0 and "forbidden" in str(r.detail["flags"]))
    assert wrong.detail["forbidden"] == ["no-customs"] and wrong.detail["source"] == "email replies"
    # the old regex checks keep their own table
    done = cli("grade", "auto", "--json", cwd=graded_ws)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"graded": 11, "fully_answered": 5, "no_key": 0}


def start_grading(workspace_dir: Path, *args: str) -> Terminal:
    command = " ".join(shlex.quote(a) for a in (
        str(SVCBENCH), "grade", "--workspace", str(workspace_dir), "--channel", "email",
        "--company", "northwind-outfitters", *args))
    return Terminal(f"{command}; echo EXIT=$?; sleep 120")


def grade_in_terminal(term: Terminal, answers: list[str]) -> None:
    for keys in answers:
        term.wait_for("your grade")
        for key in keys:
            term.keys(key)
        term.wait_for("Enter saves this grade")
        term.keys("Enter")


@needs_tmux
def test_two_reviewers_grade_in_the_terminal_and_agreement_is_computed(graded_ws, cli):
    term = start_grading(graded_ws, "--reviewer", "anna")
    try:
        screen = term.wait_for("Answer 1 of 3")
        assert "reviewer anna" in screen and "Northwind Outfitters" in screen
        assert "Do you ship there" in screen or "Asked:" in screen
        assert "[company]" in screen and "Marta" in screen  # what came back
        assert "\\x1b]0;title" in screen  # a company's escape codes are shown, not run
        assert "On Tue, Anna wrote" not in screen  # quoted history is not the answer
        assert "✓ says whether they ship to Norway" in screen and "ship to norway" in screen
        assert "Automatic grade: fully answered" in screen
        term.keys("7")  # not a value of the yes/no item
        term.wait_for("press y or n")
        term.keys("y", "4", "b")  # a mistake on knowledge: back
        term.keys("5", "5", "y", "n")
        term.wait_for("Enter saves this grade")
        term.keys("Enter")
        term.wait_for("Answer 2 of 3")
        grade_in_terminal(term, ["y44yy", "ys3ny"])  # s: can't tell
        screen = term.wait_for("EXIT=0")
        assert "Graded 3 of 3 answers as anna" in screen
    finally:
        term.close()
    anna = [r for r in grades(graded_ws, "human") if r.reviewer == "anna"]
    assert len(anna) == 15 and {r.grader for r in anna} == {"human:anna"}
    first = {r.item: r.value for r in anna if r.probe_id == min(x.probe_id for x in anna)}
    assert len({r.probe_id for r in anna}) == 3
    assert sorted(r.value for r in anna if r.item == "knowledge" and r.value is not None) == \
        [4.0, 5.0]
    assert sum(1 for r in anna if r.value is None) == 1 and first

    again = start_grading(graded_ws, "--reviewer", "anna")
    try:
        assert "Nothing to grade" in again.wait_for("EXIT=0")
    finally:
        again.close()

    bob = start_grading(graded_ws, "--reviewer", "bob", "--second-opinion")
    try:
        term = bob
        term.wait_for("Answer 1 of 3")
        grade_in_terminal(term, ["y55yy", "n33ny"])
        term.wait_for("Answer 3 of 3")
        for key in "y44yq":
            term.keys(key)
        screen = term.wait_for("EXIT=0")
        assert "Graded 2 of 3 answers as bob" in screen  # quit before the third was saved
    finally:
        bob.close()

    done = cli("grade", "stats", "--json", cwd=graded_ws)
    assert done.returncode == 0, done.stderr
    rows = {(a["item"], a["pair"]): a for a in json.loads(done.stdout)}
    people = rows[("fully_answered", "person vs person")]
    assert people["n"] == 2 and people["percent"] == 0.5
    assert rows[("knowledge", "person vs person")]["weighted_kappa"] is not None
    assert rows[("fully_answered", "key vs people")]["n"] >= 1
    table = cli("grade", "stats", cwd=graded_ws)
    assert "person vs person" in table.stdout and "kappa" in table.stdout
    assert "grades used from: human 3, key 8" in table.stdout.replace("\n", " ")
    csv = cli("grade", "stats", "--csv", cwd=graded_ws)
    assert csv.stdout.splitlines()[0] == "item,pair,n,percent,kappa,weighted_kappa"


@needs_tmux
def test_a_long_answer_scrolls_and_nothing_is_left_out(workspace_dir):
    long_reply = "\n".join(f"Line {i:02d} of our long answer." for i in range(1, 31))
    ws = Workspace.open(workspace_dir)
    try:
        add_answered(ws, "northwind-outfitters", Channel.EMAIL,
                     long_reply + "\nWe ship to Norway in 5 days for 9 EUR.")
    finally:
        ws.close()
    term = start_grading(workspace_dir, "--reviewer", "anna")
    try:
        screen = term.wait_for("j / k scroll")
        assert "lines 1-12 of 31" in screen and "Line 01" in screen and "Line 13" not in screen
        for _ in range(4):
            term.keys("j")
        screen = term.wait_for("lines 20-31 of 31")
        assert "We ship to Norway in 5 days" in screen and "Line 01" not in screen
        term.keys("k")
        term.wait_for("lines 14-25 of 31")
        term.keys("q")
        assert "Graded 0 of 1" in term.wait_for("EXIT=0")
    finally:
        term.close()


def test_report_has_the_quality_part_in_every_format(graded_ws, cli, tmp_path):
    done = cli("report", "-f", "table", "-f", "csv", "-f", "json", "-f", "html",
               "-o", str(tmp_path), "--limit", "0", cwd=graded_ws)
    assert done.returncode == 0, done.stderr
    assert "quality (graded/n)" in done.stdout and "(3/3)" in done.stdout
    assert "Quality: 11 graded probes (grades from key 11)" in done.stdout
    csv = pd.read_csv(tmp_path / "rankings-2026Q4.csv")
    email = csv[csv["channel"] == "email"].set_index("company")
    assert email.loc["northwind-outfitters", "graded_n"] == 3
    assert email.loc["northwind-outfitters", "probed_n"] == 3
    assert email.loc["northwind-outfitters", "share_fully_answered"] == 1.0
    assert email.loc["fabrikam-home", "share_fully_answered"] == 0.0
    assert email.loc["northwind-outfitters", "quality"] > email.loc["fabrikam-home", "quality"]
    assert bool(email.loc["northwind-outfitters", "quality_weighted"])
    assert email.loc["northwind-outfitters", "share_fully_answered_low"] < 1.0  # Wilson, n=3
    # the three have the same waits: quality decides the order
    assert email.sort_values("rank").index[0] == "northwind-outfitters"
    assert email.loc["northwind-outfitters", "quality_low"] <= \
        email.loc["northwind-outfitters", "quality"]
    doc = json.loads((tmp_path / "rankings-2026Q4.json").read_text())
    assert doc["methodology"]["weights"]["quality"] == pytest.approx(0.3 / 1.1)
    assert doc["methodology"]["quality"]["graded_by"] == {"key": 11}
    assert {r["graded_n"] for r in doc["rankings"] if r["channel"] == "email"} == {3}
    html = (tmp_path / "rankings-2026Q4.html").read_text()
    assert "Answer quality" in html and "fully answered" in html and "3/3" in html


def test_grading_needs_a_reviewer_and_a_terminal(graded_ws, cli):
    missing = cli("grade", cwd=graded_ws, input="", env={"SVCBENCH_REVIEWER": ""})
    assert missing.returncode == 2 and "--reviewer" in missing.stderr
    no_tty = cli("grade", "--reviewer", "anna", cwd=graded_ws, input="")
    assert no_tty.returncode == 2 and no_tty.stderr.count("\n") == 1
    assert "not a terminal" in no_tty.stderr
    bad = cli("grade", "--reviewer", "an na", cwd=graded_ws, input="")
    assert bad.returncode == 2 and "not a reviewer id" in bad.stderr
    unconfigured = cli("grade", "model", cwd=graded_ws)
    assert unconfigured.returncode == 2 and unconfigured.stderr.count("\n") == 1
    assert "grading.model" in unconfigured.stderr and "never run" in unconfigured.stderr
