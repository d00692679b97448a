"""Concurrent chat probes against the sandbox: 200 API probes (mixed REST polling and
WebSocket), or with ``--browser N`` N browser chats at once in one shared Chromium (a context
each, concurrency limit N).

The sandbox runs in a child process so the figures are the probing side's: wall time, peak
RSS (ru_maxrss; browser mode: the peak of this process plus its Chromium processes, sampled)
and, in browser mode, the timing error per event kind under that load beside the same probes
run one at a time. Run: ``.venv/bin/python bench/chat_concurrency.py [--browser 50]``.
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
        while conn.recv() == "truths":   # ground truth of every chat, by visitor name
            conn.send({str(c.visitor.get("name")): sandbox.engine.truth(c)
                       for c in sandbox.chats("acme")})


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


def _kind(pid: int, mine: int) -> str:
    """What a process of the tree is: this Python process, Playwright's driver, or Chromium's
    browser / renderer / gpu / utility / zygote process (from its command line)."""
    if pid == mine:
        return "python"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            # Chromium rewrites its command line as one space-separated string
            argv = f.read().replace(b"\0", b" ").split()
    except OSError:
        return "exiting"   # gone, or a zombie, by the time its command line is read
    if argv and b"node" in argv[0].rsplit(b"/", 1)[-1]:
        return "playwright driver"
    for arg in argv:
        if arg.startswith(b"--type="):
            return arg[7:].decode(errors="replace")
    if argv and b"crashpad" in argv[0]:
        return "crashpad"
    if argv and b"chrom" in argv[0]:
        return "browser"
    return argv[0].rsplit(b"/", 1)[-1].decode(errors="replace") if argv else "exiting"


def tree_pss(exclude: frozenset[int] = frozenset()) -> dict[int, tuple[str, int]]:
    """This process and all its descendants (Playwright's driver, Chromium) but those under
    ``exclude`` (the sandbox, the company's side): pid -> (kind, proportional set size in
    bytes). PSS counts a page shared by k processes as 1/k in each, so the sum over the tree
    is the tree's real memory, shared libraries counted once."""
    import os

    parents: dict[int, int] = {}
    pss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/smaps_rollup") as f:
                line = next(line for line in f if line.startswith("Pss:"))
                pss[int(entry)] = int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    mine, out = os.getpid(), {}
    for pid in pss:
        p = pid
        while p > 1 and p in parents and p != mine and p not in exclude:
            p = parents[p]
        if p == mine:
            out[pid] = (_kind(pid, mine), pss[pid])
    return out


def tree_rss_mb() -> float:
    """Memory of this process and all its descendants, MiB (sum of PSS, see tree_pss)."""
    return sum(size for _, size in tree_pss().values()) / 2**20


def breakdown(sample: dict[int, tuple[str, int]]) -> str:
    """'renderer 51 x 38.2 = 1948 MiB, ...' for one sample of tree_pss."""
    by: dict[str, list[int]] = {}
    for kind, size in sample.values():
        by.setdefault(kind, []).append(size)
    parts = sorted(by.items(), key=lambda kv: -sum(kv[1]))
    return ", ".join(f"{kind} {len(sizes)} x {sum(sizes) / len(sizes) / 2**20:.1f}"
                     f" = {sum(sizes) / 2**20:.0f}" for kind, sizes in parts)


EVENT_KINDS = {"first reply": ("chat.message", "first_reply"),
               "queue position": ("chat.queue_position", None),
               "agent joined": ("chat.agent_joined", "agent_joined"),
               "first human reply": ("chat.message", "first_human_reply")}


def errors_of(run, truth: dict) -> dict[str, float]:
    """Measured minus server instant, seconds, per event kind of one conversation."""
    out: dict[str, float] = {}
    t0 = next((e.at for e in run.events if e.kind == "chat.message"
               and e.data.get("role") == "question"), None)
    if t0 is None:
        return out
    after = [e for e in run.events if e.at >= t0]
    reply = next((e for e in after if e.kind == "chat.message"
                  and e.data["actor"] != "visitor"), None)
    human = next((e for e in after if e.kind == "chat.message"
                  and e.data["actor"] == "agent"), None)
    queue = next((e for e in after if e.kind == "chat.queue_position"), None)
    joined = next((e for e in after if e.kind == "chat.agent_joined"), None)
    pairs = {"first reply": (reply, truth.get("first_reply")),
             "queue position": (queue, truth["queue"][0][0] if truth.get("queue") else None),
             "agent joined": (joined, truth.get("agent_joined")),
             "first human reply": (human, truth.get("first_human_reply"))}
    for name, (event, ts) in pairs.items():
        if event is not None and ts is not None:
            out[name] = event.at - ts
    return out


async def browser_probe(i: int, widget: str, script: ChatScript):
    from urllib.parse import quote

    name = f"Shopper {i}"
    clock = AnchoredClock()
    # 50 pages loading at once on 2 cores take far longer than one: generous open timeout
    connector = chat_connector("browser")({"url": f"{widget}?name={quote(name)}",
                                           "open_timeout_s": 240, "echo_timeout_s": 60},
                                          clock=clock, secrets=Secrets({}),
                                          visitor=Visitor(name))
    run = await run_chat(connector, script, "Do you ship to Norway?", clock=clock)
    if run.outcome is not Outcome.ANSWERED and not REASONS:
        REASONS.append(f"browser: {run.reason}")
    return name, run


def browser_main(n: int, extra_args: list[str] | None = None) -> int:
    import os
    import statistics
    import threading

    from svcbench import browser as pool

    if extra_args:   # to measure a flag's effect before adopting it (see docs/scale.md)
        pool.LAUNCH_ARGS[:] = [*pool.LAUNCH_ARGS, *extra_args]

    script = ChatScript(greeting_wait_s=0.5, ask_human_after_bot_turns=0, close_text=None,
                        connect_timeout_s=300, first_reply_timeout_s=120, human_timeout_s=180)
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(child,))
    server.start()
    peak = [0.0]
    at_peak: list[dict[int, tuple[str, int]]] = [{}]
    stop = threading.Event()

    def sample() -> None:
        from multiprocessing import resource_tracker

        harness = frozenset(p for p in (server.pid, getattr(
            resource_tracker._resource_tracker, "_pid", None)) if p)
        while not stop.is_set():
            now = tree_pss(harness)
            total = sum(size for _, size in now.values()) / 2**20
            if total > peak[0]:
                peak[0], at_peak[0] = total, now
            stop.wait(0.25)

    try:
        widget = parent.recv() + "/widget"
        pool.set_limit(n)

        async def run_all():
            shared = pool.shared()
            await shared.acquire(pool.CHROMIUM)
            try:
                alone = [await browser_probe(1000 + i, widget, script) for i in range(3)]
                started = time.monotonic()
                loaded = await asyncio.gather(*(browser_probe(i, widget, script)
                                                for i in range(n)))
                wall = time.monotonic() - started
                return alone, loaded, wall, shared.launches
            finally:
                await shared.release()

        load_before = os.getloadavg()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        alone, loaded, wall, launches = asyncio.run(run_all())
        stop.set()
        sampler.join()
        parent.send("truths")
        truths = parent.recv()
    finally:
        parent.send("stop")
        server.join(timeout=20)
        if server.is_alive():
            server.terminate()
    counts = Counter(str(run.outcome) for _, run in loaded)
    print(f"browser chats: {n} at once in one Chromium (launched {launches}x), a context each;"
          f" {pool.CHROMIUM}")
    print(f"outcomes: {dict(counts)}" + (f" (first problem: {REASONS[0]})" if REASONS else ""))
    print(f"wall time for the {n}: {wall:.1f} s (one conversation alone ~5 s of scripted "
          f"waiting)")
    print(f"peak memory (PSS), this process + Playwright's driver + Chromium (the sandbox "
          f"not counted): {peak[0]:.0f} MiB"
          f" (target < 2048); at that moment, MiB by process kind (count x mean = sum):")
    print(f"  {breakdown(at_peak[0])}")
    print(f"  per chat: {peak[0] / n:.1f} MiB; launch flags: {' '.join(pool.LAUNCH_ARGS)}")
    print(f"load average (1, 5, 15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    print("timing error = measured - server instant (ms): one at a time vs "
          f"{n} at once")
    for label, runs in (("unloaded", alone), (f"{n} at once", loaded)):
        table: dict[str, list[float]] = {}
        for name, run in runs:
            for kind, err in errors_of(run, truths.get(name, {})).items():
                table.setdefault(kind, []).append(err * 1000)
        for kind in EVENT_KINDS:
            values = sorted(table.get(kind, []))
            if not values:
                continue
            def p(q: float, v: list[float] = values) -> float:
                return v[min(len(v) - 1, round(q * (len(v) - 1)))]
            print(f"  {label:11s} {kind:18s} n={len(values):3d}  p50 {p(0.5):8.1f}  "
                  f"p95 {p(0.95):8.1f}  max {values[-1]:8.1f}  (mean "
                  f"{statistics.fmean(values):.1f})")
    return 0 if counts.get("answered") == n and peak[0] < 2048 else 1


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browser", type=int, metavar="N", help="N concurrent browser chats")
    parser.add_argument("--chromium-arg", action="append", default=[], metavar="FLAG",
                        help="an extra Chromium flag (repeatable), to measure its effect")
    args = parser.parse_args()
    if args.browser:
        return browser_main(args.browser, args.chromium_arg)
    return api_main()


def api_main() -> int:
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
