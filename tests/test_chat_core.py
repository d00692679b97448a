"""Chat probes on real visitor APIs, over real HTTP/WebSocket against the sandbox: the rest
connector on a widget-shaped API, offline chats as unavailable, availability checks,
self-verification, promises kept or broken."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from svcbench.config import ChatScript
from svcbench.models import Event, Outcome
from svcbench.plugins import Secrets, chat_connector
from svcbench.probes.chat import to_event
from svcbench.probes.chat.connector import AnchoredClock, Visitor
from svcbench.probes.chat.connectors._base import quote_body
from svcbench.probes.chat.connectors._html import extract
from svcbench.probes.chat.measure import chat_metrics, promise_verdicts
from svcbench.probes.chat.script import NOT_OBSERVED, run_chat
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox
from svcbench.sandbox.chat_visitor_api import rest_options
from test_chat_script import script as quick_script

COMPANIES = {
    "widgetco": ChatBehaviour(queue_positions=[(0.1, 3), (0.4, 2)], agent_joined_after=0.8,
                              agent_reply_after=0.1, queue_text=None),
    "closed": ChatBehaviour(offline=True),
    "blind": ChatBehaviour(never_answer=True, echo_visitor=False),
    "silent": ChatBehaviour(never_answer=True),
    "promiser": ChatBehaviour(wait_estimate=(0.1, 60), agent_joined_after=0.4,
                              agent_reply_after=0.1),
}


@pytest.fixture(scope="module")
def sandbox():
    with ChatSandbox(COMPANIES) as box:
        yield box


def script(**changes) -> ChatScript:
    return quick_script(**{"ask_human_after_bot_turns": 0, "connect_timeout_s": 3,
                           "human_timeout_s": 3, **changes})


def run(name, options, chat_script=None, *, posted_hours=True, env=None):
    clock = AnchoredClock()
    connector = chat_connector(name)(options, clock=clock, secrets=Secrets(env or {}),
                                     visitor=Visitor("Anna"))
    return asyncio.run(run_chat(connector, chat_script or script(), "Do you ship to Norway?",
                                clock=clock, posted_hours=posted_hours))


def metrics_of(result):
    return chat_metrics([to_event("p", e) for e in result.events])


def test_rest_connector_speaks_a_widget_shaped_visitor_api(sandbox):
    """Anti-bot token under a computed field name, the question inside the start request,
    status and messages as separate polls, messages as HTML rows with numeric author ids."""
    result = run("rest", rest_options(sandbox.url("widgetco"), poll_interval_s=0.1))
    assert result.outcome is Outcome.ANSWERED, result.reason
    m = metrics_of(result)
    assert m["queue_positions"][:2] == [3, 2]
    assert m["agent"] == "Anna" and m["agent_joined_s"] is not None
    # two endpoints, each stamped when its answer arrived: the join is within a poll cycle
    assert m["agent_joined_s"] <= m["first_human_s"] + 0.5
    truth = sandbox.truth("widgetco")
    questions = [t for t in truth["messages"] if t[1] == "visitor"]
    assert len(questions) == 1  # asked once, inside the start request
    visitor_lines = [e for e in result.events if e.kind == "chat.message"
                     and e.data.get("actor") == "visitor" and e.data.get("role") == "question"]
    assert len(visitor_lines) == 1  # no duplicated question in the transcript
    human = next(e for e in result.events if e.kind == "chat.message"
                 and e.data.get("actor") == "agent")
    assert human.data["t_server"] == pytest.approx(truth["first_human_reply"], abs=0.002)
    # the status poll repeats "accepted" every time: one agent_joined, not one per poll
    assert sum(e.kind == "chat.agent_joined" for e in result.events) == 1


def test_rest_errors_quote_the_body_with_secrets_masked(sandbox):
    options = rest_options(sandbox.url("widgetco"))
    options["prelude"] = []  # no anti-bot token: the start is refused
    options["start"]["form"] = {"name": "{visitor.name}", "message": "{text}",
                                "api_token": "tok-{visitor.name}-123456"}
    result = run("rest", options)
    assert result.outcome is Outcome.FAILED and not result.question_sent
    assert "HTTP 403" in result.reason and "missing or stale token" in result.reason


def test_quote_body_masks_secrets_and_truncates():
    text = '{"session_id": "abc123", "token": "t0ps3cret", "x": "mine-secret"}' + "y" * 500
    quoted = quote_body(text, ["mine-secret"])
    assert "t0ps3cret" not in quoted and "abc123" not in quoted and "mine-secret" not in quoted
    assert len(quoted) <= 301 and quoted.endswith("…")


def test_html_rows_become_items_with_parts():
    rows = extract('<div class="row" data-id="4" data-u="7"><b class="who">Anna</b>'
                   '<span class="txt">Hi &amp; <i>welcome</i></span></div><p>x</p>', "div.row")
    assert rows == [{"tag": "div", "class": "row", "text": "Anna Hi & welcome",
                     "attrs": {"class": "row", "data-id": "4", "data-u": "7"},
                     "parts": {"who": "Anna", "txt": "Hi & welcome"}}]


@pytest.mark.parametrize("connector", ["rest", "websocket", "rocketchat", "visitor-api"])
def test_offline_chat_is_unavailable_and_starts_nothing(sandbox, connector):
    options = {"rest": {"base_url": sandbox.url("closed")},
               "websocket": {"base_url": sandbox.url("closed")},
               "rocketchat": {"base_url": sandbox.url("closed") + "/rocketchat"},
               "visitor-api": rest_options(sandbox.url("closed"))}[connector]
    result = run("rest" if connector == "visitor-api" else connector, options)
    assert result.outcome is Outcome.UNAVAILABLE, result.reason
    assert "offline" in result.reason
    assert not result.question_sent
    assert any(e.kind == "chat.unavailable" for e in result.events)
    assert sandbox.chats("closed") == []


def test_offline_outside_posted_hours_counts_for_no_one(sandbox):
    result = run("rest", {"base_url": sandbox.url("closed")}, posted_hours=False)
    assert result.outcome is Outcome.CANCELLED
    assert "outside posted hours" in result.reason


@pytest.mark.parametrize("connector, company, state", [
    ("rest", "closed", "offline"), ("rest", "widgetco", "online"),
    ("rocketchat", "closed", "offline"), ("rocketchat", "widgetco", "online"),
    ("chatwoot", "widgetco", "unknown")])
def test_availability_check_starts_no_conversation(sandbox, connector, company, state):
    options = {"base_url": sandbox.url(company)}
    if connector == "rocketchat":
        options = {"base_url": sandbox.url(company) + "/rocketchat"}
    if connector == "chatwoot":
        options = {"base_url": sandbox.url(company) + "/chatwoot", "inbox_identifier": "x"}
    before = len(sandbox.chats(company))
    checks = sandbox.engine.status_checks.get(company, 0)
    connector_obj = chat_connector(connector)(options, clock=AnchoredClock(),
                                              secrets=Secrets({}), visitor=Visitor("Anna"))
    found = asyncio.run(connector_obj.availability(5.0))
    assert found.state == state
    assert len(sandbox.chats(company)) == before
    if state != "unknown":
        assert sandbox.engine.status_checks[company] == checks + 1
        assert found.source


def test_a_question_never_seen_is_our_failure_not_unanswered(sandbox):
    """Realtime: the platform swallowed our question (no echo) and nothing came back."""
    blind = run("websocket", {"base_url": sandbox.url("blind")}, script(first_reply_timeout_s=1))
    assert blind.outcome is Outcome.FAILED and blind.reason == NOT_OBSERVED
    # the same silence with our question visible in the conversation is the company's
    silent = run("websocket", {"base_url": sandbox.url("silent")},
                 script(first_reply_timeout_s=1))
    assert silent.outcome is Outcome.UNANSWERED
    # polling: the API accepted the message (2xx), which is what it can observe
    polled = run("rest", {"base_url": sandbox.url("blind"), "poll_interval_s": 0.1},
                 script(first_reply_timeout_s=1))
    assert polled.outcome is Outcome.UNANSWERED


def test_announced_wait_is_a_promise_compared_with_the_actual_wait(sandbox):
    result = run("websocket", {"base_url": sandbox.url("promiser")})
    assert result.outcome is Outcome.ANSWERED
    promises = [e for e in result.events if e.kind == "chat.promise"]
    # structured estimate and the same value read from the system text: one promise
    assert [(p.data["kind"], p.data["value"]) for p in promises] == [("wait_s", 60.0)]
    m = metrics_of(result)
    assert m["promises_kept"] == 1 and m["promises_broken"] == 0
    assert m["promises"][0]["actual_s"] < 60


def _event(event_kind, t, **data):
    return Event("p", event_kind, datetime(2026, 11, 2, 10, tzinfo=UTC) + timedelta(seconds=t),
                 data)


def test_promise_verdicts_kept_broken_open():
    promised = [_event("chat.promise", 0, kind="wait_s", value=120.0, source="text"),
                _event("chat.promise", 10, kind="position", value=2, source="text"),
                _event("chat.promise", 20, kind="position", value=3, source="text")]
    at = _event("x", 0).at
    late = promise_verdicts(promised, at + timedelta(seconds=400), at + timedelta(seconds=500))
    assert [p["verdict"] for p in late] == ["broken", "broken", "kept"]  # queue went back
    on_time = promise_verdicts(promised[:1], at + timedelta(seconds=140), None)
    assert on_time[0]["verdict"] == "kept"  # within 120 s + 30 s grace
    never = promise_verdicts(promised[:1], None, at + timedelta(seconds=100))
    assert never[0]["verdict"] == "open"  # we stopped watching before 150 s
    never = promise_verdicts(promised[:1], None, at + timedelta(seconds=600))
    assert never[0]["verdict"] == "broken"


def _corpus_score(part: str) -> tuple[int, int]:
    import tomllib
    from pathlib import Path

    from svcbench.probes.chat.phrases import queue_position_in, wait_estimate_in

    corpus = tomllib.loads((Path(__file__).parent / "data" / "chat" /
                            "announcements.toml").read_text(encoding="utf-8"))
    right = 0
    for case in corpus[part]:
        got = (queue_position_in(case["text"]), wait_estimate_in(case["text"]))
        right += got == (case.get("position"), case.get("wait_s"))
    return right, len(corpus[part])


def test_phrase_lists_on_tuned_and_held_out_announcements():
    """Both parts are reported; the held-out part is never used to tune the phrase files."""
    tuned, held_out = _corpus_score("tuned"), _corpus_score("held_out")
    print(f"phrases: tuned {tuned[0]}/{tuned[1]}, held out {held_out[0]}/{held_out[1]}")
    assert tuned[0] == tuned[1]
    assert held_out[0] >= 0.6 * held_out[1]


def test_the_rest_example_in_the_docs_works(sandbox):
    """docs/chat.md's widget-backend example, pointed at the sandbox, holds a conversation."""
    import re
    import tomllib
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "chat.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```toml\n(.*?)```", doc, re.S) if "prelude" in b)
    options = tomllib.loads(block)["company"]["channels"]["chat"]
    assert options.pop("connector") == "rest"
    options.update(base_url=sandbox.url("widgetco") + "/va", poll_interval_s=0.1)
    result = run("rest", options)
    assert result.outcome is Outcome.ANSWERED, result.reason


def test_connect_timeout_is_never_shorter_than_the_connectors_own():
    from types import SimpleNamespace

    from svcbench.probes.chat.script import SLACK_S, connect_timeout

    twenty = script(connect_timeout_s=20)
    browser_like = SimpleNamespace(options=SimpleNamespace(open_timeout_s=30.0))
    assert connect_timeout(twenty, browser_like) == 30.0 + SLACK_S
    rest = chat_connector("rest")({"base_url": "http://127.0.0.1:9", "request_timeout_s": 8,
                                   "prelude": [{"path": "/a"}, {"path": "/b"}]},
                                  clock=AnchoredClock(), secrets=Secrets({}),
                                  visitor=Visitor("Anna"))
    assert connect_timeout(twenty, rest) == 24.0 + SLACK_S  # prelude x2 + start, 8 s each
    assert connect_timeout(script(connect_timeout_s=60), rest) == 60
