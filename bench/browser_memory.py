"""What one browser context costs: N contexts, each with the sandbox shop page and its chat
widget open (no conversation), in one Chromium started as svcbench starts it.

Prints the memory (sum of PSS) of this process + Playwright's driver + Chromium before any
context and with N open, the cost per context, and the split by process kind, so the effect
of a Chromium flag, build or viewport can be measured before it is adopted (docs/scale.md).
Run: ``.venv/bin/python bench/browser_memory.py [-n 20] [--build shell|full]
[--viewport 1280x800] [--chromium-arg FLAG ...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys

from chat_concurrency import breakdown, serve, tree_pss
from svcbench import browser as pool


def total_mb(sample: dict[int, tuple[str, int]]) -> float:
    return sum(size for _, size in sample.values()) / 2**20


async def measure(url: str, n: int, executable: str, viewport: tuple[int, int],
                  harness: frozenset[int]) -> None:
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=executable, headless=True,
                                       args=pool.LAUNCH_ARGS)
    try:
        await asyncio.sleep(2)
        before = tree_pss(harness)
        contexts = []

        async def one(i: int) -> None:
            context = await browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]})
            contexts.append(context)
            page = await context.new_page()
            await page.goto(f"{url}?open=1&name=Shopper%20{i}", wait_until="load")

        await asyncio.gather(*(one(i) for i in range(n)))
        await asyncio.sleep(4)   # let the widgets connect and settle
        after = tree_pss(harness)
        for context in contexts:
            await context.close()
    finally:
        await browser.close()
        await pw.stop()
    print(f"{executable}, viewport {viewport[0]}x{viewport[1]}, {n} contexts")
    print(f"  flags: {' '.join(a for a in pool.LAUNCH_ARGS if not a.startswith('--disable-f'))}"
          " (+ --disable-features)")
    print(f"  before: {total_mb(before):.0f} MiB ({breakdown(before)})")
    print(f"  with {n}: {total_mb(after):.0f} MiB ({breakdown(after)})")
    print(f"  per context: {(total_mb(after) - total_mb(before)) / n:.1f} MiB")
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--build", choices=["default", "shell", "full"], default="default")
    parser.add_argument("--viewport", default="1280x800")
    parser.add_argument("--chromium-arg", action="append", default=[], metavar="FLAG")
    args = parser.parse_args()
    executable = {"default": pool.CHROMIUM, "shell": pool.HEADLESS_SHELL,
                  "full": pool.FULL_CHROMIUM}[args.build]
    pool.LAUNCH_ARGS[:] = [*pool.LAUNCH_ARGS, *args.chromium_arg]
    width, height = (int(x) for x in args.viewport.split("x"))
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(child,))
    server.start()
    try:
        url = parent.recv() + "/widget"
        from multiprocessing import resource_tracker

        harness = frozenset(p for p in (server.pid, getattr(
            resource_tracker._resource_tracker, "_pid", None)) if p)
        asyncio.run(measure(url, args.n, executable, (width, height), harness))
    finally:
        parent.send("stop")
        server.join(timeout=20)
        if server.is_alive():
            server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
