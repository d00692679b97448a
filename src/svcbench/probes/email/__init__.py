"""Email probe: send a timed test email by SMTP, collect replies by IMAP, match and classify
them, and measure the time to the first response and to the first human answer.

Timing: the start is the instant our SMTP server answered 250 to DATA; a reply's time is its
INTERNALDATE in the shopper's mailbox (one trusted clock). Heavy work lives in the submodules,
imported when needed.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from ...errors import ConfigError, RetryableProbeError
from ...models import Channel, Event, Measurement, Outcome, Probe, format_instant
from ...plugins import ProbeContext, ProbePlugin

if TYPE_CHECKING:
    from ...hours import BusinessCalendar

_EVENT_NS = uuid.UUID("9b8f2c1e-7d64-4a0b-8e3f-1c2d3e4f5a6b")

SENT = "email.sent"
RECEIVED = "email.received"
#: a complete collection of the shopper's mailbox began after the deadline: every reply that
#: arrived in time has been seen, so "no human reply" is the company's doing
COLLECTED = "email.collected"
#: ``outcome_reason``-style text for a running probe past its deadline
AWAITING = "awaiting collection: no complete mailbox collection since the deadline"


class EmailEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str


def sent_event_id(probe_id: str) -> str:
    """The same id whether the send was recorded by start() or found again by recover()."""
    return str(uuid.uuid5(_EVENT_NS, f"{probe_id}|email.sent"))


#: INTERNALDATE is truncated to whole seconds (RFC 3501): the true instant lies in
#: [t, t + 1 s), so measurements use its middle, halving the worst-case error
WHOLE_SECOND_CENTRE = timedelta(milliseconds=500)


def instant(event: Event) -> datetime:
    """An event's best-estimate instant: whole-second IMAP times are moved to mid-second."""
    if event.source.startswith("imap.internaldate") and event.at.microsecond == 0:
        return event.at + WHOLE_SECOND_CENTRE
    return event.at


def replies(events: list[Event]) -> list[Event]:
    """Received replies in arrival order, with a person's review verdicts applied."""
    from .review import effective_replies

    return effective_replies(events)


def promise_deadline(start: datetime, promise: dict, calendar: BusinessCalendar) -> datetime:
    """When a promised reply time ("within 2 business days") runs out, counted from ``start``.

    Hours and days are calendar time; business days are the company's open days (Monday to
    Friday without holidays when it has no opening hours configured), ending at local
    midnight after the last one.
    """
    from datetime import date as _date

    amount = float(promise["amount"])
    if promise["unit"] == "hours":
        return start + timedelta(hours=amount)
    if promise["unit"] == "days":
        return start + timedelta(days=amount)
    tz = calendar.tz
    day: _date = start.astimezone(tz).date()
    left = max(1, round(amount))
    while left:
        day += timedelta(days=1)
        if _business_day(calendar, day):
            left -= 1
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
    return end.astimezone(start.tzinfo)


def _business_day(calendar: BusinessCalendar, day) -> bool:
    from ...hours import ALWAYS_OPEN

    if calendar.is_closed_date(day):
        return False
    overrides = dict(calendar.overrides)
    if day in overrides:
        return bool(overrides[day])
    schedule = calendar.schedule_at(day)
    if schedule is ALWAYS_OPEN or schedule == ALWAYS_OPEN:
        return day.weekday() < 5
    return bool(schedule.weekly[day.weekday()])


def collected(probe: Probe, events: list[Event]) -> bool:
    """A complete collection that began at or after the probe's deadline is recorded."""
    return probe.deadline_at is not None and any(
        e.kind == COLLECTED and e.at >= probe.deadline_at for e in events)


def awaiting_collection(probe: Probe, events: list[Event], now: datetime) -> bool:
    return (probe.status == "running" and probe.deadline_at is not None
            and now >= probe.deadline_at and not collected(probe, events))


def is_human(event: Event) -> bool:
    return event.data.get("kind") == "human"


def is_bounce(event: Event) -> bool:
    return event.data.get("kind") == "bounce"


