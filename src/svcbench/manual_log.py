"""Manual probes logged after the fact: phone calls, returns, deliveries.

``svcbench log`` and ``svcbench import csv`` both turn what a person noted into an entry
(:class:`PhoneCall`, :class:`ReturnCase`, :class:`DeliveryOrder`), check it, and derive the
probe's events from it. Everything here is pure except :func:`save`, which writes probes,
events and measurements in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from .models import Channel, Event, Outcome, Probe, ProbeStatus, stable_id, utcnow

if TYPE_CHECKING:
    from .config import Company, Config
    from .store import Store

#: instants later than this after "now" are rejected as typos
FUTURE_SLACK = timedelta(days=1)


class EntryError(ValueError):
    """A logged value is wrong: ``field`` names it (an option or a CSV column)."""

    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


# -- parsing values -----------------------------------------------------------------------

_SECONDS = re.compile(
    r"^\s*(?:(?P<h>\d+(?:\.\d+)?)\s*h)?\s*(?:(?P<m>\d+(?:\.\d+)?)\s*m(?:in)?)?\s*"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*s?)?\s*$"
)
_CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)\s*$")


#: longer than any call, return or delivery; beyond this, date arithmetic overflows anyway
MAX_DURATION_S = 366 * 86400


def parse_seconds(text: str | float | int, field: str) -> float:
    """'95', '95s', '1m35s', '2m', '1h', '1:35' or '0:01:35' -> seconds (never negative)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        raw = str(text).strip()
        if raw.startswith("-"):
            raise EntryError(field, f"{raw!r}: a duration cannot be negative")
        clock = _CLOCK.match(raw)
        match = _SECONDS.match(raw)
        if clock:
            hours, minutes, seconds = clock.groups()
            value = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
        elif raw and match and any(match.groups()):
            value = (float(match["h"] or 0) * 3600 + float(match["m"] or 0) * 60
                     + float(match["s"] or 0))
        else:
            raise EntryError(field, f"{raw!r} is not a duration like 95, 95s, 1m35s or 1:35")
    if value < 0:
        raise EntryError(field, f"{value:g}: a duration cannot be negative")
    if value > MAX_DURATION_S:
        raise EntryError(field, f"{text!s:.40}: too long a duration (at most a year)")
    return value


def parse_count(text: str | int, field: str) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise EntryError(field, f"{text!r} is not a whole number") from None
    if value < 0:
        raise EntryError(field, f"{value} is negative")
    return value


_TRUE = {"y", "yes", "true", "1", "x", "ja", "j", "oui"}
_FALSE = {"n", "no", "false", "0", "nein", "non", ""}


def parse_bool(text: str, field: str) -> bool:
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise EntryError(field, f"{text!r} is not yes/no")


def parse_amount(text: str | float, field: str) -> float:
    raw = str(text).strip().replace(",", ".") if not isinstance(text, float) else text
    try:
        value = float(raw)
    except ValueError:
        raise EntryError(field, f"{text!r} is not an amount like 49.90") from None
    if value < 0:
        raise EntryError(field, f"{text!r} is negative")
    return value


def parse_when(text: str, timezone: str, field: str, *,
               now: datetime | None = None) -> datetime:
    """An instant from ISO 8601 text; a date or a time without offset is company-local.

    '2026-03-02' is midnight in the company's time zone; '2026-03-02T10:15' is 10:15 there;
    '2026-03-02T10:15:00+01:00' or '...Z' is taken as given. 'now' is the current time.
    """
    raw = str(text).strip()
    now = now or utcnow()
    if raw.lower() == "now":
        return now
    tz = ZoneInfo(timezone)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            value = datetime.combine(date.fromisoformat(raw), time(0), tzinfo=tz)
        else:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T", 1))
            if value.tzinfo is None:
                value = value.replace(tzinfo=tz)
    except ValueError:
        raise EntryError(field, f"{raw!r} is not an ISO 8601 date or time "
                                "(e.g. 2026-03-02 or 2026-03-02T10:15)") from None
    try:
        value.astimezone(UTC) - timedelta(days=400)  # room for the arithmetic that follows
    except OverflowError:
        raise EntryError(field, f"{raw}: date out of range") from None
    if value.year < 1970:
        raise EntryError(field, f"{raw}: before 1970, not a date a probe was made")
    if value - now > FUTURE_SLACK:
        raise EntryError(field, f"{raw} is in the future")
    return value


# -- entries ------------------------------------------------------------------------------


