"""Tell automatic mail (bounces, out-of-office, acknowledgements) from human replies.

An ordered rule list; the first rule that matches decides (see notes/email.md, section 2):

1. bounce: a delivery-status report, or a null Return-Path / mailer-daemon sender.
2. out_of_office: localised "Automatic reply"/"Out of office" subjects, Zimbra/Gmail/Exchange
   markers. An out-of-office that reads like an acknowledgement (a shared support mailbox with
   an Outlook auto-reply) counts as auto_ack.
3. helpdesk detected (Zendesk, Freshdesk, RT, ...): helpdesks stamp *agent* replies with
   Auto-Submitted/Precedence too, so those headers are ignored and wording + timing decide.
4. generic automation headers or a no-reply sender: automatic, ack or other by wording.
5. acknowledgement wording without any automation header: auto_ack_suspect (review);
   order/shipping/account subjects without headers: auto_other (review).
6. otherwise human.

Timing refines steps 3 and 5: "thanks, we'll get back to you" (weak ack wording, no receipt
or "automated" wording) arriving over an hour after the probe is a person's holding reply,
so human (review). Receipt wording that late stays an ack but is flagged for review.

`X-Auto-Response-Suppress` is never evidence on its own: it is a request *to* recipients and
Exchange and helpdesks put it on human mail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from .parse import ParsedEmail, strip_subject_prefixes

AUTO_ACK_WINDOW = timedelta(minutes=2)
# An arrival slightly "before" sending is clock skew; much earlier is not our message.
CLOCK_TOLERANCE = timedelta(minutes=1)
# An acknowledgement arriving later than this is unusual: worth a person's look.
LATE_ACK = timedelta(hours=1)
SHORT_BODY_WORDS = 6
_ANALYSED_CHARS = 20_000


class MailKind(StrEnum):
    BOUNCE = "bounce"
    OUT_OF_OFFICE = "out_of_office"
    AUTO_ACK = "auto_ack"
    AUTO_OTHER = "auto_other"
    AUTO_ACK_SUSPECT = "auto_ack_suspect"
    HUMAN = "human"


AUTOMATIC_KINDS = frozenset(kind for kind in MailKind if kind is not MailKind.HUMAN)


@dataclass(frozen=True)
class Classification:
    kind: MailKind
    helpdesk: str | None
    reasons: tuple[str, ...]
    review: bool

    @property
    def automatic(self) -> bool:
        return self.kind in AUTOMATIC_KINDS


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# ------------------------------------------------------------------------ out of office

# Subjects that on their own mean "automatic reply" (Outlook/Exchange OOF prefixes per locale,
# Lotus "Auto:", the usual English forms).
_OOO_SUBJECT = _rx(
    r"^auto(matic|matisk|matische|matisch|matiskt|maattinen|matyczna)?[ -]?"
    r"(reply|response|antwort|antwoord|svar|vastaus|odpowied)",
    r"^auto(reply)?\s*:", r"^(out of (the )?office|ooo\b|office closure)",
    r"^abwesenheit(snotiz)?", r"^(nicht im büro|au(ß|ss)er haus)",
    r"^r[ée]ponse automatique", r"^(absence|absent)\b.*\b(bureau|office)",
    r"^message d'absence", r"^respuesta autom[aá]tica", r"^fuera de (la )?oficina",
    r"^risposta automatica", r"^fuori (sede|ufficio)", r"^fr[aå]nvaro", r"^fr[aå]nvarande",
    r"^resposta autom[aá]tica", r"^afwezig", r"^(niet op|buiten) kantoor",
)
# Words that mean absence only when the mail is also marked as automatic.
_OOO_SUBJECT_WEAK = _rx(
    r"\b(vacation|holiday|on leave|away|urlaub|abwesend|cong[ée]s?|vacaciones|ausente|"
    r"vakantie|semester|ledig|ferie|assente)\b")
_OOO_BODY = _rx(
    r"\bout of (the )?office\b", r"\b(i am|i'm|i will be|i'll be) (currently )?"
    r"(away|out|on (annual |parental |sick |maternity )?(leave|holiday|vacation))\b",
    r"\blimited access to (my )?e-?mail", r"\b(back|return(ing)?) (in the office )?on\b",
    r"\bnicht im büro\b", r"\bau(ß|ss)er haus\b", r"\babwesend\b", r"\bim urlaub\b",
    r"\babwesenheit\b", r"\babsente? du bureau\b", r"\bje suis absente?\b", r"\ben cong[ée]s?\b",
    r"\bde retour le\b", r"\bfuera de la oficina\b", r"\bestoy de vacaciones\b",
    r"\bde vuelta el\b", r"\bafwezig\b", r"\bniet op kantoor\b", r"\bmet vakantie\b",
    r"\bfr[åa]nvarande\b", r"\bär ledig\b", r"\bpå semester\b", r"\bfuori (sede|ufficio)\b",
    r"\bin ferie\b", r"\brientrer[òo]\b", r"\bsono assente\b",
)

# ------------------------------------------------------------------- acknowledgement wording

_ACK_SUBJECT = _rx(
    r"^\[?(support )?(request|ticket|case|inquiry|enquiry)\b.{0,40}\b"
    r"(received|created|logged|opened|submitted)\b",
    r"\bticket received\b", r"^thank(s| you) for (contacting|reaching out|your (e-?mail|message|"
    r"request|inquiry|enquiry|patience|mail))",
    r"^we('ve| have) received", r"^(your|new) (support )?(request|ticket|case) (#|no\.? ?)?\S*\s*"
    r"(has been )?(received|created|opened)",
    r"^(eingangsbest[äa]tigung|ihre anfrage (ist eingegangen|wurde (empfangen|erstellt))|"
    r"(vielen )?dank f[üu]r (ihre|deine) (anfrage|nachricht|e-?mail))",
    r"^(accus[ée] de r[ée]ception|nous avons (bien )?re[çc]u|merci (de|pour) votre "
    r"(message|demande|e-?mail|courriel))",
    r"^(acuse de recibo|hemos recibido|gracias por (contactarnos|tu mensaje|su mensaje|"
    r"ponerte en contacto))",
    r"^(ontvangstbevestiging|bedankt voor (je|uw) (bericht|e-?mail|aanvraag|vraag))",
    r"^(tack för (ditt|ert|din) (meddelande|mejl|mail|ärende)|vi har tagit emot)",
    r"^(conferma di ricezione|grazie per (averci contattato|il tuo messaggio|la tua richiesta))",
    r"^thanks for your (inquiry|enquiry)",
)
# Saying "this mail was sent by a machine".
_AUTOMATION_WORDING = _rx(
    r"\bthis (is an|e-?mail is an|message is an|is a) automat(ed|ic|ically generated)\b",
    r"\b(was |been )?(automatically|auto-) ?generated\b", r"\bthis is an auto-?reply\b",
    r"\b(please )?do not reply (directly )?to this (e-?mail|message|address)\b",
    r"\b(this|the) (mailbox|inbox|address|email address) is (not|un)monitored\b",
    r"\bautomatisch (generiert|erstellt|versendet|verschickt|erzeugt)e?\b",
    r"\bautomatische (antwort|nachricht|eingangsbest[äa]tigung|benachrichtigung)\b",
    r"\bbitte antworten sie nicht auf diese\b",
    r"\bmessage (g[ée]n[ée]r[ée] )?automatique\b", r"\b(g[ée]n[ée]r[ée]|envoy[ée]) "
    r"automatiquement\b", r"\bmerci de ne pas r[ée]pondre\b", r"\bne (pas )?r[ée]pondez pas\b",
    r"\b(mensaje|respuesta|correo) autom[aá]tic[oa]\b", r"\bgenerado autom[aá]ticamente\b",
    r"\bno (responda|respondas) a este\b",
    r"\bautomatisch (gegenereerd|verzonden|verstuurd)\b", r"\bautomatisch (bericht|antwoord)\b",
    r"\bautomatiskt (genererat|svar|meddelande|utskick)\b", r"\bsvara inte p[åa] (detta|det "
    r"h[äa]r)\b",
    r"\b(messaggio|risposta|e-?mail) automatic[ao]\b", r"\bgenerat[ao] automaticamente\b",
    r"\bnon rispondere a (questa|questo)\b",
)
# "We have received your request / a ticket was created": the core of an acknowledgement.
_RECEIPT_WORDING = _rx(
    r"\bwe('ve| have)( successfully)? received your (request|message|e-?mail|mail|inquiry|"
    r"enquiry|ticket|query|question)\b",
    r"\b(your|this) (support )?(request|ticket|case|message|inquiry|enquiry)( \(?#?[\w-]+\)?)? "
    r"(has|have) been (received|created|logged|opened|submitted|registered)\b",
    r"\b(a|new) (support )?(ticket|case) (has been|was) (created|opened|logged)\b",
    r"\bassigned (an id|a (ticket|case|reference) number)\b",
    r"\b(this|we) (is to |would like to )?(acknowledge|confirm) (the )?receipt\b",
    r"\bwe would like to acknowledge that we have received\b",
    r"\ba member of (our|the) (\w+ )?team will (get back|respond|reply|be in touch|contact)\b",
    r"\b(one of )?our (support )?(agents|team|staff) will (get back to you|respond|reply|"
    r"be in touch|review)\b",
    r"\bwir haben ihre (anfrage|nachricht|e-?mail|mail) (erhalten|empfangen)\b",
    r"\bihre (anfrage|nachricht|e-?mail) (ist|wurde) (bei uns )?(eingegangen|empfangen|"
    r"erhalten)\b",
    r"\b(eingangsbest[äa]tigung|ticketnummer)\b",
    r"\bnous avons (bien )?re[çc]u votre (demande|message|e-?mail|courriel)\b",
    r"\bvotre demande a (bien )?[ée]t[ée] (re[çc]ue|enregistr[ée]e|cr[ée]{2}e)\b",
    r"\bhemos recibido (tu|su) (solicitud|mensaje|correo|consulta|petici[óo]n)\b",
    r"\b(tu|su) (solicitud|consulta) (ha sido|fue) (recibida|registrada|creada)\b",
    r"\b(we|wij) hebben (je|uw) (bericht|aanvraag|e-?mail|verzoek|vraag) (goed )?ontvangen\b",
    r"\bvi har (tagit emot|mottagit|f[åa]tt) (ditt|din|ert|er) (meddelande|[äa]rende|mejl|"
    r"e-?post|f[öo]rfr[åa]gan|mail)\b",
    r"\babbiamo ricevuto (la tua|la sua|il tuo|il suo) (richiesta|messaggio|e-?mail)\b",
)
_THANKS_WORDING = _rx(
    r"\bthank(s| you) for (contacting|reaching out|getting in touch|your (e-?mail|message|"
    r"request|inquiry|enquiry|mail|patience))\b",
    r"\b(vielen )?dank f[üu]r (ihre|deine) (anfrage|nachricht|e-?mail|kontaktaufnahme)\b",
    r"\bmerci (de|pour) votre (message|demande|e-?mail|courriel)\b",
    r"\bgracias por (contactarnos|tu mensaje|su mensaje|ponerte en contacto|escribirnos)\b",
    r"\bbedankt voor (je|uw) (bericht|e-?mail|aanvraag|vraag)\b",
    r"\btack f[öo]r (ditt|ert|din) (meddelande|mejl|mail|[äa]rende)\b",
    r"\bgrazie per (averci contattato|il tuo messaggio|la tua richiesta)\b",
)
_PROMISE_WORDING = _rx(
    r"\b(we|our team|someone)( will|'ll| shall) (get back to you|respond|reply|answer|"
    r"be in touch|contact you)\b",
    r"\bas soon as (possible|we can)\b", r"\bwithin (\d+|one|two|24|48) (hours|business|"
    r"working|days)\b", r"\bin the order (it was|they were) received\b",
    r"\bso schnell wie m[öo]glich\b", r"\bschnellstm[öo]glich\b", r"\bwir melden uns\b",
    r"\binnerhalb von \d+\b", r"\bdans les (plus brefs|meilleurs) d[ée]lais\b",
    r"\bnous (vous )?(r[ée]pondrons|reviendrons)\b", r"\blo antes posible\b",
    r"\b(te|le) (responderemos|contestaremos)\b", r"\bzo snel mogelijk\b",
    r"\bbinnen \d+ (uur|werkdagen|dagen)\b", r"\bs[åa] snart som m[öo]jligt\b",
    r"\b[åa]terkommer\b", r"\bil prima possibile\b", r"\bal pi[ùu] presto\b",
    r"\b(ti|le) risponderemo\b",
)
_TICKET_REFERENCE = _rx(r"\b(ticket|case|request|ärende|anfrage)\s*(#|no\.|nr\.?|number|"
                        r"nummer|id)\s*:?\s*\[?\w", r"\[[\w.-]+ #\d+\]")
# Automatic helpdesk mail that is not an acknowledgement.
_OTHER_HELPDESK_WORDING = _rx(
    r"\bhow would you rate\b", r"\brate (the|our) (support|service)\b", r"\bhow did we do\b",
    r"\b(satisfaction survey|customer satisfaction)\b",
    r"\b(your )?(request|ticket|case) (\(?#?\w+\)? )?has been (solved|resolved|closed|merged)\b",
    r"\bwie zufrieden waren sie\b", r"\bwurde (gel[öo]st|geschlossen)\b",
)

# Shop-system mail that is not an answer (order/shipping/account), judged by subject.
_TRANSACTIONAL_SUBJECT = _rx(
    r"^(your )?order (#|no\.? ?|number )?[\w-]*\s*(is |has been |was )?(confirmed|received|"
    r"shipped|dispatched|on its way|cancelled|canceled)\b",
    r"\border confirmation\b", r"^(thank(s| you) for your (order|purchase))",
    r"\b(bestellbest[äa]tigung|versandbest[äa]tigung|confirmation de (votre )?commande|"
    r"confirmaci[óo]n (de|del) pedido|orderbevestiging|orderbekr[äa]ftelse|conferma d'ordine|"
    r"conferma dell'ordine)\b",
    r"^(confirm your e-?mail|verify your e-?mail|password reset|reset your password|"
    r"welcome to )",
)

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

_HELPDESK_DOMAINS = {
    "zendesk": ("zendesk.com", "zdusercontent.com", "zendesk.zone"),
    "freshdesk": ("freshdesk.com", "freshemail.io", "freshworks.com", "freshservice.com"),
    "zammad": ("zammad.com", "zammad.org"),
    "helpscout": ("helpscout.net", "helpscout.com", "helpscoutemail.com"),
    "intercom": ("intercom-mail.com", "intercom.io", "intercom-mail-200.com"),
    "gorgias": ("gorgias.com", "gorgias.io", "gorgias-mail.com"),
    "hubspot": ("hubspot.com", "hubspotemail.net", "hs-inbox.com", "hubspot-inbox.com"),
    "salesforce": ("salesforce.com", "force.com", "exacttarget.com"),
    "kayako": ("kayako.com",),
    "reamaze": ("reamaze.com", "reamaze.io"),
    "front": ("frontapp.com", "frontmail.com"),
    "groove": ("groovehq.com",),
    "zoho": ("zohodesk.com", "zohodesk.eu", "zohodesk.in"),
    "jira": ("atlassian.net",),
    "kustomer": ("kustomerapp.com", "kustomer.com"),
    "gladly": ("gladly.com",),
    "happyfox": ("happyfox.com",),
    "liveagent": ("ladesk.com", "liveagent.com"),
    "trengo": ("trengo.eu", "trengo.com"),
    "richpanel": ("richpanel.com",),
    "dixa": ("dixa.io", "dixa.com"),
    "helpcrunch": ("helpcrunch.com",),
    "teamwork": ("teamwork.com",),
}
_HELPDESK_HEADER_PREFIXES = (
    ("x-zendesk-", "zendesk"), ("x-fd-", "freshdesk"), ("x-freshdesk", "freshdesk"),
    ("x-rt-", "rt"), ("rt-ticket", "rt"), ("rt-originator", "rt"), ("x-zammad", "zammad"),
    ("x-helpscout", "helpscout"), ("x-hs-", "helpscout"), ("x-intercom", "intercom"),
    ("x-gorgias", "gorgias"), ("x-hubspot", "hubspot"), ("x-sfdc-", "salesforce"),
    ("x-kayako", "kayako"), ("x-otrs-", "otrs"), ("x-znuny-", "otrs"),
    ("x-jira-fingerprint", "jira"), ("x-reamaze", "reamaze"), ("x-front-", "front"),
    ("x-zohodesk", "zoho"), ("x-osticket", "osticket"), ("x-kustomer", "kustomer"),
    ("x-liveagent", "liveagent"), ("x-happyfox", "happyfox"),
)
_HELPDESK_MAILERS = (
    ("zendesk", "zendesk"), ("freshdesk", "freshdesk"), ("zammad", "zammad"),
    ("request tracker", "rt"), ("bestpractical", "rt"), ("help scout", "helpscout"),
    ("helpscout", "helpscout"), ("intercom", "intercom"), ("gorgias", "gorgias"),
    ("hubspot", "hubspot"), ("salesforce", "salesforce"), ("kayako", "kayako"),
    ("otrs", "otrs"), ("znuny", "otrs"), ("osticket", "osticket"), ("re:amaze", "reamaze"),
    ("frontapp", "front"), ("zoho desk", "zoho"), ("happyfox", "happyfox"),
    ("liveagent", "liveagent"), ("groove", "groove"), ("kustomer", "kustomer"),
    ("freescout", "freescout"), ("uvdesk", "uvdesk"),
)
_RT_MESSAGE_ID = re.compile(r"^rt-\d+\.\d+", re.IGNORECASE)


def _domain_of(value: str) -> str:
    value = value.strip().strip("<>").lower()
    return value.rsplit("@", 1)[-1] if "@" in value else ""


def _domain_helpdesk(domain: str) -> str | None:
    for name, suffixes in _HELPDESK_DOMAINS.items():
        if any(domain == s or domain.endswith("." + s) for s in suffixes):
            return name
    return None


def detect_helpdesk(email: ParsedEmail) -> tuple[str | None, str | None]:
    """(helpdesk name, the evidence) or (None, None)."""
    for name in email.headers:
        for prefix, desk in _HELPDESK_HEADER_PREFIXES:
            if name.startswith(prefix):
                return desk, f"header {name}"
    for header in ("x-mailer", "user-agent", "x-managed-by"):
        value = (email.header(header) or "").lower()
        for needle, desk in _HELPDESK_MAILERS:
            if needle in value:
                return desk, f"header {header}: {email.header(header)}"
    if email.message_id:
        if _RT_MESSAGE_ID.match(email.message_id):
            return "rt", f"RT-style Message-ID <{email.message_id}>"
        desk = _domain_helpdesk(_domain_of(email.message_id))
        if desk:
            return desk, f"Message-ID domain {_domain_of(email.message_id)}"
    candidates = [email.from_addr or "", email.return_path or ""]
    candidates += list(email.reply_to)
    for addr in candidates:
        desk = _domain_helpdesk(_domain_of(addr))
        if desk:
            return desk, f"address domain {_domain_of(addr)}"
    return None, None


# ---------------------------------------------------------------------- header evidence

_NO_REPLY_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|noreply|donotreply|no[-_.]?response|"
    r"mailer[-_.]?daemon|postmaster|bounces?|auto[-_.]?(reply|responder|confirm))([-+_.].*)?$",
    re.IGNORECASE)
_BOUNCE_SUBJECT = _rx(
    r"\b(undeliverable|undelivered mail|delivery status notification \((failure|delay)\)|"
    r"failure notice|mail delivery (failed|failure|subsystem)|returned mail|"
    r"delivery (has )?failed|unzustellbar|non remis|no se puede entregar|onbestelbaar|"
    r"kan inte levereras|non recapitabile)\b")
_GENERIC_AUTO_MAILERS = ("mailchimp", "sendgrid", "sendinblue", "brevo", "klaviyo", "mailjet",
                         "campaign monitor", "constant contact")


def _auto_header_evidence(email: ParsedEmail) -> list[str]:
    """RFC 3834 and friends. Never X-Auto-Response-Suppress."""
    found: list[str] = []
    auto_submitted = (email.header("auto-submitted") or "").strip()
    if auto_submitted and auto_submitted.lower() != "no":
        found.append(f"header Auto-Submitted: {auto_submitted}")
    precedence = (email.header("precedence") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk", "list"):
        found.append(f"header Precedence: {precedence}")
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-loop"):
        if name in email.headers:
            found.append(f"header {name}: {email.header(name)}")
    if (email.header("x-fc-machinegenerated") or "").strip().lower() == "true":
        found.append("header X-FC-Machinegenerated: true")
    for name in ("list-unsubscribe", "list-id"):
        if name in email.headers:
            found.append(f"header {name}")
    mailer = (email.header("x-mailer") or "").lower()
    if any(m in mailer for m in _GENERIC_AUTO_MAILERS):
        found.append(f"bulk mailer {email.header('x-mailer')}")
    local = (email.from_addr or "").split("@", 1)[0]
    if local and _NO_REPLY_LOCAL.match(local):
        found.append(f"no-reply sender {email.from_addr}")
    return found


def _is_auto_reply(email: ParsedEmail) -> bool:
    """RFC 3834 auto-reply markers (not bulk/newsletter ones): enough to trust absence words."""
    if "auto-replied" in (email.header("auto-submitted") or "").lower():
        return True
    if (email.header("precedence") or "").strip().lower() == "auto_reply":
        return True
    return any(h in email.headers for h in ("x-autoreply", "x-autorespond", "x-autoresponder"))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # callers should pass aware UTC; naive is taken as UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _ooo_header_evidence(email: ParsedEmail) -> list[str]:
    found: list[str] = []
    auto_submitted = (email.header("auto-submitted") or "").lower()
    if "vacation" in auto_submitted:
        found.append(f"header Auto-Submitted: {email.header('auto-submitted')}")
    elif "auto-replied" in auto_submitted and "owner-email=" in auto_submitted:
        found.append("header Auto-Submitted: auto-replied; owner-email= (mailbox auto-reply)")
    if (email.header("x-autoreply") or "").strip().lower() in ("yes", "true", "1"):
        found.append("header X-Autoreply: yes")
    source = (email.header("x-ms-exchange-generated-message-source") or "").lower()
    if "x-ms-exchange-inbox-rules-loop" in email.headers and "mailbox rules agent" in source:
        found.append("Exchange Inbox-Rules-Loop + Mailbox Rules Agent")
    return found


# ---------------------------------------------------------------------------- wording


@dataclass(frozen=True)
class _Wording:
    ack: list[str]
    strong_ack: bool  # receipt/subject/automation wording, not just "thanks + we'll reply"
    transactional: list[str]
    other: list[str]
    automation: list[str]
    ooo: list[str]
    words: int


_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|vs|r|antw|antwort|odp|ynt|res|rv)\s*(\[\d+\])?\s*[:：]",
                           re.IGNORECASE)


def _hit(pattern: re.Pattern[str], text: str, label: str) -> str | None:
    m = pattern.search(text)
    return f"{label} {m.group(0).strip()!r}" if m else None


def _wording(email: ParsedEmail, core_subject: str) -> _Wording:
    body = own_text(email.text)
    flat = " ".join(body.split())
    ack: list[str] = []
    # "Re: Thank you for contacting us" is a person answering under the ack's subject.
    if not _REPLY_PREFIX.match(email.subject or ""):
        hit = (_hit(_ACK_SUBJECT, " ".join((email.subject or "").split()), "ack subject")
               or _hit(_ACK_SUBJECT, core_subject, "ack subject"))
        if hit:
            ack.append(hit)
    hit = _hit(_RECEIPT_WORDING, flat, "receipt wording")
    if hit:
        ack.append(hit)
    thanks = _hit(_THANKS_WORDING, flat, "thanks wording")
    promise = _hit(_PROMISE_WORDING, flat, "promise wording")
    if thanks and promise:
        ack.append(f"{thanks} + {promise}")
    automation = [h for h in [_hit(_AUTOMATION_WORDING, flat, "automation wording")] if h]
    ticket = _hit(_TICKET_REFERENCE, flat, "ticket reference")
    if ticket and (automation or promise):
        ack.append(f"{ticket} + {(automation or [promise])[0]}")
    other = [h for h in [_hit(_OTHER_HELPDESK_WORDING, flat + " " + core_subject,
                              "notification wording")] if h]
    ooo = [h for h in [_hit(_OOO_BODY, flat, "absence wording")] if h]
    transactional = []
    if not _REPLY_PREFIX.match(email.subject or ""):
        transactional = [h for h in [_hit(_TRANSACTIONAL_SUBJECT, core_subject,
                                          "transactional subject")] if h]
    strong = bool(automation) or any(a.startswith(("ack subject", "receipt")) for a in ack)
    return _Wording(ack=ack, strong_ack=strong, transactional=transactional, other=other,
                    automation=automation, ooo=ooo, words=len(flat.split()))


# ------------------------------------------------------------------------------ rules


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.1f} min"


def classify(email: ParsedEmail, *, sent_at: datetime | None = None,
             is_first_from_company: bool = False,
             arrived_at: datetime | None = None) -> Classification:
    """Classify one incoming message; the first matching rule wins (module docstring).

    sent_at: when the probe was sent; arrived_at: the IMAP INTERNALDATE of this message
    (falls back to the top Received header). is_first_from_company: no earlier message from
    the company matched this probe. Together they drive the "too fast to be a person" rule.
    """
    reasons: list[str] = []
    subject = email.subject or ""
    core_subject = strip_subject_prefixes(subject)
    helpdesk, helpdesk_evidence = detect_helpdesk(email)
    from_local = (email.from_addr or "").split("@", 1)[0]

    def done(kind: MailKind, review: bool = False) -> Classification:
        return Classification(kind=kind, helpdesk=helpdesk, reasons=tuple(reasons),
                              review=review)

    # 1. bounce
    if email.is_dsn or email.content_type == "multipart/report":
        if email.report_type == "disposition-notification":
            reasons.append("read receipt (multipart/report disposition-notification)")
            return done(MailKind.AUTO_OTHER)
        if not email.is_dsn:
            reasons.append(f"machine report ({email.report_type}), not a delivery failure")
            return done(MailKind.AUTO_OTHER)
        if email.dsn_actions and not any(a.startswith("fail") for a in email.dsn_actions):
            reasons.append(f"delivery status without failure (Action: "
                           f"{', '.join(email.dsn_actions)})")
            return done(MailKind.AUTO_OTHER)
        reasons.append(f"delivery status report ({email.content_type})")
        return done(MailKind.BOUNCE)
    daemon = from_local in ("mailer-daemon", "postmaster")
    if daemon and (email.return_path == "" or _BOUNCE_SUBJECT.search(subject)
                   or "x-failed-recipients" in email.headers):
        reasons.append(f"bounce from {email.from_addr}")
        return done(MailKind.BOUNCE)
    if "x-failed-recipients" in email.headers and _BOUNCE_SUBJECT.search(subject):
        reasons.append("X-Failed-Recipients with a bounce subject")
        return done(MailKind.BOUNCE)

    auto_evidence = _auto_header_evidence(email)
    wording = _wording(email, core_subject)
    arrival = _utc(arrived_at) or email.received_at
    sent = _utc(sent_at)
    delay = (arrival - sent) if (arrival and sent) else None

    def ack_review() -> bool:
        if delay is not None and delay > LATE_ACK:
            reasons.append(f"late for an acknowledgement ({_minutes(delay)} after sending)")
            return True
        return False

    def holding_reply() -> bool:
        """Only "thanks, we'll get back to you", hours after sending: a person stalling."""
        if wording.strong_ack or delay is None or delay <= LATE_ACK:
            return False
        reasons.append(f"but only weak ack wording, {_minutes(delay)} after sending: "
                       "a person's holding reply")
        return True

    # 2. out of office
    ooo: list[str] = []
    if _OOO_SUBJECT.search(core_subject):
        ooo.append(f"out-of-office subject {subject!r}")
    ooo += _ooo_header_evidence(email)
    if not ooo and not helpdesk and _is_auto_reply(email):
        weak = _hit(_OOO_SUBJECT_WEAK, core_subject, "absence subject")
        if weak or wording.ooo:
            ooo.append(weak or wording.ooo[0])
            ooo.extend(auto_evidence[:1])
    if ooo:
        reasons.extend(ooo)
        if wording.ack and not wording.ooo:
            # A shared support mailbox whose "automatic reply" confirms receipt.
            reasons.extend(wording.ack)
            reasons.append("automatic reply worded as an acknowledgement")
            return done(MailKind.AUTO_ACK, review=ack_review())
        reasons.extend(wording.ooo)
        return done(MailKind.OUT_OF_OFFICE)

    # 3. helpdesk: its headers say nothing about who wrote the text
    if helpdesk:
        reasons.append(f"helpdesk {helpdesk} ({helpdesk_evidence})")
        if auto_evidence:
            reasons.append("ignoring helpdesk automation headers: " + "; ".join(auto_evidence))
        if wording.other and not wording.ack:
            reasons.extend(wording.other)
            return done(MailKind.AUTO_OTHER)
        if wording.ack or wording.automation:
            reasons.extend(wording.ack or wording.automation)
            if holding_reply():
                return done(MailKind.HUMAN, review=True)
            return done(MailKind.AUTO_ACK, review=ack_review())
        if is_first_from_company and delay is not None and (
                -CLOCK_TOLERANCE <= delay <= AUTO_ACK_WINDOW):
            source = "arrival" if arrived_at else "top Received header"
            reasons.append(f"first helpdesk message, {source} {delay.total_seconds():.0f} s "
                           "after sending: too fast for a person")
            return done(MailKind.AUTO_ACK, review=True)
        reasons.append("no acknowledgement wording: agent reply")
        return done(MailKind.HUMAN, review=_short_review(wording, reasons))

    # 4. generic automation headers
    if auto_evidence:
        reasons.extend(auto_evidence)
        if wording.ack:
            reasons.extend(wording.ack)
            return done(MailKind.AUTO_ACK, review=ack_review())
        reasons.extend(wording.other or wording.automation)
        return done(MailKind.AUTO_OTHER)

    # 5. acknowledgement wording alone
    if wording.ack:
        reasons.append("acknowledgement wording without automation headers")
        reasons.extend(wording.ack)
        if holding_reply():
            return done(MailKind.HUMAN, review=True)
        return done(MailKind.AUTO_ACK_SUSPECT, review=True)
    if wording.transactional:
        reasons.append("shop-system wording without automation headers")
        reasons.extend(wording.transactional)
        return done(MailKind.AUTO_OTHER, review=True)
    if wording.automation:
        reasons.append("says it is automatic, without automation headers")
        reasons.extend(wording.automation)
        return done(MailKind.AUTO_OTHER, review=True)

    # 6. human
    reasons.append("no automation evidence")
    return done(MailKind.HUMAN, review=_short_review(wording, reasons))


def _short_review(wording: _Wording, reasons: list[str]) -> bool:
    if wording.words < SHORT_BODY_WORDS:
        reasons.append(f"very short body ({wording.words} words): check by hand")
        return True
    return False


__all__ = ["AUTOMATIC_KINDS", "Classification", "MailKind", "classify", "detect_helpdesk",
           "own_text"]
