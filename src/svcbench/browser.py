"""One Chromium per process (per event loop), a fresh browser context per probe (browser
chats and web forms), and the one place that says which Chromium and how it is started.

Contexts share no cookies, storage or cache, so probes of different companies stay isolated
while the costly part (the browser process) is paid once; each context still costs its own
renderer process (Chromium never puts two contexts in one), ~20-40 MB (docs/scale.md). At
most ``limit()`` probes hold a context at once (``[workspace] browser_max_contexts``,
``$SVCBENCH_BROWSER_MAX_CHATS`` overriding it; default 8); others wait for a place. The
browser closes when its last probe ends.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from typing import Any

from .errors import ConfigError

#: Debian's builds, never a downloaded one. The headless shell (package
#: chromium-headless-shell, same version) is Chromium without its desktop browser layer: no
#: window, profile services or address bar per context, about a third less memory per
#: context (docs/scale.md); the full browser is used where the shell is missing and for
#: ``headless = false``. SVCBENCH_CHROMIUM names another executable for everything.
FULL_CHROMIUM = "/usr/bin/chromium"
HEADLESS_SHELL = "/usr/bin/chromium-headless-shell"
CHROMIUM = os.environ.get("SVCBENCH_CHROMIUM") or (
    HEADLESS_SHELL if os.path.exists(HEADLESS_SHELL) else FULL_CHROMIUM)
#: Chromium keeps only the last ``--disable-features``, and Playwright passes its own list
#: first: ours must repeat Playwright's (as of 1.65, checked by
#: tests/test_browser_settings.py) to add to it
PLAYWRIGHT_DISABLED_FEATURES = [
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin", "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled",
    "PreconnectToSearch", "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion"]
#: the full browser (since 151) preloads its address-bar popup as a WebUI page in every
#: window, and headless opens a window per context: a second renderer of ~60-75 MB each
DISABLED_FEATURES = [*PLAYWRIGHT_DISABLED_FEATURES, "WebUIOmniboxPopup", "WebUIOmniboxAimPopup"]
#: without the background-networking flags Chromium keeps calling Google's services, which a
#: closed network refuses many times a second
LAUNCH_ARGS = ["--disable-gpu", "--disable-quic", "--disable-component-update", "--disable-sync",
               "--disable-background-networking", "--no-first-run",
               "--disable-features=" + ",".join(DISABLED_FEATURES)]
LAUNCH_TIMEOUT_S = 30.0
DEFAULT_LIMIT = 8
LIMIT_ENV = "SVCBENCH_BROWSER_MAX_CHATS"


def env_limit() -> int | None:
    """``$SVCBENCH_BROWSER_MAX_CHATS`` as a number, None when unset; ConfigError when bad."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{raw!r} is not a whole number of at least 1", key=f"${LIMIT_ENV}")
    return value


def limit() -> int:
    """How many probes may hold a browser context at once in this process."""
    return env_limit() or _LIMIT or DEFAULT_LIMIT


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


def set_limit(value: int | None) -> None:
    """The workspace's ``browser_max_contexts`` (None: the default); the env var overrides."""
    global _LIMIT
    _LIMIT = value


def shared(headless: bool = True) -> SharedBrowser:
    """This event loop's shared browser (created on first use)."""
    loop = asyncio.get_running_loop()
    found = _SHARED.get(loop)
    if found is None or found.headless != headless:
        found = SharedBrowser(limit(), headless)
        if headless:
            _SHARED[loop] = found
    return found