@dataclass
class Entry:
    """What every logged probe has: the company, optional scenario/shopper/campaign, a note."""

    channel: ClassVar[Channel]
    company: str
    scenario: str | None = field(default=None, kw_only=True)
    shopper: str | None = field(default=None, kw_only=True)
    campaign: str | None = field(default=None, kw_only=True)
    note: str | None = field(default=None, kw_only=True)

    def timeline(self) -> list[tuple[str, datetime, dict[str, Any]]]:
        """(event kind, instant, data), in order."""
        raise NotImplementedError

    def outcome(self) -> Outcome | None:
        """The outcome if the entry is complete, None while it is still open."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise EntryError naming the field if the entry contradicts itself."""

    def events(self, probe_id: str) -> list[Event]:
        """The probe's events, with ids derived from the probe id: re-logging adds nothing."""
        out = []
        for index, (kind, at, data) in enumerate(self.timeline()):
            out.append(Event(probe_id=probe_id, kind=kind, at=at, data=data, source="manual",
                             id=stable_id("event", f"{probe_id}:{index}:{kind}")))
        if self.note:
            last = out[-1].at if out else utcnow()
            out.append(Event(probe_id=probe_id, kind=f"{self.prefix}.note", at=last,
                             data={"text": self.note}, source="manual",
                             id=stable_id("event", f"{probe_id}:note")))
        return out

    prefix: ClassVar[str]


@dataclass
class PhoneCall(Entry):
    """A call logged afterwards: when it was dialed and what happened, as offsets."""

    channel: ClassVar[Channel] = Channel.PHONE
    prefix: ClassVar[str] = "call"
    dialed_at: datetime | None = None
    agent_after_s: float | None = None
    abandoned_after_s: float | None = None
    ivr_steps: int = 0
    hold_s: float | None = None
    transfers: int = 0
    resolved: bool | None = None
    wait_announced_s: float | None = None
    wait_announced: bool = False

    def check(self) -> None:
        if self.dialed_at is None:
            raise EntryError("dialed_at", "required")
        if self.agent_after_s is not None and self.abandoned_after_s is not None:
            raise EntryError("abandoned_after", "a call is either answered by an agent or "
                                                "abandoned, not both")
        if self.agent_after_s is None and self.abandoned_after_s is None:
            raise EntryError("agent_after", "say when a live agent answered, or when you gave up "
                                            "(abandoned after)")
        end = self.agent_after_s if self.agent_after_s is not None else self.abandoned_after_s
        if self.hold_s is not None and end is not None and self.hold_s > end:
            raise EntryError("hold", f"{self.hold_s:g} s on hold is longer than the "
                                     f"{end:g} s until the call was answered or abandoned")
        if self.agent_after_s is None and (self.transfers or self.resolved):
            raise EntryError("transferred" if self.transfers else "resolved",
                             "needs a live agent (agent answered after)")

    def timeline(self) -> list[tuple[str, datetime, dict[str, Any]]]:
        assert self.dialed_at is not None
        dialed = self.dialed_at
        tick = timedelta(milliseconds=1)  # exact times unknown: keep the order, not a duration
        end_s = self.agent_after_s if self.agent_after_s is not None else self.abandoned_after_s
        assert end_s is not None
        end = dialed + timedelta(seconds=end_s)
        hold_start = end - timedelta(seconds=self.hold_s) if self.hold_s else None
        steps: list[tuple[str, datetime, dict[str, Any]]] = [("call.dialed", dialed, {})]
        for step in range(self.ivr_steps):
            steps.append(("call.option_pressed", dialed + tick * (step + 1),
                          {"step": step + 1, "time": "estimated"}))
        if hold_start is not None:
            steps.append(("call.hold_started", max(hold_start, dialed + tick * (self.ivr_steps
                                                                                 + 1)), {}))
        if self.wait_announced or self.wait_announced_s is not None:
            data = {"seconds": self.wait_announced_s} if self.wait_announced_s is not None else {}
            steps.append(("call.wait_announced", (hold_start or dialed) + tick,
                          {**data, "time": "estimated"}))
        if self.agent_after_s is not None:
            steps.append(("call.agent_answered", end, {}))
            for index in range(self.transfers):
                steps.append(("call.transferred", end + tick * (index + 1),
                              {"time": "estimated"}))
            if self.resolved:
                steps.append(("call.resolved", end + tick * (self.transfers + 1),
                              {"time": "estimated"}))
        else:
            steps.append(("call.hung_up", end, {}))
        return sorted(steps, key=lambda s: s[1])

    def outcome(self) -> Outcome:
        return Outcome.ANSWERED if self.agent_after_s is not None else Outcome.ABANDONED


def _check_order(named: Sequence[tuple[str, datetime | None]]) -> None:
    """Each present instant must not be before the previous present one."""
    previous: tuple[str, datetime] | None = None
    for name, at in named:
        if at is None:
            continue
        if previous is not None and at < previous[1]:
            raise EntryError(name, f"{at.isoformat()} is before {previous[0]} "
                                   f"({previous[1].isoformat()})")
        previous = (name, at)