class EmailProbe(ProbePlugin):
    name = "email"
    channel = Channel.EMAIL
    endpoint_model = EmailEndpoint
    #: the event that starts the clock (the web-form probe's is its submission)
    sent_kind = SENT

    # -- start --------------------------------------------------------------------------

    def _prepare(self, probe: Probe, ctx: ProbeContext):
        """Everything needed to send, with intent persisted before anything leaves."""
        from .compose import compose, new_token

        shopper = ctx.shopper(probe)
        company = ctx.company(probe)
        scenario = ctx.scenario(probe)
        endpoint = company.channels.get(Channel.EMAIL)
        if endpoint is None or not endpoint.options.get("address"):
            raise ConfigError(f"company {company.id!r} has no [company.channels.email] address")
        if shopper.smtp is None or not shopper.email:
            raise ConfigError(f"shopper {shopper.id!r} needs email and [shopper.smtp] to send")
        if not probe.token:
            probe.token = new_token()
            ctx.store.update_probe(probe.id, token=probe.token)
        outgoing = compose(
            token=probe.token, shopper_name=shopper.name, shopper_email=shopper.email,
            plus_addressing=shopper.plus_addressing, to=str(endpoint.options["address"]),
            subject=scenario.subject, question=scenario.question_for(Channel.EMAIL),
            date=ctx.clock(),
        )
        return shopper, outgoing

    async def start(self, probe: Probe, ctx: ProbeContext) -> list[Event]:
        from .send import DeliveryUnknown, submit

        shopper, outgoing = self._prepare(probe, ctx)
        smtp = shopper.smtp
        assert smtp is not None
        password = ctx.secrets.get(smtp.password_env,
                                   what=f"shopper {shopper.id}: smtp.password_env")
        state = {**probe.state, "message_id": outgoing.message_id, "to": outgoing.to,
                 "reply_to": outgoing.reply_to, "ref": outgoing.ref,
                 "subject": str(outgoing.message["Subject"]),
                 "sending_at": format_instant(ctx.clock())}
        # intent first, on disk: a crash after the send can then find our copy by this
        # Message-ID
        ctx.store.update_probe(probe.id, state=state, durable=True)
        probe.state = state
        try:
            accepted_at = await asyncio.to_thread(
                submit, outgoing.message, host=smtp.host, port=smtp.port,
                security=smtp.security, username=smtp.username or shopper.email,
                password=password, mail_from=outgoing.reply_to,
                recipients=[outgoing.to, shopper.email.lower()], ca_file=smtp.ca_file,
                timeout=smtp.timeout_s, clock=ctx.clock, deadline=ctx.time_left(smtp.deadline_s),
            )
        except DeliveryUnknown as exc:
            # the evidence crash recovery uses: our BCC copy is in the mailbox if it went out
            try:
                events = await self.recover(probe, ctx)
            except RetryableProbeError:  # never a retry of the send: it may have gone out
                events = None
            if events:
                ctx.logger.info("email probe %s: %s; our copy is in the mailbox: sent",
                                probe.id[:8], exc)
                return events
            raise DeliveryUnknown(f"{exc}; no copy in the mailbox yet, checked again by "
                                  "the next run") from None
        state = {**state, "sent_at": format_instant(accepted_at)}
        ctx.store.update_probe(probe.id, state=state)
        probe.state = state
        ctx.logger.info("email probe %s sent to %s", probe.id[:8], outgoing.to)
        return [self._sent_event(probe, accepted_at, "smtp")]

    def _sent_event(self, probe: Probe, at: datetime, source: str) -> Event:
        return Event(probe_id=probe.id, kind=SENT, at=at, source=source, id=sent_event_id(probe.id),
                     data={"message_id": probe.state.get("message_id"),
                           "to": probe.state.get("to"), "reply_to": probe.state.get("reply_to"),
                           "ref": probe.state.get("ref")})

    async def recover(self, probe: Probe, ctx: ProbeContext) -> list[Event] | None:
        """Look for our own copy (BCC to the shopper) of the message by its Message-ID."""
        from .collect import find_sent_copy
        from .imap import MailboxError

        message_id = probe.state.get("message_id")
        if not message_id:
            return None  # intent is persisted before sending: nothing went out
        shopper = ctx.shopper(probe)
        if shopper.imap is None:
            return None
        try:
            at = await asyncio.to_thread(find_sent_copy, shopper, ctx.secrets, message_id,
                                         deadline_s=ctx.time_left(shopper.imap.deadline_s))
        except MailboxError as exc:
            # the evidence cannot be read now: the probe stays claimed (never sent again)
            # and a later run looks again, rather than failing a probe that may have gone out
            raise RetryableProbeError(f"cannot check for the sent copy: {exc}") from None
        if at is None:
            return None
        state = {**probe.state, "sent_at": format_instant(at), "recovered": True}
        ctx.store.update_probe(probe.id, state=state)
        probe.state = state
        return [self._sent_event(probe, at, "imap.internaldate")]

    # -- collect ------------------------------------------------------------------------

    async def advance_all(self, probes: list[Probe], ctx: ProbeContext) -> dict[str, list[Event]]:
        from .collect import collect, covered_at

        shoppers = sorted({p.shopper for p in probes if p.shopper})
        if not shoppers:
            return {p.id: [] for p in probes}
        report = await asyncio.to_thread(collect, ctx.config, ctx.store, secrets=ctx.secrets,
                                         shoppers=shoppers, clock=ctx.clock,
                                         time_left=ctx.time_left)
        for mailbox in report.mailboxes:
            if mailbox.status == "error":
                ctx.logger.warning("email collect: %s", mailbox.summary())
                ctx.problems.append(f"email collect {mailbox.summary()}")
        out = {p.id: list(report.events.get(p.id, [])) for p in probes}
        covered = {s: report.covered.get(s) or covered_at(ctx.store, s) for s in shoppers}
        for probe in probes:
            at = covered.get(probe.shopper) if probe.shopper else None
            if probe.deadline_at is not None and at is not None and at >= probe.deadline_at:
                out[probe.id].append(self._collected_event(probe, at))
        return out

    def _collected_event(self, probe: Probe, at: datetime) -> Event:
        return Event(probe_id=probe.id, kind=COLLECTED, at=at, source="imap",
                     id=str(uuid.uuid5(_EVENT_NS, f"{probe.id}|{COLLECTED}")),
                     data={"covers": format_instant(probe.deadline_at)})

    # -- outcome and measure ------------------------------------------------------------

    def outcome(self, probe: Probe, events: list[Event], now: datetime) -> Outcome | None:
        """Answered as soon as a human replied; a bounce is our failure (wrong address), not
        the company's; after the deadline, automatic-only or unanswered, but only once a
        complete collection has covered the deadline (until then: awaiting collection)."""
        got = replies(events)
        if any(is_human(e) for e in got):
            return Outcome.ANSWERED
        if any(is_bounce(e) for e in got):
            return Outcome.FAILED
        if probe.deadline_at is not None and now >= probe.deadline_at:
            if not collected(probe, events):
                return None  # replies may be waiting in a mailbox we could not read
            return Outcome.ANSWERED_AUTO_ONLY if got else Outcome.UNANSWERED
        return None

    def status_note(self, probe: Probe, events: list[Event], now: datetime) -> str | None:
        return AWAITING if awaiting_collection(probe, events, now) else None

    def outcome_reason(self, probe: Probe, events: list[Event]) -> str | None:
        """Why a probe failed, e.g. 'bounced: service@example.com'."""
        bounce = next((e for e in replies(events) if is_bounce(e)), None)
        if bounce is not None:
            return f"bounced: {bounce.data.get('dsn_failed_recipient') or probe.state.get('to')}"
        return None

    def measure(self, probe: Probe, events: list[Event], calendar: BusinessCalendar) -> Measurement:
        from ...measure import build, first

        sent = first(events, self.sent_kind)
        got = [e for e in replies(events) if not is_bounce(e)]
        start = instant(sent) if sent else None
        if start is not None:  # a reply stamped before our send is clock noise, not an answer
            got = [e for e in got if instant(e) >= start - timedelta(seconds=1)]
        first_reply = got[0] if got else None
        human = next((e for e in got if is_human(e)), None)
        autos = [e for e in got if not is_human(e)]
        outcome = probe.outcome or Outcome.UNANSWERED
        metrics = {
            "replies": len(got),
            "first_reply_kind": first_reply.data.get("kind") if first_reply else None,
            "auto_ack_s": (max(0.0, (instant(autos[0]) - start).total_seconds())
                           if autos and start else None),
            "helpdesk": next((e.data.get("helpdesk") for e in got if e.data.get("helpdesk")),
                             None),
            "match_methods": sorted({e.data.get("match") for e in got if e.data.get("match")}),
            "clock_suspect": any(e.data.get("clock_suspect") for e in got),
            "recovered_start": bool(sent and sent.source != "smtp"),
        }
        metrics["reviewed_by_person"] = sum(bool(e.data.get("reviewed")) for e in got)
        promised = next((e for e in autos if e.data.get("promise")), None)
        if promised is not None and start is not None:
            promise = promised.data["promise"]
            due = promise_deadline(start, promise, calendar)
            metrics["promise"] = {"amount": promise["amount"], "unit": promise["unit"],
                                  "text": promise.get("text"), "due_s":
                                  round((due - start).total_seconds(), 1)}
            # None while a human reply may still come; False once it came late or never
            if human is not None:
                metrics["promise_kept"] = instant(human) <= due
            elif probe.outcome in (Outcome.ANSWERED_AUTO_ONLY, Outcome.UNANSWERED):
                metrics["promise_kept"] = False
            else:
                metrics["promise_kept"] = None
        flags = []
        if human is not None and not calendar.is_open(human.at):
            flags.append("replied_outside_hours")
        if metrics["clock_suspect"]:
            flags.append("clock_suspect")
        if any(e.data.get("match") == "probable" for e in got):
            flags.append("probable_match")
        if any(e.data.get("review") for e in got):
            flags.append("review")
        return build(probe, events, calendar, outcome=outcome, start=start,
                     first_response=instant(first_reply) if first_reply else None,
                     answer=instant(human) if human else None, human=human is not None,
                     metrics=metrics, flags=flags)
