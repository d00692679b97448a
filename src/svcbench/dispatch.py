"""Starting due probes so that long ones never hold up the rest.

A chat can wait ten minutes in a company's queue; a call can ring for long. ``dispatch``
starts every due probe as its own task and, while any is still in progress, looks again for
work that has become due meanwhile (at the next due time, or every ``poll``) and starts it
too, for as long as ``may_start()`` allows (the tick's time window). Each probe type has its
own ``concurrency`` slots, so ten chats waiting in queues never keep an email from going out.

A probe is offered to ``start`` at most once per dispatch; across processes the store's
compare-and-set claim (planned -> starting) is what guarantees a single start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from .models import Probe

DEFAULT_POLL_S = 15.0


async def dispatch(due: Callable[[], list[Probe]], start: Callable[[Probe], Awaitable[None]], *,
                   concurrency: int, may_start: Callable[[], bool],
                   next_due: Callable[[], datetime | None], clock: Callable[[], datetime],
                   poll_s: float = DEFAULT_POLL_S,
                   on_found: Callable[[int], None] | None = None) -> int:
    """Start what is due, and what becomes due while earlier probes run; return the count.

    ``on_found`` is told the running total of probes offered each time it grows.
    """
    slots: dict[str, asyncio.Semaphore] = {}
    offered: set[str] = set()
    running: set[asyncio.Task] = set()

    async def run(probe: Probe) -> None:
        async with slots.setdefault(probe.plugin, asyncio.Semaphore(concurrency)):
            await start(probe)

    while True:
        if may_start():
            found = [p for p in due() if p.id not in offered]
            for probe in found:
                offered.add(probe.id)
                running.add(asyncio.create_task(run(probe), name=f"probe {probe.id[:8]}"))
            if found and on_found is not None:
                on_found(len(offered))
        if not running:
            return len(offered)
        timeout = poll_s
        upcoming = next_due()
        if upcoming is not None:
            timeout = max(0.0, min(poll_s, (upcoming - clock()).total_seconds()))
        done, _ = await asyncio.wait(running, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            running.discard(task)
            if not task.cancelled() and task.exception() is not None:
                # e.g. the database failed: stop the others and collect their outcome too, so
                # the error is reported once, in one line, not as "never retrieved" tracebacks
                for other in running:
                    other.cancel()
                await asyncio.gather(*running, return_exceptions=True)
            task.result()  # a bug in start() surfaces here, as it did with gather
