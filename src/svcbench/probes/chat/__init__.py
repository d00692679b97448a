"""Chat probe (being written): live-chat sessions through connectors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ...models import Channel
from ...plugins import ProbePlugin


class ChatEndpoint(BaseModel):
    model_config = ConfigDict(extra="allow")
    connector: str


class ChatProbe(ProbePlugin):
    name = "chat"
    channel = Channel.CHAT
    endpoint_model = ChatEndpoint
