"""Matching replies to probes (pure), composing the probe email, outcome and measure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from svcbench.config import Company
from svcbench.models import Channel, Event, Outcome, Probe, ProbeStatus
from svcbench.probes.email import EmailProbe
from svcbench.probes.email.compose import (
    compose,
    message_id_for,
    new_token,
    reference_for,
    reply_address,
)
from svcbench.probes.email.match import (
    ProbeTarget,
    company_domains,
    match_email,
    probable_score,
    worth_fetching,
)
from svcbench.probes.email.parse import parse_email

SENT = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)


def target(token: str = "abcdefghij", probe_id: str = "p1", **kw) -> ProbeTarget:
    values = {
        "probe_id": probe_id, "message_id": message_id_for(token, "shopper.test"),
        "reply_address": f"anna+{token}@shopper.test", "ref": reference_for(token),
        "subject": "Delivery to Norway", "company_domains": ("acme.test",),
        "sent_at": SENT, "deadline_at": SENT + timedelta(days=3),
        "shopper_addresses": ("anna@shopper.test",),
    }
    values.update(kw)
    return ProbeTarget(**values)


def email(*, subject="Re: Delivery to Norway", sender="agent@acme.test",
          to="anna@shopper.test", in_reply_to=None, references=None, body="Hello",
          message_id="<x1@acme.test>", extra=""):
    head = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Message-ID: {message_id}"]
    if in_reply_to:
        head.append(f"In-Reply-To: {in_reply_to}")
    if references:
        head.append(f"References: {references}")
    if extra:
        head.append(extra)
    return parse_email(("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode())


ARRIVED = SENT + timedelta(hours=2)


def test_message_id_in_in_reply_to_or_references():
    t, other = target(), target("zzzzzzzzzz", "p2")
    by_irt = match_email(email(in_reply_to=t.message_id), [other, t], arrived_at=ARRIVED)
    assert (by_irt.probe_id, by_irt.method, by_irt.score) == ("p1", "message-id", 1.0)
    by_refs = match_email(email(references=f"<a@b> {t.message_id.upper()}"), [other, t])
    assert by_refs.method == "message-id" and by_refs.probe_id == "p1"


def test_message_id_beats_other_evidence():
    t, other = target(), target("zzzzzzzzzz", "p2")
    # threaded to p1, but sent to p2's address: the thread wins
    m = match_email(email(in_reply_to=t.message_id, to=other.reply_address), [other, t])
    assert (m.probe_id, m.method) == ("p1", "message-id")


def test_per_probe_address_in_to_cc_or_delivered_to():
    t, other = target(), target("zzzzzzzzzz", "p2")
    assert match_email(email(to=t.reply_address), [other, t]).method == "address"
    cc = match_email(email(extra=f"Cc: {t.reply_address}"), [other, t])
    assert (cc.probe_id, cc.method) == ("p1", "address")
    delivered = match_email(email(extra=f"Delivered-To: {t.reply_address}"), [other, t])
    assert delivered.method == "address"


def test_plain_shopper_address_is_not_evidence():
    t = target(reply_address="anna@shopper.test")  # no plus-addressing
    m = match_email(email(subject="Hello there", sender="x@other.example"), [t])
    assert m is None


def test_reference_in_body_or_subject_even_grouped():
    t = target()
    ref = t.ref
    grouped = f"{ref[:4]} {ref[4:]}"
    body = match_email(email(subject="Your question", sender="me@gmail.example",
                             body=f"About customer no. {grouped}: yes."), [t])
    assert (body.probe_id, body.method) == ("p1", "reference")
    subj = match_email(email(subject=f"Case {ref}", sender="me@gmail.example"), [t])
    assert subj.method == "reference"
    # inside a longer number it is not the reference
    assert match_email(email(subject="Hi", sender="me@gmail.example",
                             body=f"Invoice 9{ref}1"), [t]) is None


def test_probable_needs_domain_time_window_and_similar_subject():
    t = target()
    m = match_email(email(subject="AW: [Acme #123] Delivery to Norway"), [t], arrived_at=ARRIVED)
    assert m.method == "probable" and m.score >= 0.9
    # helpdesk domain: probable but weaker than the company's own domain
    hd = probable_score(email(sender="help@acme.zendesk.com"), t, ARRIVED)
    own = probable_score(email(sender="help@acme.test"), t, ARRIVED)
    assert 0 < hd < own
    # subdomain of the company's domain counts
    assert probable_score(email(sender="x@mail.acme.test"), t, ARRIVED) == own
    # wrong domain, before sending, after the deadline, different subject: no match
    assert match_email(email(sender="x@evil.example"), [t], arrived_at=ARRIVED) is None
    assert match_email(email(), [t], arrived_at=SENT - timedelta(minutes=1)) is None
    assert match_email(email(), [t], arrived_at=SENT + timedelta(days=4)) is None
    assert match_email(email(subject="Your invoice for March"), [t], arrived_at=ARRIVED) is None


def test_reply_threaded_to_another_of_our_messages_is_not_probable():
    t = target()
    other_thread = message_id_for("yyyyyyyyyy", "shopper.test")
    assert match_email(email(in_reply_to=other_thread), [t], arrived_at=ARRIVED) is None


def test_probable_picks_best_scoring_probe():
    a = target("aaaaaaaaaa", "pa", subject="Returning a jacket")
    b = target("bbbbbbbbbb", "pb", subject="Delivery to Norway")
    m = match_email(email(subject="Re: Delivery to Norway?"), [a, b], arrived_at=ARRIVED)
    assert m.probe_id == "pb" and m.method == "probable"


def test_dsn_matches_on_original_message_id():
    t = target()
    raw = (
        "From: MAILER-DAEMON@shopper.test\r\nTo: anna@shopper.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@shopper.test>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; '
        'boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; support@acme.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {t.message_id}\r\n"
        "Subject: Delivery to Norway\r\n\r\n--B--\r\n"
    ).encode()
    m = match_email(parse_email(raw), [target("zzzzzzzzzz", "p2"), t])
    assert (m.probe_id, m.method) == ("p1", "message-id")


def test_own_sent_copy_is_never_a_reply():
    t = target()
    copy = email(message_id=t.message_id, sender=t.reply_address, to="support@acme.test",
                 subject="Delivery to Norway", body=f"customer number {t.ref}")
    assert match_email(copy, [t]) is None
    assert not worth_fetching(copy, [t])


def test_worth_fetching_only_plausible_headers():
    t = target()
    assert worth_fetching(email(in_reply_to=t.message_id, sender="x@else.example"), [t])
    assert worth_fetching(email(subject="New ticket", sender="bot@acme.test"), [t])
    assert worth_fetching(email(subject="Hi", sender="x@foo.zendesk.com"), [t])
    assert worth_fetching(email(subject="Hi", sender="mailer-daemon@shopper.test"), [t])
    assert not worth_fetching(email(subject="Autumn sale!", sender="news@shop.example"), [t])


def test_company_domains_from_address_and_website():
    assert company_domains("service@northwind.example", "https://www.northwind.example/x") == (
        "northwind.example",)
    assert company_domains("help@mail.contoso.example", "contoso.example") == (
        "mail.contoso.example", "contoso.example")


def test_compose_is_deterministic_and_natural():
    token = new_token()
    assert len(token) == 10 and token.isalnum() and token == token.lower()
    args = dict(token=token, shopper_name="Anna Berg", shopper_email="Anna@Shopper.test",
                plus_addressing=True, to="support@acme.test", subject="Delivery to Norway",
                question="Hi, do you ship to Norway?",
                date=datetime(2026, 3, 6, 15, 0, tzinfo=UTC))
    a, b = compose(**args), compose(**args)
    assert a.message_id == b.message_id == message_id_for(token, "shopper.test")
    assert a.message_id.startswith(f"<{token}.") and a.message_id.endswith("@shopper.test>")
    assert a.reply_to == f"anna+{token}@shopper.test"
    assert a.message["From"].addresses[0].display_name == "Anna Berg"
    body = a.message.get_content()
    assert a.ref in body and token not in body and "probe" not in body.lower()
    assert a.message["Date"] and a.message["Message-ID"] == a.message_id
    templated = compose(**{**args, "question": "My order 4471-{ref} is late."})
    assert f"order 4471-{templated.ref} is late" in templated.message.get_content()
    assert reply_address("anna@shopper.test", token, False) == "anna@shopper.test"


# -- outcome and measure (pure) -------------------------------------------------------------


def probe(deadline=SENT + timedelta(days=3), outcome=None) -> Probe:
    return Probe(id="p1", company="acme", channel=Channel.EMAIL, plugin="email",
                 status=ProbeStatus.RUNNING, started_at=SENT, deadline_at=deadline,
                 outcome=outcome, state={"to": "support@acme.test"})


def sent(at=SENT) -> Event:
    return Event("p1", "email.sent", at, source="smtp")


def reply(at, kind, **data) -> Event:
    return Event("p1", "email.received", at, source="imap.internaldate",
                 data={"kind": kind, "match": "message-id", **data})


def test_outcome_rules():
    plugin, p = EmailProbe(), probe()
    before, after = SENT + timedelta(hours=1), SENT + timedelta(days=4)
    ack = reply(SENT + timedelta(seconds=20), "auto_ack")
    human = reply(SENT + timedelta(hours=5), "human")
    assert plugin.outcome(p, [sent()], before) is None
    assert plugin.outcome(p, [sent(), ack], before) is None
    assert plugin.outcome(p, [sent(), ack, human], before) == Outcome.ANSWERED
    # past the deadline: concluded only once a complete collection began after it
    collected = Event("p1", "email.collected", after, source="imap")
    assert plugin.outcome(p, [sent(), ack], after) is None
    assert plugin.outcome(p, [sent()], after) is None
    assert plugin.outcome(p, [sent(), ack, collected], after) == Outcome.ANSWERED_AUTO_ONLY
    assert plugin.outcome(p, [sent(), collected], after) == Outcome.UNANSWERED
    bounce = reply(SENT + timedelta(seconds=5), "bounce",
                   dsn_failed_recipient="support@acme.test")
    assert plugin.outcome(p, [sent(), bounce], before) == Outcome.FAILED
    assert plugin.outcome_reason(p, [sent(), bounce]) == "bounced: support@acme.test"


def berlin() -> Company:
    return Company(id="acme", name="Acme", timezone="Europe/Berlin",
                   hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")})


def test_measure_business_hours_over_a_weekend():
    # Fri 6 Mar 2026 16:00 Berlin (15:00 UTC) -> ack 30 s later -> human Mon 9 Mar 10:00 Berlin
    plugin, cal = EmailProbe(), berlin().calendar()
    ack = reply(SENT + timedelta(seconds=30), "auto_ack", helpdesk="zendesk")
    human = reply(datetime(2026, 3, 9, 9, 0, tzinfo=UTC), "human", helpdesk="zendesk")
    m = plugin.measure(probe(outcome=Outcome.ANSWERED), [sent(), ack, human], cal)
    assert m.outcome == Outcome.ANSWERED and m.answered_by_human
    # whole-second INTERNALDATEs are read as the middle of their second (+0.5 s)
    assert m.wait_s == 66 * 3600 + 0.5 and m.wait_bh_s == 2 * 3600 + 0.5
    assert m.first_response_s == 30.5 and m.first_response_bh_s == 30.5
    assert m.metrics["auto_ack_s"] == 30.5 and m.metrics["first_reply_kind"] == "auto_ack"
    assert m.metrics["replies"] == 2 and m.metrics["helpdesk"] == "zendesk"
    assert m.metrics["match_methods"] == ["message-id"]
    assert "replied_outside_hours" not in m.flags


def test_measure_reply_on_saturday_is_outside_hours():
    plugin, cal = EmailProbe(), berlin().calendar()
    human = reply(datetime(2026, 3, 7, 10, 0, tzinfo=UTC), "human", match="probable",
                  clock_suspect=True)
    m = plugin.measure(probe(outcome=Outcome.ANSWERED), [sent(), human], cal)
    assert m.wait_s == 19 * 3600 + 0.5 and m.wait_bh_s == 3600  # Fri 16:00-17:00 only
    assert {"replied_outside_hours", "probable_match", "clock_suspect"} <= set(m.flags)


def test_measure_ignores_bounces_and_counts_auto_only():
    plugin, cal = EmailProbe(), berlin().calendar()
    bounce = reply(SENT + timedelta(seconds=3), "bounce")
    ooo = reply(SENT + timedelta(minutes=1), "out_of_office")
    m = plugin.measure(probe(outcome=Outcome.ANSWERED_AUTO_ONLY), [sent(), bounce, ooo], cal)
    assert m.first_response_s == 60.5 and m.wait_s is None and not m.answered_by_human
    assert m.metrics["first_reply_kind"] == "out_of_office" and m.metrics["replies"] == 1


# -- matching in the wild (issue 14) ----------------------------------------------------------


def test_ticket_numbers_as_helpdesks_write_them():
    from svcbench.probes.email.match import ticket_numbers

    assert ticket_numbers("[Acme Support #48210] Re: Delivery") == ("48210",)
    assert ticket_numbers("Ticket#48210 updated") == ("48210",)
    assert ticket_numbers("Update", "Ihre Vorgangsnummer: 771234") == ("771234",)
    assert ticket_numbers("お問い合わせ", "受付番号：99123") == ("99123",)
    assert ticket_numbers("Delivery to Norway", "Order 12 of 2026") == ()


def test_ticket_number_only_subject_matches_the_probe_that_learned_it():
    t = target(tickets=("48210",))
    other = target("zzzzzzzzzz", "p2", tickets=("50001",))
    got = match_email(email(subject="[#48210]", sender="noreply@desk.example", body="Solved."),
                      [other, t], arrived_at=ARRIVED)
    assert (got.probe_id, got.method) == ("p1", "ticket")
    # a number two probes share decides nothing
    shared = target("yyyyyyyyyy", "p3", tickets=("48210",))
    assert match_email(email(subject="[#48210]", sender="noreply@desk.example", body="x"),
                       [t, shared], arrived_at=ARRIVED) is None


def test_outsourced_helpdesk_domain_still_matches_probably():
    t = target(company_name="Acme Outdoor")
    bpo = email(subject="Re: Delivery to Norway", sender="care@contact-centre.example",
                body="Kind regards, your Acme team")
    assert match_email(bpo, [t], arrived_at=ARRIVED) is None  # nothing ties it to Acme yet
    named = email(subject="Re: Delivery to Norway", sender="care@contact-centre.example",
                  extra="Reply-To: support@acme.test", body="Hello")
    got = match_email(named, [t], arrived_at=ARRIVED)
    assert got is not None and got.method == "probable" and got.score == pytest.approx(0.75)
    # the sender's display name naming the company does it too
    raw = (b"From: Acme Outdoor Support <care@contact-centre.example>\r\nTo: anna@shopper.test\r\n"
           b"Subject: Re: Delivery to Norway\r\nMessage-ID: <b1@contact-centre.example>\r\n\r\n"
           b"Hi\r\n")
    assert match_email(parse_email(raw), [t], arrived_at=ARRIVED).method == "probable"
    # a domain an earlier reply to this probe came from counts as the company's own
    learned = target(reply_domains=("contact-centre.example",))
    assert match_email(bpo, [learned], arrived_at=ARRIVED).score == pytest.approx(1.0)
