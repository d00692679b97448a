"""Which probe does an incoming email belong to? Pure functions, strongest evidence first.

1. ``message-id``: In-Reply-To/References names the probe's Message-ID (a DSN: the Message-ID
   of the original inside the report);
2. ``address``: the probe's own reply address (``local+token@``) is in To/Cc/Delivered-To;
3. ``reference``: the probe's reference number appears in the subject or body;
4. ``ticket``: a ticket number an earlier reply to this probe carried ("[#48210]",
   "Ticket#48210", "受付番号：48210") appears in the subject or body: helpdesks that strip
   our references and rewrite the subject still quote their own ticket number;
5. ``probable``: sent from the company's domain, a known helpdesk's, a domain an earlier
   reply to this probe came from, or (outsourced support) a sender naming the company,
   after the probe was sent and before its deadline, with a similar subject; recorded with
   its score, never as certain.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .parse import ParsedEmail

def _helpdesk_domains() -> tuple[str, ...]:
    from .phrases import helpdesk_domains

    return helpdesk_domains() + ("desk.com",)


#: domains helpdesk software sends from (data/email/helpdesks.toml)
HELPDESK_DOMAINS = _helpdesk_domains()

PROBABLE_THRESHOLD = 0.6

METHODS = ("message-id", "address", "reference", "ticket", "probable")

#: ticket numbers as helpdesks write them in subjects and bodies
_TICKET_NUMBER = re.compile(
    r"\[[^\[\]]{0,40}#\s?(\d{3,12})\]|\(#(\d{3,12})\)|"
    r"\b(?:ticket|case|request|incident|vorgang|anfrage|demande|caso|pratica|chamado|pedido|"
    r"ticketnummer|vorgangsnummer)\s?(?:#|no\.?|nr\.?|n°|number|nummer|id|número)?\s?[:#]?\s?"
    r"\[?#?(\d{3,12})\b|"
    r"(?:受付番号|お問い合わせ番号|工单号|工单编号|टिकट नंबर|టికెట్ నంబర్)\s?[:：]?\s?(\d{3,12})",
    re.IGNORECASE)


@dataclass(frozen=True)
class ProbeTarget:
    """What matching needs to know about one sent probe."""

    probe_id: str
    message_id: str
    reply_address: str
    ref: str
    subject: str
    company_domains: tuple[str, ...]
    sent_at: datetime | None = None
    deadline_at: datetime | None = None
    shopper_addresses: tuple[str, ...] = field(default_factory=tuple)
    #: ticket numbers earlier replies to this probe carried
    tickets: tuple[str, ...] = ()
    #: domains earlier matched replies to this probe came from (outsourced helpdesks)
    reply_domains: tuple[str, ...] = ()
    #: the company's display name, to recognise an outsourced sender naming it
    company_name: str | None = None
    #: the question we asked (an answer shares its words)
    question: str | None = None


@dataclass(frozen=True)
class Match:
    probe_id: str
    method: str
    score: float = 1.0


def normalise_id(value: str) -> str:
    value = value.strip().lower()
    if not value.startswith("<"):
        value = f"<{value}>"
    return value


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(">")


def company_domains(address: str | None, website: str | None) -> tuple[str, ...]:
    """The company's own mail domains: its email address's domain and its website's host."""
    domains = []
    if address and "@" in address:
        domains.append(domain_of(address))
    if website:
        host = urlsplit(website if "//" in website else f"//{website}").hostname or ""
        host = host.lower().removeprefix("www.")
        if host:
            domains.append(host)
    return tuple(dict.fromkeys(domains))


def _within(domain: str, parents: Iterable[str]) -> bool:
    return any(domain == p or domain.endswith("." + p) for p in parents)


def _ref_pattern(ref: str) -> re.Pattern[str]:
    # the digits may come back grouped ("8362 1047", "8362-1047") but not inside a longer number
    digits = r"[\s.-]?".join(re.escape(ch) for ch in ref)
    return re.compile(rf"(?<![\dA-Za-z]){digits}(?!\d)")


@functools.lru_cache(maxsize=4096)
def normalise_subject(subject: str) -> str:
    from .parse import strip_subject_prefixes

    return " ".join(strip_subject_prefixes(subject or "").lower().split())


def subject_similarity(a: str, b: str, *, at_least: float = 0.0) -> float:
    """0..1 after stripping Re:/AW:/[#123] prefixes; below ``at_least`` it may return any
    lower value (cheap upper bounds skip the full comparison)."""
    left, right = normalise_subject(a or ""), normalise_subject(b or "")
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    if left in right or right in left:
        return 0.9
    matcher = SequenceMatcher(None, left, right, autojunk=False)
    if at_least and (matcher.real_quick_ratio() < at_least or matcher.quick_ratio() < at_least):
        return 0.0
    return matcher.ratio()


def _by_message_id(email: ParsedEmail, targets: Sequence[ProbeTarget]) -> Match | None:
    ids = {normalise_id(v) for v in (*email.in_reply_to, *email.references) if v}
    if email.is_dsn and email.dsn_original_message_id:
        ids.add(normalise_id(email.dsn_original_message_id))
    for target in targets:
        if normalise_id(target.message_id) in ids:
            return Match(target.probe_id, "message-id")
    return None


def _by_address(email: ParsedEmail, targets: Sequence[ProbeTarget]) -> Match | None:
    addresses = {a.lower() for a in (*email.to, *email.cc, *email.delivered_to)}
    for target in targets:
        # the plain shopper address is shared by every probe: only a per-probe one counts
        if target.reply_address.lower() in target.shopper_addresses:
            continue
        if target.reply_address.lower() in addresses:
            return Match(target.probe_id, "address")
    return None


