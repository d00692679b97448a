"""Probe plugins: the interface, the context they run in, and the entry-point registry.

A probe plugin is a class registered under the ``svcbench.probes`` entry-point group (the
built-in ones are registered exactly like a third-party one would be)::

    [project.entry-points."svcbench.probes"]
    email = "svcbench.probes.email:EmailProbe"

State a probe needs across processes lives in the store (``Probe.state``, events, messages),
never in memory: ``advance`` may run in another process hours after ``start``.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from .errors import ConfigError
from .models import Channel, Event, Measurement, Outcome, Probe, utcnow

if TYPE_CHECKING:
    import httpx

    from .config import Company, Config, Scenario, Shopper
    from .hours import BusinessCalendar
    from .store import Migrations, Store

PROBES_GROUP = "svcbench.probes"
CHAT_CONNECTORS_GROUP = "svcbench.chat_connectors"


class Secrets:
    """Reads secrets from environment variables at the moment they are needed.

    Values are never stored, logged or rendered; only the variable's name appears in errors.
    """

    def __init__(self, environ: dict[str, str] | None = None):
        self._environ = environ if environ is not None else os.environ

    def get(self, env_name: str | None, *, what: str) -> str | None:
        if not env_name:
            return None
        value = self._environ.get(env_name)
        if value is None:
            raise ConfigError(f"environment variable {env_name} is not set", key=what)
        return value


@dataclass
class ProbeContext:
    """What a probe may use: config, store, clock, secrets, logger, an HTTP client."""

    config: Config
    store: Store
    clock: Callable[[], datetime] = utcnow
    secrets: Secrets = field(default_factory=Secrets)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("svcbench"))
    #: time.monotonic() at which the tick's budget ends (None: no budget)
    budget_ends: float | None = None
    #: our side's trouble a plugin met without failing a probe (e.g. a mailbox it could not
    #: collect); the tick reports them
    problems: list[str] = field(default_factory=list)
    _http: Any = None

    def time_left(self, limit: float) -> float:
        """``limit`` seconds, or less if the tick's budget ends sooner (never below 1 s)."""
        if self.budget_ends is None:
            return limit
        import time

        return max(1.0, min(limit, self.budget_ends - time.monotonic()))

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=30.0, follow_redirects=True)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def company(self, probe: Probe) -> Company:
        return self.config.company(probe.company)

    def scenario(self, probe: Probe) -> Scenario:
        if probe.scenario is None or probe.scenario not in self.config.scenarios:
            raise ConfigError(f"probe {probe.id[:8]}: unknown scenario {probe.scenario!r}")
        return self.config.scenarios[probe.scenario]

    def shopper(self, probe: Probe) -> Shopper:
        if probe.shopper is None or probe.shopper not in self.config.shoppers:
            raise ConfigError(f"probe {probe.id[:8]}: unknown shopper {probe.shopper!r}")
        return self.config.shoppers[probe.shopper]


class ProbePlugin:
    """Base class for probe plugins. Subclasses set the class attributes and override methods.

    - ``start`` begins the interaction and returns its events (e.g. ``email.sent``);
    - ``advance_all`` checks running probes for progress (one IMAP pass for all email probes);
    - ``outcome`` says whether a probe is finished, from its events and the time;
    - ``measure`` turns a finished probe's events into a Measurement (pure).
    """

    name: ClassVar[str]
    channel: ClassVar[Channel]
    #: validates the company's endpoint for this channel (``[company.channels.X]``)
    endpoint_model: ClassVar[type[BaseModel] | None] = None
    #: manual probes are logged by a person and never started by ``tick``
    automatic: ClassVar[bool] = True
    #: plugins whose running probes one ``advance_all`` call serves together (the web-form
    #: probe's replies come by email: one mailbox collection for both); None = its own name
    advance_group: ClassVar[str | None] = None
    #: extra tables the plugin needs, as its own numbered migration set
    migrations: ClassVar[Migrations | None] = None
    #: False for checks that are not contacts (chat availability checks): their probes keep
    #: outcome and events but make no measurement, so rankings never see them
    measured: ClassVar[bool] = True

    async def start(self, probe: Probe, ctx: ProbeContext) -> list[Event]:
        raise NotImplementedError(f"{self.name} probes are not started automatically")

    async def recover(self, probe: Probe, ctx: ProbeContext) -> list[Event] | None:
        """A probe left in STARTING by a crash: find out whether it was really started.

        Return the start events if there is evidence it was (e.g. a copy of the sent email in
        the shopper's mailbox), or None: the probe is then marked failed ("start outcome
        unknown") and never started again, because a second email or chat to the same company
        would spoil the benchmark.
        """
        return None

    async def advance_all(self, probes: list[Probe], ctx: ProbeContext) -> dict[str, list[Event]]:
        """New events per running probe; the default asks each probe in turn."""
        return {probe.id: await self.advance(probe, ctx) for probe in probes}

    async def advance(self, probe: Probe, ctx: ProbeContext) -> list[Event]:
        return []

    def outcome(self, probe: Probe, events: list[Event], now: datetime) -> Outcome | None:
        """The outcome if the probe is finished, else None."""
        raise NotImplementedError

    def status_note(self, probe: Probe, events: list[Event], now: datetime) -> str | None:
        """Why an unfinished probe is still open, for listings (e.g. 'awaiting collection')."""
        return None

    def outcome_reason(self, probe: Probe, events: list[Event]) -> str | None:
        """Why the probe ended as it did, stored with its outcome (e.g. 'bounced: <address>')."""
        return None

    def measure(self, probe: Probe, events: list[Event], calendar: BusinessCalendar) -> Measurement:
        raise NotImplementedError

    def validate_endpoint(self, options: dict[str, Any]) -> BaseModel | None:
        if self.endpoint_model is None:
            return None
        return self.endpoint_model.model_validate(options)


