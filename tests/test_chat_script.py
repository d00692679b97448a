"""The scenario runner's phases and failure modes, over real HTTP/WebSocket: each ends with
a clear outcome within its timeout."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from svcbench.config import ChatScript
from svcbench.models import Outcome
from svcbench.plugins import Secrets, chat_connector
from svcbench.probes.chat import to_event
from svcbench.probes.chat.connector import AnchoredClock, Visitor
from svcbench.probes.chat.measure import chat_metrics
from svcbench.probes.chat.script import run_chat
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox

COMPANIES = {
    "greeter": ChatBehaviour(greeting="Welcome! Ask us anything.", bot_reply_after=0.3,
                             agent_joined_after=0.6, agent_reply_after=0.1),
    "on-request": ChatBehaviour(human_on_request=True, bot_reply_after=0.1,
                                agent_joined_after=0.3, agent_reply_after=0.1,
                                still_waiting_every=0.15),
    "bot-only": ChatBehaviour(bot_reply_after=0.1, agent_joined_after=None),
    "dropper": ChatBehaviour(bot_reply_after=0.1, agent_joined_after=None,
                             drop_connection_after=0.4),
    "garbler": ChatBehaviour(bot_reply_after=None, agent_joined_after=None,
                             garbage_after=0.2, still_waiting_every=0.05),
    "silent": ChatBehaviour(never_answer=True),
    "broken": ChatBehaviour(http_error_rate=1.0),
    "flaky": ChatBehaviour(http_error_rate=0.25, bot_reply_after=0.1, agent_joined_after=0.3,
                           agent_reply_after=0.1),
}


@pytest.fixture(scope="module")
def sandbox():
    with ChatSandbox(COMPANIES) as box:
        yield box


def script(**changes) -> ChatScript:
    base = dict(greeting_wait_s=0.2, ask_human_after_bot_turns=1, follow_up=None,
                close_text=None, connect_timeout_s=2, first_reply_timeout_s=1.5,
                human_timeout_s=2.5, follow_up_timeout_s=1)
    return ChatScript(**{**base, **changes})


def run(name: str, options: dict, chat_script: ChatScript):
    clock = AnchoredClock()
    connector = chat_connector(name)(options, clock=clock, secrets=Secrets({}),
                                     visitor=Visitor("Anna"))
    started = time.monotonic()
    result = asyncio.run(run_chat(connector, chat_script, "Do you ship to Norway?",
                                  clock=clock))
    return result, time.monotonic() - started


def metrics_of(result):
    return chat_metrics([to_event("p", e) for e in result.events])


def ws(sandbox, company):
    return {"base_url": sandbox.url(company)}


def rest(sandbox, company):
    return {"base_url": sandbox.url(company), "poll_interval_s": 0.1}


def test_greeting_is_not_a_reply_and_follow_up_is_answered(sandbox):
    result, wall = run("websocket", ws(sandbox, "greeter"),
                       script(greeting_wait_s=0.3, follow_up="And returns?",
                              close_text="Bye!", ask_human_after_bot_turns=0))
    assert result.outcome is Outcome.ANSWERED
    m = metrics_of(result)
    truth = sandbox.truth("greeter")
    assert m["greetings"] == 1
    assert abs(m["first_reply_s"] - (truth["first_reply"] - truth["first_visitor_message"])) \
        < 0.05
    assert m["first_reply_s"] >= 0.25  # the greeting (before t0) would have given ~0
    kinds = [e.kind for e in result.events]
    assert "chat.follow_up_answered" in kinds
    roles = [e.data.get("role") for e in result.events if e.kind == "chat.message"]
    assert roles.count("question") == roles.count("follow_up") == roles.count("close") == 1
    assert kinds[-1] == "chat.ended" and result.events[-1].data["by"] == "us"
    assert wall < 4


def test_asks_for_a_human_after_the_bot_turn(sandbox):
    result, _ = run("websocket", ws(sandbox, "on-request"), script())
    assert result.outcome is Outcome.ANSWERED, result.reason
    m = metrics_of(result)
    truth = sandbox.truth("on-request")
    assert m["asked_human"] and m["human_on_request"] is True
    assert "human_requested_at" in truth
    # the agent only came after we asked
    assert truth["agent_joined"] > truth["human_requested_at"]
    assert m["still_waiting_count"] >= 1
    assert all(g > 0.1 for g in m["still_waiting_gaps_s"])


def test_without_asking_the_on_request_company_stays_bot_only(sandbox):
    result, wall = run("rest", rest(sandbox, "on-request"),
                       script(ask_human_after_bot_turns=0, human_timeout_s=1.2))
    assert result.outcome is Outcome.ANSWERED_AUTO_ONLY
    assert metrics_of(result)["asked_human"] is False
    assert wall < 1.2 + 1.5


def test_bot_only_company_answered_auto_only_after_human_timeout(sandbox):
    result, wall = run("rest", rest(sandbox, "bot-only"), script(human_timeout_s=1.0))
    assert result.outcome is Outcome.ANSWERED_AUTO_ONLY
    assert metrics_of(result)["human_on_request"] is False
    assert wall < 1.0 + 1.5


@pytest.mark.parametrize("connector", ["websocket", "rest"])
def test_company_drops_the_connection_after_we_asked(sandbox, connector):
    options = ws(sandbox, "dropper") if connector == "websocket" else rest(sandbox, "dropper")
    result, wall = run(connector, options, script(human_timeout_s=5))
    assert result.outcome is Outcome.ABANDONED
    assert "dropped" in result.reason
    assert result.events[-1].data["by"] == "company"
    assert wall < 2.5


@pytest.mark.parametrize("connector", ["websocket", "rest"])
def test_garbage_from_the_platform_fails_clearly(sandbox, connector):
    options = ws(sandbox, "garbler") if connector == "websocket" else rest(sandbox, "garbler")
    result, wall = run(connector, options, script(human_timeout_s=3))
    assert result.outcome is Outcome.FAILED
    assert "could not read" in result.reason
    assert any(e.kind == "chat.error" for e in result.events)
    assert wall < 3 + 1.5


@pytest.mark.parametrize("connector", ["websocket", "rest", "chatwoot"])
def test_never_answering_company_is_unanswered_at_the_first_reply_timeout(sandbox, connector):
    options = {"websocket": ws(sandbox, "silent"), "rest": rest(sandbox, "silent"),
               "chatwoot": {"base_url": sandbox.url("silent") + "/chatwoot",
                            "inbox_identifier": "x", "poll_interval_s": 0.1}}[connector]
    result, wall = run(connector, options, script(first_reply_timeout_s=1.0))
    assert result.outcome is Outcome.UNANSWERED
    assert result.question_sent
    assert 1.0 <= wall < 1.0 + 0.2 + 1.5


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("connector", ["rest", "websocket", "livechat", "rocketchat"])
def test_connection_refused_fails_as_unreachable(connector):
    root = f"http://127.0.0.1:{_closed_port()}/c/x"
    options = {"rest": {"base_url": root}, "websocket": {"base_url": root},
               "livechat": {"base_url": root, "organization_id": "o"},
               "rocketchat": {"base_url": root}}[connector]
    result, wall = run(connector, options, script())
    assert result.outcome is Outcome.FAILED and result.unreachable
    assert "cannot connect" in result.reason
    assert not result.question_sent
    assert wall < 2


def test_a_server_that_never_finishes_the_handshake_times_out():
    """The scenario's connect timeout is raised to the connector's own budget (never
    shorter), and the error names what was still awaited."""
    with socket.socket() as listener:  # accepts TCP connections, never speaks HTTP
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        options = {"base_url": f"http://127.0.0.1:{port}/c/x", "open_timeout_s": 0.5,
                   "request_timeout_s": 1.0}
        result, wall = run("websocket", options, script(connect_timeout_s=0.2))
    assert result.outcome is Outcome.FAILED
    assert "start chat" in result.reason, result.reason
    assert "within 0.2 s" not in result.reason
    assert wall < 1.5 + 1.0 + 5.0  # the connector's budget plus slack, then a bounded close


def test_http_500s_at_start_fail_clearly(sandbox):
    result, wall = run("rest", rest(sandbox, "broken"), script())
    assert result.outcome is Outcome.FAILED and not result.unreachable
    assert "HTTP 500" in result.reason
    assert wall < 2


def test_occasional_http_500s_are_retried(sandbox):
    result, _ = run("rest", rest(sandbox, "flaky"), script(ask_human_after_bot_turns=0))
    assert result.outcome is Outcome.ANSWERED, result.reason
