"""Composing a probe's email: token, Message-ID, reply address, reference, the message itself.

Everything here is pure and deterministic from the probe's token, so a process that crashed
after sending can recognise its own message (same Message-ID) instead of sending a second one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lower case: safe in local parts
TOKEN_LENGTH = 10


def new_token() -> str:
    """A random probe token: 10 base32 characters (50 bits)."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def _digest(token: str, purpose: str) -> bytes:
    return hashlib.sha256(f"svcbench:{purpose}:{token}".encode()).digest()


def message_id_for(token: str, domain: str) -> str:
    """``<{token}.{rand}@{domain}>`` where ``rand`` is derived from the token (retry-stable)."""
    rand = _digest(token, "message-id").hex()[:12]
    return f"<{token}.{rand}@{domain}>"


def reference_for(token: str) -> str:
    """A natural-looking customer/order number derived from the token: 8 digits.

    Agents quote it; it does not look like a tracking tag.
    """
    number = int.from_bytes(_digest(token, "reference")[:8], "big") % 10**8
    return f"{number:08d}"


def reply_address(email: str, token: str, plus_addressing: bool) -> str:
    """``local+token@domain`` when the shopper's provider supports plus-addressing."""
    if not plus_addressing:
        return email.lower()
    local, _, domain = email.partition("@")
    return f"{local}+{token}@{domain}".lower()


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


@dataclass(frozen=True)
class Outgoing:
    """What a probe sends and what it must remember to match replies."""

    message: EmailMessage
    message_id: str
    to: str
    reply_to: str
    ref: str


def compose(*, token: str, shopper_name: str, shopper_email: str, plus_addressing: bool,
            to: str, subject: str, question: str, date: datetime) -> Outgoing:
    """The probe email. ``{ref}`` in the question is replaced by the reference number;
    without it one natural sentence carrying the reference is added."""
    ref = reference_for(token)
    reply_to = reply_address(shopper_email, token, plus_addressing)
    message_id = message_id_for(token, domain_of(shopper_email))
    if "{ref}" in question:
        body = question.replace("{ref}", ref)
    else:
        body = question.rstrip() + f"\n\nMy customer number is {ref}, in case you need it."
    body = body.rstrip() + f"\n\n{shopper_name}\n"
    msg = EmailMessage()
    msg["From"] = formataddr((shopper_name, reply_to))
    msg["To"] = to
    msg["Subject"] = subject.replace("{ref}", ref)
    msg["Date"] = format_datetime(date.astimezone())
    msg["Message-ID"] = message_id
    msg["MIME-Version"] = "1.0"
    msg.set_content(body)
    return Outgoing(message=msg, message_id=message_id, to=to, reply_to=reply_to, ref=ref)
