"""Chat connectors: one per transport or platform, registered under the entry-point group
``svcbench.chat_connectors`` and producing the normalized ``ChatEvent`` stream.

Lifecycle, driven by the chat probe's scenario runner::

    connector = ConnectorClass(options, clock=clock, secrets=secrets, visitor=visitor)
    await connector.open()                 # starts the session; CONNECTED event when ready
    event = await connector.next_event(timeout_s)   # None on timeout
    await connector.send("Hi, do you ship to Norway?")
    await connector.close()                # always called, even after errors

A connector never blocks past the timeout it is given, and turns transport failures (refused
connection, dropped socket, garbage payload) into an ``ERROR`` event or a ``ChatTransportError``
instead of hanging.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ...errors import ProbeError
from ...plugins import Secrets
from .events import ChatEvent


class ChatTransportError(ProbeError):
    """The platform could not be reached or spoke nonsense: a failure on our side of the probe."""


class ChatUnreachableError(ChatTransportError):
    """Nothing answered at all (connection refused, DNS, connect timeout): worth a retry later."""


class ChatUnavailableError(ProbeError):
    """The company's chat is offline, shows only a leave-a-message form, or is hidden: a
    finding about the company (outcome ``unavailable``), never our failure."""


class AnchoredClock:
    """Wall-clock epoch seconds from a monotonic clock anchored once: exact intervals."""

    def __init__(self) -> None:
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def __call__(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0)


@dataclass(frozen=True)
class Visitor:
    name: str
    email: str | None = None


class ConnectorOptions(BaseModel):
    """Base for connector option models (the company's ``[company.channels.chat]`` table)."""

    model_config = ConfigDict(extra="forbid")


class ChatConnector(ABC):
    name: ClassVar[str]
    options_model: ClassVar[type[ConnectorOptions]]
    #: True when events are pushed (WebSocket, DOM) so ``t_local`` is when they arrived and our
    #: own message's echo marks t0; False for polling, where ``t_local`` is the poll instant and
    #: t0 is when ``send()`` returned
    realtime: ClassVar[bool] = True

    def __init__(self, options: dict[str, Any] | ConnectorOptions, *, clock: AnchoredClock,
                 secrets: Secrets, visitor: Visitor):
        self.options = (options if isinstance(options, ConnectorOptions)
                        else self.options_model.model_validate(options))
        self.clock = clock
        self.secrets = secrets
        self.visitor = visitor

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def send(self, text: str) -> None: ...

    @abstractmethod
    async def next_event(self, timeout_s: float) -> ChatEvent | None: ...

    @abstractmethod
    async def close(self) -> None: ...
