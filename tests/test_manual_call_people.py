"""`svcbench call` as a person uses it: durations typed as elsewhere, what to ask, a closed
company, Ctrl-C that asks first, and a call that fulfils the campaign's planned phone probe.
Real console script in tmux."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from svcbench.models import Outcome, ProbeStatus
from svcbench.workspace import Workspace
from test_manual_call import needs_tmux, start_call

pytestmark = needs_tmux


def _probes(workspace_dir):
    ws = Workspace.open(workspace_dir)
    try:
        return {p.id: p for p in ws.store.probes()}, ws.store.measurements()
    finally:
        ws.close()


def test_announced_wait_takes_minutes_and_clock_times(workspace_dir):
    term = start_call(workspace_dir)
    try:
        screen = term.wait_for("when you dial")
        assert "No scenario: ask a question of your own" in screen
        term.keys("d")
        term.wait_for_log("dialed")
        term.keys("w")
        term.keys("-l", "5m")
        term.keys("Enter")
        term.wait_for("wait announced: 300 s")
        term.keys("w")
        term.keys("-l", "1:30")
        term.keys("Enter")
        term.wait_for("wait announced: 90 s")
        term.keys("w")
        term.keys("-l", "1:2:3:4")  # not a duration: asked again, nothing recorded
        term.keys("Enter")
        term.wait_for("is not a duration")
        term.keys("Escape")
        term.keys("a")
        term.wait_for_log("live agent answered")
        term.keys("x")
        term.wait_for("EXIT=0")
    finally:
        term.close()
    _, [m] = _probes(workspace_dir)
    assert m.metrics["wait_announced_s"] in (300, 90)  # the measurement keeps one of them
    ws = Workspace.open(workspace_dir)
    try:
        [probe] = ws.store.probes()
        announced = [e.data.get("seconds") for e in ws.store.events(probe.id)
                     if e.kind == "call.wait_announced"]
    finally:
        ws.close()
    assert announced == [300, 90]


def test_closed_company_is_warned_about(workspace_dir):
    companies = workspace_dir / "probes" / "companies.toml"
    today = date.today()
    closed = ", ".join(f'"{today + timedelta(days=d)}"' for d in (-1, 0, 1))
    text = companies.read_text().replace('closed_dates = ["2026-12-31"]',
                                         f"closed_dates = [{closed}]", 1)
    companies.write_text(text)
    term = start_call(workspace_dir, "--scenario", "shipping-norway")
    try:
        screen = term.wait_for("when you dial")
        assert "Closed now (opens" in screen and "Ask:" in screen
        term.keys("q")
        term.wait_for("EXIT=0")
    finally:
        term.close()


def test_ctrl_c_asks_before_cancelling(workspace_dir):
    term = start_call(workspace_dir)
    try:
        term.wait_for("when you dial")
        term.keys("d")
        term.wait_for_log("dialed")
        term.keys("C-c")
        screen = term.wait_for("Quit without hanging up?")
        assert "Ctrl-C: y cancels the call" in screen
        term.keys("n")  # go on: the call is still timed
        term.keys("h")
        term.wait_for_log("on hold")
        term.keys("C-c")
        term.wait_for("Quit without hanging up?")
        term.keys("C-c")  # a second Ctrl-C confirms
        screen = term.wait_for("EXIT=0")
        assert "cancelled" in screen
    finally:
        term.close()
    probes, [m] = _probes(workspace_dir)
    [probe] = probes.values()
    assert probe.outcome == Outcome.CANCELLED and m.outcome == Outcome.CANCELLED


def test_a_call_fulfils_the_next_planned_phone_probe(workspace_dir, cli):
    done = cli("plan", cwd=workspace_dir)
    assert done.returncode == 0, done.stderr
    before, _ = _probes(workspace_dir)
    planned = sorted((p for p in before.values() if p.channel == "phone"
                      and p.company == "northwind-outfitters"), key=lambda p: p.due_at)
    assert planned and all(p.status == ProbeStatus.PLANNED for p in planned)
    term = start_call(workspace_dir)
    try:
        screen = term.wait_for("when you dial")
        assert f"fulfils planned probe {planned[0].id[:8]} of campaign retail-q4" in screen
        assert "Ask:" in screen and "Norway" in screen  # the planned probe's scenario
        term.keys("d")
        term.wait_for_log("dialed")
        time.sleep(0.5)
        term.keys("a")
        term.wait_for_log("live agent answered")
        term.keys("x")
        term.wait_for("EXIT=0")
    finally:
        term.close()
    after, measurements = _probes(workspace_dir)
    assert set(after) == set(before)  # no new probe: the planned one was used
    probe = after[planned[0].id]
    assert probe.status == ProbeStatus.DONE and probe.outcome == Outcome.ANSWERED
    assert probe.scenario == "shipping-norway" and probe.shopper == "anna"
    assert [m.probe_id for m in measurements] == [probe.id]
    assert all(after[p.id].status == ProbeStatus.PLANNED for p in planned[1:])


@pytest.mark.parametrize("typed,seconds", [("90", 90), ("5m", 300), ("1:30", 90),
                                           ("1m30s", 90), ("2h", 7200)])
def test_stopwatch_wait_prompt_parses_like_the_rest_of_the_cli(typed, seconds):
    from svcbench.probes.manual.stopwatch import CallStopwatch

    watch = CallStopwatch(probe_id="p")
    watch.press("d")
    watch.press("w")
    for key in typed:
        watch.press(key)
    [event] = watch.press("\r")
    assert event.kind == "call.wait_announced" and event.data == {"seconds": seconds}
