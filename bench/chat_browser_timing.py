"""Browser chat probe timing error against the sandbox's ground truth, push and polling.

Runs N zero-config probes per widget kind (config: only ``connector`` and ``url``) in one
shared headless Chromium against the sandbox chat server, and prints per event kind the error
of the measured instant (t_local) versus the server's recorded instant, beside the resolution
the connector stored with each event:

* push: the widget in a cross-origin iframe, events over a WebSocket (target |error| <= 50 ms);
* polling: the widget polls every 3.5 s and shows queue position and operator in a status line
  changed in place (target: 0 <= error <= the stored resolution, i.e. the poll gap).

    .venv/bin/python bench/chat_browser_timing.py [-n 5] [--poll 3.5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from svcbench.plugins import Secrets
from svcbench.probes.chat.connector import AnchoredClock, Visitor
from svcbench.probes.chat.connectors.browser import BrowserConnector, pool
from svcbench.probes.chat.events import Actor, ChatEventKind
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox

BEHAVIOUR = {"bot_reply_after": 0.25, "queue_positions": [(0.4, 3)], "wait_estimate": (0.55, 120.0),
             "agent_joined_after": 4.0, "agent_reply_after": 1.0}
QUESTION = "Hi, do you ship to Norway?"


def label(event) -> str | None:
    if event.kind == ChatEventKind.MESSAGE:
        return None if event.actor == Actor.VISITOR else f"message:{event.actor}"
    return {ChatEventKind.QUEUE_POSITION: "queue_position",
            ChatEventKind.WAIT_ESTIMATE: "wait", ChatEventKind.AGENT_JOINED: "agent_joined"
            }.get(event.kind)


def truth_of(truth: dict) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for ts, kind, _ in truth["messages"]:
        if kind not in ("system", "visitor"):
            out.setdefault(f"message:{kind}", []).append(ts)
    out["queue_position"] = [ts for ts, _ in truth["queue"]]
    out["wait"] = [ts for ts, _ in truth["wait_estimates"]]
    if "agent_joined" in truth:
        out["agent_joined"] = [truth["agent_joined"]]
    return out


async def probe(url: str) -> tuple[BrowserConnector, list]:
    chat = BrowserConnector({"url": url}, clock=AnchoredClock(), secrets=Secrets({}),
                            visitor=Visitor("Bench"))
    events = []
    try:
        await chat.open()
        while (event := await chat.next_event(0.4)) is not None:
            events.append(event)
        await chat.send(QUESTION)
        deadline = time.monotonic() + 15
        while (event := await chat.next_event(deadline - time.monotonic())) is not None:
            events.append(event)
            if event.kind == ChatEventKind.MESSAGE and event.actor == Actor.AGENT:
                break
    finally:
        await chat.close()
    return chat, events


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_mode(sandbox: ChatSandbox, mode: str, n: int, poll: float) -> bool:
    errors: dict[str, list[float]] = {}
    resolutions: dict[str, list[float]] = {}
    sources: dict[str, set[str]] = {}
    ok = True
    for i in range(n):
        company = f"{mode}{i}"
        query = (f"widget_origin=http://localhost:{sandbox.port}" if mode == "push"
                 else f"poll={poll}&status=1&optimistic=1")
        chat, events = await probe(f"{sandbox.base_url}/c/{company}/widget?{query}")
        truth = truth_of(sandbox.truth(company))
        used: dict[str, int] = {}
        for event in events:
            name = label(event)
            if name is None or name.startswith("message:") and name.endswith("system"):
                continue
            if name == "message:bot" and used.get(name, 0) == 0 and not errors.get("greeting*"):
                pass
            k = used.get(name, 0)
            used[name] = k + 1
            if k >= len(truth.get(name, [])):
                continue
            key = "greeting*" if name == "message:bot" and k == 0 else name
            error = event.t_local - truth[name][k]
            errors.setdefault(key, []).append(error)
            resolution = event.data.get("resolution_s")
            if resolution is not None:
                resolutions.setdefault(key, []).append(resolution)
            sources.setdefault(key, set()).add(str(event.data.get("time_source")))
            if key != "greeting*":
                bound = 0.05 if mode == "push" else (resolution or poll) + 0.1
                if not (-0.01 <= error <= bound):
                    ok = False
    title = ("push: WebSocket widget in a cross-origin iframe" if mode == "push"
             else f"polling: widget polls every {poll:g} s, status line changed in place")
    print(f"{title} ({n} probes, zero config); error = measured - server instant (ms)")
    print(f"  {'event':16s} {'n':>3s} {'min':>8s} {'median':>8s} {'p95':>8s} {'max':>8s}"
          f"   stored resolution (median)  time source")
    for key, values in errors.items():
        ms = [v * 1000 for v in values]
        res = resolutions.get(key)
        res_text = f"±{statistics.median(res):.2f} s" if res else "unknown"
        print(f"  {key:16s} {len(ms):3d} {min(ms):8.1f} {statistics.median(ms):8.1f} "
              f"{pct(ms, 0.95):8.1f} {max(ms):8.1f}   {res_text:26s}  "
              f"{', '.join(sorted(sources[key]))}")
    print(f"  -> {'OK' if ok else 'ABOVE TARGET'}\n")
    return ok


async def main_async(n: int, poll: float) -> int:
    companies = {f"{mode}{i}": ChatBehaviour(**BEHAVIOUR) for mode in ("push", "poll")
                 for i in range(n)}
    with ChatSandbox(companies) as sandbox:
        shared = pool.shared()
        await shared.acquire(pool.CHROMIUM)   # one Chromium for the whole bench
        try:
            ok = await run_mode(sandbox, "push", n, poll)
            ok = await run_mode(sandbox, "poll", n, poll) and ok
        finally:
            await shared.release()
    print("* greeting: server instant = chat creation, before the widget even connects: its "
          "figure is page start-up, not a measurement error")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="probes per widget kind")
    parser.add_argument("--poll", type=float, default=3.5, help="the polling widget's interval")
    args = parser.parse_args()
    return asyncio.run(main_async(args.n, args.poll))


if __name__ == "__main__":
    sys.exit(main())
