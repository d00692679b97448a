"""Tell automatic mail (bounces, out-of-office, acknowledgements) from human replies.

Evidence, not branches: every message gets the same features (see `features`): headers,
the helpdesk fingerprint (data/email/helpdesks.toml), wording in many languages
(data/email/phrases/*.toml), structure (quoting, a personal sign-off, length), timing
relative to the send and, when known, overlap with the question asked. Each feature adds
points to some kinds and takes points from others; the kind with the most points wins and
the softmax of the points is the confidence. Low confidence means a person should look
(`svcbench replies review`).

Weights say how strong each piece of evidence is, and they depend on other evidence only
where the evidence itself is known to be uninformative: a helpdesk documented to stamp
Auto-Submitted/Precedence on agent replies too (Zendesk, RT, Jira) makes those headers worth
nothing for that message, and the reasons say so. `X-Auto-Response-Suppress` is never
evidence: it is a request *to* recipients and Exchange and helpdesks put it on human mail.

A message's kind depends only on the message and its probe (sent_at, subject, question):
never on which other replies were fetched before it (issue 12, item 10).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from .parse import ParsedEmail, strip_subject_prefixes
from .phrases import Helpdesk, helpdesks, phrases

AUTO_ACK_WINDOW = timedelta(minutes=2)
# An arrival slightly "before" sending is clock skew; much earlier is not our message.
CLOCK_TOLERANCE = timedelta(minutes=1)
# An acknowledgement arriving later than this is unusual: worth a person's look.
LATE_ACK = timedelta(hours=1)
SHORT_BODY_WORDS = 6
#: below this confidence a classification is flagged for a person's review
REVIEW_BELOW = 0.80
_ANALYSED_CHARS = 20_000


class MailKind(StrEnum):
    BOUNCE = "bounce"
    OUT_OF_OFFICE = "out_of_office"
    AUTO_ACK = "auto_ack"
    AUTO_OTHER = "auto_other"
    AUTO_ACK_SUSPECT = "auto_ack_suspect"
    HUMAN = "human"


AUTOMATIC_KINDS = frozenset(kind for kind in MailKind if kind is not MailKind.HUMAN)
_SCORED = (MailKind.BOUNCE, MailKind.OUT_OF_OFFICE, MailKind.AUTO_ACK, MailKind.AUTO_OTHER,
           MailKind.HUMAN)
B, _O, A, X, H = _SCORED


@dataclass(frozen=True)
class Promise:
    """A reply time an acknowledgement promised ("within 2 business days")."""

    amount: float
    unit: str  # hours | days | business_days
    text: str
    lang: str

    def as_dict(self) -> dict:
        return {"amount": self.amount, "unit": self.unit, "text": self.text, "lang": self.lang}


@dataclass(frozen=True)
class Classification:
    kind: MailKind
    helpdesk: str | None
    reasons: tuple[str, ...]
    review: bool
    confidence: float = 1.0
    scores: dict[str, float] = field(default_factory=dict, hash=False)
    #: headers whose values counted (for showing a person)
    headers_used: tuple[str, ...] = ()
    promise: Promise | None = None

    @property
    def automatic(self) -> bool:
        return self.kind in AUTOMATIC_KINDS


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# ------------------------------------------------------------------------ quoted text

_QUOTE_HEADER = _rx(
    r"^\s*(on|am|le|el|op|den|il|em|w dniu)\b.{0,250}\b(wrote|schrieb|a [ée]crit|escribi[óo]|"
    r"schreef|skrev|ha scritto|escreveu|napisa[łl])(\s*:?\s*$|\b.{0,200}:\s*$)",
    r"^\s*-{2,}\s*(original message|urspr[üu]ngliche nachricht|message d'origine|mensaje "
    r"original|oorspronkelijk bericht|originalmeddelande|messaggio originale|forwarded message|"
    r"weitergeleitete nachricht)",
    r"^\s*_{10,}\s*$",
    r"^\s*-- ?$",
)
_OUTLOOK_FROM = _rx(r"^\s*\*?(from|von|de|van|fr[åa]n|da|fra)\s*:\*?\s*\S")
_OUTLOOK_SENT = _rx(r"^\s*\*?(sent|gesendet|envoy[ée]|enviado|verzonden|skickat|inviato|sendt|"
                    r"date|datum)\s*:")


def own_text(text: str) -> str:
    """The part of a body the sender wrote: quoted replies, history and signature removed."""
    lines = text[:_ANALYSED_CHARS].splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue
        joined = line + " " + (lines[i + 1] if i + 1 < len(lines) else "")
        if _QUOTE_HEADER.search(line) or (
                _QUOTE_HEADER.search(joined) and not line.rstrip().endswith((".", "!", "?"))):
            break
        if _OUTLOOK_FROM.search(line) and any(
                _OUTLOOK_SENT.search(nxt) for nxt in lines[i + 1:i + 5]):
            break
        kept.append(line)
    return "\n".join(kept).strip()



# --------------------------------------------------------------------- helpdesk detection


def _domain_of(value: str) -> str:
    value = value.strip().strip("<>").lower()
    return value.rsplit("@", 1)[-1] if "@" in value else ""


def _domain_in(domain: str, suffixes: tuple[str, ...]) -> bool:
    return bool(domain) and any(domain == s or domain.endswith("." + s) for s in suffixes)


def detect_helpdesk(email: ParsedEmail, desks: tuple[Helpdesk, ...] | None = None
                    ) -> tuple[str | None, str | None]:
    """(the helpdesk's key in helpdesks.toml, the evidence) or (None, None)."""
    desk, evidence = fingerprint(email, desks)
    return (desk.key if desk else None), evidence


def fingerprint(email: ParsedEmail, desks: tuple[Helpdesk, ...] | None = None
                ) -> tuple[Helpdesk | None, str | None]:
    """(the helpdesk's fingerprint, the evidence) or (None, None)."""
    desks = helpdesks() if desks is None else desks
    for name in email.headers:
        for desk in desks:
            if any(name.startswith(p) for p in desk.header_prefixes):
                return desk, f"header {name}"
    for desk in desks:
        for header, needles in desk.header_values.items():
            value = (email.header(header) or "").lower()
            if value and any(n in value for n in needles):
                return desk, f"header {header}: {email.header(header)}"
    mid = email.message_id or ""
    for desk in desks:
        if mid and any(p.search(mid) for p in desk.message_id):
            return desk, f"Message-ID <{mid}>"
    addresses = [("Message-ID", mid), ("Return-Path", email.return_path or ""),
                 ("From", email.from_addr or "")] + [("Reply-To", a) for a in email.reply_to]
    for label, addr in addresses:
        domain = _domain_of(addr)
        for desk in desks:
            if _domain_in(domain, desk.domains):
                return desk, f"{label} domain {domain}"
    text = email.text[:_ANALYSED_CHARS]
    for desk in desks:
        for pattern in desk.body:
            m = pattern.search(text)
            if m:
                return desk, f"body marker {m.group(0)[:60]!r}"
    return None, None


# ------------------------------------------------------------------------------ features

_NO_REPLY_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|noreply|donotreply|no[-_.]?response|"
    r"mailer[-_.]?daemon|postmaster|bounces?|auto[-_.]?(reply|responder|confirm))([-+_.].*)?$",
    re.IGNORECASE)