def ticket_numbers(subject: str | None, text: str | None = None) -> tuple[str, ...]:
    """Ticket numbers a helpdesk wrote into a subject or body, in order of appearance."""
    found = []
    for m in _TICKET_NUMBER.finditer(f"{subject or ''}\n{(text or '')[:20000]}"):
        number = next(g for g in m.groups() if g)
        if number not in found:
            found.append(number)
    return tuple(found[:5])


def _by_ticket(email: ParsedEmail, targets: Sequence[ProbeTarget],
               text: str | None) -> Match | None:
    numbers = set(ticket_numbers(email.subject, text))
    if not numbers:
        return None
    hits = [t for t in targets if numbers & set(t.tickets)]
    if len(hits) == 1:  # a number two probes share says nothing
        return Match(hits[0].probe_id, "ticket")
    return None


def _by_reference(email: ParsedEmail, targets: Sequence[ProbeTarget],
                  text: str | None) -> Match | None:
    haystack = f"{email.subject or ''}\n{text or ''}"
    for target in targets:
        if target.ref and _ref_pattern(target.ref).search(haystack):
            return Match(target.probe_id, "reference")
    return None


def probable_score(email: ParsedEmail, target: ProbeTarget,
                   arrived_at: datetime | None) -> float:
    """0..1: how likely an unthreaded email is a reply to ``target``; 0 if it cannot be."""
    sender = domain_of(email.from_addr or "")
    if not sender:
        return 0.0
    own = _within(sender, target.company_domains) or _within(sender, target.reply_domains)
    factor = 1.0 if own else 0.85  # a helpdesk shared by many companies is weaker evidence
    if not own and not _within(sender, HELPDESK_DOMAINS):
        if not _names_company(email, target):
            return 0.0
        factor = 0.75  # outsourced support: another domain, writing in the company's name
    if arrived_at is not None:
        # INTERNALDATE has whole seconds: a fast reply can look up to 1 s older than our send
        if target.sent_at is not None and arrived_at < target.sent_at - timedelta(seconds=1):
            return 0.0
        if target.deadline_at is not None and arrived_at > target.deadline_at:
            return 0.0
    similarity = subject_similarity(email.subject or "", target.subject)
    return round(similarity * factor, 3)


def _names_company(email: ParsedEmail, target: ProbeTarget) -> bool:
    """The sender writes for the company: its name in the From display name, or one of its
    domains in Reply-To or the text (outsourced contact centres sign as the brand)."""
    name = (target.company_name or "").lower()
    display = (email.from_name or "").lower()
    if name and len(name) >= 4 and (name in display or display.startswith(name.split()[0])
                                    and len(name.split()[0]) >= 4):
        return True
    if any(_within(domain_of(a), target.company_domains) for a in email.reply_to):
        return True
    text = (email.text or "")[:20000].lower()
    return any(d and d in text for d in target.company_domains)


def _by_probable(email: ParsedEmail, targets: Sequence[ProbeTarget],
                 arrived_at: datetime | None, threshold: float) -> Match | None:
    ours = {domain_of(t.reply_address) for t in targets}
    if any(domain_of(i) in ours for i in (*email.in_reply_to, *email.references)):
        return None  # it answers another message of ours, just not one of these probes
    scored = [(probable_score(email, t, arrived_at), t) for t in targets]
    scored = [(s, t) for s, t in scored if s > 0 and s >= threshold]
    if not scored:
        return None
    # best score; among equals the latest probe sent before the email arrived
    best = max(scored, key=lambda st: (st[0], st[1].sent_at.timestamp() if st[1].sent_at else 0))
    return Match(best[1].probe_id, "probable", best[0])


def is_own_message(email: ParsedEmail, targets: Sequence[ProbeTarget]) -> bool:
    """Our own sent copy (BCC or Sent folder): never a reply."""
    mid = normalise_id(email.message_id) if email.message_id else None
    return mid is not None and any(normalise_id(t.message_id) == mid for t in targets)


def match_email(email: ParsedEmail, targets: Sequence[ProbeTarget], *,
                arrived_at: datetime | None = None, text: str | None = None,
                threshold: float = PROBABLE_THRESHOLD) -> Match | None:
    """The probe an email replies to, and how that was decided; None if it matches none.

    ``text`` defaults to the parsed body; pass headers-only emails with ``text=""``.
    """
    if is_own_message(email, targets):
        return None
    if text is None:
        text = email.text
    return (_by_message_id(email, targets) or _by_address(email, targets)
            or _by_reference(email, targets, text) or _by_ticket(email, targets, text)
            or _by_probable(email, targets, arrived_at, threshold))


def worth_fetching(headers: ParsedEmail, targets: Sequence[ProbeTarget], *,
                   arrived_at: datetime | None = None) -> bool:
    """Could this email (seen by its headers only) be a reply? Decides whether to fetch its body.

    True for header matches, DSNs, mail from a company or helpdesk domain, subjects similar to
    a probe's or carrying a reference, and replies to anything our shopper domain sent.
    """
    if is_own_message(headers, targets):
        return False
    if match_email(headers, targets, arrived_at=arrived_at, text=""):
        return True
    sender = (headers.from_addr or "").lower()
    sender_domain = domain_of(sender)
    if sender_domain and (_within(sender_domain, HELPDESK_DOMAINS) or any(
            _within(sender_domain, t.company_domains) for t in targets)):
        return True
    content_type = (headers.content_type or "").lower()
    if content_type.startswith("multipart/report") or sender.startswith(
            ("mailer-daemon@", "postmaster@")):
        return True
    shopper_domains = {domain_of(t.reply_address) for t in targets}
    for ident in (*headers.in_reply_to, *headers.references):
        if domain_of(ident) in shopper_domains:
            return True
    return any(subject_similarity(headers.subject or "", t.subject, at_least=0.5) >= 0.5
               for t in targets)
