"""Chat events are stored as they happen: a real `svcbench tick` process killed with kill -9
mid-conversation is recovered from what it saw, and the company is never contacted twice.
Also `probes run ID` / `tick --probe ID`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import SVCBENCH
from svcbench.models import Channel, Probe, ProbeStatus, new_id, utcnow
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox
from svcbench.workspace import Workspace

COMPANIES = {
    # the agent replies, then never answers the follow-up: a wide window to kill in
    "replier": ChatBehaviour(agent_joined_after=0.3, agent_reply_after=0.1,
                             answers_follow_up=False),
    # nobody ever replies: killed after our question went out
    "mute": ChatBehaviour(greeting=None, bot_reply_after=None, agent_joined_after=None),
    "answerer": ChatBehaviour(agent_joined_after=0.2, agent_reply_after=0.1),
}

SCENARIO = """
[[scenario]]
id = "kill-chat"
question = "Do you ship to Norway?"
[scenario.chat]
greeting_wait_s = 0.1
ask_human_after_bot_turns = 0
follow_up = "And returns?"
connect_timeout_s = 5
first_reply_timeout_s = 60
human_timeout_s = 60
follow_up_timeout_s = 60
"""


@pytest.fixture(scope="module")
def sandbox():
    with ChatSandbox(COMPANIES) as box:
        yield box


@pytest.fixture
def chat_ws(workspace_dir: Path, sandbox) -> Path:
    companies = "".join(f"""
[[company]]
id = "{slug}"
name = "{slug.title()}"
[company.channels.chat]
connector = "websocket"
base_url = "{sandbox.url(slug)}"
""" for slug in COMPANIES)
    (workspace_dir / "probes" / "chat.toml").write_text(SCENARIO + companies)
    return workspace_dir


def planned(root: Path, company: str, due_in: timedelta = timedelta(hours=2)) -> str:
    ws = Workspace.open(root)
    now = utcnow()
    probe = Probe(id=new_id(), company=company, channel=Channel.CHAT, plugin="chat",
                  scenario="kill-chat", status=ProbeStatus.PLANNED, due_at=now + due_in,
                  deadline_at=now + due_in + timedelta(hours=1), token="tok" + new_id()[:6])
    ws.store.add_probe(probe)
    ws.close()
    return probe.id


def rows(root: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(root / "svcbench.db", timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def tick_until(root: Path, probe_id: str, sql: str, timeout_s: float = 30) -> None:
    """Start `svcbench tick --probe ID` and kill -9 it as soon as ``sql`` finds a row."""
    proc = subprocess.Popen([str(SVCBENCH), "tick", "--probe", probe_id, "--workspace",
                             str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "COLUMNS": "200"})
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"tick ended before the kill: {proc.stderr.read().decode()}")
            try:
                if rows(root, sql, probe_id):
                    break
            except sqlite3.OperationalError:
                pass  # locked for a moment by the writer
            time.sleep(0.02)
        else:
            pytest.fail("the awaited row never appeared")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def status(root: Path, probe_id: str) -> tuple:
    return rows(root, "SELECT status, outcome, outcome_reason FROM probes WHERE id = ?",
                probe_id)[0]


def test_killed_after_the_agent_replied_is_answered(chat_ws, sandbox, cli):
    probe_id = planned(chat_ws, "replier")
    tick_until(chat_ws, probe_id, "SELECT 1 FROM messages WHERE probe_id = ? AND actor = 'agent'")
    assert status(chat_ws, probe_id)[0] == "starting"  # the kill left it mid-start
    result = cli("tick", "--workspace", str(chat_ws))
    assert result.returncode == 0, result.stderr
    state, outcome, reason = status(chat_ws, probe_id)
    assert (state, outcome) == ("done", "answered"), reason
    measured = rows(chat_ws, "SELECT answered_by_human, wait_s FROM measurements "
                    "WHERE probe_id = ?", probe_id)
    assert measured[0][0] == 1 and measured[0][1] > 0
    assert len(sandbox.chats("replier")) == 1  # never contacted again


def test_killed_after_the_question_keeps_the_transcript_and_is_ours(chat_ws, sandbox, cli):
    probe_id = planned(chat_ws, "mute")
    tick_until(chat_ws, probe_id, "SELECT 1 FROM events WHERE probe_id = ? AND "
               "kind = 'chat.sending'")
    time.sleep(0.3)  # the question reached the company; its echo may or may not be stored
    result = cli("tick", "--workspace", str(chat_ws))
    assert result.returncode == 0, result.stderr
    state, outcome, reason = status(chat_ws, probe_id)
    assert (state, outcome) == ("done", "failed") and "interrupted" in reason
    texts = [r[0] for r in rows(chat_ws, "SELECT text FROM messages WHERE probe_id = ? AND "
                                "direction = 'out'", probe_id)]
    assert texts == ["Do you ship to Norway?"]
    assert len(sandbox.chats("mute")) == 1
    # and it is never started again
    again = cli("probes", "run", probe_id[:8], "--workspace", str(chat_ws))
    assert again.returncode == 2 and "never twice" in again.stderr
    assert len(sandbox.chats("mute")) == 1


def test_probes_run_starts_one_planned_probe_now(chat_ws, sandbox, cli):
    probe_id = planned(chat_ws, "answerer", due_in=timedelta(days=3))
    other = planned(chat_ws, "mute", due_in=timedelta(seconds=-1))  # due, but not asked for
    before = len(sandbox.chats("answerer"))
    result = cli("probes", "run", probe_id, "--workspace", str(chat_ws), "--json")
    assert result.returncode == 0, result.stderr
    ran = json.loads(result.stdout)["probe"]
    assert ran["status"] == "done" and ran["outcome"] == "answered"
    assert len(sandbox.chats("answerer")) == before + 1
    assert status(chat_ws, other)[0] == "planned"
    listed = cli("probes", "--status", "done", "--json", "--workspace", str(chat_ws))
    assert probe_id in {p["id"] for p in json.loads(listed.stdout)}
    missing = cli("tick", "--probe", "nonexistent", "--workspace", str(chat_ws))
    assert missing.returncode == 2 and "no probe" in missing.stderr
