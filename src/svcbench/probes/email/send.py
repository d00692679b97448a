"""SMTP submission: send one message and note the instant the server accepted it.

Errors are sorted into "try again later" (server down, 4xx) and "our side is broken"
(authentication, 5xx, TLS trust): the probe is then retried or failed, never blamed on the
company. Messages never contain the password.
"""

from __future__ import annotations

import os
import signal
import smtplib
import ssl
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from ...deadline import Watchdog
from ...errors import ProbeError, RetryableProbeError, StartUnknownError
from ...models import utcnow

#: test hook: SIGKILL this process right after the server accepted the message
KILL_AFTER_SEND_ENV = "SVCBENCH_TEST_KILL_AFTER_SEND"


class DeliveryUnknown(StartUnknownError):
    """The connection was lost during DATA: the server may have taken the message."""


def tls_context(ca_file: Path | str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def _where(host: str, port: int) -> str:
    return f"SMTP {host}:{port}"


def submit(message: EmailMessage, *, host: str, port: int, security: str,
           username: str | None, password: str | None, mail_from: str,
           recipients: Sequence[str], ca_file: Path | str | None = None,
           timeout: float = 30.0, clock: Callable[[], datetime] = utcnow,
           deadline: float | None = None) -> datetime:
    """Send ``message`` to ``recipients``; return the instant the server answered 250 to DATA.

    ``timeout`` bounds each read, ``deadline`` (seconds) the whole session. Raises
    RetryableProbeError (connection refused/timed out, 4xx, deadline before DATA),
    DeliveryUnknown (connection lost during DATA) or ProbeError (auth, 5xx, TLS), with a
    one-line reason.
    """
    where = _where(host, port)
    data = message.as_bytes()
    started_data = False
    watchdog = Watchdog.after(deadline, "smtp")
    try:
        client = _client(host, security, ca_file, timeout, watchdog)
        try:
            _hello(client, host, port, security, ca_file, username, password)
            code, reply = client.mail(mail_from)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, mail_from)
            refused = {}
            for rcpt in recipients:
                code, reply = client.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, reply)
            if recipients[0] in refused:  # the company's address is the one that matters
                raise smtplib.SMTPRecipientsRefused(refused)
            started_data = True
            code, reply = client.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
            accepted_at = clock()
            if os.environ.get(KILL_AFTER_SEND_ENV) == "1":
                os.kill(os.getpid(), signal.SIGKILL)
        finally:
            _quit(client)
        return accepted_at
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise _reason(exc, where, username, started_data, watchdog) from None
    finally:
        watchdog.stop()


def login(*, host: str, port: int, security: str, username: str | None,
          password: str | None, ca_file: Path | str | None = None,
          timeout: float = 10.0) -> None:
    """Connect, greet, STARTTLS/TLS and log in as ``submit`` does, then QUIT (what
    ``config check --connect`` verifies); raises as ``submit`` does."""
    watchdog = Watchdog.after(timeout, "smtp")
    try:
        client = _client(host, security, ca_file, timeout, watchdog)
        try:
            _hello(client, host, port, security, ca_file, username, password)
        finally:
            _quit(client)
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise _reason(exc, _where(host, port), username, False, watchdog) from None
    finally:
        watchdog.stop()


def _client(host: str, security: str, ca_file: Path | str | None, timeout: float,
            watchdog: Watchdog) -> smtplib.SMTP:
    # connect after the watchdog is armed: a trickled greeting must be bounded too
    if security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(timeout=timeout, context=tls_context(ca_file))
    else:
        client = smtplib.SMTP(timeout=timeout)
    client._host = host  # smtplib verifies TLS against the host given to __init__
    watchdog.follow(lambda: client.sock).start()
    return client


def _hello(client: smtplib.SMTP, host: str, port: int, security: str,
           ca_file: Path | str | None, username: str | None, password: str | None) -> None:
    code, reply = client.connect(host, port)
    if code != 220:
        raise smtplib.SMTPConnectError(code, reply)
    client.ehlo()
    if security == "starttls":
        client.starttls(context=tls_context(ca_file))
        client.ehlo()
    if username:
        client.login(username, password or "")


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _reason(exc: BaseException, where: str, username: str | None, started_data: bool,
            watchdog: Watchdog) -> ProbeError:
    """The one-line error ``exc`` means, sorted into retry / unknown delivery / our side
    (checked in this order: SMTPException is an OSError)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ProbeError(f"{where}: authentication failed for user {username!r} "
                          f"({exc.smtp_code} {_text(exc.smtp_error)})")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ProbeError(f"{where}: {exc} (check shopper.smtp.security)")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{r}: {c} {_text(t)}" for r, (c, t) in exc.recipients.items())
        if all(400 <= c < 500 for c in codes):
            return RetryableProbeError(f"{where}: recipient deferred ({detail})")
        return ProbeError(f"{where}: recipient refused ({detail})")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"{where}: server said {exc.smtp_code} {_text(exc.smtp_error)}"
        return RetryableProbeError(text) if 400 <= exc.smtp_code < 500 else ProbeError(text)
    if isinstance(exc, ssl.SSLError):
        return ProbeError(f"{where}: TLS failed: {exc.reason or exc} "
                          "(self-signed server? set shopper.smtp.ca_file)")
    cause = watchdog.error() if watchdog.expired else exc
    if started_data:
        # the server may or may not have taken the message: retrying could send it twice
        return DeliveryUnknown(f"{where}: connection lost during DATA, delivery unknown "
                               f"({type(cause).__name__}: {cause})")
    return RetryableProbeError(f"{where}: cannot connect or connection lost "
                               f"({type(cause).__name__}: {cause})")


def _text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(value.split())[:200]