@dataclass
class ReturnCase(Entry):
    """An item sent back: requested, shipped back, refunded."""

    channel: ClassVar[Channel] = Channel.RETURNS
    prefix: ClassVar[str] = "return"
    requested_at: datetime | None = None
    shipped_at: datetime | None = None
    refunded_at: datetime | None = None
    amount: float | None = None

    STEPS: ClassVar = (("requested_at", "return.requested"), ("shipped_at", "return.shipped"),
                       ("refunded_at", "return.refunded"))

    def check(self) -> None:
        if self.requested_at is None:
            raise EntryError("requested_at", "required")
        if self.amount is not None and self.refunded_at is None:
            raise EntryError("amount", "a refund amount needs the refund date (refunded_at)")
        _check_order([(name, getattr(self, name)) for name, _ in self.STEPS])

    def timeline(self) -> list[tuple[str, datetime, dict[str, Any]]]:
        out = []
        for name, kind in self.STEPS:
            at = getattr(self, name)
            if at is not None:
                data = {"amount": self.amount} if (kind == "return.refunded"
                                                   and self.amount is not None) else {}
                out.append((kind, at, data))
        return out

    def outcome(self) -> Outcome | None:
        return Outcome.ANSWERED if self.refunded_at is not None else None


@dataclass
class DeliveryOrder(Entry):
    """An order placed, shipped, delivered."""

    channel: ClassVar[Channel] = Channel.DELIVERY
    prefix: ClassVar[str] = "order"
    placed_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None

    STEPS: ClassVar = (("placed_at", "order.placed"), ("shipped_at", "order.shipped"),
                       ("delivered_at", "order.delivered"))

    def check(self) -> None:
        if self.placed_at is None:
            raise EntryError("placed_at", "required")
        _check_order([(name, getattr(self, name)) for name, _ in self.STEPS])

    def timeline(self) -> list[tuple[str, datetime, dict[str, Any]]]:
        return [(kind, getattr(self, name), {}) for name, kind in self.STEPS
                if getattr(self, name) is not None]

    def outcome(self) -> Outcome | None:
        return Outcome.ANSWERED if self.delivered_at is not None else None


ENTRY_TYPES: dict[Channel, type[Entry]] = {
    Channel.PHONE: PhoneCall, Channel.RETURNS: ReturnCase, Channel.DELIVERY: DeliveryOrder,
}


def probe_for(entry: Entry, config: Config, probe_id: str, *,
              state: dict[str, Any] | None = None, source: str = "manual",
              source_detail: str | None = None) -> Probe:
    """A new probe for an entry (running, started at its first event)."""
    from .plugins import plugin_for

    company = config.company(entry.company)
    first_at = entry.timeline()[0][1]
    return Probe(
        id=probe_id, company=company.id, channel=entry.channel,
        plugin=plugin_for(company, entry.channel), campaign=entry.campaign,
        scenario=entry.scenario, shopper=entry.shopper, status=ProbeStatus.RUNNING,
        started_at=first_at, state=state or {}, source=source, source_detail=source_detail,
    )


#: the override named in the error when a company does not offer a channel
UNLISTED_CHANNEL_FLAG = "--allow-unlisted-channel"


def offers(company: Company, channel: Channel) -> bool:
    """Whether the company's definition lists this channel (and does not disable it)."""
    endpoint = company.channels.get(channel)
    return endpoint is not None and endpoint.enabled


def check_channel(company: Company, channel: Channel) -> None:
    """EntryError (field ``company``) if the company does not offer the channel."""
    if not offers(company, channel):
        listed = ", ".join(sorted(str(c) for c in company.channels
                                  if company.channels[c].enabled)) or "none"
        raise EntryError("company", f"{company.id} does not offer {channel} (its channels: "
                                    f"{listed}); add [company.channels.{channel}] to its "
                                    f"definition, or pass {UNLISTED_CHANNEL_FLAG} to keep "
                                    "a historical record")


def check_references(entry: Entry, config: Config, *,
                     allow_unlisted_channel: bool = False) -> None:
    """Company, scenario, shopper and campaign must be defined in the workspace, and the
    company must offer the entry's channel (unless ``allow_unlisted_channel``)."""
    if entry.company not in config.companies:
        names = ", ".join(sorted(config.companies)) or "none defined"
        raise EntryError("company", f"unknown company {entry.company!r} (known: {names})")
    if not allow_unlisted_channel:
        check_channel(config.companies[entry.company], entry.channel)
    for kind, value, known in (("scenario", entry.scenario, config.scenarios),
                               ("shopper", entry.shopper, config.shoppers),
                               ("campaign", entry.campaign, config.campaigns)):
        if value is not None and value not in known:
            names = ", ".join(sorted(known)) or "none defined"
            raise EntryError(kind, f"unknown {kind} {value!r} (known: {names})")