_DAEMON_LOCAL = re.compile(r"^(mailer[-_.]?daemon|postmaster|mail[-_.]?delivery)", re.IGNORECASE)
_GENERIC_AUTO_MAILERS = ("mailchimp", "sendgrid", "sendinblue", "brevo", "klaviyo", "mailjet",
                         "campaign monitor", "constant contact")
_REPLY_PREFIX = re.compile(
    r"^\s*(re|aw|sv|vs|r|antw|antwort|odp|ynt|res|rv|回复|答复)\s*(\[\d+\])?\s*[:：]",
    re.IGNORECASE)
_SIGN_OFF = _rx(
    r"^\s*(best|regards|kind regards|best regards|cheers|thanks|many thanks|sincerely|"
    r"warm regards|all the best|mit freundlichen gr[üu](ß|ss)en|viele gr[üu](ß|ss)e|"
    r"freundliche gr[üu](ß|ss)e|beste gr[üu](ß|ss)e|gru(ß|ss)|cordialement|bien cordialement|"
    r"bonne journ[ée]e|salutations|un saludo|saludos|atentamente|un abrazo|cordiali saluti|"
    r"un saluto|a presto|cumprimentos|atenciosamente|abra[çc]o|met vriendelijke groet|"
    r"groetjes|groeten|vriendelijke groet|よろしくお願いいたします|以上|祝好|此致|"
    r"सादर|धन्यवाद,|ధన్యవాదాలు,)\s*[,!.]?\s*$")
