"""Simulated shops with contact forms, on 127.0.0.1, for the web-form probe's tests and demo.

Each shop has a home page, a help page and a contact page (two links from home, as real sites
have), and a form of one ``kind``:

- ``simple``: name, email, subject, message;
- ``topic``: a required topic select with a placeholder option;
- ``honeypot``: two fields hidden from people (off-screen and ``display:none``); a submission
  that fills them is thanked and silently dropped, as real honeypots do;
- ``multistep``: name and email, then "Next" shows the message step (client-side);
- ``validation``: a required order number that must be six digits (ours has eight), so the
  browser refuses the submission;
- ``captcha``: a reCAPTCHA-style placeholder (no real challenge);
- ``login``: "please sign in to contact us", with a password field;
- ``broken``: the submission answers 500 and no confirmation;
- ``error``: the submission reaches the shop, which shows the form again with "an error
  occurred while sending your message" and keeps nothing (a helpdesk integration that fails);
- ``script``: the page's own script refuses an order number not shaped like ``ABC-123`` and
  says so, without sending anything (a JavaScript validation library).

A submission that gets through is passed to ``deliver(company, fields)`` — in tests and the
demo that hands it to the mail sandbox's simulated helpdesk, which emails an acknowledgement
and a human answer to the address typed into the form. ``submissions`` is the ground truth.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import utcnow
from ._serve import ServedApp

KINDS = ("simple", "topic", "honeypot", "multistep", "validation", "captcha", "login", "broken",
         "error", "script")


@dataclass
class Submission:
    company: str
    at: datetime
    fields: dict[str, str]
    #: a honeypot field was filled: the shop dropped it
    dropped: bool = False


@dataclass
class FormShop:
    id: str
    kind: str = "simple"
    name: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown form kind {self.kind!r} (use {', '.join(KINDS)})")

    @property
    def display_name(self) -> str:
        return self.name or self.id.replace("-", " ").title()


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            "<style>body{font-family:sans-serif;max-width:40rem;margin:2rem auto}"
            "label{display:block;margin-top:.8rem}input,select,textarea{width:100%}"
            ".trap{position:absolute;left:-9999px;top:-9999px}</style></head>"
            f"<body>{body}</body></html>")


_FIELDS = """
<label for="f-name">Your name</label><input id="f-name" name="name" autocomplete="name" required>
<label for="f-email">Email address</label>
<input id="f-email" name="email" type="email" autocomplete="email" required>
"""
_MESSAGE = """
<label for="f-subject">Subject</label><input id="f-subject" name="subject">
<label for="f-message">How can we help?</label>
<textarea id="f-message" name="message" rows="6" required></textarea>
"""


def _form(shop: FormShop) -> str:
    action = f"/f/{shop.id}/submit"
    extra = ""
    if shop.kind == "topic":
        extra = ("<label for='f-topic'>Topic</label><select id='f-topic' name='topic' required>"
                 "<option value=''>-- Please select --</option><option>Shipping</option>"
                 "<option>Order question</option><option>Returns and refunds</option></select>")
    elif shop.kind == "honeypot":
        extra = ("<div class='trap' aria-hidden='true'><label for='f-web'>Website</label>"
                 "<input id='f-web' name='website' tabindex='-1' autocomplete='off'></div>"
                 "<input name='url2' style='display:none'>")
    elif shop.kind == "validation":
        extra = ("<label for='f-order'>Order number (6 digits)</label>"
                 "<input id='f-order' name='order_number' required pattern='[0-9]{6}'>")
    elif shop.kind == "script":
        extra = ("<label for='f-order'>Order number</label><input id='f-order' name='order_number'>"
                 "<script>document.addEventListener('submit', function (e) {"
                 "if (!/^[A-Z]{3}-[0-9]{3}$/.test(document.getElementById('f-order').value)) {"
                 "e.preventDefault(); var p = document.createElement('p');"
                 "p.textContent = 'Please enter a valid order number (like ABC-123).';"
                 "e.target.prepend(p);}});</script>")
    elif shop.kind == "captcha":
        extra = "<div class='g-recaptcha' data-sitekey='sandbox-not-a-real-key'></div>"
    if shop.kind == "multistep":
        return (f"<form id='contact' method='post' action='{action}'>"
                f"<div id='step1'>{_FIELDS}<button type='button' id='next'>Next</button></div>"
                f"<div id='step2' hidden>{_MESSAGE}<button type='submit'>Send message</button>"
                "</div></form><script>document.getElementById('next').onclick=function(){"
                "document.getElementById('step1').hidden=true;"
                "document.getElementById('step2').hidden=false;};</script>")
    if shop.kind == "login":
        return ("<p>Please sign in to contact us.</p><form method='post' action='/login'>"
                "<label for='u'>Email</label><input id='u' name='user' type='email'>"
                "<label for='p'>Password</label><input id='p' name='password' type='password'>"
                "<button type='submit'>Sign in</button></form>")
    return (f"<form id='contact' method='post' action='{action}'>{_FIELDS}{extra}{_MESSAGE}"
            "<button type='submit'>Send message</button></form>")


def create_forms_app(shops: dict[str, FormShop], on_submit: Callable[[Submission], None]):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    def shop_page(handler):
        """The handler, called with the request's shop; an unknown shop is a 404 page."""
        async def wrapped(request):
            shop = shops.get(request.path_params["company"])
            if shop is None:
                return HTMLResponse(_page("Not found", "<h1>Not found</h1>"), status_code=404)
            return await handler(request, shop)
        return wrapped

    async def home(request, shop):
        name = html.escape(shop.display_name)
        return HTMLResponse(_page(name, f"<h1>{name}</h1><nav><a href='/f/{shop.id}/products'>"
                                  f"Products</a> · <a href='/f/{shop.id}/about'>About us</a> · "
                                  f"<a href='/f/{shop.id}/help'>Customer service</a></nav>"
                                  "<p>Outdoor gear shipped across Europe.</p>"))

    async def help_page(request, shop):
        return HTMLResponse(_page("Help", f"<h1>Help centre</h1><p>Shipping takes 3-5 days."
                                  f"</p><p>Still stuck? <a href='/f/{shop.id}/contact'>"
                                  "Contact us</a></p>"))

    async def contact(request, shop):
        return HTMLResponse(_page("Contact us", f"<h1>Contact us</h1>{_form(shop)}"))

    async def submit(request, shop):
        from urllib.parse import parse_qsl

        # plain urlencoded forms only: no multipart parser needed
        body = (await request.body()).decode("utf-8", "replace")
        fields = dict(parse_qsl(body, keep_blank_values=True))
        if shop.kind == "broken":
            return HTMLResponse("Internal Server Error", status_code=500)
        if shop.kind == "error":
            return HTMLResponse(_page("Contact us", "<h1>Contact us</h1><p class='alert'>Sorry, "
                                      "an error occurred while sending your message. Please "
                                      f"try again later.</p>{_form(shop)}"))
        dropped = bool(fields.get("website") or fields.get("url2"))
        on_submit(Submission(shop.id, utcnow(), fields, dropped=dropped))
        return HTMLResponse(_page("Thank you", "<h1>Thank you!</h1><p>Your message has been "
                                  "sent. We will get back to you within 24 hours.</p>"))

    routes = [Route("/f/{company}/", shop_page(home)),
              Route("/f/{company}/help", shop_page(help_page)),
              Route("/f/{company}/contact", shop_page(contact)),
              Route("/f/{company}/submit", shop_page(submit), methods=["POST"])]
    return Starlette(routes=routes)