def company_timezone(config: Config, company: str) -> str:
    return config.company(company).timezone


# -- completing an open return or delivery --------------------------------------------------


def entry_from_events(probe: Probe, events: list[Event]) -> Entry:
    """Rebuild a return/delivery entry from its stored events (to add the later dates)."""
    from .probes.manual._base import effective

    cls = ENTRY_TYPES[probe.channel]
    if cls is PhoneCall:
        raise EntryError("probe", "a logged phone call is complete; log a new call instead")
    values: dict[str, Any] = {}
    for name, kind in cls.STEPS:  # type: ignore[attr-defined]
        event = next((e for e in effective(events) if e.kind == kind), None)
        if event is not None:
            values[name] = event.at
            if kind == "return.refunded" and event.data.get("amount") is not None:
                values["amount"] = event.data["amount"]
    return cls(probe.company, scenario=probe.scenario, shopper=probe.shopper,
               campaign=probe.campaign, **values)


def completion(probe: Probe, events: list[Event], updates: dict[str, Any],
               note: str | None = None) -> tuple[Entry, list[Event]]:
    """The new events that add ``updates`` (field -> instant) to an open probe.

    A date already logged may be repeated unchanged but not changed.
    """
    from .probes.manual._base import effective

    if probe.status == ProbeStatus.DONE:
        raise EntryError("probe", f"probe {probe.id[:8]} is already finished "
                                  f"({probe.outcome})")
    entry = entry_from_events(probe, events)
    for name, value in updates.items():
        if value is None:
            continue
        current = getattr(entry, name)
        if current is not None and current != value:
            raise EntryError(name, f"already logged as {current.isoformat()}"
                             if isinstance(current, datetime) else f"already logged as {current}")
        setattr(entry, name, value)
    entry.check()
    have = {e.kind for e in effective(events)}
    new = []
    for kind, at, data in entry.timeline():
        if kind not in have:
            new.append(Event(probe_id=probe.id, kind=kind, at=at, data=data, source="manual",
                             id=stable_id("event", f"{probe.id}:{kind}")))
    if note:
        new.append(Event(probe_id=probe.id, kind=f"{entry.prefix}.note",
                         at=new[-1].at if new else utcnow(), data={"text": note},
                         source="manual"))
    return entry, new


# -- writing --------------------------------------------------------------------------------


@dataclass
class Planned:
    """A probe ready to be written: its events and, if complete, its outcome."""

    probe: Probe
    events: list[Event]
    outcome: Outcome | None


def plan(entry: Entry, config: Config, probe_id: str, *,
         state: dict[str, Any] | None = None, source: str = "manual",
         source_detail: str | None = None, allow_unlisted_channel: bool = False) -> Planned:
    """Check an entry and derive its probe and events (pure)."""
    check_references(entry, config, allow_unlisted_channel=allow_unlisted_channel)
    entry.check()
    probe = probe_for(entry, config, probe_id, state=state, source=source,
                      source_detail=source_detail)
    return Planned(probe, entry.events(probe_id), entry.outcome())


def save(store: Store, config: Config, planned: Sequence[Planned]) -> list[bool]:
    """Write probes, their events and (if complete) measurements in ONE transaction.

    A probe whose id is already stored is left alone (so re-imports add nothing); the returned
    list says which were new.
    """
    from .lifecycle import finish_probe

    added = []
    with store.transaction():
        for item in planned:
            new = store.add_probe(item.probe, item.events, if_absent=True)
            if new and item.outcome is not None:
                finish_probe(store, item.probe, item.outcome, config=config,
                             at=max(e.at for e in item.events))
            added.append(new)
    return added


def add_to_open(store: Store, config: Config, probe: Probe, events: list[Event],
                outcome: Outcome | None) -> None:
    """Store the later dates of an open return/delivery; finish it once it is complete."""
    from .lifecycle import finish_probe

    with store.transaction():
        if not store.update_probe(probe.id, expect_status=ProbeStatus.RUNNING, events=events):
            from .errors import StoreError

            raise StoreError(f"probe {probe.id[:8]} changed meanwhile; nothing was written")
        if outcome is not None:
            finish_probe(store, probe, outcome, config=config,
                         at=max(e.at for e in store.events(probe.id)))


def company_of(config: Config, ident: str) -> Company:
    """A company by slug or (case-insensitive) display name."""
    if ident in config.companies:
        return config.companies[ident]
    lowered = ident.strip().lower()
    for company in config.companies.values():
        if company.name.lower() == lowered or company.id == lowered:
            return company
    return config.company(ident)  # raises ConfigError listing the known ones
