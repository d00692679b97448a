"""A mail sandbox: the shopper's mailbox (Dovecot or pymap), SMTP submission (aiosmtpd, with
STARTTLS and implicit TLS ports) and simulated companies that answer at known instants.

    with MailSandbox(workdir, companies=[CompanyBehaviour("acme", ack_after_s=0.5,
                                                          human_after_s=2)]) as sandbox:
        shopper = sandbox.shopper_config()          # [[shopper]] table, password via env var
        os.environ.update(sandbox.env())
        ...
        sandbox.ground_truth                        # each simulated reply's delivery instant

Everything listens on 127.0.0.1 only. Ground truth is also written to
``workdir/ground_truth.json`` after every delivery so other processes can read it.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, make_msgid
from pathlib import Path
from typing import Any

from ..models import format_instant, utcnow
from ..tomlwrite import toml_table
from .mail_servers import DovecotServer, PymapServer, free_ports, imap_server, make_certificate

PASSWORD_ENV = "SVCBENCH_SANDBOX_PASSWORD"


@dataclass
class CompanyBehaviour:
    """How a simulated company answers email. Delays are seconds after our message arrived."""

    id: str
    name: str | None = None
    address: str | None = None  # default support@{id}.test
    #: automatic acknowledgement after this many seconds (None: none)
    ack_after_s: float | None = 0.5
    #: a human answer after this many seconds (None: never)
    human_after_s: float | None = 2.0
    #: replies carry helpdesk (Zendesk-like) headers, as real helpdesks stamp even humans
    helpdesk: bool = True
    #: the human answers from this other address, unthreaded: only a probable match finds it
    human_from: str | None = None
    #: the address does not exist: a delivery failure report comes back instead
    bounce_after_s: float | None = None
    human_text: str = ("Hello,\n\nthanks for your question. Yes, we ship to Norway: delivery takes "
                       "5-7 working days and costs 9.90 EUR. Returns are free within 30 days "
                       "and your refund arrives within a week.\n\nKind regards,\nJulia")

    @property
    def email(self) -> str:
        return (self.address or f"support@{self.id}.test").lower()

    @property
    def display_name(self) -> str:
        return self.name or self.id.replace("-", " ").title()

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    def company_config(self) -> dict[str, Any]:
        """A ``[[company]]`` table for this simulated company (open around the clock)."""
        return {"id": self.id, "name": self.display_name, "website": f"https://www.{self.domain}",
                "timezone": "UTC", "channels": {"email": {"address": self.email}}}


@dataclass
class Delivery:
    """One simulated reply put into the shopper's mailbox: the ground truth."""

    company: str
    kind: str  # ack | human | bounce
    to: str
    message_id: str
    in_reply_to: str | None  # the Message-ID of the shopper's email it answers
    scheduled_s: float
    delivered_at: datetime


@dataclass
class Received:
    """A message our SMTP submission server accepted."""

    at: datetime
    mail_from: str
    rcpt_tos: list[str]
    message_id: str | None
    subject: str | None


