"""Timing error of each chat connector against the sandbox's ground truth.

Targets: WebSocket transports (websocket, livechat) <= 50 ms; polling transports (rest,
rocketchat, chatwoot) <= their poll interval. Run: ``.venv/bin/python bench/chat_timing.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys

from svcbench.config import ChatScript
from svcbench.plugins import Secrets, chat_connector
from svcbench.probes.chat import to_event
from svcbench.probes.chat.connector import AnchoredClock, Visitor
from svcbench.probes.chat.measure import chat_metrics
from svcbench.probes.chat.script import run_chat
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox

RUNS = 5
POLL = 0.25
CONNECTORS = {"websocket": None, "livechat": None, "rest": POLL, "rocketchat": POLL,
              "chatwoot": POLL, "rest-va": POLL}
SCRIPT = ChatScript(greeting_wait_s=0.1, ask_human_after_bot_turns=0, follow_up=None,
                    close_text=None, connect_timeout_s=5, first_reply_timeout_s=5,
                    human_timeout_s=5)


def options(name: str, root: str) -> dict:
    if name == "rest-va":  # the widget-shaped visitor API (token prelude, HTML rows, status)
        from svcbench.sandbox.chat_visitor_api import rest_options

        return rest_options(root, poll_interval_s=POLL)
    return {"websocket": {"base_url": root},
            "livechat": {"base_url": root + "/livechat", "organization_id": "o"},
            "rest": {"base_url": root, "poll_interval_s": POLL},
            "rocketchat": {"base_url": root + "/rocketchat", "poll_interval_s": POLL},
            "chatwoot": {"base_url": root + "/chatwoot", "inbox_identifier": "i",
                         "poll_interval_s": POLL}}[name]


async def one(name: str, sandbox: ChatSandbox, company: str) -> list[float]:
    clock = AnchoredClock()
    connector = chat_connector(name.split("-")[0])(options(name, sandbox.url(company)),
                                                   clock=clock,
                                     secrets=Secrets({}), visitor=Visitor("Bench"))
    run = await run_chat(connector, SCRIPT, "Do you ship to Norway?", clock=clock)
    m = chat_metrics([to_event("b", e) for e in run.events])
    chat = sandbox.chats(company)[-1]
    truth = sandbox.engine.truth(chat)
    t0 = truth["first_visitor_message"]
    pairs = [(m["first_reply_s"], truth["first_reply"]),
             (m["first_human_s"], truth["first_human_reply"])]
    if m["agent_joined_s"] is not None:
        pairs.append((m["agent_joined_s"], truth["agent_joined"]))
    return [abs(measured - (server - t0)) for measured, server in pairs]


def main() -> int:
    companies = {f"{n}-{i}": ChatBehaviour(bot_reply_after=0.3 + 0.07 * i,
                                           agent_joined_after=0.9 + 0.05 * i,
                                           agent_reply_after=0.2)
                 for n in CONNECTORS for i in range(RUNS)}
    ok = True
    print(f"{'connector':<11} {'runs':>4} {'mean ms':>8} {'p50 ms':>7} {'max ms':>7} "
          f"{'target ms':>9}  ok")
    with ChatSandbox(companies) as sandbox:
        for name, poll in CONNECTORS.items():
            errors: list[float] = []
            for i in range(RUNS):
                errors += asyncio.run(one(name, sandbox, f"{name}-{i}"))
            target = (poll if poll else 0.05) * 1000
            worst = max(errors) * 1000
            passed = worst <= target
            ok &= passed
            print(f"{name:<11} {RUNS:>4} {statistics.mean(errors) * 1000:8.1f} "
                  f"{statistics.median(errors) * 1000:7.1f} {worst:7.1f} {target:9.0f}  "
                  f"{'yes' if passed else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
