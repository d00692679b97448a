"""The browser side of a web-form probe: find the contact form, fill it as a person would (only
fields a person can see), submit it, and read what the page says back. Vocabulary lives in
``data/forms.toml``; nothing here is specific to one site."""

from __future__ import annotations

import contextlib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

#: how a field's purpose is recognised, in the order the evidence is trusted
ROLES = ("email", "first_name", "last_name", "name", "phone", "company", "order", "subject",
         "message", "consent")


@cache
def vocabulary() -> dict[str, Any]:
    text = files("svcbench").joinpath("data/forms.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def _pattern(*path: str) -> re.Pattern[str]:
    node: Any = vocabulary()
    for key in path:
        node = node[key]
    return re.compile("|".join(f"(?:{p})" for p in node), re.IGNORECASE)


@dataclass
class FormValues:
    """What the shopper writes, by field role."""

    name: str
    email: str
    message: str
    subject: str
    order: str
    phone: str | None = None
    topic: str | None = None
    consent: bool = False

    def for_role(self, role: str) -> str | None:
        first, _, last = self.name.partition(" ")
        return {"name": self.name, "first_name": first, "last_name": last or first,
                "email": self.email, "phone": self.phone, "subject": self.subject,
                "order": self.order, "message": self.message}.get(role)


@dataclass
class FormResult:
    #: submitted (the page confirmed), unconfirmed (submitted, no confirmation seen),
    #: rejected (the form refused what we entered), blocked (a person has to take over)
    state: str
    url: str
    detail: str = ""
    blocked_kind: str | None = None
    submitted_at: datetime | None = None
    filled: dict[str, str] = field(default_factory=dict)
    skipped_hidden: int = 0
    confirmation: str = ""
    #: what the page said when it gave no confirmation (its error, or the start of its text)
    page_words: str = ""
    #: the page showed an error after the submission reached the company's server
    page_error: bool = False
    screenshot: str | None = None
    snapshot: str | None = None
    hops: list[str] = field(default_factory=list)


class FormNotFound(Exception):
    """No contact form on the page or within two links of it: our side's failure."""


# -- reading the page ----------------------------------------------------------------------

# One pass in the page: every form control with what a person would see of it. Hidden,
# zero-size, off-screen and aria-hidden controls are honeypots or not for people: never filled.
_CONTROLS = """(form) => [...form.querySelectorAll('input, select, textarea')].map((el, i) => {
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const hidden = el.type === 'hidden' || style.display === 'none' ||
    style.visibility === 'hidden' || Number(style.opacity) === 0 || r.width < 2 ||
    r.height < 2 || r.right < 0 || r.bottom < 0 || r.left > innerWidth * 3 ||
    el.closest('[aria-hidden="true"]') !== null || el.closest('[hidden]') !== null;
  let label = '';
  if (el.id) { const l = document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
               if (l) label = l.innerText; }
  if (!label && el.closest('label')) label = el.closest('label').innerText;
  el.setAttribute('data-svcbench-i', String(i));
  return {i, tag: el.tagName.toLowerCase(), type: (el.type || '').toLowerCase(),
          name: el.name || '', id: el.id || '', placeholder: el.placeholder || '',
          aria: el.getAttribute('aria-label') || '', label: label.trim(),
          autocomplete: (el.getAttribute('autocomplete') || '').toLowerCase(),
          required: el.required || el.getAttribute('aria-required') === 'true',
          hidden, filled: !!el.value && el.type !== 'checkbox',
          options: el.tagName === 'SELECT' ? [...el.options].map(o => o.text.trim()) : []};
})"""


def role_of(control: dict[str, Any]) -> str | None:
    """The purpose of a form control from its attributes and label, or None."""
    if control["type"] in ("submit", "button", "reset", "image", "file", "password", "hidden"):
        return None
    auto = vocabulary()["fields"]["autocomplete"]
    for token in control["autocomplete"].split():
        if token in auto:
            return auto[token]
    if control["type"] == "email":
        return "email"
    if control["type"] == "tel":
        return "phone"
    if control["type"] == "checkbox":
        words = " ".join(control[k] for k in ("label", "name", "id", "aria"))
        return "consent" if _pattern("fields", "words", "consent").search(words) else None
    words = " ".join(control[k] for k in ("label", "aria", "placeholder", "name", "id"))
    for role in ROLES:
        if role in ("consent",):
            continue
        if _pattern("fields", "words", role).search(words):
            if role == "message" and control["tag"] != "textarea" and control["type"] != "text":
                continue
            return role
    if control["tag"] == "textarea":
        return "message"
    return None


async def _blocked(page, scope) -> tuple[str, str] | None:
    """('captcha' | 'challenge' | 'login', what showed it) when a person has to take over."""
    blocked = vocabulary()["blocked"]
    body = (await page.locator("body").inner_text(timeout=5000)).lower() \
        if await page.locator("body").count() else ""
    title = (await page.title()).lower()
    for selector in blocked["challenge_selectors"]:
        if await page.locator(selector).count():
            return "challenge", selector
    if _pattern("blocked", "challenge_text").search(title + "\n" + body[:2000]):
        return "challenge", "page text"
    for selector in blocked["captcha_selectors"]:
        if await scope.locator(selector).count():
            return "captcha", selector
    if _pattern("blocked", "captcha_text").search(body):
        return "captcha", "page text"
    if await scope.locator("input[type=password]").count():
        return "login", "password field"
    if _pattern("blocked", "login_text").search(body[:3000]):
        return "login", "page text"
    return None


async def _contact_form(page):
    """The form a person would use to write to the company: one with a message box."""
    best, best_score = None, 0
    for frame in page.frames:
        forms = frame.locator("form")
        for i in range(await forms.count()):
            form = forms.nth(i)
            if not await form.is_visible():
                continue
            controls = await form.evaluate(_CONTROLS)
            roles = {role_of(c) for c in controls if not c["hidden"]}
            score = 3 * ("message" in roles) + ("email" in roles) + len(roles)
            if await form.locator("input[type=password]").count():
                score = max(score, 1)  # a login form: kept only to report a login wall
            if score > best_score:
                best, best_score = form, score
    return best


async def _find_page(page, start: str, *, hops: int = 2) -> list[str]:
    """Open ``start`` and follow the most contact-like links (at most ``hops``) until a page
    with a contact form; returns the URLs visited."""
    visited = [start]
    await page.goto(start, wait_until="domcontentloaded")
    await _settle(page)
    for _ in range(hops):
        if await _contact_form(page) is not None:
            return visited
        links = await page.eval_on_selector_all(
            "a[href]", "els => els.map(a => [a.innerText.trim(), a.href])")
        ranked = []
        for text, href in links:
            if not href.startswith(("http://", "https://")) or href in visited:
                continue
            words = f"{text} {href}"
            score = 2 if _pattern("links", "contact").search(words) else \
                1 if _pattern("links", "support").search(words) else 0
            if score:
                ranked.append((-score, len(href), href))
        if not ranked:
            break
        target = sorted(ranked)[0][2]
        visited.append(target)
        await page.goto(target, wait_until="domcontentloaded")
        await _settle(page)
    return visited


async def _settle(page) -> None:
    """Wait for single-page apps to render (network idle), but not for ever."""
    # long-polling pages never go idle: carry on after the timeout
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("networkidle", timeout=5000)


async def _fill(form, values: FormValues, overrides: dict[str, str],
                result: FormResult) -> list[str]:
    """Fill the visible, empty controls; returns the names of required ones left empty."""
    controls = await form.evaluate(_CONTROLS)
    forced = {}  # the company's own mapping (role -> CSS selector) wins over recognition
    for role, selector in overrides.items():
        match = form.locator(selector)
        if await match.count():
            forced[await match.first.get_attribute("data-svcbench-i") or ""] = role
    missing = []
    for control in controls:
        if control["hidden"]:
            if control["type"] != "hidden":
                result.skipped_hidden += 1
            continue
        if control["filled"]:
            continue
        element = form.locator(f"[data-svcbench-i='{control['i']}']")
        role = forced.get(str(control["i"])) or role_of(control)
        label = control["label"] or control["name"] or control["id"] or control["placeholder"]
        if control["tag"] == "select":
            chosen = _option(control["options"], values.topic)
            if chosen is not None:
                await element.select_option(label=chosen)
                result.filled[label or "select"] = chosen
            elif control["required"]:
                missing.append(label)
            continue
        if role == "consent":
            if values.consent:
                await element.check()
                result.filled[label] = "checked"
            elif control["required"]:
                missing.append(label)
            continue
        value = values.for_role(role) if role else None
        if value:
            await element.fill(value)
            result.filled[label or role or "field"] = role or ""
        elif control["required"]:
            missing.append(label or control["type"])
    return missing


def _option(options: list[str], wanted: str | None) -> str | None:
    real = [o for o in options if o and not re.match(r"^[-—–\s]*(please |bitte )?(select|choose|"
                                                     r"wählen|choisir|seleccion)", o, re.I)]
    if wanted:
        for option in real:
            if wanted.lower() in option.lower():
                return option
    return real[0] if real else None


_NEXT = re.compile(r"next|continue|weiter|suivant|siguiente|avanti|volgende|次へ|下一步", re.I)


async def _press_submit(page, form) -> bool:
    """Click the form's submit (or 'next') control; False if it has none."""
    candidates = form.locator("button, input[type=submit], input[type=image], [role=button]")
    best = None
    for i in range(await candidates.count()):
        button = candidates.nth(i)
        if not await button.is_visible():
            continue
        kind = (await button.get_attribute("type") or "submit").lower()
        if kind in ("reset", "button") and not _NEXT.search(await button.inner_text() or ""):
            continue
        best = button
        if kind == "submit":
            break
    if best is None:
        return False
    await best.click()
    return True


async def submit_form(page, *, url: str, values: FormValues, overrides: dict[str, str],
                      evidence: Path, clock, steps: int = 4) -> FormResult:
    """Open ``url`` (a contact page or the website), find the form, fill and submit it."""
    hops = await _find_page(page, url)
    result = FormResult(state="rejected", url=page.url, hops=hops)
    form = await _contact_form(page)
    blocked = await _blocked(page, form if form is not None else page)
    if blocked is not None:
        result.state, result.blocked_kind = "blocked", blocked[0]
        result.detail = f"{blocked[0]} ({blocked[1]})"
        await _evidence(page, evidence, result)
        return result
    if form is None:
        raise FormNotFound(f"no contact form on {page.url}"
                           + (f" (followed {' -> '.join(hops)})" if len(hops) > 1 else ""))
    before = (await page.locator("body").inner_text()).lower()
    for _ in range(steps):
        missing = await _fill(form, values, overrides, result)
        if missing:
            result.detail = "required fields we cannot fill: " + ", ".join(missing)
            await _evidence(page, evidence, result)
            return result
        # the browser's own constraint validation, for the fields a person can see (a later
        # step's required fields are hidden until then)
        invalid = await form.evaluate(
            "f => [...f.querySelectorAll(':invalid')].filter(e => e.getClientRects().length"
            " && getComputedStyle(e).visibility !== 'hidden').map(e => e.name || e.id)")
        if invalid:
            result.detail = "the form marks fields as invalid: " + ", ".join(invalid)
            await _evidence(page, evidence, result)
            return result
        submitted_at = clock()
        # whether pressing it sent anything to the company (a page load, in the page or in
        # the form's iframe, or a POST by XHR/fetch; not an image or beacon an analytics
        # script fires on any click), which tells a server's error from the page's own checks
        sent: list[str] = []

        def on_request(request, sent=sent) -> None:
            with contextlib.suppress(Exception):  # a request we cannot inspect: not counted
                if request.is_navigation_request() or (
                        request.method != "GET" and request.resource_type in ("xhr", "fetch")):
                    sent.append(request.url)

        page.on("request", on_request)
        try:
            if not await _press_submit(page, form):
                raise FormNotFound(f"the form on {page.url} has no submit button")
            await _settle(page)
        finally:
            page.remove_listener("request", on_request)
        result.url = page.url
        text = (await page.locator("body").inner_text()).lower()
        blocked = await _blocked(page, page)
        if blocked is not None:
            result.state, result.blocked_kind = "blocked", blocked[0]
            result.detail = f"{blocked[0]} after submitting ({blocked[1]})"
            await _evidence(page, evidence, result)
            return result
        success = _pattern("confirmation", "success").search(text)
        if success and (success.group(0) not in before or await _contact_form(page) is None):
            result.state, result.submitted_at = "submitted", submitted_at
            result.confirmation = _sentence(text, success.start())
            await _evidence(page, evidence, result)
            return result
        next_form = await _contact_form(page)
        error = _pattern("confirmation", "error").search(text)
        if next_form is None:
            result.state, result.submitted_at = "unconfirmed", submitted_at
            result.detail = "the form went away without a confirmation"
            result.page_words = _excerpt(await page.locator("body").inner_text())
            await _evidence(page, evidence, result)
            return result
        if error and error.group(0) not in before:
            result.page_words = _sentence(text, error.start())
            result.detail = "the page reports: " + result.page_words
            if sent:  # it reached their server: it may still have arrived, replies decide
                result.state, result.submitted_at = "unconfirmed", submitted_at
                result.page_error = True
            await _evidence(page, evidence, result)
            return result
        form = next_form  # a multi-step form: the next step's fields
        before = text
    result.state, result.submitted_at = "unconfirmed", clock()
    result.detail = f"no confirmation after {steps} steps"
    await _evidence(page, evidence, result)
    return result


def _excerpt(text: str, limit: int = 200) -> str:
    """The start of a page's visible text, whitespace collapsed."""
    return " ".join(text.split())[:limit]


def _sentence(text: str, at: int) -> str:
    start = max(text.rfind("\n", 0, at), text.rfind(". ", 0, at) + 1, 0)
    end = min([i for i in (text.find("\n", at), text.find(". ", at)) if i >= 0] or [len(text)])
    return text[start:end + 1].strip()[:300]


async def _evidence(page, directory: Path, result: FormResult) -> None:
    """A screenshot and the DOM as the page showed them, kept beside the workspace."""
    directory.mkdir(parents=True, exist_ok=True)
    shot = directory / f"{result.state}.png"
    dom = directory / f"{result.state}.html"
    await page.screenshot(path=str(shot), full_page=True)
    dom.write_text(await page.content(), encoding="utf-8")
    result.screenshot, result.snapshot = str(shot), str(dom)
