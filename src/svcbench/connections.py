"""``config check --connect``: log in to each shopper's SMTP and IMAP server and reach each
company's chat and web-form URLs, the way the probes will, without sending anything.

Each check is one row (check, subject, target, ok, detail). Secret values are read from the
environment only to log in, and removed from every detail a server or library writes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config, MailServer, Shopper
    from .plugins import Secrets

#: the keys of each check, in order (``config check --connect --json`` / ``--csv``)
CHECK_KEYS = ("check", "subject", "target", "ok", "detail")


@dataclass(frozen=True)
class ConnectionCheck:
    check: str  # smtp | imap | chat | form
    subject: str  # "shopper anna", "company acme"
    target: str  # host:port or URL
    ok: bool
    detail: str

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def _mail_login(kind: str, shopper: Shopper, server: MailServer, secrets: Secrets,
                timeout: float) -> ConnectionCheck:
    from .deadline import Watchdog
    from .errors import SvcbenchError
    from .probes.email.imap import ImapSession, MailboxError
    from .probes.email.send import login

    subject, target = f"shopper {shopper.id}", f"{server.host}:{server.port}"
    try:
        password = secrets.get(server.password_env, what=f"shopper {shopper.id}: "
                               f"{kind}.password_env")
        if server.password_env and not password:
            return ConnectionCheck(kind, subject, target, False, f"shopper {shopper.id}: "
                                   f"{kind}.password_env: environment variable "
                                   f"{server.password_env} is empty")
        if kind == "smtp":
            login(host=server.host, port=server.port, security=server.security,
                  username=server.username, password=password, ca_file=server.ca_file,
                  timeout=timeout)
        else:
            with Watchdog.after(timeout, "imap") as watchdog, ImapSession.connect(
                    host=server.host, port=server.port, security=server.security,
                    username=server.username, password=password, ca_file=server.ca_file,
                    timeout=timeout, watchdog=watchdog):
                pass
    except (SvcbenchError, MailboxError) as exc:
        return ConnectionCheck(kind, subject, target, False, str(exc))
    tls = {"tls": "TLS", "starttls": "STARTTLS", "none": "no TLS"}[server.security]
    return ConnectionCheck(kind, subject, target, True, f"{kind.upper()} {target} ({tls}): "
                           + (f"logged in as {server.username}" if server.username
                              else "connected (no login configured)"))


def _http_url(url: str) -> str:
    """A WebSocket base as the HTTP URL its server also answers."""
    for ws, http in (("wss://", "https://"), ("ws://", "http://")):
        if url.startswith(ws):
            return http + url[len(ws):]
    return url


def chat_url(options: dict[str, Any]) -> tuple[str, bool] | None:
    """The URL a chat endpoint reaches first (with the connector's defaults) and whether it
    is a page (a browser widget's shop page must load; an API root may well answer 404)."""
    from .plugins import chat_connector, probe_plugin

    endpoint = probe_plugin("chat").validate_endpoint(
        {k: v for k, v in options.items() if k != "plugin"})
    model = chat_connector(endpoint.connector).options_model.model_validate(
        endpoint.connector_options)
    if isinstance(getattr(model, "url", None), str):
        return model.url, True
    for key in ("base_url", "ws_url"):
        value = getattr(model, key, None)
        if isinstance(value, str) and "{" not in value and "://" in value:
            return _http_url(value), False
    return None


async def _reach(client: Any, check: str, subject: str, url: str, page: bool) -> ConnectionCheck:
    import httpx

    try:
        async with client.stream("GET", url) as response:
            status = response.status_code
    except httpx.TimeoutException:
        return ConnectionCheck(check, subject, url, False, f"GET {url}: timed out")
    except httpx.HTTPError as exc:
        return ConnectionCheck(check, subject, url, False,
                               f"GET {url}: cannot connect ({type(exc).__name__}: {exc})")
    failed = status >= 400 if page else status >= 500
    what = "the page loads" if page else "the server answers"
    return ConnectionCheck(check, subject, url, not failed,
                           f"GET {url}: HTTP {status}" + ("" if failed else f" ({what})"))


def _web_targets(config: Config) -> list[tuple[str, str, str, bool] | ConnectionCheck]:
    """(check, company, URL, is a page) for every enabled chat and web-form endpoint (a
    ready FAIL when a chat endpoint's options do not even name a URL)."""
    from .models import Channel
    from .plugins import plugin_for

    found: list[tuple[str, str, str, bool] | ConnectionCheck] = []
    for company in config.companies.values():
        chat = company.channels.get(Channel.CHAT)
        if chat is not None and chat.enabled and plugin_for(company, Channel.CHAT) == "chat":
            try:
                target = chat_url(chat.options)
            except Exception as exc:  # noqa: BLE001 - any plugin's validation error
                found.append(ConnectionCheck("chat", f"company {company.id}", "", False,
                                             f"[company.channels.chat]: {exc}".splitlines()[0]))
                target = None
            if target is not None:
                found.append(("chat", company.id, *target))
        form = company.channels.get(Channel.FORM)
        if form is not None and form.enabled:
            url = form.options.get("url") or company.website
            if isinstance(url, str):
                found.append(("form", company.id, url, True))
    return found


async def run_checks(config: Config, secrets: Secrets, *, timeout: float = 10.0,
                     concurrency: int = 20) -> list[ConnectionCheck]:
    """Every connection check of the workspace, at most ``concurrency`` at once, in config
    order (shoppers' mail servers, then companies' chat and form URLs)."""
    from .probes.chat.connectors._base import http_client

    limit = asyncio.Semaphore(concurrency)
    jobs: list[Callable[[], Awaitable[ConnectionCheck]]] = []
    for shopper in config.shoppers.values():
        for kind in ("smtp", "imap"):
            server = getattr(shopper, kind)
            if server is not None:
                jobs.append(lambda k=kind, s=shopper, srv=server: asyncio.to_thread(
                    _mail_login, k, s, srv, secrets, timeout))
    async with http_client(timeout, {"User-Agent": "svcbench config check"}) as client:
        for target in _web_targets(config):
            if isinstance(target, ConnectionCheck):
                jobs.append(lambda found=target: _ready(found))
                continue
            check, company, url, page = target
            jobs.append(lambda c=check, s=f"company {company}", u=url, p=page:
                        _reach(client, c, s, u, p))

        async def bounded(job: Callable[[], Awaitable[ConnectionCheck]]) -> ConnectionCheck:
            async with limit:
                return await job()

        found = await asyncio.gather(*(bounded(job) for job in jobs))
    return [_scrubbed(c, _secret_values(config, secrets)) for c in found]


async def _ready(check: ConnectionCheck) -> ConnectionCheck:
    return check


def _secret_values(config: Config, secrets: Secrets) -> list[str]:
    from .config import named_secrets
    from .errors import ConfigError

    values = []
    for _, key, variable in named_secrets(config):
        try:
            value = secrets.get(variable, what=key)
        except ConfigError:
            continue
        if value:
            values.append(value)
    return sorted(values, key=len, reverse=True)


def _scrubbed(check: ConnectionCheck, values: list[str]) -> ConnectionCheck:
    """A detail never carries a secret, whatever a server echoed back."""
    detail = check.detail
    for value in values:
        detail = detail.replace(value, "***")
    return check if detail == check.detail else ConnectionCheck(
        check.check, check.subject, check.target, check.ok, detail)
