"""Web-form probe: the email channel of companies that publish no address.

A real headless Chromium opens the company's contact page (``url``, or found from its
``website`` within two links), fills the form from the scenario and the shopper (only fields a
person can see: honeypots stay empty), submits it and keeps a screenshot and the DOM of what
came back. The form carries the shopper's per-probe reply address and a reference, so replies
are collected, matched and classified by the email probe's machinery and timed the same way
(raw and in business hours). CAPTCHAs, bot challenges and login walls are never evaded: the
probe is ``blocked`` and waits for a person (``svcbench form submitted``).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ...errors import ConfigError, ProbeError, RetryableProbeError
from ...models import Channel, Event, Measurement, Outcome, Probe, format_instant
from ..email import EmailProbe, replies

if TYPE_CHECKING:
    from ...hours import BusinessCalendar
    from ...plugins import ProbeContext

SUBMITTED = "form.submitted"
BLOCKED = "form.blocked"


class FormEndpoint(BaseModel):
    """``[company.channels.form]``."""

    model_config = ConfigDict(extra="forbid")
    #: the contact page; without it the form is looked for from the company's website
    url: str | None = Field(default=None, pattern=r"^https?://")
    #: option text to pick in a topic select ("Order question")
    topic: str | None = None
    #: tick a consent checkbox (only where the company's form requires one)
    consent: bool = False
    #: the company's own field mapping, role -> CSS selector (role: name, first_name,
    #: last_name, email, phone, company, order, subject, message, consent)
    fields: dict[str, str] = {}
    timeout_s: float = Field(default=45.0, gt=0)


class FormProbe(EmailProbe):
    name = "form"
    channel = Channel.FORM
    endpoint_model = FormEndpoint
    sent_kind = SUBMITTED
    #: replies arrive by email: one collection per tick serves email and form probes
    advance_group = "email"

    def _endpoint(self, probe: Probe, ctx: ProbeContext) -> tuple[Any, FormEndpoint, str]:
        company = ctx.company(probe)
        endpoint = company.channels.get(Channel.FORM)
        if endpoint is None:
            raise ConfigError(f"company {company.id!r} has no [company.channels.form]")
        options = FormEndpoint.model_validate(
            {k: v for k, v in endpoint.options.items() if k != "plugin"})
        start = options.url or company.website
        if not start:
            raise ConfigError(f"company {company.id!r}: [company.channels.form] needs url "
                              "(or the company a website)")
        return company, options, start

    async def start(self, probe: Probe, ctx: ProbeContext) -> list[Event]:
        from urllib.parse import urlsplit

        from ..email.compose import compose, new_token
        from .page import FormNotFound, FormValues, submit_form

        company, options, start_url = self._endpoint(probe, ctx)
        shopper = ctx.shopper(probe)
        scenario = ctx.scenario(probe)
        if not shopper.email or shopper.imap is None:
            raise ConfigError(f"shopper {shopper.id!r} needs email and [shopper.imap]: replies "
                              "to a web form arrive by email")
        if not probe.token:
            probe.token = new_token()
            ctx.store.update_probe(probe.id, token=probe.token)
        host = urlsplit(start_url).hostname or "invalid"
        outgoing = compose(
            token=probe.token, shopper_name=shopper.name, shopper_email=shopper.email,
            plus_addressing=shopper.plus_addressing, to=f"webform@{host}",
            subject=scenario.subject, question=scenario.question_for(Channel.FORM),
            date=ctx.clock())
        body = outgoing.message.get_content()
        state = {**probe.state, "message_id": outgoing.message_id, "to": outgoing.to,
                 "reply_to": outgoing.reply_to, "ref": outgoing.ref,
                 "subject": str(outgoing.message["Subject"]), "form_url": start_url,
                 # a finding: the company publishes no email address, the form is all it has
                 "form_only": Channel.EMAIL not in company.channels,
                 "sending_at": format_instant(ctx.clock())}
        ctx.store.update_probe(probe.id, state=state)  # intent first, as for email
        probe.state = state
        values = FormValues(name=shopper.name, email=outgoing.reply_to, message=body.strip(),
                            subject=str(outgoing.message["Subject"]), order=outgoing.ref,
                            phone=shopper.phone, topic=options.topic, consent=options.consent)
        evidence = ctx.config.root / "artifacts" / "forms" / probe.id
        from ... import browser as pool

        if not os.path.exists(pool.CHROMIUM):
            raise ProbeError(f"Chromium not found at {pool.CHROMIUM}; "
                             "run scripts/install-system-deps")
        from playwright.async_api import Error as PlaywrightError

        # the tick's one Chromium, in a context of this probe's own (nothing shared)
        shared = pool.shared()
        try:
            browser = await shared.acquire(pool.CHROMIUM)
            try:
                context = await browser.new_context()
                try:
                    page = await context.new_page()
                    page.set_default_timeout(options.timeout_s * 1000)
                    result = await submit_form(page, url=start_url, values=values,
                                               overrides=options.fields, evidence=evidence,
                                               clock=ctx.clock)
                finally:
                    await context.close()
            finally:
                await shared.release()
        except FormNotFound as exc:
            raise ProbeError(f"form: {exc}") from None
        except PlaywrightError as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            if "net::ERR_" in message or "Timeout" in message:
                # the page is down or slow: nothing was submitted, so it is safe to retry
                raise RetryableProbeError(f"form page {start_url}: {message}") from None
            raise ProbeError(f"form page {start_url}: {message}") from None
        data = {"url": result.url, "hops": result.hops, "filled": result.filled,
                "skipped_hidden": result.skipped_hidden, "screenshot": result.screenshot,
                "snapshot": result.snapshot}
        if result.state == "blocked":
            return [Event(probe_id=probe.id, kind=BLOCKED, at=ctx.clock(), source="local",
                          data={**data, "kind": result.blocked_kind, "detail": result.detail})]
        if result.state == "rejected":
            raise ProbeError(f"the form at {result.url} did not take the submission: "
                             f"{result.detail} (screenshot {result.screenshot})")
        assert result.submitted_at is not None
        state = {**state, "sent_at": format_instant(result.submitted_at)}
        ctx.store.update_probe(probe.id, state=state)
        probe.state = state
        ctx.logger.info("form probe %s submitted at %s", probe.id[:8], result.url)
        return [Event(probe_id=probe.id, kind=SUBMITTED, at=result.submitted_at, source="local",
                      data={**data, "confirmed": result.state == "submitted",
                            "confirmation": result.confirmation, "detail": result.detail,
                            "page_words": result.page_words, "page_error": result.page_error,
                            "reply_to": outgoing.reply_to, "ref": outgoing.ref})]

    async def recover(self, probe: Probe, ctx: ProbeContext) -> list[Event] | None:
        """A form leaves no copy to find: a run that died mid-submission is not repeated."""
        return None

    def outcome(self, probe: Probe, events: list[Event], now: datetime) -> Outcome | None:
        if any(e.kind == BLOCKED for e in events) and not any(e.kind == SUBMITTED
                                                               for e in events):
            return Outcome.BLOCKED
        outcome = super().outcome(probe, events, now)
        submitted = next((e for e in events if e.kind == SUBMITTED), None)
        if outcome == Outcome.UNANSWERED and submitted is not None \
                and not submitted.data.get("confirmed") and submitted.source != "manual":
            # no confirmation and no reply: we cannot tell that the company ever got it
            return Outcome.FAILED
        return outcome

    def outcome_reason(self, probe: Probe, events: list[Event]) -> str | None:
        blocked = next((e for e in events if e.kind == BLOCKED), None)
        if blocked is not None and not any(e.kind == SUBMITTED for e in events):
            return (f"form not automatable: {blocked.data.get('detail')}; a person can submit "
                    f"it and record that with `svcbench form submitted {probe.id[:8]}`")
        submitted = next((e for e in events if e.kind == SUBMITTED), None)
        if submitted is not None and not submitted.data.get("confirmed") and not replies(events):
            return (f"submission not confirmed ({submitted.data.get('detail')}) and no reply: "
                    "cannot tell whether the company got it")
        return super().outcome_reason(probe, events)

    def measure(self, probe: Probe, events: list[Event], calendar: BusinessCalendar) -> Measurement:
        m = super().measure(probe, events, calendar)
        submitted = next((e for e in events if e.kind == SUBMITTED), None)
        blocked = next((e for e in events if e.kind == BLOCKED), None)
        m.metrics.update({
            "form_url": (submitted or blocked).data.get("url") if (submitted or blocked)
            else probe.state.get("form_url"),
            "confirmed": bool(submitted and submitted.data.get("confirmed")),
            "submitted_by": ("person" if submitted and submitted.source == "manual"
                             else "probe" if submitted else None),
            "blocked": blocked.data.get("kind") if blocked else None,
            "recovered_start": False,
        })
        if probe.state.get("form_only"):
            m.flags.append("form_only")
        return m


def blocked_summary(conn: Any, period: str, names: dict[str, str],
                    companies: set[str] | None = None) -> dict[str, Any] | None:
    """Web forms no probe could submit in ``period`` (a quarter or a month), per company and
    kind: the report's "form not automatable" finding (they count for no one)."""
    import json

    from ...periods import is_month

    column = "month" if is_month(period) else "quarter"
    # the kind is in the probe's form.blocked event (blocked probes get no full measurement)
    rows = conn.execute(
        f"SELECT m.company, e.data FROM measurements m LEFT JOIN events e ON e.probe_id = "
        f"m.probe_id AND e.kind = '{BLOCKED}' WHERE m.channel = 'form' AND m.outcome = "
        f"'blocked' AND m.{column} = ?", (period,)).fetchall()
    counts: dict[tuple[str, str], int] = {}
    for company, data in rows:
        if companies and company not in companies:
            continue
        kind = (json.loads(data or "{}") or {}).get("kind") or "unknown"
        counts[(company, kind)] = counts.get((company, kind), 0) + 1
    if not counts:
        return None
    return {"blocked": sum(counts.values()),
            "companies": [{"company": c, "name": names.get(c, c), "kind": k, "probes": n}
                          for (c, k), n in sorted(counts.items())]}
