"""Email probe (being written): send by SMTP, collect by IMAP, match, classify."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ...models import Channel
from ...plugins import ProbePlugin


class EmailEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str


class EmailProbe(ProbePlugin):
    name = "email"
    channel = Channel.EMAIL
    endpoint_model = EmailEndpoint