_NAME_LINE = re.compile(r"^\s*[\w.'-]{2,}( [\w.'-]{2,}){0,3}\s*$")
_TICKET_REFERENCE = _rx(
    r"\b(ticket|case|request|ärende|anfrage|vorgang|demande|caso|pratica|chamado|pedido)"
    r"\s*(#|no\.|nr\.?|n°|number|nummer|nummer:|id|número)\s*:?\s*\[?\w",
    r"\[[\w.-]+ #\d+\]", r"\[#\d+\]", r"(受付|お問い合わせ)番号", r"工单(号|编号)",
    r"टिकट (नंबर|संख्या)", r"టికెట్ (నంబర్|సంఖ్య)")
_TICKET_TAG = _rx(r"\[[^\[\]]{0,40}#\s?\d{2,}\]", r"\(#\d{2,}\)", r"\bticket\s?#\s?\d{3,}",
                  r"\[(ticket|case|request)[^\]]{0,20}\]")
_GENERIC_AUTO_SUBJECT = re.compile(r"auto|自動|自动|स्वचालित|స్వయంచాలక", re.IGNORECASE)
_WORDS = re.compile(r"\w{4,}", re.UNICODE)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # callers should pass aware UTC; naive is taken as UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.1f} min"


def _core_subject(subject: str, probe_subject: str | None) -> str:
    """The subject without Re:/[#123] prefixes and without our own subject quoted in it."""
    core = strip_subject_prefixes(subject)
    if probe_subject:
        ours = strip_subject_prefixes(probe_subject)
        if ours and ours.lower() in core.lower():
            i = core.lower().index(ours.lower())
            core = (core[:i] + core[i + len(ours):]).strip(" :-–—|")
    return core


def _signed(own: str, from_name: str | None) -> str | None:
    """A personal sign-off: a closing word followed by a short name line, or the sender's
    first name alone on one of the last lines."""
    lines = [ln for ln in own.splitlines() if ln.strip()][-6:]
    for i, line in enumerate(lines[:-1]):
        if _SIGN_OFF.search(line) and _NAME_LINE.match(lines[i + 1]):
            return f"{line.strip()} / {lines[i + 1].strip()}"
    if from_name:
        first = from_name.split()[0].strip(",").lower()
        if len(first) > 2 and any(ln.strip().lower().strip("-– ") == first for ln in lines[-3:]):
            return f"signed {from_name.split()[0]}"
    return None


def _overlap(own: str, question: str | None) -> float:
    if not question:
        return 0.0
    asked = {w.lower() for w in _WORDS.findall(question)}
    said = {w.lower() for w in _WORDS.findall(own)}
    return len(asked & said) / len(asked) if asked else 0.0


