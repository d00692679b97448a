"""The chat probe plugin in a workspace: start, outcome, measurements, stored transcript,
config validation, and `svcbench chat try`, against the sandbox over real HTTP/WebSocket."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from svcbench.errors import ConfigError, RetryableProbeError
from svcbench.hours import BusinessCalendar
from svcbench.lifecycle import finish_probe
from svcbench.models import Channel, Outcome, Probe, ProbeStatus, new_id, utcnow
from svcbench.plugins import probe_plugin
from svcbench.probes.chat.measure import (
    chat_measurement,
    is_still_waiting,
    queue_position_in,
    wait_estimate_in,
)
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox
from svcbench.sandbox.mail_servers import free_port
from svcbench.workspace import Workspace

SCENARIO = """
[[scenario]]
id = "quick-chat"
question = "Do you ship to Norway?"

[[scenario.checks]]
name = "mentions Norway"
pattern = '(?i)norw'

[scenario.chat]
greeting_wait_s = 0.2
ask_human_after_bot_turns = 1
follow_up = "And returns?"
connect_timeout_s = 3
first_reply_timeout_s = 3
human_timeout_s = 4
follow_up_timeout_s = 2
"""


def company(slug: str, chat: str) -> str:
    return f"""
[[company]]
id = "{slug}"
name = "{slug.title()}"
[company.channels.chat]
{chat}
"""


@pytest.fixture(scope="module")
def sandbox():
    companies = {"acme": ChatBehaviour(queue_positions=[(0.2, 2)], still_waiting_every=0.2,
                                       agent_joined_after=0.7, agent_reply_after=0.2)}
    with ChatSandbox(companies) as box:
        yield box


@pytest.fixture
def chat_workspace(workspace_dir: Path, sandbox) -> Path:
    (workspace_dir / "probes" / "chat.toml").write_text(
        SCENARIO
        + company("acme-ws", f'connector = "websocket"\nbase_url = "{sandbox.url("acme")}"')
        + company("acme-rest", f'connector = "rest"\nbase_url = "{sandbox.url("acme")}"\n'
                  "poll_interval_s = 0.1")
        + company("down", f'connector = "rest"\nbase_url = "http://127.0.0.1:{free_port()}"'))
    return workspace_dir


def new_probe(slug: str) -> Probe:
    now = utcnow()
    return Probe(id=new_id(), company=slug, channel=Channel.CHAT, plugin="chat",
                 scenario="quick-chat", shopper="anna", status=ProbeStatus.RUNNING,
                 due_at=now, started_at=now, deadline_at=now + timedelta(minutes=5))


@pytest.mark.parametrize("slug", ["acme-ws", "acme-rest"])
def test_probe_runs_measures_and_keeps_the_transcript(chat_workspace, sandbox, slug):
    ws = Workspace.open(chat_workspace)
    try:
        plugin = probe_plugin("chat")
        probe = new_probe(slug)
        ws.store.add_probe(probe)
        events = asyncio.run(plugin.start(probe, ws.context()))
        ws.store.add_events(events)
        outcome = plugin.outcome(probe, events, utcnow())
        assert outcome is Outcome.ANSWERED
        m = finish_probe(ws.store, probe, outcome, config=ws.config)
        chat = [c for c in sandbox.chats("acme") if c.visitor.get("name") == "Anna Berg"][-1]
        truth = sandbox.engine.truth(chat)
        expected = truth["first_human_reply"] - truth["first_visitor_message"]
        tolerance = 0.05 if slug == "acme-ws" else 0.12
        assert m.answered_by_human and abs(m.wait_s - expected) <= tolerance
        assert m.first_response_s < m.wait_s
        assert m.wait_bh_s is not None
        assert m.metrics["queue_announced"] and m.metrics["queue_positions"][0] == 2
        assert m.metrics["asked_human"] and m.metrics["transcript_length"] >= 6
        messages = ws.store.messages(probe.id)
        out = [x for x in messages if x["direction"] == "out"]
        assert [x["text"] for x in out][:2] == ["Do you ship to Norway?",
                                                "Could I talk to a person, please?"]
        assert any(x["actor"] == "agent" and "Norway" in x["text"] for x in messages)
        grades = list(ws.store.db.query("SELECT * FROM grades WHERE probe_id = ?",
                                         [probe.id]))
        assert [(g["check_name"], g["passed"]) for g in grades] == [("mentions Norway", 1)]
    finally:
        ws.close()


def test_unreachable_chat_is_retried_later(chat_workspace):
    ws = Workspace.open(chat_workspace)
    try:
        with pytest.raises(RetryableProbeError, match="cannot connect"):
            asyncio.run(probe_plugin("chat").start(new_probe("down"), ws.context()))
    finally:
        ws.close()


@pytest.mark.parametrize("chat, key, problem", [
    ('connector = "nope"', "channels.chat.connector", "unknown chat connector"),
    ('connector = "rest"', "channels.chat.base_url", "required"),
    ('connector = "rest"\nbase_url = "http://x"\npoll_interval_s = -1',
     "channels.chat.poll_interval_s", "greater than 0"),
    ('connector = "websocket"\nbase_url = "http://x"\nbogus = 1', "channels.chat.bogus",
     "unknown key"),
])
def test_bad_chat_endpoint_is_one_clear_config_error(workspace_dir, chat, key, problem):
    (workspace_dir / "probes" / "bad.toml").write_text(company("bad-co", chat))
    with pytest.raises(ConfigError) as info:
        Workspace.open(workspace_dir)
    assert key in str(info.value) and problem in str(info.value)
    assert "bad.toml" in str(info.value)


def test_cli_chat_try_prints_transcript_and_measurements(chat_workspace, cli):
    result = cli("chat", "try", "acme-ws", "--scenario", "quick-chat", "--json",
                 cwd=chat_workspace)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["outcome"] == "answered"
    assert report["measurement"]["answered_by_human"] is True
    assert report["measurement"]["wait_s"] > 0
    roles = [line["role"] for line in report["transcript"]]
    assert "question" in roles and "follow_up" in roles
    table = cli("chat", "try", "acme-rest", "--scenario", "quick-chat", cwd=chat_workspace)
    assert table.returncode == 0, table.stderr
    assert "first human reply" in table.stdout and "Could I talk to a person" in table.stdout
    listed = json.loads(cli("results", "--json", "--channel", "chat",
                            cwd=chat_workspace).stdout)
    assert {r["probe_id"] for r in listed} >= {report["probe_id"]}


def test_cli_chat_try_errors_are_one_line(chat_workspace, cli):
    unknown = cli("chat", "try", "no-such-co", cwd=chat_workspace)
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    no_chat = cli("chat", "try", "northwind-outfitters", cwd=chat_workspace)
    assert no_chat.returncode == 2 and "no chat endpoint" in no_chat.stderr
    down = cli("chat", "try", "down", "--scenario", "quick-chat", cwd=chat_workspace)
    assert down.returncode == 1
    assert "cannot connect" in down.stderr and "Traceback" not in down.stderr


def test_queue_and_waiting_texts_in_several_languages():
    assert queue_position_in("You are number 3 in the queue.") == 3
    assert queue_position_in("Sie sind Nummer 4 in der Warteschlange") == 4
    assert queue_position_in("Vous êtes en position 2 dans la file d'attente") == 2
    assert queue_position_in("Estás en la posición 5 de la cola") == 5
    assert queue_position_in("Order number 4471 has shipped") is None
    assert wait_estimate_in("Die Wartezeit beträgt ca. 3 Minuten") == 180
    assert wait_estimate_in("Temps d'attente estimé : 90 secondes") == 90
    assert wait_estimate_in("Expected waiting time: 1.5 hours") == 5400
    assert wait_estimate_in("We ship in 3 days") is None
    assert is_still_waiting("Danke für Ihre Geduld")
    assert is_still_waiting("Thank you for your patience!")
    assert not is_still_waiting("Hi, Anna here.")


def test_business_hours_variant_uses_the_calendar():
    from svcbench.models import Event

    probe = new_probe("x")
    t0 = utcnow()

    def at(s):
        return t0 + timedelta(seconds=s)

    events = [
        Event(probe.id, "chat.message", at(0), {"actor": "visitor", "role": "question",
                                                "echoed": True}),
        Event(probe.id, "chat.message", at(2), {"actor": "bot", "text": "Hi"}),
        Event(probe.id, "chat.agent_joined", at(30), {"agent": "Eva"}),
        Event(probe.id, "chat.message", at(40), {"actor": "agent", "text": "Hello"}),
    ]
    m = chat_measurement(probe, events, BusinessCalendar(), Outcome.ANSWERED)
    assert (m.first_response_s, m.wait_s, m.metrics["connect_s"]) == (2, 40, 30)
    assert m.wait_bh_s == 40 and m.metrics["connect_bh_s"] == 30


def test_widget_page_is_served_with_the_company_filled_in(sandbox):
    import httpx

    page = httpx.get(sandbox.url("acme") + "/widget")
    assert page.status_code == 200 and "{{company}}" not in page.text and "acme" in page.text
    assert httpx.get(sandbox.url("nobody") + "/widget").status_code == 404
    assert httpx.get(sandbox.base_url + "/static/host.html").status_code == 200
