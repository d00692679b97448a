"""One event loop in a thread holding the process's shared Chromium for a whole test session,
so browser tests pay for starting Chromium once."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any

import pytest

from svcbench import browser as pool
from svcbench.browser import CHROMIUM

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                    reason=f"Chromium not installed at {CHROMIUM}")


class BrowserLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.shared: pool.SharedBrowser | None = None

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def hold(self) -> None:
        async def acquire() -> None:
            self.shared = pool.shared()
            await self.shared.acquire(CHROMIUM)
        self.run(acquire())

    def close(self) -> None:
        if self.shared is not None:
            self.run(self.shared.release())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="session")
def browser_loop():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not installed at {CHROMIUM}")
    loop = BrowserLoop()
    loop.hold()
    yield loop
    loop.close()