@dataclass
class MailSandbox:
    workdir: Path
    companies: list[CompanyBehaviour] = field(default_factory=list)
    shopper_email: str = "anna@shopper.test"
    shopper_name: str = "Anna Berg"
    backend: str = "auto"  # auto | dovecot | pymap

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.password = secrets.token_urlsafe(12)
        self.received: list[Received] = []
        self.ground_truth: list[Delivery] = []
        self.imap: DovecotServer | PymapServer | None = None
        self._controllers: list[Any] = []
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()
        self.smtp_starttls_port = self.smtp_tls_port = 0
        self.cert_file: Path | None = None
        self._by_address = {c.email: c for c in self.companies}
        #: fault injection: called with each accepted message after delivery, before the
        #: server answers; returning "drop" closes the connection instead of answering 250
        self.on_data: Callable[[Received], str | None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> MailSandbox:
        from aiosmtpd.controller import Controller

        self.workdir.mkdir(parents=True, exist_ok=True)
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's chatter
        warnings.filterwarnings("ignore", "Session.login_data")
        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
        self.imap = imap_server({self.shopper_email: self.password}, self.backend).start()
        try:
            if self.imap.cert_file is not None:
                self.cert_file = self.imap.cert_file
                key = self.cert_file.with_name("key.pem")
            else:
                self.cert_file, key = make_certificate(self.workdir)
            server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_tls.load_cert_chain(str(self.cert_file), str(key))
            handler = _Handler(self)
            self.smtp_starttls_port, self.smtp_tls_port = free_ports(2)
            common = {"hostname": "127.0.0.1", "auth_required": True,
                      "authenticator": _Authenticator(self.shopper_email, self.password)}
            starttls = Controller(handler, port=self.smtp_starttls_port, tls_context=server_tls,
                                  require_starttls=True, auth_require_tls=True, **common)
            # aiosmtpd only counts STARTTLS as TLS: with implicit TLS it must not require it
            implicit = Controller(handler, port=self.smtp_tls_port, ssl_context=server_tls,
                                  auth_require_tls=False, **common)
            for controller in (starttls, implicit):
                controller.start()
                self._controllers.append(controller)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        for controller in self._controllers:
            controller.stop()
        self._controllers.clear()
        if self.imap is not None:
            self.imap.stop()
            self.imap = None

    def __enter__(self) -> MailSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> MailSandbox:
        import asyncio

        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)

    # -- configuration for a workspace ------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {PASSWORD_ENV: self.password}

    @property
    def imap_security(self) -> str:
        return "tls" if isinstance(self.imap, DovecotServer) else "none"

    def shopper_config(self, *, id: str = "anna", smtp_security: str = "starttls",
                       imap_security: str | None = None,
                       folders: list[str] | None = None) -> dict[str, Any]:
        """A ``[[shopper]]`` table pointing at this sandbox (password via ``PASSWORD_ENV``)."""
        assert self.imap is not None, "start the sandbox first"
        imap_security = imap_security or self.imap_security
        imap_port = self.imap.imaps_port if imap_security == "tls" else self.imap.imap_port
        common = {"host": "127.0.0.1", "username": self.shopper_email,
                  "password_env": PASSWORD_ENV, "timeout_s": 10.0}
        if self.cert_file is not None:
            common["ca_file"] = str(self.cert_file)
        smtp_port = self.smtp_tls_port if smtp_security == "tls" else self.smtp_starttls_port
        return {
            "id": id, "name": self.shopper_name, "email": self.shopper_email,
            "plus_addressing": True,
            "smtp": {**common, "port": smtp_port, "security": smtp_security},
            "imap": {**common, "port": imap_port, "security": imap_security,
                     "folders": folders or ["INBOX"]},
        }

    def companies_config(self) -> list[dict[str, Any]]:
        return [c.company_config() for c in self.companies]

    def workspace_toml(self, **shopper_options: Any) -> str:
        """TOML for a probes/*.toml file: the shopper and every simulated company."""
        parts = [toml_table("shopper", self.shopper_config(**shopper_options))]
        parts += [toml_table("company", c) for c in self.companies_config()]
        return "\n".join(parts)

    # -- mail handling ----------------------------------------------------------------------

    def is_shopper(self, address: str) -> bool:
        local, _, domain = address.lower().partition("@")
        mine_local, _, mine_domain = self.shopper_email.partition("@")
        return domain == mine_domain and local.split("+", 1)[0] == mine_local

    def deliver(self, rcpt: str, raw: bytes, mail_from: str = "") -> datetime:
        """Put a message into the shopper's mailbox; returns when the server accepted it."""
        assert self.imap is not None
        return self.imap.deliver(rcpt, raw, mail_from)

    def accept(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> Received:
        original = message_from_bytes(raw, policy=policy.default)
        for rcpt in rcpt_tos:
            if self.is_shopper(rcpt):
                self.deliver(rcpt, raw, mail_from)
        received = Received(
            at=utcnow(), mail_from=mail_from, rcpt_tos=list(rcpt_tos),
            message_id=str(original.get("Message-ID") or "") or None,
            subject=str(original.get("Subject") or "") or None)
        with self._lock:
            self.received.append(received)
        for rcpt in rcpt_tos:
            company = self._by_address.get(rcpt.lower())
            if company is not None:
                self._schedule_replies(company, mail_from, original)
        return received

    def _schedule_replies(self, company: CompanyBehaviour, mail_from: str,
                          original: EmailMessage) -> None:
        plan: list[tuple[str, float]] = []
        if company.bounce_after_s is not None:
            plan.append(("bounce", company.bounce_after_s))
        else:
            if company.ack_after_s is not None:
                plan.append(("ack", company.ack_after_s))
            if company.human_after_s is not None:
                plan.append(("human", company.human_after_s))
        for kind, delay in plan:
            timer = threading.Timer(delay, self._reply, (company, kind, delay, mail_from,
                                                         original))
            timer.daemon = True
            with self._lock:
                self._timers.append(timer)
            timer.start()

    def _reply(self, company: CompanyBehaviour, kind: str, delay: float, mail_from: str,
               original: EmailMessage) -> None:
        if self.imap is None:
            return
        reply_to = _first_address(original.get("Reply-To")) or _first_address(
            original.get("From")) or mail_from
        original_id = str(original.get("Message-ID") or "").strip() or None
        if kind == "bounce":
            to = mail_from or reply_to
            raw = _bounce(company, self.shopper_email, to, original)
            envelope_from = ""
        elif kind == "human" and company.human_from:
            to = self.shopper_email  # a new email to the plain address, not threaded
            raw = _personal_reply(company, to, original)
            envelope_from = company.human_from
        else:
            to = reply_to
            raw = _helpdesk_reply(company, kind, to, original)
            envelope_from = company.email
        message_id = str(message_from_bytes(raw).get("Message-ID"))
        try:
            at = self.deliver(to, raw, envelope_from)
        except Exception:  # noqa: BLE001 - the sandbox was stopped meanwhile
            return
        with self._lock:
            self.ground_truth.append(Delivery(company.id, kind, to, message_id, original_id,
                                              delay, at))
            self._write_ground_truth()

    def _write_ground_truth(self) -> None:
        rows = [{**asdict(d), "delivered_at": format_instant(d.delivered_at)}
                for d in self.ground_truth]
        sent = [{**asdict(r), "at": format_instant(r.at)} for r in self.received]
        path = self.workdir / "ground_truth.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"received": sent, "deliveries": rows}, indent=1))
        tmp.replace(path)


class _Authenticator:
    def __init__(self, user: str, password: str):
        self.user, self.password = user, password

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.user
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)


