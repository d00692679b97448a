"""One Chromium per process (per event loop), a fresh browser context per probe (browser
chats and web forms), and the one place that says which Chromium and how it is started.

Contexts share no cookies, storage or cache, so probes of different companies stay isolated
while the costly part (the browser process, ~0.4 s and ~100 MB) is paid once. At most
``limit`` probes hold a context at once (``SVCBENCH_BROWSER_MAX_CHATS``, default 8); others
wait for a place. The browser closes when its last probe ends.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from typing import Any

#: Debian's Chromium (never a downloaded build); SVCBENCH_CHROMIUM names another
CHROMIUM = os.environ.get("SVCBENCH_CHROMIUM", "/usr/bin/chromium")
#: without the background-networking flags Chromium keeps calling Google's services, which a
#: closed network refuses many times a second
LAUNCH_ARGS = ["--disable-gpu", "--disable-quic", "--disable-component-update", "--disable-sync",
               "--disable-background-networking", "--no-first-run"]
LAUNCH_TIMEOUT_S = 30.0
DEFAULT_LIMIT = 8


def default_limit() -> int:
    raw = os.environ.get("SVCBENCH_BROWSER_MAX_CHATS", "")
    try:
        value = int(raw) if raw else DEFAULT_LIMIT
    except ValueError:
        value = DEFAULT_LIMIT
    return max(1, value)


class SharedBrowser:
    """The process's Chromium for one event loop, reference counted."""

    def __init__(self, limit: int, headless: bool):
        self.limit = limit
        self.headless = headless
        self.slots = asyncio.Semaphore(limit)
        self.users = 0
        self.pw: Any = None
        self.browser: Any = None
        self.launch_s: float | None = None
        self.launches = 0
        self._lock = asyncio.Lock()

    async def _start(self, executable: str) -> Any:
        from playwright.async_api import async_playwright

        async with self._lock:
            if self.browser is not None and self.browser.is_connected():
                return self.browser
            if self.pw is None:
                self.pw = await async_playwright().start()
            started = time.monotonic()
            self.browser = await self.pw.chromium.launch(
                executable_path=executable, headless=self.headless, args=LAUNCH_ARGS,
                timeout=LAUNCH_TIMEOUT_S * 1000)
            self.launch_s = time.monotonic() - started
            self.launches += 1
            return self.browser

    async def acquire(self, executable: str) -> Any:
        await self.slots.acquire()
        self.users += 1
        try:
            return await self._start(executable)
        except BaseException:
            await self.release()
            raise

    async def release(self) -> None:
        self.users -= 1
        self.slots.release()
        if self.users > 0:
            return
        browser, pw = self.browser, self.pw
        self.browser = self.pw = None
        for closing in (browser, pw):
            if closing is None:
                continue
            try:
                stop = closing.close() if closing is browser else closing.stop()
                await asyncio.wait_for(stop, 10)
            except Exception:   # noqa: BLE001 - the process is going away anyway
                pass


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedBrowser] = \
    weakref.WeakKeyDictionary()
_LIMIT: int | None = None


def set_limit(limit: int | None) -> None:
    """How many browser chats may run at once in this process (None: the default)."""
    global _LIMIT
    _LIMIT = limit


def shared(headless: bool = True) -> SharedBrowser:
    """This event loop's shared browser (created on first use)."""
    loop = asyncio.get_running_loop()
    found = _SHARED.get(loop)
    if found is None or found.headless != headless:
        found = SharedBrowser(_LIMIT or default_limit(), headless)
        if headless:
            _SHARED[loop] = found
    return found