def extract_promise(text: str) -> Promise | None:
    """The first promised reply time in the text (any language in the phrase data)."""
    flat = " ".join(text[:_ANALYSED_CHARS].split())
    best: tuple[int, Promise] | None = None
    for rule in phrases().promises:
        m = rule.pattern.search(flat)
        if not m:
            continue
        raw_n, raw_unit = (m.group("n") or "").strip(), (m.group("unit") or "").strip()
        try:
            amount = float(raw_n) if raw_n.isdigit() else float(rule.numbers[raw_n.lower()])
        except KeyError:
            continue
        unit = next((u for start, u in rule.units if raw_unit.lower().startswith(start)), None)
        if unit is None or amount <= 0:
            continue
        found = Promise(amount, unit, m.group(0).strip(), rule.lang)
        if best is None or m.start() < best[0]:
            best = (m.start(), found)
    return best[1] if best else None


class _Scores:
    def __init__(self) -> None:
        self.points = {k: 0.0 for k in _SCORED}
        self.reasons: list[str] = []
        self.headers: list[str] = []

    def add(self, reason: str, header: str | None = None, **weights: float) -> None:
        for name, w in weights.items():
            self.points[MailKind(name)] += w
        self.reasons.append(reason)
        if header:
            self.headers.append(header)


def classify(email: ParsedEmail, *, sent_at: datetime | None = None,
             arrived_at: datetime | None = None, probe_subject: str | None = None,
             question: str | None = None, desks: tuple[Helpdesk, ...] | None = None,
             is_first_from_company: bool | None = None) -> Classification:
    """Classify one incoming message from the evidence it carries (module docstring).

    sent_at: when the probe was sent; arrived_at: this message's IMAP INTERNALDATE (falls
    back to the top Received header). probe_subject/question: what we sent, so that our own
    words quoted back are not read as the company's, and an answer can be recognised.
    desks: the helpdesk fingerprints to use (default: all; the bench leaves one out).
    is_first_from_company is accepted for old callers and ignored: a kind must not depend on
    which other replies were seen first.
    """
    del is_first_from_company
    p = phrases()
    s = _Scores()
    subject = " ".join((email.subject or "").split())
    core = _core_subject(subject, probe_subject)
    is_reply_subject = bool(_REPLY_PREFIX.match(subject))
    own = own_text(email.text)
    flat = " ".join(own.split())
    words = len(flat.split())
    desk, desk_evidence = fingerprint(email, desks)
    stamped = bool(desk and desk.stamps_agent_replies)
    from_local = (email.from_addr or "").split("@", 1)[0]
    s.points[H] += 1.0  # mail with no evidence either way is a person's
    s.points[X] += 0.4  # among automatic kinds, "other" is the default

    # -- delivery failures -------------------------------------------------------------
    if email.bounce_permanent:
        s.add(f"flufl.bounce: permanent failure for {', '.join(email.bounce_permanent[:3])}",
              bounce=6.0, human=-3.0)
    elif email.bounce_temporary:
        s.add(f"flufl.bounce: temporary failure (delay) for "
              f"{', '.join(email.bounce_temporary[:3])}", auto_other=4.0, human=-3.0)
    if email.report_type == "disposition-notification":
        s.add("read receipt (multipart/report disposition-notification)",
              auto_other=5.0, human=-3.0)
    elif email.is_dsn:
        where = "nested delivery report" if email.dsn_nested else "delivery report"
        if email.dsn_actions and any(a.startswith("fail") for a in email.dsn_actions):
            s.add(f"{where}, Action: failed", bounce=6.0, human=-3.0)
        elif email.dsn_actions:
            s.add(f"{where} without failure (Action: {', '.join(email.dsn_actions)})",
                  auto_other=6.0, human=-3.0)
        else:
            s.add(f"{where} without Action fields", bounce=3.0, human=-2.0)
    elif email.report_type:
        s.add(f"machine report ({email.report_type})", auto_other=5.0, human=-3.0)
    if _DAEMON_LOCAL.match(from_local):
        s.add(f"sent by {email.from_addr}", "from", bounce=1.5, auto_other=1.5, human=-2.5)
    if email.return_path == "":
        s.add("null Return-Path <>", "return-path", bounce=1.0, auto_other=0.5,
              out_of_office=0.5, auto_ack=0.5, human=-1.5)
    if "x-failed-recipients" in email.headers:
        s.add("X-Failed-Recipients header", "x-failed-recipients", bounce=2.5, human=-1.0)
    hit = p.search("bounce_subject", core) or p.search("bounce_subject", subject)
    if hit:
        s.add(f"delivery-failure subject {hit!r}", bounce=2.5, human=-1.0)
    hit = p.search("delay", subject + " " + flat[:3000])
    if hit:
        s.add(f"delay wording {hit!r}", auto_other=2.5, bounce=-2.5)
    hit = p.search("bounce_body", flat[:3000])
    if hit and (email.bounce_permanent or _DAEMON_LOCAL.match(from_local)
                or email.return_path == "" or email.is_dsn):
        s.add(f"delivery-failure wording {hit!r}", bounce=1.5)

    # -- automation headers ------------------------------------------------------------
    # Helpdesks put these headers on much of their mail, agent replies included: with a
    # helpdesk (or a ticket tag, the mark of one we may not know) they are weak evidence,
    # and none at all for a helpdesk documented to stamp every agent reply.
    ticket_tag = _TICKET_TAG.search(subject)
    auto_submitted = (email.header("auto-submitted") or "").strip()
    # RFC 3834 marks responses "auto-replied"; "auto-generated" on a reply that threads
    # our message is the blanket stamp helpdesks put on everything they send
    blanket = auto_submitted.lower().startswith("auto-generated") and bool(
        email.in_reply_to or email.references)
    helpdesk_like = desk is not None or ticket_tag is not None or blanket

    # One stamp usually brings several of these headers at once: they are not independent,
    # so the strongest counts fully and the rest half (with a helpdesk: the strongest only).
    stamp: list[tuple[float, dict[str, float]]] = []

    def machine(reason: str, header: str, weight: float, **extra: float) -> None:
        if stamped:
            s.add(f"{reason} (uninformative: {desk.name} puts it on agent replies too)",
                  header)
            return
        if helpdesk_like:
            why = (desk.name if desk else f"ticket tag {ticket_tag.group(0)!r}" if ticket_tag
                   else "auto-generated on a threaded reply")
            reason = f"{reason} (weak: helpdesk mail, {why})"
        s.add(reason, header)
        stamp.append((weight, extra))

    if auto_submitted and auto_submitted.lower() != "no":
        # RFC 3834: auto-replied answers a message (vacation notice or acknowledgement)
        replied = {"out_of_office": 0.3, "auto_ack": 0.3} if "auto-replied" in \
            auto_submitted.lower() else {}
        machine(f"header Auto-Submitted: {auto_submitted}", "auto-submitted", 3.5, **replied)
    precedence = (email.header("precedence") or "").strip().lower()
    if precedence == "auto_reply":
        machine("header Precedence: auto_reply", "precedence", 3.0)
    elif precedence in ("bulk", "junk", "list"):
        machine(f"header Precedence: {precedence}", "precedence", 1.5, auto_other=0.5)
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if name in email.headers:
            machine(f"header {name}: {email.header(name)}", name, 3.0)
    if "x-loop" in email.headers:
        machine(f"header X-Loop: {email.header('x-loop')}", "x-loop", 1.5)
    if "x-otrs-loop" in email.headers:
        machine("header X-OTRS-Loop (OTRS/Znuny auto response)", "x-otrs-loop", 2.5)
    if (email.header("x-fc-machinegenerated") or "").strip().lower() == "true":
        machine("header X-FC-Machinegenerated: true", "x-fc-machinegenerated", 3.0)
    for name in ("list-unsubscribe", "list-id"):
        if name in email.headers:
            machine(f"header {name}", name, 1.5, auto_other=1.5)
    stamp.sort(key=lambda we: -we[0])
    for n, (weight, extra) in enumerate(stamp):
        factor = (0.4 if n == 0 else 0.0) if helpdesk_like else (1.0 if n == 0 else 0.5)
        s.points[H] -= factor * weight
        for k, v in extra.items():
            s.points[MailKind(k)] += factor * v
    mailer = (email.header("x-mailer") or "").lower()
    if any(m in mailer for m in _GENERIC_AUTO_MAILERS):
        s.add(f"bulk mailer {email.header('x-mailer')}", "x-mailer", auto_other=2.5, human=-2.5)
    if from_local and _NO_REPLY_LOCAL.match(from_local) and not _DAEMON_LOCAL.match(from_local):
        s.add(f"no-reply sender {email.from_addr}", "from", human=-2.5, auto_other=0.5)

    # -- out of office -----------------------------------------------------------------
    hit = p.search("ooo_subject", core) or p.search("ooo_subject", subject)
    if hit and _GENERIC_AUTO_SUBJECT.search(hit):
        # "Automatic reply:" is what Outlook/Exchange put on any auto-reply rule's mail,
        # acknowledgements from shared mailboxes included
        s.add(f"auto-reply subject {hit!r}", out_of_office=2.0, auto_ack=1.5, human=-2.0)
    elif hit:
        s.add(f"out-of-office subject {hit!r}", out_of_office=3.5, human=-2.0)
    low = auto_submitted.lower()
    if "vacation" in low:
        s.add(f"header Auto-Submitted: {auto_submitted} (vacation)", "auto-submitted",
              out_of_office=3.0, human=-1.0)
    elif "auto-replied" in low and "owner-email=" in low:
        s.add("header Auto-Submitted: auto-replied; owner-email= (mailbox auto-reply)",
              "auto-submitted", out_of_office=2.5)
    if (email.header("x-autoreply") or "").strip().lower() in ("yes", "true", "1"):
        s.add("header X-Autoreply: yes", "x-autoreply", out_of_office=1.0)
    source = (email.header("x-ms-exchange-generated-message-source") or "").lower()
    if "x-ms-exchange-inbox-rules-loop" in email.headers and "mailbox rules agent" in source:
        s.add("Exchange Inbox-Rules-Loop + Mailbox Rules Agent",
              "x-ms-exchange-generated-message-source", out_of_office=1.5, auto_ack=1.0,
              human=-3.0)
    hit = p.search("ooo_body", flat[:3000])
    if hit:
        s.add(f"absence wording {hit!r}", out_of_office=1.5, auto_ack=-0.5)
    hit = p.search("holiday", core + " " + flat[:3000])
    if hit:
        s.add(f"closure-for-holidays wording {hit!r}", out_of_office=3.5, auto_ack=-1.5,
              human=-1.0)

    # -- what the text says ------------------------------------------------------------
    if not is_reply_subject:
        hit = p.search("ack_subject", core) or p.search("ack_subject", subject)
        if hit:
            s.add(f"acknowledgement subject {hit!r}", auto_ack=2.5, human=-0.5)
        hit = p.search("transactional_subject", core)
        if hit:
            s.add(f"shop-system subject {hit!r}", auto_other=3.0, human=-1.0)
    receipt = p.search("receipt", flat[:5000])
    if receipt:
        s.add(f"receipt wording {receipt!r}", auto_ack=2.5)
    hit = p.search("automated", flat[:5000])
    if hit:
        s.add(f"says it is automatic {hit!r}", auto_ack=1.0, auto_other=1.0,
              out_of_office=0.5, bounce=0.5, human=-3.0)
    hit = p.search("will_reply", flat[:5000])
    if hit:
        s.add(f"we-will-reply wording {hit!r}", auto_ack=1.5)
    hit = p.search("thanks", flat[:2000])
    if hit:
        s.add(f"thanks wording {hit!r}", auto_ack=0.7)
    promise = extract_promise(own)
    if promise:
        s.add(f"promised reply time {promise.text!r}", auto_ack=1.5)
    ticket = _TICKET_REFERENCE.search(flat[:5000])
    if ticket:
        s.add(f"ticket reference {ticket.group(0)!r}", auto_ack=0.5)
    for category, label, weight in (("survey", "survey wording", 4.0),
                                    ("closure", "ticket-closed wording", 3.5),
                                    ("challenge", "challenge-response wording", 5.0)):
        hit = p.search(category, core + " " + flat[:5000])
        if hit:
            s.add(f"{label} {hit!r}", auto_other=weight, auto_ack=-1.0, human=-1.0)

    # -- structure -----------------------------------------------------------------------
    signed = _signed(own, email.from_name)
    if signed:
        s.add(f"personal sign-off ({signed})", human=2.0)
    if len(own) < len(email.text.strip()) - 40 or ">" in email.text[:20000]:
        s.add("quotes earlier mail", human=1.0)
    if is_reply_subject:
        s.add("subject is a reply (Re:/AW:...)", human=0.5)
    overlap = _overlap(own, question)
    if overlap >= 0.3:
        s.add(f"answers the question ({overlap:.0%} of its words)", human=2.0)
    if words >= 60 and not receipt:
        s.add(f"long own text ({words} words)", human=0.5)

    # -- timing --------------------------------------------------------------------------
    arrival = _utc(arrived_at) or email.received_at
    sent = _utc(sent_at)
    delay = (arrival - sent) if (arrival and sent) else None
    fast = delay is not None and -CLOCK_TOLERANCE <= delay <= AUTO_ACK_WINDOW
    if delay is not None:
        source = "arrival" if arrived_at else "top Received header"
        if -CLOCK_TOLERANCE <= delay <= AUTO_ACK_WINDOW:
            s.add(f"{source} {delay.total_seconds():.0f} s after sending: too fast for a "
                  "person", auto_ack=1.0, out_of_office=0.5, human=-1.5)
        elif AUTO_ACK_WINDOW < delay <= timedelta(minutes=10):
            s.add(f"{source} {_minutes(delay)} after sending", human=-0.5)
        elif delay > LATE_ACK:
            s.add(f"{source} {_minutes(delay)} after sending: late for an acknowledgement",
                  auto_ack=-1.0, human=0.8)

    # -- decision --------------------------------------------------------------------------
    if desk:
        s.reasons.insert(0, f"helpdesk {desk.name} ({desk_evidence})")
    top = max(s.points, key=lambda k: s.points[k])
    peak = s.points[top]
    exps = {k: math.exp(v - peak) for k, v in s.points.items()}
    confidence = exps[top] / sum(exps.values())
    kind = top
    machine_evidence = bool(s.headers) or desk is not None or fast
    if kind is A and not machine_evidence:
        kind = MailKind.AUTO_ACK_SUSPECT
    # automatic on wording alone (no header, helpdesk or timing evidence): a person checks
    review = confidence < REVIEW_BELOW or (kind in AUTOMATIC_KINDS and not machine_evidence)
    if kind is H and words < SHORT_BODY_WORDS:
        s.reasons.append(f"very short body ({words} words): check by hand")
        review = True
    if kind is A and delay is not None and delay > LATE_ACK:
        review = True
    s.reasons.append(f"{kind.value} with confidence {confidence:.2f} ("
                     + ", ".join(f"{k.value} {v:+.1f}" for k, v in s.points.items()) + ")")
    return Classification(
        kind=kind, helpdesk=desk.key if desk else None, reasons=tuple(s.reasons),
        review=review, confidence=round(confidence, 3),
        scores={k.value: round(v, 2) for k, v in s.points.items()},
        headers_used=tuple(dict.fromkeys(s.headers)),
        promise=promise if kind in (A, MailKind.AUTO_ACK_SUSPECT) else None)


__all__ = ["AUTOMATIC_KINDS", "Classification", "MailKind", "Promise", "classify",
           "detect_helpdesk", "extract_promise", "own_text"]
