"""`svcbench call`: the real console script in a real terminal (tmux), keys sent as a person
would press them, results checked in the database."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from svcbench.models import Outcome
from svcbench.workspace import Workspace

SVCBENCH = Path(sys.executable).with_name("svcbench")

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Terminal:
    """A detached tmux session on its own server socket, running one command."""

    def __init__(self, command: str):
        self.socket = f"svcbench-test-{uuid.uuid4().hex[:12]}"
        self.env = {k: v for k, v in os.environ.items() if k != "TMUX"}
        self.tmux("new-session", "-d", "-x", "120", "-y", "40", command)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, env=self.env, timeout=10, check=True).stdout

    def keys(self, *keys: str) -> float:
        """Send keys; returns the monotonic time they were sent."""
        sent = time.monotonic()
        self.tmux("send-keys", *keys)
        return sent

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared on screen:\n{screen}")
            time.sleep(0.05)

    def wait_for_log(self, line: str, timeout: float = 20) -> str:
        """Wait until the on-screen event log has a row '+<elapsed>  <line>'."""
        pattern = re.compile(rf"\+[0-9][0-9.msdh ]*\s{{2}}{re.escape(line)}\s*│")
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if pattern.search(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"log row {line!r} never appeared on screen:\n{screen}")
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       env=self.env, timeout=10)
        socket_dir = Path(self.env.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (socket_dir / self.socket).unlink(missing_ok=True)


def start_call(workspace_dir: Path, *args: str) -> Terminal:
    command = " ".join(shlex.quote(a) for a in (
        str(SVCBENCH), "call", "northwind-outfitters", "--workspace", str(workspace_dir), *args))
    return Terminal(f"{command}; echo EXIT=$?; sleep 120")


def stored(workspace_dir: Path):
    ws = Workspace.open(workspace_dir)
    try:
        [probe] = ws.store.probes()
        return probe, ws.store.events(probe.id), ws.store.measurements()
    finally:
        ws.close()


@needs_tmux
def test_call_stopwatch_times_a_call_in_a_real_terminal(workspace_dir):
    term = start_call(workspace_dir, "--scenario", "shipping-norway", "--shopper", "anna")
    try:
        screen = term.wait_for("when you dial")
        assert "+49 89 1234 5670" in screen and "Norway" in screen
        assert "live agent answered" in screen  # the key legend
        dialed = term.keys("d")
        term.wait_for_log("dialed")
        # the probe exists (running) as soon as the number is dialed
        probe, events, _ = stored(workspace_dir)
        assert probe.status == "running" and [e.kind for e in events] == ["call.dialed"]

        term.keys("i")
        term.keys("o")
        term.wait_for("Which option?")
        term.keys("2")
        term.wait_for("option pressed: 2")
        held = term.keys("h")
        term.wait_for_log("on hold")
        term.keys("w")
        term.keys("9", "0", "Enter")
        term.wait_for("wait announced: 90 s")
        time.sleep(1.5)
        answered = term.keys("a")
        term.wait_for_log("live agent answered")
        term.keys("t")
        term.wait_for_log("transferred")
        term.keys("u")  # a mistake: take the transfer back
        term.wait_for("undid: transferred")
        term.keys("n")
        term.keys("-l", "ships in 5 days")
        term.keys("Enter")
        term.wait_for("note: ships in 5 days")
        term.keys("x")
        screen = term.wait_for("EXIT=0")
        assert "time to live agent" in screen and "IVR steps            1" in screen
    finally:
        term.close()

    probe, events, [m] = stored(workspace_dir)
    assert probe.status == "done" and probe.outcome == Outcome.ANSWERED
    assert probe.scenario == "shipping-norway" and probe.shopper == "anna"
    assert all(e.source == "manual" for e in events)
    assert "call.undo" in [e.kind for e in events]
    assert m.answered_by_human
    assert m.wait_s == pytest.approx(answered - dialed, abs=0.5)
    assert m.metrics["hold_s"] == pytest.approx(answered - held, abs=0.5)
    assert m.metrics["ivr_steps"] == 1
    assert m.metrics["wait_announced_s"] == 90
    assert m.metrics["transfers"] == 0  # undone
    assert m.first_response_s is not None and m.first_response_s < m.wait_s


@needs_tmux
def test_hanging_up_without_an_agent_is_abandoned(workspace_dir):
    term = start_call(workspace_dir)
    try:
        term.wait_for("when you dial")
        dialed = term.keys("Space")
        term.wait_for_log("dialed")
        term.keys("h")
        term.wait_for_log("on hold")
        time.sleep(1)
        hung_up = term.keys("x")
        screen = term.wait_for("EXIT=0")
        assert "abandoned" in screen
    finally:
        term.close()
    probe, _, [m] = stored(workspace_dir)
    assert probe.outcome == Outcome.ABANDONED and m.wait_s is None
    assert m.metrics["abandoned_after_s"] == pytest.approx(hung_up - dialed, abs=0.5)


@needs_tmux
def test_quitting_keeps_the_marks_as_a_cancelled_call(workspace_dir):
    term = start_call(workspace_dir)
    try:
        term.wait_for("when you dial")
        term.keys("d")
        term.wait_for_log("dialed")
        term.keys("i")
        term.wait_for_log("IVR prompt")
        term.keys("q")
        term.wait_for("Quit without hanging up?")
        term.keys("y")
        screen = term.wait_for("EXIT=0")
        assert "cancelled" in screen
    finally:
        term.close()
    probe, events, [m] = stored(workspace_dir)
    assert probe.outcome == Outcome.CANCELLED and m.outcome == Outcome.CANCELLED
    assert [e.kind for e in events] == ["call.dialed", "call.ivr_prompt"]


def test_call_needs_a_terminal(workspace_dir, cli):
    result = cli("call", "northwind-outfitters", cwd=workspace_dir, input="")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "svcbench log call" in result.stderr


def test_call_unknown_company(workspace_dir, cli):
    result = cli("call", "nobody", cwd=workspace_dir, input="")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown company 'nobody'" in result.stderr