_registered: dict[str, dict[str, Any]] = {PROBES_GROUP: {}, CHAT_CONNECTORS_GROUP: {}}


def register(group: str, name: str, obj: Any) -> None:
    """Register a plugin class by hand (tests, scripts); entry points are the normal way."""
    _registered[group][name] = obj


EXTRA_PROBES_ENV = "SVCBENCH_EXTRA_PROBES"


def _extra_probes() -> dict[str, str]:
    """Probe plugins named in $SVCBENCH_EXTRA_PROBES ("name=module:Class,..."): plugin authors
    can try a plugin, and tests can run one in a subprocess, without packaging it."""
    extra = {}
    for item in filter(None, os.environ.get(EXTRA_PROBES_ENV, "").split(",")):
        name, _, target = item.partition("=")
        if not target or ":" not in target:
            raise ConfigError(f"{EXTRA_PROBES_ENV}: {item!r} is not name=module:Class")
        extra[name.strip()] = target.strip()
    return extra


@functools.cache
def _entry_points(group: str) -> tuple[Any, ...]:
    """Installed entry points of a group, read once per process: scanning every installed
    distribution's metadata costs ~30 ms, and config checks ask once per company."""
    return tuple(entry_points(group=group))


def _load(group: str, name: str) -> Any:
    if name in _registered[group]:
        return _registered[group][name]
    if group == PROBES_GROUP and name in _extra_probes():
        import importlib

        module, _, attr = _extra_probes()[name].partition(":")
        _registered[group][name] = getattr(importlib.import_module(module), attr)
        return _registered[group][name]
    matches = [ep for ep in _entry_points(group) if ep.name == name]
    if not matches:
        known = ", ".join(sorted(available(group))) or "none installed"
        raise ConfigError(f"no plugin {name!r} in {group} (installed: {known})")
    obj = matches[0].load()
    _registered[group][name] = obj
    return obj


def available(group: str) -> list[str]:
    names = {ep.name for ep in _entry_points(group)} | set(_registered[group])
    if group == PROBES_GROUP:
        names |= set(_extra_probes())
    return sorted(names)


_instances: dict[str, ProbePlugin] = {}


def probe_plugin(name: str) -> ProbePlugin:
    """The probe plugin registered under ``name`` (instantiated once)."""
    if name not in _instances:
        _instances[name] = _load(PROBES_GROUP, name)()
    return _instances[name]


def chat_connector(name: str) -> Any:
    """The chat connector class registered under ``name``."""
    return _load(CHAT_CONNECTORS_GROUP, name)


def plugin_for(company: Company, channel: Channel) -> str:
    """The probe plugin a company uses on a channel (``plugin = ...`` in its endpoint)."""
    endpoint = company.channels.get(channel)
    if endpoint is not None and endpoint.options.get("plugin"):
        return str(endpoint.options["plugin"])
    return str(channel)


def installed() -> list[dict[str, str]]:
    """Every probe type and chat connector svcbench can use, with where it comes from.

    Entry points are listed without importing them, so this stays fast and a broken plugin
    still shows up (with its package) instead of hiding the rest.
    """
    rows = []
    for group in (PROBES_GROUP, CHAT_CONNECTORS_GROUP):
        for ep in entry_points(group=group):
            dist = getattr(ep, "dist", None)
            rows.append({"group": group, "name": ep.name, "target": ep.value,
                         "package": f"{dist.name} {dist.version}" if dist else "",
                         "source": "entry point"})
        if group == PROBES_GROUP:
            rows += [{"group": group, "name": name, "target": target, "package": "",
                      "source": EXTRA_PROBES_ENV} for name, target in _extra_probes().items()]
        for name, obj in _registered[group].items():
            if not any(r["group"] == group and r["name"] == name for r in rows):
                rows.append({"group": group, "name": name,
                             "target": f"{obj.__module__}:{obj.__qualname__}", "package": "",
                             "source": "registered"})
    return sorted(rows, key=lambda r: (r["group"], r["name"]))
