"""What the built-in connectors share: an event queue, HTTP requests from templates with
errors turned into ChatTransportError, and a polling loop.

httpx is imported lazily so loading a connector class (to validate config) stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import ssl
from abc import abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..connector import (
    Availability,
    ChatConnector,
    ChatTransportError,
    ChatUnavailableError,
    ChatUnreachableError,
    ConnectorOptions,
)
from ..events import ChatEvent, ChatEventKind
from ._actors import ActorRules
from ._jsonpath import find_one, render, validate_path
from ._mapping import MalformedPayload

if TYPE_CHECKING:
    import httpx


class HttpStatusError(ChatTransportError):
    """The platform answered with an HTTP error status (``body``: the parsed JSON, if any)."""

    def __init__(self, message: str, status: int, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


#: how much of a response body an error message quotes
BODY_QUOTE = 300
_SECRET_FIELD = re.compile(
    r"""(["']?[\w-]*(?:token|secret|passw(?:or)?d|api[_-]?key|auth|session|csrf|cookie)"""
    r"""[\w-]*["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&}<]+)""", re.IGNORECASE)


def quote_body(text: str, hide: Iterable[str] = ()) -> str:
    """A response body for an error message: one line, truncated, secrets masked (the values
    we hold, and any field whose name says token/secret/password/key/session)."""
    line = " ".join(text.split())
    for value in sorted((v for v in hide if v and len(v) >= 4), key=len, reverse=True):
        line = line.replace(value, "***")
    line = _SECRET_FIELD.sub(lambda m: m.group(1) + "***", line)
    return line[:BODY_QUOTE] + ("…" if len(line) > BODY_QUOTE else "")


class RequestSpec(BaseModel):
    """One HTTP request as a template; strings may use ``{placeholders}``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    method: str = "GET"
    #: relative to ``base_url`` (or a full URL)
    path: str
    params: dict[str, Any] = {}
    body: Any = Field(default=None, alias="json")
    #: a form-encoded body instead of JSON
    form: dict[str, Any] | None = None
    headers: dict[str, str] = {}
    #: how to read the response: JSON, or text (HTML fragments, tokens inside a page)
    response: Literal["json", "text"] = "json"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # building one per client costs ~60 ms of CPU (loading CA certs): share it
    import httpx

    return httpx.create_ssl_context()


def http_client(timeout_s: float, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), headers=headers or {},
                             follow_redirects=True, verify=_tls_context())


async def call(client: httpx.AsyncClient, base_url: str, spec: RequestSpec,
               context: dict[str, Any], *, what: str, retries: int = 2,
               hide: Iterable[str] = ()) -> Any:
    """Send a templated request; the parsed JSON body (None if empty), or the text when
    ``spec.response`` is "text".

    5xx answers and dropped connections are retried ``retries`` times with a short backoff;
    nothing listening raises ChatUnreachableError; other failures ChatTransportError;
    a 2xx body that is not JSON raises MalformedPayload. Every error quotes the response
    body (truncated, with ``hide`` values and secret-looking fields masked).
    """
    import httpx

    try:
        path = render(spec.path, context)
        url = path if "://" in path else base_url.rstrip("/") + "/" + path.lstrip("/")
        params = {k: v for k, v in render(spec.params, context).items() if v is not None}
        body = render(spec.body, context)
        form = render(spec.form, context) if spec.form is not None else None
        headers = render(spec.headers, context)
    except KeyError as exc:
        raise ChatTransportError(f"{what}: template uses unknown placeholder {{{exc.args[0]}}}") \
            from None
    attempt = 0
    while True:
        try:
            response = await client.request(
                spec.method, url, params=params, headers=headers,
                json=body if body is not None and form is None else None,
                data={k: "" if v is None else str(v) for k, v in form.items()}
                if form is not None else None)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ChatUnreachableError(f"{what}: cannot connect to {url} ({_why(exc)})") from None
        except httpx.HTTPError as exc:
            if attempt < retries:
                attempt += 1
                await asyncio.sleep(0.1 * 2**attempt)
                continue
            raise ChatTransportError(f"{what}: {url}: {_why(exc)}") from None
        if response.status_code >= 500 and attempt < retries:
            attempt += 1
            await asyncio.sleep(0.1 * 2**attempt)
            continue
        if response.status_code >= 400:
            snippet = quote_body(response.text, hide)
            try:
                parsed = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                parsed = None
            raise HttpStatusError(f"{what}: HTTP {response.status_code} from {url}"
                                  + (f": {snippet}" if snippet else ""), response.status_code,
                                  parsed)
        if spec.response == "text":
            return response.text
        if not response.content.strip():
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MalformedPayload(f"{what}: response is not JSON: "
                                   f"{quote_body(response.text, hide)!r}") from None


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class QueueConnector(ChatConnector):
    """A connector whose transport tasks put events on a queue that ``next_event`` drains."""

    #: consecutive malformed payloads tolerated before the session is given up
    max_bad_payloads: ClassVar[int] = 10

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._queue: asyncio.Queue[ChatEvent] = asyncio.Queue()
        self._finished = False  # a fatal error or the end of the chat was queued
        self._bad_payloads = 0

    def _emit(self, event: ChatEvent) -> None:
        if self._finished:
            return
        if event.kind is ChatEventKind.CHAT_ENDED:
            self._finished = True
        self._queue.put_nowait(event)

    def _error(self, reason: str, *, fatal: bool, by_peer: bool = False, raw: Any = None) -> None:
        """Queue an ERROR event; a fatal one ends the stream."""
        if self._finished:
            return
        self._emit(ChatEvent(kind=ChatEventKind.ERROR, t_local=self.clock(),
                             data={"reason": reason, "fatal": fatal, "by_peer": by_peer},
                             raw=raw))
        if fatal:
            self._finished = True

    def _malformed(self, reason: str, raw: Any = None) -> None:
        self._bad_payloads += 1
        fatal = self._bad_payloads >= self.max_bad_payloads
        self._error(f"malformed payload: {reason}" + (
            f" ({self._bad_payloads} in a row, giving up)" if fatal else ""), fatal=fatal,
            raw=raw if isinstance(raw, str | None) else None)

    def _understood(self) -> None:
        self._bad_payloads = 0

    async def next_event(self, timeout_s: float) -> ChatEvent | None:
        try:
            return await asyncio.wait_for(self._queue.get(), max(0.0, timeout_s))
        except TimeoutError:
            return None


async def cancel(task: asyncio.Task | None) -> None:
    """Cancel a background task and wait for it, swallowing its end."""
    if task is None or task.done():
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # mark retrieved
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class PollingConnector(QueueConnector):
    """Start a session over HTTP, then poll for events every ``poll_interval_s``."""

    realtime = False
    #: consecutive failed polls (timeouts, 5xx after retries) before giving up
    max_poll_failures: ClassVar[int] = 5

    _client: httpx.AsyncClient
    _task: asyncio.Task | None = None

    @property
    @abstractmethod
    def poll_interval_s(self) -> float: ...

    @abstractmethod
    async def _start(self) -> None:
        """Create the session (raises ChatTransportError)."""

    @abstractmethod
    async def _poll(self) -> list[ChatEvent]:
        """New events since the last poll, stamped with the current clock."""

    @abstractmethod
    async def _send(self, text: str) -> None: ...

    async def _close_remote(self) -> None:
        """End the session on the platform (best effort)."""

    def _new_client(self) -> httpx.AsyncClient:
        return http_client(10.0)

    async def open(self) -> None:
        self._client = self._new_client()
        await self._start()
        self._emit(ChatEvent(kind=ChatEventKind.CONNECTED, t_local=self.clock()))
        self._task = asyncio.create_task(self._poll_loop())

    async def send(self, text: str) -> None:
        await self._send(text)

    async def _poll_loop(self) -> None:
        failures = 0
        while not self._finished:
            try:
                events = await self._poll()
            except MalformedPayload as exc:
                self._malformed(str(exc))
            except HttpStatusError as exc:
                if exc.status in (404, 410):
                    self._error(f"the platform closed the chat ({exc})", fatal=True, by_peer=True)
                    return
                failures += 1
                if failures >= self.max_poll_failures:
                    self._error(f"polling failed {failures} times in a row: {exc}", fatal=True)
                    return
            except ChatTransportError as exc:
                failures += 1
                if failures >= self.max_poll_failures:
                    self._error(f"polling failed {failures} times in a row: {exc}", fatal=True)
                    return
            else:
                failures = 0
                self._understood()
                for event in events:
                    self._emit(event)
            await asyncio.sleep(self.poll_interval_s)

    async def close(self) -> None:
        await cancel(self._task)
        self._task = None
        client = getattr(self, "_client", None)
        if client is None:
            return
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._close_remote(), 3.0)
        finally:
            await client.aclose()


class AvailabilitySpec(RequestSpec):
    """The cheap status request: is the chat online? (no conversation is started)"""

    online_path: str = "$.online"
    online_values: list[Any] = [True]
    offline_values: list[Any] = [False]
    message_path: str | None = "$.message"

    @field_validator("online_path", "message_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return validate_path(value)


class OfflineRule(BaseModel):
    """How a refused start says "offline": a value at a path of its body (error or not)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str = "$.online"
    values: list[Any] = [False]
    message_path: str | None = "$.message"

    @field_validator("path", "message_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return validate_path(value)


def raise_if_offline(rule: OfflineRule | None, body: Any, error: str | None) -> None:
    """ChatUnavailableError if a start response (error or not) says the chat is offline."""
    if rule is None or not isinstance(body, dict | list):
        return
    value = find_one(rule.path, body)
    if value is not None and value in rule.values:
        message = find_one(rule.message_path, body) if rule.message_path else None
        raise ChatUnavailableError(
            "the chat is offline" + (f": {message}" if message else ""),
            source=f"start chat: {rule.path} = {value!r}" + (f" ({error})" if error else ""),
            raw=body)


def availability_from(spec: AvailabilitySpec, body: Any) -> Availability:
    value = find_one(spec.online_path, body)
    message = find_one(spec.message_path, body) if spec.message_path else None
    source = f"{spec.method} {spec.path}: {spec.online_path} = {value!r}"
    if value is not None and value in spec.online_values:
        return Availability("online", detail=message, source=source, raw=body)
    if value is not None and value in spec.offline_values:
        return Availability("offline", detail=message, source=source, raw=body)
    return Availability("unknown", detail=f"{spec.online_path} is {value!r}, neither "
                        f"{spec.online_values!r} nor {spec.offline_values!r}",
                        source=source, raw=body)


class SessionOptions(ConnectorOptions):
    """What the generic REST and WebSocket connectors share: auth, session capture, actors."""

    #: extra headers on every request
    headers: dict[str, str] = {}
    #: environment variable holding an API credential, sent in ``auth_header``
    auth_env: str | None = None
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    #: values captured from the start response: placeholder name -> JSONPath
    session: dict[str, str] = {"chat_id": "$.chat_id", "token": "$.token"}
    actor_rules: ActorRules = ActorRules()
    request_timeout_s: float = Field(default=10.0, gt=0)
    #: the cheap status request of availability checks (``false``: none)
    availability: AvailabilitySpec | None = AvailabilitySpec(path="/api/status")
    #: how a refused start says the chat is offline (``false``: never read)
    offline: OfflineRule | None = OfflineRule()

    @model_validator(mode="before")
    @classmethod
    def _switches(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {k: (None if k in ("availability", "offline") and v is False else v)
                    for k, v in data.items()}
        return data

    @field_validator("session")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        return validate_captures(value)


def validate_captures(value: dict[str, str]) -> dict[str, str]:
    """Captures are JSONPaths (``$.token``) or regular expressions with one (group)."""
    for capture in value.values():
        if capture.startswith("$"):
            validate_path(capture)
            continue
        try:
            groups = re.compile(capture).groups
        except re.error as exc:
            raise ValueError(f"invalid regular expression {capture!r}: {exc}") from None
        if groups < 1:
            raise ValueError(f"regular expression {capture!r} needs a (group)")
    return value


def extract_capture(rule: str, body: Any) -> Any:
    """A captured value: JSONPath over a JSON body, or a regex's first group over the text."""
    if rule.startswith("$"):
        return find_one(rule, body) if not isinstance(body, str) else None
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    match = re.search(rule, text)
    return match.group(1) if match else None