class _Handler:
    def __init__(self, sandbox: MailSandbox):
        self.sandbox = sandbox

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.sandbox.is_shopper(address) or address.lower() in self.sandbox._by_address:
            envelope.rcpt_tos.append(address)
            return "250 OK"
        return "550 5.1.1 no such user here"

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        try:
            received = await asyncio.to_thread(self.sandbox.accept, envelope.mail_from or "",
                                               list(envelope.rcpt_tos), raw)
        except Exception as exc:  # noqa: BLE001 - tell the client, as a real server would
            return f"451 4.3.0 local delivery failed: {type(exc).__name__}"
        hook = self.sandbox.on_data
        if hook is not None and await asyncio.to_thread(hook, received) == "drop":
            # taken and delivered, but the client never hears 250: "delivery unknown"
            server.transport.abort()
            return "421 4.4.2 connection dropped"
        return "250 2.0.0 Message accepted"


# -- simulated replies --------------------------------------------------------------------------


def _first_address(value: object) -> str | None:
    if not value:
        return None
    found = [addr for _, addr in getaddresses([str(value)]) if "@" in addr]
    return found[0].lower() if found else None


def _subject(original: EmailMessage) -> str:
    return str(original.get("Subject") or "").strip()


def _helpdesk_reply(company: CompanyBehaviour, kind: str, to: str,
                    original: EmailMessage) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((f"{company.display_name} Support", company.email))
    msg["To"] = to
    original_id = str(original.get("Message-ID") or "").strip()
    ticket = secrets.randbelow(90000) + 10000
    if kind == "ack":
        msg["Subject"] = f"Request received: {_subject(original)}"
        body = (f"Hello,\n\nthank you for contacting {company.display_name}. We have received "
                f"your request (#{ticket}) and a member of our team will get back to you "
                "shortly.\n\nThis is an automated message, please do not reply.")
    else:
        msg["Subject"] = f"Re: {_subject(original)}"
        body = company.human_text
    if company.helpdesk:
        msg["Message-ID"] = make_msgid(idstring=f"{ticket}_sprut", domain="zendesk.com")
        # helpdesks stamp every outgoing email like this, human answers included
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["X-Mailer"] = "Zendesk Mailer"
        msg["X-Zendesk-From-Account-Id"] = "7f3a21"
    else:
        msg["Message-ID"] = make_msgid(domain=company.domain)
        if kind == "ack":
            msg["Auto-Submitted"] = "auto-replied"
    if original_id:
        msg["In-Reply-To"] = original_id
        msg["References"] = original_id
    msg["Date"] = format_datetime(utcnow())
    msg.set_content(body)
    return msg.as_bytes()


def _personal_reply(company: CompanyBehaviour, to: str, original: EmailMessage) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr(("Julia Meyer", company.human_from or company.email))
    msg["To"] = to
    msg["Subject"] = f"Re: {_subject(original)}"
    msg["Message-ID"] = make_msgid(domain=(company.human_from or company.email).split("@")[1])
    msg["Date"] = format_datetime(utcnow())
    msg.set_content(company.human_text)
    return msg.as_bytes()


def _bounce(company: CompanyBehaviour, shopper_email: str, to: str,
            original: EmailMessage) -> bytes:
    domain = shopper_email.rpartition("@")[2]
    boundary = f"bounce{secrets.token_hex(6)}"
    headers = "".join(f"{k}: {v}\r\n" for k, v in original.items() if k.lower() != "bcc")
    text = (
        f"From: Mail Delivery System <MAILER-DAEMON@{domain}>\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(utcnow())}\r\n"
        f"Message-ID: {make_msgid(domain=domain)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system. Your message could not be delivered to one or more\r\n"
        f"recipients.\r\n\r\n<{company.email}>: host mx.{company.domain} said: 550 5.1.1 "
        "User unknown\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.{domain}\r\n\r\n"
        f"Final-Recipient: rfc822; {company.email}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{company.email}>: User unknown\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"{headers}\r\n"
        f"--{boundary}--\r\n"
    )
    return text.encode("utf-8", "replace")
