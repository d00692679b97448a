"""Helpers for the email tests and benches: a sandbox-backed workspace and probes in it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from svcbench.models import Channel, Probe, ProbeStatus, new_id, utcnow
from svcbench.plugins import Secrets
from svcbench.sandbox.mail import MailSandbox
from svcbench.sandbox.mail_servers import DovecotServer, dovecot_available
from svcbench.workspace import Workspace, init_workspace

needs_dovecot = pytest.mark.skipif(
    not dovecot_available(),
    reason="Dovecot is not installed (or not running as root); run scripts/install-system-deps",
)

SCENARIO = '''
[[scenario]]
id = "shipping"
subject = "Delivery to Norway"
question = """Hello,

do you ship to Norway, and how long does delivery take?

Thank you!"""
'''


def make_workspace(directory: Path, sandbox: MailSandbox, **shopper_options) -> Workspace:
    """A workspace whose shopper and companies are the sandbox's."""
    root = init_workspace(directory, examples=False)
    (root / "probes" / "sandbox.toml").write_text(
        sandbox.workspace_toml(**shopper_options) + SCENARIO)
    return Workspace.open(root)


def context(ws: Workspace, sandbox: MailSandbox, **kwargs):
    return ws.context(secrets=Secrets(sandbox.env()), **kwargs)


def add_probe(ws: Workspace, company: str, *, status: ProbeStatus = ProbeStatus.STARTING,
              deadline: timedelta = timedelta(hours=1), token: str | None = None) -> Probe:
    now = utcnow()
    probe = Probe(id=new_id(), company=company, channel=Channel.EMAIL, plugin="email",
                  scenario="shipping", shopper="anna", status=status, due_at=now,
                  deadline_at=now + deadline, token=token)
    ws.store.add_probe(probe)
    return probe


def dovecot(users: dict[str, str]) -> DovecotServer:
    """A Dovecot alone, for IMAP-only tests (stop it when done)."""
    return DovecotServer(users).start()


USER = "anna@shopper.test"
PASSWORD = "imap-secret-pw"
PASSWORD_ENV = "SVCBENCH_TEST_IMAP_PASSWORD"

COMPANY = {"id": "acme", "name": "Acme", "website": "https://www.acme.test", "timezone": "UTC",
           "channels": {"email": {"address": "support@acme.test"}}}


def imap_workspace(directory: Path, server: DovecotServer, *, folders=("INBOX",),
                   security: str = "none") -> Workspace:
    """A workspace whose shopper reads ``server`` (no SMTP) and one company, acme."""
    from svcbench.tomlwrite import toml_table as _toml_table

    port = server.imaps_port if security == "tls" else server.imap_port
    shopper = {"id": "anna", "name": "Anna Berg", "email": USER, "plus_addressing": True,
               "imap": {"host": "127.0.0.1", "port": port, "security": security,
                        "username": USER, "password_env": PASSWORD_ENV,
                        "ca_file": str(server.cert_file), "timeout_s": 10.0,
                        "folders": list(folders)}}
    root = init_workspace(directory, examples=False)
    (root / "probes" / "mail.toml").write_text(
        _toml_table("shopper", shopper) + _toml_table("company", COMPANY) + SCENARIO)
    return Workspace.open(root)


def secrets(password: str = PASSWORD) -> Secrets:
    return Secrets({PASSWORD_ENV: password})


def sent_probe(ws: Workspace, token: str, *, company: str = "acme",
               sent_ago: timedelta = timedelta(minutes=5)) -> Probe:
    """A running email probe as if sent ``sent_ago`` (no SMTP involved)."""
    from svcbench.models import format_instant
    from svcbench.probes.email.compose import message_id_for, reference_for

    sent = utcnow() - sent_ago
    probe = Probe(id=new_id(), company=company, channel=Channel.EMAIL, plugin="email",
                  scenario="shipping", shopper="anna", status=ProbeStatus.RUNNING,
                  due_at=sent, started_at=sent, deadline_at=sent + timedelta(days=3),
                  token=token,
                  state={"message_id": message_id_for(token, "shopper.test"),
                         "reply_to": f"anna+{token}@shopper.test", "to": "support@acme.test",
                         "ref": reference_for(token), "subject": "Delivery to Norway",
                         "sent_at": format_instant(sent)})
    ws.store.add_probe(probe)
    return probe


def reply_bytes(*, subject: str = "Re: Delivery to Norway", sender: str = "agent@acme.test",
                to: str = USER, in_reply_to: str | None = None, body: str = "Yes we do.",
                message_id: str | None = None, extra: str = "") -> bytes:
    from email.utils import format_datetime, make_msgid

    lines = [f"From: Agent <{sender}>", f"To: {to}", f"Subject: {subject}",
             f"Date: {format_datetime(utcnow())}",
             f"Message-ID: {message_id or make_msgid(domain='acme.test')}"]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    head = "\r\n".join(lines) + ("\r\n" + extra.strip() if extra else "")
    return (head + "\r\n\r\n" + body + "\r\n").encode()


def noise(n: int, start: int = 0) -> list[bytes]:
    return [reply_bytes(subject=f"Newsletter {i}: autumn sale", sender=f"news@shop{i}.example",
                        body="Big discounts!", extra="List-Unsubscribe: <mailto:u@x.example>")
            for i in range(start, start + n)]
