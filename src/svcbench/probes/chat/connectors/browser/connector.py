"""The browser connector: a company's real chat widget in headless Chromium (Playwright).

Open: load the page, recognise the widget (recipe) or discover it, open it (recipe's launcher
or JS API, else the most chat-like launcher), find the composer (checking it is one, and
noticing an offline "leave a message" form instead), point the in-page observer at the
conversation. Send: type, press Enter, and for the question wait until it is seen in the
conversation: a probe that cannot see its own question cannot see the company's answer, so
it fails on our side ("could not observe the conversation") rather than blaming the company.

Timing: each frame's page clock is calibrated against the probe's ``AnchoredClock`` (minimum
round-trip samples), so ``t_local`` is when a bubble entered the DOM. The widget's network
traffic says how exactly that dates the company's action (push: ~50 ms; polling: the poll gap)
and may carry the server's own timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from ..... import browser as pool
from ...connector import (
    ChatConnector,
    ChatTransportError,
    ChatUnavailableError,
    ChatUnreachableError,
    ConnectorOptions,
)
from ...events import Actor, ChatEvent, ChatEventKind
from . import recipes
from .classify import StatusReader, classify_bubble, clean_text, is_offline_text, norm
from .network import NetworkLog, parse_json
from .options import BrowserOptions, chain

BINDING = "__svcbenchChatEvent"
CLOCK_JS = "performance.timeOrigin + performance.now()"
_UNREACHABLE = ("ERR_CONNECTION_REFUSED", "ERR_NAME_NOT_RESOLVED", "ERR_CONNECTION_TIMED_OUT",
                "ERR_ADDRESS_UNREACHABLE", "ERR_INTERNET_DISCONNECTED")
#: what the in-page discovery looks for (regex source, case-insensitive)
WORDS = {
    "launcher": r"chat|message|messenger|help|support|talk|contact|ask|question|kontakt|hilfe|"
                r"nachricht|aide|ayuda|assistenza|hulp|konversation|conversation",
    "composer": r"message|type|write|reply|ask|question|chat|nachricht|schreib|frage|écri|"
                r"mensaje|escrib|messaggio|bericht|compose|send",
    "not_composer": r"\b(?:name|e-?mail|phone|telephone|tel|nom|nombre|vorname|nachname|"
                    r"telefon|company|firma|subject|betreff|order number)\b",
}
#: a duplicate drawing of our own message this soon after it was seen is the same message
_REDRAW_S = 15.0


def observer_script(options: BrowserOptions) -> str:
    source = (resources.files(__package__) / "observer.js").read_text(encoding="utf-8")
    words = {**WORDS, "offline": "|".join(f"(?:{p})" for p in options.offline_patterns)}
    return source.replace("__BINDING__", BINDING).replace("__WORDS__", json.dumps(words))


def observer_config(options: BrowserOptions) -> dict[str, Any]:
    return {
        "logSelector": options.log_selector,
        "messageSelector": options.message_selector,
        "ignoreSelector": options.ignore_selector,
        "textSelector": options.text_selector,
        "authorNameSelector": options.author_name_selector,
        "statusSelector": options.status_selector,
        "genericStatus": True,
        "ruleSelectors": [rule.selector for rule in options.actor_rules],
    }


class BrowserConnector(ChatConnector):
    """Chats through the company's own web widget in headless Chromium."""

    name: ClassVar[str] = "browser"
    options_model: ClassVar[type[ConnectorOptions]] = BrowserOptions
    options: BrowserOptions

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.configured: BrowserOptions = self.options   # the company's own keys
        self._shared: pool.SharedBrowser | None = None
        self._context: Any = None
        self._page: Any = None
        self._frame: Any = None            # the frame holding the composer
        self._composer: Any = None         # its element handle
        self._queue: asyncio.Queue[ChatEvent] = asyncio.Queue()
        self._offsets: dict[Any, float] = {}
        self._offset: float | None = None
        self._closing = False
        self._ready = False
        self._held: list[tuple[Any, dict[str, Any], float]] = []   # until our echo is seen
        self._sent: list[dict[str, Any]] = []     # {norm, at, echoed_at}
        self._visitor: dict[str, Any] | None = None
        self._status = StatusReader(self.options)
        self._echo = asyncio.Event()
        self.network = NetworkLog()
        self.recipe: recipes.Recipe | None = None
        self.recognition: list[dict[str, Any]] = []
        self.found: dict[str, Any] = {}
        self.launch_s: float | None = None
        self.clock_samples: dict[str, float] = {}
        self._tasks: set[asyncio.Task] = set()
        self._clicks: dict[str, float] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        executable = _chromium(self.configured.headless)
        if not os.path.exists(executable):
            raise ChatTransportError(
                f"Chromium not found at {executable}; run scripts/install-system-deps")
        opts = self.options
        try:
            await asyncio.wait_for(self._open(executable),
                                   pool.LAUNCH_TIMEOUT_S + opts.open_timeout_s + 5)
        except (ChatTransportError, ChatUnavailableError):
            await self.close()
            raise
        except TimeoutError:
            await self.close()
            raise ChatTransportError(
                f"browser: chat widget on {opts.url} not ready within {opts.open_timeout_s:g} s"
            ) from None
        except Exception as exc:
            await self.close()
            raise ChatTransportError(f"browser: {_short(exc)}") from exc

    async def _open(self, executable: str) -> None:
        from playwright.async_api import Error as PlaywrightError

        opts = self.configured
        self._shared = pool.shared(opts.headless)
        started = time.monotonic()
        try:
            browser = await self._shared.acquire(executable)
        except PlaywrightError as exc:
            self._shared = None
            raise ChatTransportError(f"browser: Chromium did not start: {_short(exc)}") from exc
        self.launch_s = time.monotonic() - started
        deadline = time.monotonic() + opts.open_timeout_s   # the widget's time, not Chromium's
        context_args: dict[str, Any] = {
            "locale": opts.locale,
            "viewport": {"width": opts.viewport[0], "height": opts.viewport[1]},
        }
        if opts.user_agent:
            context_args["user_agent"] = opts.user_agent
        self._context = await browser.new_context(**context_args)
        self._context.set_default_timeout(opts.action_timeout_s * 1000)
        await self._context.expose_binding(BINDING, self._on_report)
        await self._context.add_init_script(observer_script(opts))
        if opts.record_network:
            self._record_network()
        self._page = await self._context.new_page()
        self._page.on("crash", lambda _: self._lost("page crashed"))
        if opts.record_network:
            self._page.on("websocket", self._on_websocket)
        browser.once("disconnected", lambda _: self._lost("browser disconnected"))
        self._offset = await self._calibrate(self._page.main_frame)

        def left_ms() -> float:
            return max(100.0, (deadline - time.monotonic()) * 1000)

        try:
            await self._page.goto(opts.url, wait_until="load", timeout=left_ms())
        except PlaywrightError as exc:
            problem = f"browser: could not load {opts.url}: {_short(exc)}"
            if any(code in str(exc) for code in _UNREACHABLE):
                raise ChatUnreachableError(problem) from exc
            raise ChatTransportError(problem) from exc
        await self._resolve_recipe(deadline)
        opts = self.options
        self._status = StatusReader(opts)
        if opts.availability_js and await self._available() is False:
            raise ChatUnavailableError(
                f"chat unavailable: the widget reports it is offline ({opts.availability_js})")
        frame, composer = await self._open_widget(deadline)
        self._frame, self._composer = frame, composer
        if frame != self._page.main_frame:
            self._offsets[frame] = await self._calibrate(frame)
        await frame.evaluate("cfg => window.__svcbench && window.__svcbench.configure(cfg)",
                             observer_config(opts))
        self._queue.put_nowait(ChatEvent(
            kind=ChatEventKind.CONNECTED, t_local=self.clock(),
            data={"url": opts.url, "frame": frame.url, "recipe": self.recipe.name
                  if self.recipe else None, "discovery": not opts.selector_mode,
                  "launch_s": round(self.launch_s, 3)}))
        self._ready = True

    async def _resolve_recipe(self, deadline: float) -> None:
        """Recognise the widget (or take the named recipe) and merge its options under ours."""
        opts = self.configured
        if opts.recipe == "none":
            return
        if opts.recipe != "auto":
            self.recipe = recipes.get(opts.recipe)
        else:
            stop = min(deadline, time.monotonic() + opts.recognise_timeout_s)
            while True:
                facts = await self._facts(self._page.main_frame)
                ranked = recipes.recognise(facts)
                self.recognition = [{"recipe": r.name, "score": s, "why": why}
                                    for r, s, why in ranked]
                if ranked or time.monotonic() >= stop:
                    break
                await asyncio.sleep(0.25)
            self.recipe = ranked[0][0] if ranked else None
        self.options = recipes.apply(self.recipe, opts)

    async def _facts(self, frame: Any) -> dict[str, Any]:
        try:
            return await frame.evaluate(
                "([s, g]) => window.__svcbench ? window.__svcbench.facts(s, g) : {}",
                [recipes.all_selectors(), recipes.all_globals()])
        except Exception:   # noqa: BLE001 - a navigating frame: nothing to recognise yet
            return {}

    async def _available(self) -> bool | None:
        try:
            value = await self._page.evaluate(f"() => ({self.options.availability_js})")
        except Exception:   # noqa: BLE001 - the vendor API is not there (yet): unknown
            return None
        return value if isinstance(value, bool) else None

    # -- finding the widget --------------------------------------------------------------------

    async def _chain_frame(self, selectors: list[str], deadline: float) -> Any:
        frame = self._page.main_frame
        for selector in selectors:
            locator = frame.locator(selector).first
            await self._wait(locator, "attached", deadline,
                             f"chat frame {selector!r} did not appear on {self.options.url}")
            handle = await locator.element_handle()
            inner = await handle.content_frame() if handle else None
            if inner is None:
                raise ChatTransportError(f"browser: {selector!r} is not an iframe")
            frame = inner
        return frame

    async def _open_widget(self, deadline: float) -> tuple[Any, Any]:
        opts = self.options
        chat_frames = chain(opts.frame_selector)
        scope = await self._chain_frame(chat_frames, deadline) if chat_frames else None
        if opts.open_selector:
            if opts.open_frame_selector:
                where = await self._chain_frame(chain(opts.open_frame_selector), deadline)
            elif opts.open_scope == "page" or scope is None:
                where = self._page.main_frame
            else:
                where = scope
            launcher = where.locator(opts.open_selector).first
            await self._wait(launcher, "visible", deadline,
                             f"chat launcher {opts.open_selector!r} did not appear on {opts.url}")
            try:
                await launcher.click(timeout=_left_ms(deadline))
            except Exception as exc:   # noqa: BLE001 - Playwright errors and detached nodes
                raise ChatTransportError(
                    f"browser: could not click launcher {opts.open_selector!r}: {_short(exc)}"
                ) from exc
            self.found["launcher"] = opts.open_selector
        elif opts.open_js:
            with contextlib.suppress(Exception):
                await self._page.evaluate(f"() => {{ {opts.open_js}; }}")
            self.found["launcher"] = f"js: {opts.open_js}"
        clicks = 0 if opts.open_selector else opts.open_clicks   # open_js may not take
        if opts.input_selector:
            return await self._configured_composer(scope, deadline, clicks)
        return await self._discover_composer(scope, deadline, clicks)

    async def _configured_composer(self, scope: Any, deadline: float, clicks: int
                                   ) -> tuple[Any, Any]:
        """The configured input, clicking discovered launchers while it is not shown."""
        opts = self.options
        settle = time.monotonic() + 0.6
        clicked = 0
        box: Any = None
        while box is None:
            for frame in [scope] if scope is not None else list(self._page.frames):
                with contextlib.suppress(Exception):
                    candidate = frame.locator(opts.input_selector).first
                    if await candidate.is_visible():
                        box = candidate
                        break
            if box is not None:
                break
            if clicked < clicks and time.monotonic() > settle and await self._click_launcher():
                clicked += 1
                settle = time.monotonic() + 0.6
            if time.monotonic() >= deadline:
                await self._raise_if_offline(None)
                raise ChatTransportError(
                    f"browser: chat input {opts.input_selector!r} did not appear on {opts.url} "
                    f"within {opts.open_timeout_s:g} s")
            await asyncio.sleep(0.15)
        handle = await box.element_handle()
        frame = await handle.owner_frame()
        await self._check_composer(frame, handle)
        self.found["composer"] = opts.input_selector
        return frame, handle

    async def _discover_composer(self, scope: Any, deadline: float, clicks: int
                                 ) -> tuple[Any, Any]:
        """Poll the frames for a chat composer, clicking the most chat-like launcher when none
        shows; an offline form instead of a composer means the chat is unavailable."""
        settle = time.monotonic() + 0.6
        clicked = 0
        while True:
            frames = [scope] if scope is not None else list(self._page.frames)
            best: tuple[int, Any, Any, dict[str, Any]] | None = None
            for frame in frames:
                found = await self._composer_in(frame)
                if found is not None and (best is None or found[0] > best[0]):
                    best = (found[0], frame, found[1], found[2])
            if best is not None and best[0] >= 0:
                _, frame, handle, described = best
                self.found["composer"] = _describe(described)
                await self._check_composer(frame, handle, described)
                return frame, handle
            if best is not None and best[0] < 0 and time.monotonic() > settle:
                _, frame, handle, described = best
                await self._check_composer(frame, handle, described)   # raises
            if clicked < clicks and time.monotonic() > settle and await self._click_launcher():
                clicked += 1
                settle = time.monotonic() + 0.6
            if time.monotonic() >= deadline:
                await self._raise_if_offline(None)
                what = "a chat composer" if clicked else "a chat launcher or composer"
                raise ChatTransportError(
                    f"browser: could not find {what} on {self.options.url} within "
                    f"{self.options.open_timeout_s:g} s (try `svcbench chat inspect`)")
            await asyncio.sleep(0.2)

    async def _composer_in(self, frame: Any) -> tuple[int, Any, dict[str, Any]] | None:
        try:
            handle = await frame.evaluate_handle(
                "() => window.__svcbench ? window.__svcbench.findComposer() : null")
            element = handle.as_element()
            if element is None:
                return None
            described = await frame.evaluate("el => window.__svcbench.describe(el)", element)
        except Exception:   # noqa: BLE001 - frames come and go while widgets load
            return None
        return _composer_points(described), element, described

    async def _click_launcher(self) -> bool:
        """Click the most chat-like launcher not clicked yet (a button saying chat/help, in a
        fixed corner of the page or of a corner iframe)."""
        best: tuple[int, Any, Any, str] | None = None
        clicked = self.found.setdefault("launchers_clicked", [])
        recent = {where for where, at in self._clicks.items() if time.monotonic() - at < 5.0}
        for frame in list(self._page.frames):
            try:
                handles = await frame.evaluate_handle(
                    "() => window.__svcbench ? window.__svcbench.findLaunchers() : []")
                listed = await handles.evaluate("l => l.map(c => [c.score, c.label])")
                bonus = await self._corner_bonus(frame)
                for i, (points, label) in enumerate(listed):
                    where = f"{label} (in {frame.url})"
                    if where in recent or (where in clicked and points + bonus < 3):
                        continue   # a launcher still shown 5 s after a click may need another
                    if best is None or points + bonus > best[0]:
                        element = (await handles.evaluate_handle(
                            "(l, i) => l[i].element", i)).as_element()
                        best = (points + bonus, frame, element, where)
            except Exception:   # noqa: BLE001 - frames come and go while widgets load
                continue
        if best is None or best[2] is None:
            return False
        _, frame, element, where = best
        try:
            await element.click(timeout=5000)
        except Exception:   # noqa: BLE001 - it moved or vanished: try again next round
            return False
        if where not in clicked:
            clicked.append(where)
        self._clicks[where] = time.monotonic()
        return True

    async def _corner_bonus(self, frame: Any) -> int:
        """An iframe fixed in the bottom-right corner of the page is where widgets live."""
        if frame == self._page.main_frame:
            return 0
        try:
            element = await frame.frame_element()
            box = await element.bounding_box()
            size = self._page.viewport_size or {"width": 1280, "height": 800}
        except Exception:   # noqa: BLE001
            return 0
        if box and box["x"] + box["width"] > 0.6 * size["width"] \
                and box["y"] + box["height"] > 0.6 * size["height"]:
            return 2
        return 0

    async def _states(self) -> list[dict[str, Any]]:
        states = []
        for frame in list(self._page.frames):
            with contextlib.suppress(Exception):
                state = await frame.evaluate(
                    "() => window.__svcbench ? window.__svcbench.pageState() : null")
                if state:
                    states.append(state)
        return states

    async def _raise_if_offline(self, field: dict[str, Any] | None) -> None:
        """Raise ChatUnavailableError when the widget shows an offline state."""
        opts = self.options
        if opts.offline_selector:
            for frame in list(self._page.frames):
                with contextlib.suppress(Exception):
                    if await frame.locator(opts.offline_selector).first.is_visible():
                        raise ChatUnavailableError(
                            f"chat unavailable: offline state shown ({opts.offline_selector})")
        for state in await self._states():
            words = state.get("offline_text") or next(
                (is_offline_text(form.get("text"), opts) for form in state.get("forms") or []
                 if is_offline_text(form.get("text"), opts)), None)
            if words:
                self.found["offline"] = {"text": words, "frame": state.get("url")}
                raise ChatUnavailableError(
                    f"chat unavailable: the widget shows an offline form ({words!r})"
                    + (f" instead of a chat composer (field found: {_describe(field)})"
                       if field else ""))

    async def _check_composer(self, frame: Any, handle: Any,
                              described: dict[str, Any] | None = None) -> None:
        """Typing into a form's name field sends nothing to anyone: make sure it is a chat
        composer, telling an offline form (the company's finding) from our wrong guess."""
        if described is None:
            try:
                described = await frame.evaluate(
                    "el => window.__svcbench ? window.__svcbench.describe(el) : null", handle)
            except Exception:   # noqa: BLE001
                described = None
        if not described or _composer_points(described) >= 0:
            return
        await self._raise_if_offline(described)
        raise ChatTransportError(
            f"browser: the text field found is not a chat composer ({_describe(described)}); "
            f"set input_selector (try `svcbench chat inspect`)")

    async def _wait(self, locator: Any, state: str, deadline: float, problem: str) -> None:
        try:
            await locator.wait_for(state=state, timeout=_left_ms(deadline))
        except Exception as exc:   # noqa: BLE001
            await self._raise_if_offline(None)
            raise ChatTransportError(
                f"browser: {problem} within {self.options.open_timeout_s:g} s") from exc

    # -- sending -------------------------------------------------------------------------------

    async def send(self, text: str) -> None:
        if self._page is None or self._frame is None:
            raise ChatTransportError("browser: send() before open()")
        opts = self.options
        first = not self._sent
        self._sent.append({"norm": norm(text), "at": self.clock(), "echoed_at": None})
        self._echo.clear()
        try:
            box = await self._live_composer()
            await box.fill(text)
            if opts.send_selector:
                await self._frame.locator(opts.send_selector).first.click()
            else:
                await box.press(opts.send_key)
        except ChatTransportError:
            raise
        except Exception as exc:   # noqa: BLE001 - Playwright errors, detached composer
            raise ChatTransportError(f"browser: could not send the message: {_short(exc)}") \
                from exc
        if first:
            await self._verify_echo(text)

    async def _live_composer(self) -> Any:
        with contextlib.suppress(Exception):
            if self._composer is not None and await self._composer.is_visible():
                return self._composer
        found = await self._composer_in(self._frame)
        if found is None or found[0] < 0:
            raise ChatTransportError("browser: the chat composer disappeared")
        self._composer = found[1]
        return self._composer

    async def _verify_echo(self, text: str) -> None:
        """Wait until our question is seen in the conversation (learning where the
        conversation is when no selector says so); else the probe cannot see and fails."""
        opts = self.options
        deadline = time.monotonic() + opts.echo_timeout_s
        while not self._echo.is_set() and time.monotonic() < deadline:
            if not opts.selector_mode:
                with contextlib.suppress(Exception):
                    await self._frame.evaluate("q => window.__svcbench.learn(q)", text)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._echo.wait(), 0.15)
        if self._echo.is_set():
            with contextlib.suppress(Exception):
                self.found["log"] = await self._frame.evaluate(
                    "() => window.__svcbench.learnedLog()") or opts.message_selector
            return
        try:
            on_page = await self._frame.evaluate("q => window.__svcbench.contains(q)", text)
        except Exception:   # noqa: BLE001
            on_page = False
        where = (f"message_selector {opts.message_selector!r}" if opts.selector_mode
                 else "any message list")
        detail = ("it is on the page but not in " + where) if on_page else \
            "it never appeared on the page (not sent, or hidden from view)"
        raise ChatTransportError(
            f"could not observe the conversation: our question was not seen within "
            f"{opts.echo_timeout_s:g} s ({detail})")

    async def next_event(self, timeout_s: float) -> ChatEvent | None:
        try:
            return await asyncio.wait_for(self._queue.get(), max(0.0, timeout_s))
        except TimeoutError:
            return None

    async def close(self) -> None:
        """Take the final screenshot (if asked), end the chat (if ``end_selector``), close the
        context and give the shared browser back; safe to call repeatedly."""
        self._closing = True
        page, context, shared = self._page, self._context, self._shared
        self._page = self._context = self._shared = None
        if page is not None and self.options.screenshot_path:
            with contextlib.suppress(Exception):
                path = Path(self.options.screenshot_path)
                path.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.wait_for(page.screenshot(path=str(path)), 10)
        if page is not None and self._frame is not None and self.options.end_selector:
            with contextlib.suppress(Exception):   # best effort: the context goes away anyway
                await self._frame.locator(self.options.end_selector).first.click(timeout=2000)
                await asyncio.sleep(self.options.end_grace_s)
        for task in list(self._tasks):
            task.cancel()
        if context is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(context.close(), 10)
        if shared is not None:
            await shared.release()

    # -- network evidence ----------------------------------------------------------------------

    def _record_network(self) -> None:
        def on_request(request: Any) -> None:
            if request.resource_type in ("xhr", "fetch", "websocket", "eventsource"):
                self.network.add({"kind": "request", "t": self.clock(), "method": request.method,
                                  "url": request.url, "resource_type": request.resource_type})

        def on_response(response: Any) -> None:
            request = response.request
            if request.resource_type not in ("xhr", "fetch", "eventsource"):
                return
            record = {"kind": "response", "t": self.clock(), "method": request.method,
                      "url": response.url, "status": response.status,
                      "resource_type": request.resource_type}
            self.network.add(record)
            task = asyncio.ensure_future(self._body(response, record))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        def on_websocket(ws: Any) -> None:
            url = ws.url

            def frame(kind: str) -> Any:
                def handler(payload: Any) -> None:
                    text = payload if isinstance(payload, str) else None
                    self.network.add({"kind": kind, "t": self.clock(), "url": url,
                                      "method": "WS", "json": parse_json(text),
                                      "bytes": len(payload or "")})
                return handler
            ws.on("framereceived", frame("ws_in"))
            ws.on("framesent", frame("ws_out"))

        self._context.on("request", on_request)
        self._context.on("response", on_response)
        self._on_websocket = on_websocket

    async def _body(self, response: Any, record: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            body = parse_json(await response.text())
            if body is not None:
                self.network.add_body(record, body)

    # -- events and clocks ---------------------------------------------------------------------

    async def _calibrate(self, frame: Any, samples: int = 7) -> float:
        """Offset (anchored clock minus page clock, s) from the sample with the least round trip."""
        best: tuple[float, float] | None = None
        for _ in range(samples):
            before = self.clock()
            page_ms = await frame.evaluate(CLOCK_JS)
            after = self.clock()
            rtt = after - before
            if best is None or rtt < best[0]:
                best = (rtt, (before + after) / 2 - page_ms / 1000)
        assert best is not None
        self.clock_samples[getattr(frame, "url", "") or "about:blank"] = best[0]
        return best[1]

    def _on_report(self, source: dict[str, Any], report: dict[str, Any]) -> None:
        received = self.clock()
        if not isinstance(report, dict) or self._closing:
            return
        frame = source.get("frame")
        if report.get("type") == "bubble" and not self._visitor_known():
            self._held.append((frame, report, received))
            if self._is_echo(report):
                self._learn_visitor(report)
                held, self._held = self._held, []
                held.sort(key=lambda item: float(item[1].get("t") or 0))
                for f, r, got in held:
                    self._emit(f, r, got)
            return
        self._emit(frame, report, received)

    def _visitor_known(self) -> bool:
        return self._visitor is not None

    def _is_echo(self, report: dict[str, Any]) -> bool:
        text = norm(report.get("text"))
        return any(s["echoed_at"] is None and s["norm"] and s["norm"] in text
                   and len(text) <= len(s["norm"]) + 120 for s in self._sent)

    def _learn_visitor(self, report: dict[str, Any]) -> None:
        attrs = report.get("attrs") or {}
        marks = {k: v for k, v in attrs.items() if k.startswith("data-") and len(str(v)) <= 24
                 and k not in ("data-id", "data-key", "data-message-id", "data-msg-id",
                               "data-kind", "data-ts", "data-time")}
        self._visitor = {"side": report.get("side"), "marks": marks}

    def _emit(self, frame: Any, report: dict[str, Any], received: float) -> None:
        try:
            page_t = float(report["t"]) / 1000
        except (KeyError, TypeError, ValueError):
            return   # not from our observer
        offset = self._offsets.get(frame, self._offset or 0.0)
        t_local = min(page_t + offset, received)   # cannot have been drawn after we heard of it
        text = clean_text(report.get("text"))
        author = clean_text(report.get("author_name")) or None
        if author and text.startswith(author) and len(text) > len(author):
            text = text[len(author):].strip()
        raw = {**report, "frame": getattr(frame, "url", None),
               "binding_lag_ms": round((received - t_local) * 1000, 2)}
        evidence = self.network.cause(t_local)
        server = self.network.server_time(text)
        extra = {k: v for k, v in evidence.items() if k in ("resolution_s", "time_source")}
        if report.get("type") == "status":
            for kind, data in self._status.read(text):
                self._put(ChatEvent(kind=kind, t_local=t_local, actor=Actor.SYSTEM, text=text,
                                    data={**data, **extra, "source": "status"}, raw=raw))
            return
        mine = self._match_sent(report, t_local)
        if mine == "duplicate":
            return
        if mine:
            self._put(ChatEvent(kind=ChatEventKind.MESSAGE, t_local=t_local, actor=Actor.VISITOR,
                                text=text, t_server=server, data=extra, raw=raw))
            self._echo.set()
            return
        for kind, actor, data in classify_bubble({**report, "text": text}, self.options,
                                                 self._visitor):
            if actor is Actor.VISITOR and kind is ChatEventKind.MESSAGE and any(
                    s["echoed_at"] is not None and s["norm"] == norm(text) for s in self._sent):
                return   # our message drawn once more
            if kind == ChatEventKind.MESSAGE and actor not in (None, Actor.SYSTEM) and author:
                data = {**data, "author": author}
            self._put(ChatEvent(kind=kind, t_local=t_local, actor=actor, text=text,
                                t_server=server, data={**data, **extra}, raw=raw))

    def _match_sent(self, report: dict[str, Any], t_local: float) -> str | bool:
        text = norm(report.get("text"))
        for sent in self._sent:
            if not sent["norm"] or sent["norm"] not in text \
                    or len(text) > len(sent["norm"]) + 120:
                continue
            if sent["echoed_at"] is None:
                sent["echoed_at"] = t_local
                return True
            if t_local - sent["echoed_at"] <= _REDRAW_S and text == sent["norm"]:
                return "duplicate"
        return False

    def _put(self, event: ChatEvent) -> None:
        self._queue.put_nowait(event)

    def _lost(self, reason: str) -> None:
        if not self._closing:
            self._queue.put_nowait(ChatEvent(kind=ChatEventKind.ERROR, t_local=self.clock(),
                                             data={"reason": f"browser: {reason}",
                                                   "fatal": True}))

    # -- inspection ----------------------------------------------------------------------------

    async def inspect(self) -> dict[str, Any]:
        """Open the widget (no message sent) and report what was recognised and found; the
        page's DOM (frames and shadow roots) and its network traffic are included."""
        error: str | None = None
        unavailable = False
        try:
            await self.open()
        except ChatUnavailableError as exc:
            error, unavailable = str(exc), True
        except ChatTransportError as exc:
            error = str(exc)
        report: dict[str, Any] = {
            "url": self.configured.url,
            "recipe": self.recipe.name if self.recipe else None,
            "recipe_title": self.recipe.title if self.recipe else None,
            "recipe_verified_against": list(self.recipe.verified_against) if self.recipe
            else [],
            "recognition": self.recognition,
            "found": dict(self.found),
            "frame": getattr(self._frame, "url", None),
            "ready": self._ready and error is None,
            "unavailable": unavailable,
            "error": error,
        }
        return report

    async def dump(self) -> dict[str, Any]:
        """DOM of every frame (with open shadow roots) and the network log."""
        frames = []
        if self._page is not None:
            for frame in self._page.frames:
                with contextlib.suppress(Exception):
                    html = await frame.evaluate(
                        "() => window.__svcbench ? window.__svcbench.dump() : "
                        "document.documentElement.outerHTML")
                    frames.append({"url": frame.url, "name": frame.name, "html": html})
        return {"frames": frames, "network": self.network.dump(),
                "network_summary": self.network.summary()}

    async def screenshot(self, path: str) -> bool:
        if self._page is None:
            return False
        with contextlib.suppress(Exception):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            await asyncio.wait_for(self._page.screenshot(path=path), 10)
            return True
        return False


def _composer_points(described: dict[str, Any]) -> int:
    """Python twin of the page's composer score: < 0 means a form field, not a composer."""
    import re

    label = described.get("label") or ""
    points = 0
    if re.search(WORDS["composer"], label, re.IGNORECASE):
        points += 3
    if described.get("tag") != "input":
        points += 1
    kind = described.get("type") or ""
    autocomplete = described.get("autocomplete") or ""
    if kind in ("email", "tel") or re.search(r"name|email|tel", autocomplete, re.IGNORECASE):
        points -= 6
    if re.search(WORDS["not_composer"], label, re.IGNORECASE) \
            and not re.search(WORDS["composer"], label, re.IGNORECASE):
        points -= 6
    if (described.get("form_fields") or 0) > 2:
        points -= 2
    others = [other for other in described.get("form_fields_labels") or [] if other != label]
    if any(re.search(WORDS["not_composer"], other, re.IGNORECASE) for other in others):
        points -= 6   # beside name/email fields: a contact or leave-a-message form
    return points


def _describe(field: dict[str, Any] | None) -> str:
    if not field:
        return "?"
    label = (field.get("label") or "").strip()
    kind = field.get("type") or field.get("tag")
    return f"{field.get('tag')}" + (f"[type={kind}]" if field.get("type") else "") + \
        (f" {label!r}" if label else "")


def _left_ms(deadline: float) -> float:
    return max(100.0, (deadline - time.monotonic()) * 1000)


def _chromium(headless: bool = True) -> str:
    from . import CHROMIUM  # the package attribute, so tests and users can point elsewhere

    # the headless shell cannot show a window: watching a chat needs the full browser
    return pool.FULL_CHROMIUM if not headless and CHROMIUM == pool.HEADLESS_SHELL else CHROMIUM


def _short(exc: BaseException) -> str:
    """Playwright messages carry a multi-line call log; keep the first line."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
