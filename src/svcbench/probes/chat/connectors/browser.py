"""Browser connector: drives a company's real chat widget in headless Chromium (Playwright).

The universal fallback for platforms without a visitor API. A MutationObserver injected into
every frame (cross-origin and nested iframes, open shadow roots) reports each new chat bubble
with the page's clock; bubbles are classified into ``ChatEvent``s by author attribute, per-company
actor rules and multilingual regexes (queue position, wait estimate, agent joined, chat ended).

Timing: the page clock is calibrated against the probe's ``AnchoredClock`` NTP-style (minimum
round-trip ``evaluate`` samples), so an event's ``t_local`` is the instant the bubble entered the
DOM, not the instant the binding call reached Python (which lags by a few milliseconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ..connector import (
    ChatConnector,
    ChatTransportError,
    ChatUnreachableError,
    ConnectorOptions,
)
from ..events import Actor, ChatEvent, ChatEventKind
from ._actors import ActorRules

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--disable-gpu", "--disable-quic", "--disable-component-update", "--disable-sync"]
BINDING = "__svcbenchChatEvent"
LAUNCH_TIMEOUT_S = 30.0

_UNITS = (r"(?P<unit>seconds?|secs?|sekunden?|secondes?|segundos?|secondi|s|minutes?|mins?|"
          r"minuten?|minutos?|minuti|min|m|hours?|hrs?|stunden?|heures?|horas?|ore|h)")

DEFAULT_QUEUE_PATTERNS = [
    r"(?:you are|you're|sie sind|du bist|vous êtes|usted es|eres|sei)\s+(?:currently\s+|now\s+|"
    r"jetzt\s+|aktuell\s+|derzeit\s+)?(?:number|no\.?|nr\.?|nummer|numéro|número|numero|#)\s*"
    r"(?P<position>\d+)",
    r"(?:queue position|position in (?:the )?(?:queue|line)|position|warteschlangenplatz|"
    r"platz in der warteschlange|posición en la cola|position dans la file)\s*"
    r"(?:is|ist|est|es|:)?\s*#?\s*(?P<position>\d+)\b",
    r"\b(?P<position>\d+)(?:st|nd|rd|th|\.)?\s+(?:in (?:the )?(?:queue|line)|"
    r"in der warteschlange|dans la file|en la cola)",
    r"\ban (?P<position>\d+)\.\s*(?:stelle|position)",
]
DEFAULT_WAIT_PATTERNS = [
    r"(?:wait(?:ing)?\s*time|expected wait|estimated wait|wait|wartezeit|temps d'attente|"
    r"tiempo de espera|tempo di attesa)\D{0,30}?(?P<wait>\d+(?:[.,]\d+)?)\s*" + _UNITS + r"\b",
]
DEFAULT_AGENT_JOINED_PATTERNS = [
    r"^(?P<agent>.{1,60}?)\s+(?:has\s+)?joined(?: the)? (?:chat|conversation)",
    r"^(?P<agent>.{1,60}?)\s+ist (?:dem chat|der unterhaltung|dem gespräch) beigetreten",
    r"^(?P<agent>.{1,60}?)\s+a rejoint (?:la conversation|le chat|la discussion)",
    r"^(?P<agent>.{1,60}?)\s+se ha unido (?:al chat|a la conversación)",
    r"(?:you are (?:now )?(?:chatting|connected) with|sie (?:chatten|sprechen) (?:jetzt )?mit|"
    r"vous êtes en ligne avec)\s+(?P<agent>[^.!\n]{1,60})",
]
DEFAULT_CHAT_ENDED_PATTERNS = [
    r"\b(?:chat|conversation) (?:has )?(?:ended|been (?:closed|ended))\b",
    r"\bchat (?:wurde )?beendet\b",
    r"\b(?:conversation|discussion) (?:est )?terminée\b",
]

_UNREACHABLE = ("ERR_CONNECTION_REFUSED", "ERR_NAME_NOT_RESOLVED", "ERR_CONNECTION_TIMED_OUT",
                "ERR_ADDRESS_UNREACHABLE", "ERR_INTERNET_DISCONNECTED")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")


def _check_regexes(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


class ActorRule(ConnectorOptions):
    """Tells who wrote a bubble; every condition given must hold; first matching rule wins."""

    actor: Actor
    selector: str | None = None    # CSS the bubble element matches (Element.matches)
    attribute: str | None = None   # attribute name; with `value`: regex on its value
    value: str | None = None
    author: str | None = None      # regex on the author name (author_name_selector)
    text: str | None = None        # regex on the bubble text

    @model_validator(mode="after")
    def _one_condition(self) -> ActorRule:
        if not any((self.selector, self.attribute, self.author, self.text)):
            raise ValueError("an actor rule needs selector, attribute, author or text")
        _check_regexes([p for p in (self.value, self.author, self.text) if p])
        return self


class BrowserOptions(ConnectorOptions):
    """Where the widget is and how to read it. ``log_selector``, ``message_selector``,
    ``text_selector``, ``author_name_selector`` and rule selectors are plain CSS (they run in the
    page); ``frame_selector``, ``open_selector``, ``input_selector`` and ``send_selector`` are
    Playwright selectors."""

    url: str
    frame_selector: str | list[str] | None = None   # a list = nested iframes, outermost first
    open_selector: str | None = None                 # launcher to click; None = already open
    open_scope: Literal["frame", "page"] = "frame"   # where the launcher lives
    log_selector: str = "[role=log]"
    message_selector: str = ".msg"
    ignore_selector: str | None = None               # bubbles to skip (typing indicators)
    text_selector: str | None = None                 # inside the bubble; default whole bubble
    author_name_selector: str | None = None
    author_attribute: str | None = "data-author"     # its value is the author type
    kind_attribute: str | None = None                # optional structured hint, e.g. data-kind
    actor_rules: list[ActorRule] = Field(default_factory=list)   # DOM rules, checked first
    authors: ActorRules = ActorRules()               # author type / name rules (all connectors)
    input_selector: str = "textarea, input[type=text]"
    send_key: str | None = "Enter"
    send_selector: str | None = None
    end_selector: str | None = None                  # clicked on close() to end the chat
    end_grace_s: float = Field(0.5, ge=0)            # lets the widget tell its server
    queue_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_QUEUE_PATTERNS))
    wait_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_WAIT_PATTERNS))
    agent_joined_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_AGENT_JOINED_PATTERNS))
    chat_ended_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CHAT_ENDED_PATTERNS))
    headless: bool = True
    open_timeout_s: float = Field(30.0, gt=0)   # page load + launcher + input (after launch)
    action_timeout_s: float = Field(10.0, gt=0)      # one fill / click / key press
    user_agent: str | None = None                    # default: don't disguise the browser
    locale: str = "en-US"
    viewport: tuple[int, int] = (1280, 800)
    screenshot_path: str | None = None               # final screenshot, taken on close()

    @field_validator("queue_patterns", "wait_patterns", "agent_joined_patterns",
                     "chat_ended_patterns")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        return _check_regexes(patterns)

    @model_validator(mode="after")
    def _can_send(self) -> BrowserOptions:
        if not self.send_key and not self.send_selector:
            raise ValueError("set send_key or send_selector")
        return self

    @property
    def frames(self) -> list[str]:
        if self.frame_selector is None:
            return []
        chain = self.frame_selector
        return [chain] if isinstance(chain, str) else chain


# -- classification (pure) ---------------------------------------------------------------------

def clean_text(text: str | None) -> str:
    """Drop icon-font glyphs (private-use code points) and collapse whitespace."""
    return " ".join(_PRIVATE_USE.sub("", text or "").split())


def _wait_seconds(match: re.Match[str]) -> float | None:
    value = float(match.group("wait").replace(",", "."))
    unit = (match.groupdict().get("unit") or "m").lower()
    return value * _UNIT_SECONDS.get(unit[0], 60)


def _search(patterns: list[str], text: str) -> re.Match[str] | None:
    for pattern in patterns:
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return found
    return None


def bubble_actor(bubble: dict[str, Any], options: BrowserOptions) -> Actor | None:
    """Who wrote a bubble: DOM actor rules, then the author attribute and name through the
    shared ``authors`` rules; None when the bubble carries no author marker at all."""
    attrs = bubble.get("attrs") or {}
    hits = bubble.get("rule_hits") or []
    text = clean_text(bubble.get("text"))
    author = clean_text(bubble.get("author_name"))
    for i, rule in enumerate(options.actor_rules):
        if rule.selector and not (i < len(hits) and hits[i]):
            continue
        if rule.attribute:
            value = attrs.get(rule.attribute)
            if value is None or (rule.value is not None
                                 and not re.search(rule.value, value, re.IGNORECASE)):
                continue
        if rule.author and not re.search(rule.author, author, re.IGNORECASE):
            continue
        if rule.text and not re.search(rule.text, text, re.IGNORECASE):
            continue
        return rule.actor
    kind = attrs.get(options.author_attribute) if options.author_attribute else None
    if not (kind or "").strip() and not author:
        return None
    return options.authors.classify(kind or None, author or None)


def classify_bubble(bubble: dict[str, Any], options: BrowserOptions
                    ) -> list[tuple[ChatEventKind, Actor | None, dict[str, Any]]]:
    """Turn one reported bubble into (kind, actor, data) tuples, most often a single message.

    A system line that announces the queue, a wait, an agent or the end becomes only those
    structured events; a bot or agent message that mentions them is kept as a message too.
    """
    text = clean_text(bubble.get("text"))
    actor = bubble_actor(bubble, options)
    hint = ((bubble.get("attrs") or {}).get(options.kind_attribute or "") or "").lower()
    structured: list[tuple[ChatEventKind, dict[str, Any]]] = []
    if actor != Actor.VISITOR:
        queue = _search(options.queue_patterns, text)
        if queue:
            structured.append((ChatEventKind.QUEUE_POSITION,
                               {"position": int(queue.group("position"))}))
        wait = _search(options.wait_patterns, text)
        if wait:
            structured.append((ChatEventKind.WAIT_ESTIMATE, {"wait_s": _wait_seconds(wait)}))
        joined = _search(options.agent_joined_patterns, text)
        if joined or hint == ChatEventKind.AGENT_JOINED:
            name = clean_text(joined.group("agent")) if joined else None
            structured.append((ChatEventKind.AGENT_JOINED, {"agent": name}))
        if _search(options.chat_ended_patterns, text) or hint == ChatEventKind.CHAT_ENDED:
            structured.append((ChatEventKind.CHAT_ENDED, {}))
    if actor is None:
        actor = Actor.SYSTEM if structured else options.authors.default
    events = [(kind, actor, data) for kind, data in structured]
    if not structured or actor in (Actor.BOT, Actor.AGENT):
        events.insert(0, (ChatEventKind.MESSAGE, actor, {}))
    return events


# -- the in-page observer ----------------------------------------------------------------------

OBSERVER_JS = r"""
(() => {
  const CFG = __CONFIG__;
  if (window.__svcbenchObserving) return;
  window.__svcbenchObserving = true;
  const now = () => performance.timeOrigin + performance.now();
  const seen = new WeakSet();
  const pending = new Set();
  const observed = new WeakSet();
  const safeMatches = (el, sel) => { try { return el.matches(sel); } catch (e) { return false; } };
  const textOf = (el, sel) => {
    const node = sel ? el.querySelector(sel) : el;
    if (!node) return "";
    return (node.innerText ?? node.textContent ?? "").trim();
  };
  const report = (el, text, t) => {
    const attrs = {};
    for (const a of el.attributes) attrs[a.name] = a.value;
    window[CFG.binding]({
      t, text, attrs,
      author_name: CFG.authorNameSelector ? textOf(el, CFG.authorNameSelector) : null,
      rule_hits: CFG.ruleSelectors.map(s => s === null || safeMatches(el, s)),
      url: location.href,
    });
  };
  const consider = (el, t) => {
    if (seen.has(el) || !safeMatches(el, CFG.messageSelector)) return;
    if (CFG.logSelector && !el.closest(CFG.logSelector)) return;
    if (CFG.ignoreSelector && safeMatches(el, CFG.ignoreSelector)) return;
    const text = textOf(el, CFG.textSelector);
    if (!text) { pending.add(el); return; }        // report once it has text
    seen.add(el);
    pending.delete(el);
    report(el, text, t);
  };
  const scan = (node, t) => {
    if (node.nodeType !== 1 && node.nodeType !== 11) return;
    if (node.nodeType === 1) consider(node, t);
    node.querySelectorAll(CFG.messageSelector).forEach(el => consider(el, t));
    node.querySelectorAll("*").forEach(el => { if (el.shadowRoot) watch(el.shadowRoot, t); });
    if (node.shadowRoot) watch(node.shadowRoot, t);
  };
  const onMutations = mutations => {
    const t = now();
    for (const m of mutations) m.addedNodes.forEach(n => scan(n, t));
    for (const el of [...pending]) {
      if (!el.isConnected) pending.delete(el); else consider(el, t);
    }
  };
  const watch = (root, t) => {
    if (observed.has(root)) return;
    observed.add(root);
    new MutationObserver(onMutations)
      .observe(root, {childList: true, subtree: true, characterData: true});
    if (root !== document) scan(root, t);
  };
  // Shadow roots (even closed ones) are watched from the moment they are attached.
  const attachShadow = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const shadow = attachShadow.call(this, init);
    try { watch(shadow, now()); } catch (e) { /* never break the page */ }
    return shadow;
  };
  watch(document, now());
  if (document.documentElement) scan(document.documentElement, now());
})();
"""

CLOCK_JS = "performance.timeOrigin + performance.now()"


def observer_script(options: BrowserOptions) -> str:
    config = {
        "binding": BINDING,
        "logSelector": options.log_selector,
        "messageSelector": options.message_selector,
        "ignoreSelector": options.ignore_selector,
        "textSelector": options.text_selector,
        "authorNameSelector": options.author_name_selector,
        "ruleSelectors": [rule.selector for rule in options.actor_rules],
    }
    return OBSERVER_JS.replace("__CONFIG__", json.dumps(config))


class BrowserConnector(ChatConnector):
    """Chats through the company's own web widget in headless Chromium."""

    name: ClassVar[str] = "browser"
    options_model: ClassVar[type[ConnectorOptions]] = BrowserOptions
    options: BrowserOptions

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pw: Any = None
        self._browser: Any = None
        self._context: Any = None
        self._page: Any = None
        self._queue: asyncio.Queue[ChatEvent] = asyncio.Queue()
        self._offsets: dict[Any, float] = {}   # frame -> (anchored clock - page clock), seconds
        self._offset: float | None = None      # from the main frame; used for other frames
        self._early: list[tuple[Any, dict[str, Any], float]] = []
        self._ready = False
        self._closing = False
        self._scope: Any = None
        self.launch_s: float | None = None
        self.clock_samples: dict[str, float] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        if not os.path.exists(CHROMIUM):
            raise ChatTransportError(
                f"Chromium not found at {CHROMIUM}; run scripts/install-system-deps")
        opts = self.options
        try:
            await asyncio.wait_for(self._open(), LAUNCH_TIMEOUT_S + opts.open_timeout_s + 5)
        except ChatTransportError:
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

    async def _open(self) -> None:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright

        opts = self.options
        self._pw = await async_playwright().start()
        started = time.monotonic()
        try:
            self._browser = await self._pw.chromium.launch(
                executable_path=CHROMIUM, headless=opts.headless, args=LAUNCH_ARGS,
                timeout=LAUNCH_TIMEOUT_S * 1000)
        except PlaywrightError as exc:
            raise ChatTransportError(f"browser: Chromium did not start: {_short(exc)}") from exc
        self.launch_s = time.monotonic() - started
        deadline = time.monotonic() + opts.open_timeout_s   # the widget's time, not Chromium's
        self._browser.on("disconnected", lambda _: self._lost("browser disconnected"))
        context_args: dict[str, Any] = {
            "locale": opts.locale,
            "viewport": {"width": opts.viewport[0], "height": opts.viewport[1]},
        }
        if opts.user_agent:
            context_args["user_agent"] = opts.user_agent
        self._context = await self._browser.new_context(**context_args)
        self._context.set_default_timeout(opts.action_timeout_s * 1000)
        await self._context.expose_binding(BINDING, self._on_bubble)
        await self._context.add_init_script(observer_script(opts))
        self._page = await self._context.new_page()
        self._page.on("crash", lambda _: self._lost("page crashed"))
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
        scope: Any = self._page
        for selector in opts.frames:
            await self._wait(scope.locator(selector).first, "attached", left_ms(),
                             f"chat frame {selector!r} did not appear on {opts.url}")
            scope = scope.locator(selector).first.content_frame
        self._scope = scope
        if opts.open_selector:
            where = scope if opts.open_scope == "frame" else self._page
            launcher = where.locator(opts.open_selector).first
            await self._wait(launcher, "visible", left_ms(),
                             f"chat launcher {opts.open_selector!r} did not appear on {opts.url}")
            try:
                await launcher.click(timeout=left_ms())
            except PlaywrightError as exc:
                raise ChatTransportError(
                    f"browser: could not click launcher {opts.open_selector!r}: {_short(exc)}"
                ) from exc
        box = scope.locator(opts.input_selector).first
        await self._wait(box, "visible", left_ms(),
                         f"chat input {opts.input_selector!r} did not appear on {opts.url}")
        connected = self.clock()
        handle = await box.element_handle(timeout=left_ms())
        frame = await handle.owner_frame() if handle else None
        if frame is not None and frame != self._page.main_frame:
            self._offsets[frame] = await self._calibrate(frame)
        self._queue.put_nowait(ChatEvent(
            kind=ChatEventKind.CONNECTED, t_local=connected,
            data={"url": opts.url, "frame": frame.url if frame else None,
                  "launch_s": round(self.launch_s, 3)}))
        self._ready = True
        self._flush_early()

    async def _wait(self, locator: Any, state: str, timeout_ms: float, problem: str) -> None:
        from playwright.async_api import Error as PlaywrightError

        try:
            await locator.wait_for(state=state, timeout=timeout_ms)
        except PlaywrightError as exc:
            raise ChatTransportError(
                f"browser: {problem} within {self.options.open_timeout_s:g} s") from exc

    async def send(self, text: str) -> None:
        if self._page is None:
            raise ChatTransportError("browser: send() before open()")
        from playwright.async_api import Error as PlaywrightError

        opts = self.options
        try:
            box = self._scope.locator(opts.input_selector).first
            await box.fill(text)
            if opts.send_selector:
                await self._scope.locator(opts.send_selector).first.click()
            else:
                await box.press(opts.send_key)
        except PlaywrightError as exc:
            raise ChatTransportError(f"browser: could not send the message: {_short(exc)}") from exc

    async def next_event(self, timeout_s: float) -> ChatEvent | None:
        try:
            return await asyncio.wait_for(self._queue.get(), max(0.0, timeout_s))
        except TimeoutError:
            return None

    async def close(self) -> None:
        """Take the final screenshot (if asked), end the chat (if ``end_selector``) and stop
        Chromium; safe to call repeatedly."""
        self._closing = True
        page, context, browser, pw = self._page, self._context, self._browser, self._pw
        self._page = self._context = self._browser = self._pw = None
        if page is not None and self.options.screenshot_path:
            with contextlib.suppress(Exception):
                path = Path(self.options.screenshot_path)
                path.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.wait_for(page.screenshot(path=str(path)), 10)
        if page is not None and self._scope is not None and self.options.end_selector:
            with contextlib.suppress(Exception):   # best effort: the browser goes away anyway
                await self._scope.locator(self.options.end_selector).first.click(timeout=2000)
                await asyncio.sleep(self.options.end_grace_s)
        for closing in (context, browser):
            if closing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closing.close(), 10)
        if pw is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pw.stop(), 10)

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

    def _on_bubble(self, source: dict[str, Any], bubble: dict[str, Any]) -> None:
        received = self.clock()
        if not self._ready:   # hold bubbles until CONNECTED is queued and clocks calibrated
            self._early.append((source.get("frame"), bubble, received))
            return
        self._emit(source.get("frame"), bubble, received)

    def _flush_early(self) -> None:
        early, self._early = self._early, []
        for frame, bubble, received in early:
            self._emit(frame, bubble, received)

    def _emit(self, frame: Any, bubble: dict[str, Any], received: float) -> None:
        try:
            page_t = float(bubble["t"]) / 1000
        except (KeyError, TypeError, ValueError):
            return   # not from our observer
        offset = self._offsets.get(frame, self._offset or 0.0)
        # A bubble cannot have been rendered after we heard of it.
        t_local = min(page_t + offset, received)
        raw = {**bubble, "frame": getattr(frame, "url", None),
               "binding_lag_ms": round((received - t_local) * 1000, 2)}
        text = clean_text(bubble.get("text"))
        for kind, actor, data in classify_bubble(bubble, self.options):
            if kind == ChatEventKind.MESSAGE and actor not in (None, Actor.SYSTEM):
                author = clean_text(bubble.get("author_name")) or None
                if author:
                    data = {**data, "author": author}
            self._queue.put_nowait(ChatEvent(kind=kind, t_local=t_local, actor=actor, text=text,
                                             data=data, raw=raw))

    def _lost(self, reason: str) -> None:
        if not self._closing:
            self._queue.put_nowait(ChatEvent(kind=ChatEventKind.ERROR, t_local=self.clock(),
                                             data={"reason": f"browser: {reason}"}))


def _short(exc: BaseException) -> str:
    """Playwright messages carry a multi-line call log; keep the first line."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
