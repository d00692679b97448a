"""Each chat connector end to end over real HTTP/WebSocket against the sandbox served by
uvicorn on 127.0.0.1, with measured times compared to the server's ground truth."""

from __future__ import annotations

import asyncio

import pytest

from svcbench.config import ChatScript
from svcbench.models import Outcome
from svcbench.plugins import Secrets, chat_connector
from svcbench.probes.chat import to_event
from svcbench.probes.chat.connector import AnchoredClock, Visitor
from svcbench.probes.chat.connectors._actors import BOT_LIKE_NAMES, ActorRules
from svcbench.probes.chat.connectors._jsonpath import find_all, find_one, render
from svcbench.probes.chat.connectors._mapping import (
    EventMapping,
    MalformedPayload,
    map_payload,
)
from svcbench.probes.chat.events import Actor, ChatEventKind
from svcbench.probes.chat.measure import chat_metrics
from svcbench.probes.chat.script import run_chat
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox

POLL = 0.2
WS_TOLERANCE = 0.05

BEHAVIOUR = dict(bot_reply_after=0.2, queue_positions=[(0.35, 3)], wait_estimate=(0.45, 120),
                 agent_joined_after=0.8, agent_reply_after=0.3)
CONNECTORS = ["rest", "websocket", "livechat", "rocketchat", "chatwoot"]


@pytest.fixture(scope="module")
def sandbox():
    companies = {name: ChatBehaviour(**BEHAVIOUR) for name in CONNECTORS}
    with ChatSandbox(companies) as box:
        yield box


def options_for(name: str, root: str) -> dict:
    return {
        "rest": {"base_url": root, "poll_interval_s": POLL},
        "websocket": {"base_url": root},
        "livechat": {"base_url": root + "/livechat", "organization_id": "org-1"},
        "rocketchat": {"base_url": root + "/rocketchat", "poll_interval_s": POLL},
        "chatwoot": {"base_url": root + "/chatwoot", "inbox_identifier": "inbox-1",
                     "poll_interval_s": POLL},
    }[name]


SCRIPT = ChatScript(greeting_wait_s=0.2, ask_human_after_bot_turns=0, follow_up=None,
                    close_text=None, connect_timeout_s=5, first_reply_timeout_s=5,
                    human_timeout_s=5)


async def converse(name: str, options: dict, script: ChatScript = SCRIPT):
    clock = AnchoredClock()
    connector = chat_connector(name)(options, clock=clock, secrets=Secrets({}),
                                     visitor=Visitor("Anna Berg", "anna@example.org"))
    return await run_chat(connector, script, "Do you ship to Norway?", clock=clock)


@pytest.mark.parametrize("name", CONNECTORS)
def test_connector_times_match_ground_truth(sandbox, name):
    run = asyncio.run(converse(name, options_for(name, sandbox.url(name))))
    assert run.outcome is Outcome.ANSWERED, run.reason
    metrics = chat_metrics([to_event("p", e) for e in run.events])
    truth = sandbox.truth(name)
    asked = truth["first_visitor_message"]
    tolerance = WS_TOLERANCE if name in ("websocket", "livechat") else POLL + 0.02

    def check(measured, truth_key):
        expected = truth[truth_key] - asked
        assert measured is not None, truth_key
        assert abs(measured - expected) <= tolerance, (truth_key, measured, expected)

    check(metrics["first_reply_s"], "first_reply")
    check(metrics["first_human_s"], "first_human_reply")
    if name != "chatwoot":  # Chatwoot never tells the contact about the assignment
        check(metrics["agent_joined_s"], "agent_joined")
        check(metrics["connect_s"], "agent_joined")
    else:
        assert metrics["agent_joined_s"] is None
        check(metrics["connect_s"], "first_human_reply")
    # the greeting came before the question and is not a reply
    assert metrics["greetings"] == 1
    assert metrics["first_reply_by"] == "bot"
    assert metrics["queue_announced"] and 3 in metrics["queue_positions"]
    assert 120 in metrics["wait_estimates_s"]
    assert metrics["question_echoed"] is (name in ("websocket", "livechat"))


def test_actor_rules_tell_bots_from_humans():
    rules = ActorRules(bot_name_regex=BOT_LIKE_NAMES, agent_names=["Max"],
                       types={"operator": Actor.AGENT})
    assert rules.classify("agent", "ShopBot") is Actor.BOT
    assert rules.classify("agent", "Anna") is Actor.AGENT
    assert rules.classify("customer", "Robot Bot") is Actor.VISITOR
    assert rules.classify(None, "max") is Actor.AGENT
    assert rules.classify("agent_bot", None) is Actor.BOT
    assert rules.classify("SYSTEM", None) is Actor.SYSTEM
    assert ActorRules(default=Actor.SYSTEM).classify("weird", None) is Actor.SYSTEM


def test_jsonpath_subset_and_templates():
    doc = {"data": {"events": [{"a": 1}, {"a": 2}], "odd key": "x"}}
    assert find_all("$.data.events[*].a", doc) == [1, 2]
    assert find_one("$.data.events[-1].a", doc) == 2
    assert find_one("$.data['odd key']", doc) == "x"
    assert find_one("$.missing.path", doc, "dflt") == "dflt"
    rendered = render({"n": "{visitor.name}", "id": "{chat_id}", "t": "Hi {visitor.name}!"},
                      {"visitor": {"name": "Anna"}, "chat_id": 7})
    assert rendered == {"n": "Anna", "id": 7, "t": "Hi Anna!"}
    with pytest.raises(KeyError):
        render("{nope}", {})


def test_mapping_custom_shape_with_millisecond_times():
    mapping = EventMapping(list_path="$.result.items[*]", id_path="$.id", kind_path="$.kind",
                           kinds={"msg": ChatEventKind.MESSAGE,
                                  "queue": ChatEventKind.QUEUE_POSITION},
                           actor_path="$.from.role", actor_name_path="$.from.display",
                           text_path="$.body", t_server_path="$.at", t_server_unit="ms",
                           position_path="$.pos")
    payload = {"result": {"items": [
        {"id": "a", "kind": "msg", "from": {"role": "operator", "display": "Eva"},
         "body": "Hello", "at": 1700000000123},
        {"id": "b", "kind": "queue", "pos": "4"},
        {"id": "c", "kind": "typing"},
    ]}}
    mapped = map_payload(payload, mapping, ActorRules(), t_local=5.0)
    assert [(i, e.kind) for i, e in mapped] == [("a", ChatEventKind.MESSAGE),
                                                ("b", ChatEventKind.QUEUE_POSITION)]
    assert mapped[0][1].actor is Actor.AGENT and mapped[0][1].t_server == 1700000000.123
    assert mapped[1][1].data["position"] == 4
    with pytest.raises(MalformedPayload):
        map_payload({"other": 1}, mapping, ActorRules(), 0.0)
    with pytest.raises(MalformedPayload):  # an author-less message is never guessed human
        map_payload({"result": {"items": [{"kind": "msg", "body": "?"}]}}, mapping,
                    ActorRules(), 0.0)
