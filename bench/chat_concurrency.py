"""200 concurrent chat probes (mixed REST polling and WebSocket) against the sandbox.

The sandbox runs in a child process so the figures are the probing side's: wall time, peak
RSS (ru_maxrss) and the tracemalloc peak. Run: ``.venv/bin/python bench/chat_concurrency.py``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import sys
import time
import tracemalloc
from collections import Counter

from svcbench.config import ChatScript
from svcbench.models import Outcome
from svcbench.plugins import Secrets, chat_connector
from svcbench.probes.chat.connector import AnchoredClock, Visitor
from svcbench.probes.chat.script import run_chat

PROBES = 200
REASONS: list[str] = []
SCRIPT = ChatScript(greeting_wait_s=0.5, ask_human_after_bot_turns=1,
                    follow_up="And can I return items for free?", close_text="Bye!",
                    connect_timeout_s=20, first_reply_timeout_s=20, human_timeout_s=30,
                    follow_up_timeout_s=20)


def serve(conn) -> None:
    from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox

    behaviour = ChatBehaviour(bot_reply_after=0.5, queue_positions=[(1.0, 4), (2.0, 2)],
                              still_waiting_every=1.0, agent_joined_after=3.0,
                              agent_reply_after=0.5)
    with ChatSandbox({"acme": behaviour}) as sandbox:
        conn.send(sandbox.url("acme"))
        conn.recv()  # until the parent is done


async def probe(i: int, root: str) -> Outcome:
    name = "websocket" if i % 2 else "rest"
    options = {"base_url": root} if name == "websocket" else {"base_url": root,
                                                               "poll_interval_s": 1.0}
    clock = AnchoredClock()
    connector = chat_connector(name)(options, clock=clock, secrets=Secrets({}),
                                     visitor=Visitor(f"Shopper {i}"))
    run = await run_chat(connector, SCRIPT, "Do you ship to Norway?", clock=clock)
    if run.outcome is not Outcome.ANSWERED and not REASONS:
        REASONS.append(f"{name}: {run.reason}")
    return run.outcome


async def all_probes(root: str) -> list[Outcome]:
    return await asyncio.gather(*(probe(i, root) for i in range(PROBES)))


def main() -> int:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(child,))
    server.start()
    try:
        root = parent.recv()
        tracemalloc.start()
        started = time.monotonic()
        outcomes = asyncio.run(all_probes(root))
        wall = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        parent.send("stop")
        server.join(timeout=20)
        if server.is_alive():
            server.terminate()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = Counter(str(o) for o in outcomes)
    print(f"probes: {PROBES} (REST polling 1 s / WebSocket, half each)")
    print(f"outcomes: {dict(counts)}" + (f" (first problem: {REASONS[0]})" if REASONS else ""))
    print(f"wall time: {wall:.1f} s (one conversation alone takes ~6.5 s of scripted waiting)")
    print(f"peak RSS (probing process): {rss_mb:.0f} MiB; tracemalloc peak: "
          f"{peak / 2**20:.1f} MiB")
    return 0 if counts.get("answered") == PROBES else 1


if __name__ == "__main__":
    sys.exit(main())