@dataclass
class FormSandbox:
    """``with FormSandbox(shops, deliver=...) as sandbox: sandbox.url("acme")``"""

    shops: dict[str, FormShop]
    #: called for every submission a shop keeps (not for honeypot-dropped ones)
    deliver: Callable[[Submission], None] | None = None
    submissions: list[Submission] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._served = ServedApp(create_forms_app(self.shops, self._on_submit),
                                 name="forms-sandbox")

    def _on_submit(self, submission: Submission) -> None:
        with self._lock:
            self.submissions.append(submission)
        if self.deliver is not None and not submission.dropped:
            self.deliver(submission)

    def url(self, company: str, page: str = "") -> str:
        """The shop's home page (``page="contact"`` for the contact page)."""
        return f"{self._served.base_url}/f/{company}/{page}"

    def __enter__(self) -> FormSandbox:
        self._served.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._served.stop()


def mail_delivery(mail_sandbox: Any, addresses: dict[str, str]) -> Callable[[Submission], None]:
    """Hand each submission to the mail sandbox's simulated helpdesk for ``addresses[company]``,
    as a shop's form-to-helpdesk integration would: it answers the address in the form."""
    from email.message import EmailMessage
    from email.utils import format_datetime, formataddr, make_msgid

    def deliver(submission: Submission) -> None:
        msg = EmailMessage()
        sender = submission.fields.get("email", "")
        msg["From"] = formataddr((submission.fields.get("name", ""), sender))
        msg["Reply-To"] = sender
        msg["To"] = addresses[submission.company]
        msg["Subject"] = submission.fields.get("subject") or "Web form: " + (
            submission.fields.get("topic") or "contact")
        msg["Message-ID"] = make_msgid(domain="webform.invalid")
        msg["Date"] = format_datetime(submission.at)
        msg.set_content(submission.fields.get("message", ""))
        mail_sandbox.accept(sender, [addresses[submission.company]], msg.as_bytes())

    return deliver
