"""Keeping the stored plans current: re-plan only what changed.

Each company's part of a campaign's quarterly plan is stored with a fingerprint of its inputs
(the campaign, the company's calendar and channels, the quarter, the planner's version) in
``plan_inputs``. ``sync_plans`` compares fingerprints (a hash per company, no calendar built)
and plans only the companies whose inputs changed, or that are new, or a new quarter; with
nothing changed it reads one small table and returns.

A re-plan keeps the first plan's window, so unchanged slots draw the same times. It never
touches a probe that was claimed, tried, or is already due: it inserts what is missing (never
in the past), moves probes that are still planned for the future, and cancels future planned
probes that are no longer in the plan (a company left the campaign, fewer probes per quarter,
a channel switched off). Cancelled probes count for no one.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from .config import Campaign, Company, Config
from .errors import StoreError
from .fastpath import record_plan
from .holiday_cache import holidays_release, know_holidays
from .models import (
    Outcome,
    Probe,
    ProbeStatus,
    format_instant,
    format_micros,
    parse_instant,
    utcnow,
)
from .planning import (
    AVAILABILITY_PLUGIN,
    PlannedProbe,
    campaign_quarter,
    draw_slots,
    new_tokens,
    plan_campaign,
    quarter_bounds,
    to_probe,
)
from .plugins import plugin_for
from .store import Store
from .workers import worker_count

if TYPE_CHECKING:
    from .workspace import Workspace

#: bump when the way due times are drawn changes, so stored plans are redrawn (their future
#: part only, as for any other change)
PLANNER_VERSION = 2

_MICROSECOND = timedelta(microseconds=1)
_CALENDAR_FIELDS = {"timezone", "hours", "hours_changes", "holidays", "closed_dates",
                    "special_hours"}


@dataclass
class PlanSync:
    """What one ``sync_plans`` did (or, in a dry run, would do)."""

    #: the probes added and moved (only with ``keep=True``; the counts always)
    added: list[Probe] = field(default_factory=list)
    moved: list[Probe] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    n_added: int = 0
    n_moved: int = 0
    #: keep the added and moved probes: all (True), none (False) or the first so many
    keep: bool | int = True
    #: (campaign, company) parts planned again / found unchanged
    replanned: int = 0
    unchanged: int = 0
    #: probes in the plans looked at, by (campaign, quarter)
    sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    #: processes that drew first plans (1: this one alone)
    workers: int = 1

    def room(self) -> int:
        """How many more added or moved probes to keep."""
        if self.keep is True:
            return sys.maxsize
        return max(0, int(self.keep) - len(self.added) - len(self.moved))

    @property
    def planned(self) -> int:
        return sum(self.sizes.values())

    def as_dict(self) -> dict[str, Any]:
        return {"planned": self.planned, "added": self.n_added, "moved": self.n_moved,
                "cancelled": len(self.cancelled), "replanned": self.replanned,
                "unchanged": self.unchanged}


def campaign_digest(campaign: Campaign, quarter: str) -> str:
    payload = {"campaign": campaign.model_dump(mode="json"), "quarter": quarter,
               "planner": PLANNER_VERSION, "holidays": holidays_release()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def fingerprint(digest: str, campaign: Campaign, company: Company) -> str:
    """A company's plan inputs: the campaign's digest, its calendar, and its channels."""
    channels = {str(ch): {"enabled": company.channels[ch].enabled,
                          "plugin": plugin_for(company, ch)}
                for ch in campaign.channels if ch in company.channels}
    payload = {"campaign": digest, "company": company.id, "channels": channels,
               "calendar": company.model_dump(mode="json", include=_CALENDAR_FIELDS)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def sync_plans(store: Store, config: Config, now: datetime, campaign_ids: list[str] | None = None,
               quarter: str | None = None, *, dry_run: bool = False,
               keep: bool | int = True) -> PlanSync:
    """Bring the stored plans of the given (default: all) campaigns up to date.

    ``keep=False`` counts added and moved probes without keeping them (a tick planning a new
    quarter then holds one company's probes at a time, not the whole plan); a number keeps
    that many (a table of the first changes).
    """
    result = PlanSync(keep=keep)
    for campaign in config.campaigns.values():
        if campaign_ids and campaign.id not in campaign_ids:
            continue
        q = quarter or campaign_quarter(campaign, now)
        _sync_campaign(store, config, campaign, q, now, result, dry_run)
    return result


def _sync_campaign(store: Store, config: Config, campaign: Campaign, quarter: str,
                   now: datetime, result: PlanSync, dry_run: bool) -> None:
    digest = campaign_digest(campaign, quarter)
    stored = {row[0]: (row[1], row[2], row[3]) for row in store.conn.execute(
        "SELECT company, fingerprint, window_start, probes FROM plan_inputs "
        "WHERE campaign = ? AND quarter = ?", (campaign.id, quarter))}
    companies = config.campaign_companies(campaign)
    changed = []
    size = 0
    for company in companies:
        print_ = fingerprint(digest, campaign, company)
        old = stored.get(company.id)
        if old is not None and old[0] == print_:
            result.unchanged += 1
            size += old[2]
        else:
            changed.append((company, print_, old))
    removed = sorted(set(stored) - {c.id for c in companies})
    if changed or removed:
        first = [(company, print_) for company, print_, old in changed if old is None]
        window = max(quarter_bounds(quarter)[0], now)
        with _page_cache(store, changed), \
                store.transaction() if not dry_run else _no_transaction():
            # the ids of a part planned before fingerprints were stored, kept as they are
            existing = _stored_ids(store, campaign.id, quarter) if first else set()
            first_size = len(first) * len(campaign.channels) * campaign.probes_per_quarter
            big = first_size >= BIG_PLAN
            with (store.indexes_rebuilt("probes") if not dry_run and big
                  and first_size > store.rows_at_most("probes") else contextlib.nullcontext()):
                drawn = _drawn_parts(campaign, [company for company, _ in first], quarter,
                                     window, _Wanted(format_instant(now), existing), result,
                                     big=big)
                for (company, print_), part in zip(first, drawn, strict=True):
                    size += _first_plan(store, campaign, company, quarter, now, print_, window,
                                        part, result, dry_run)
            for company, print_, old in changed:
                if old is not None:
                    size += _replan(store, config, campaign, company, quarter, now, print_,
                                    old, result, dry_run)
            for company_id in removed:
                _cancel_removed(store, config, campaign, company_id, quarter, now, result,
                                dry_run)
    result.sizes[(campaign.id, quarter)] = size


def remember_plans(workspace: Workspace, now: datetime) -> None:
    """Every campaign's plan is up to date for ``now``: what ``svcbench.fastpath`` checks."""
    pairs = [(c.id, campaign_quarter(c, now)) for c in workspace.config.campaigns.values()]
    # an optimisation: a database that cannot take it fails neither the tick nor the plan
    with contextlib.suppress(StoreError), workspace.store.transaction() as conn:
        record_plan(conn, workspace.inputs_digest, now, pairs)


@contextlib.contextmanager
def _page_cache(store: Store, changed: list) -> Iterator[None]:
    """A bigger page cache while a first plan inserts tens of thousands of probes, whose
    random ids and tokens touch index pages all over (a third less CPU at 60,000)."""
    if len(changed) < 50:
        yield
        return
    (previous,) = store.conn.execute("PRAGMA cache_size").fetchone()
    store.conn.execute("PRAGMA cache_size = -65536")
    try:
        yield
    finally:
        store.conn.execute(f"PRAGMA cache_size = {int(previous)}")


class _no_transaction:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _stored_part(store: Store, campaign: str, company: str, quarter: str) -> dict[str, dict]:
    """The planned probes of one company's part of a plan (any status), by id."""
    start, end = quarter_bounds(quarter)
    rows = store.conn.execute(
        "SELECT id, status, attempts, due_at, deadline_at, scenario, shopper, plugin, state "
        "FROM probes WHERE campaign = ? AND company = ? AND due_at >= ? AND due_at < ?",
        (campaign, company, format_instant(start), format_instant(end)))
    columns = ("id", "status", "attempts", "due_at", "deadline_at", "scenario", "shopper",
               "plugin", "state")
    found = {}
    for row in rows:
        item = dict(zip(columns, row, strict=True))
        item["state"] = json.loads(item["state"] or "{}")
        if "plan_index" in item["state"]:  # planned by a campaign, not logged by hand
            found[item["id"]] = item
    return found


def _stored_ids(store: Store, campaign: str, quarter: str) -> set[str]:
    """The ids of a campaign's planned probes in a quarter (a plan's ids name their slot)."""
    start, end = quarter_bounds(quarter)
    return {row[0] for row in store.conn.execute(
        "SELECT id FROM probes WHERE campaign = ? AND due_at >= ? AND due_at < ? "
        "AND json_extract(state, '$.plan_index') IS NOT NULL",
        (campaign, format_instant(start), format_instant(end)))}


@functools.lru_cache(maxsize=4096)
def _state_json(out_of_hours: bool, index: int) -> str:
    """A planned probe's stored state (``to_probe``'s), encoded once per slot and flag."""
    return Store.encode({"out_of_hours": out_of_hours, "plan_index": index})


def _movable(row: dict, now: datetime) -> bool:
    """Never claimed, never tried, not yet due: changing it cannot contact anyone twice."""
    return (row["status"] == ProbeStatus.PLANNED and row["attempts"] == 0
            and parse_instant(row["due_at"]) > now)


#: a first plan of at least this many probes is drawn in worker processes, and stored with
#: the indexes built afterwards when the table holds fewer rows than that
BIG_PLAN = 10_000


class _Wanted(NamedTuple):
    """Which drawn slots a first plan stores: not yet due, and not stored before."""

    #: ``format_instant(now)``: instants stored as text sort as the instants do
    now: str
    #: the ids of a part planned before fingerprints were stored, kept as they are
    existing: set[str]


class _Part(NamedTuple):
    """A company's first plan: how many slots it has, and the rows to store (with tokens)."""

    size: int
    rows: list[tuple[str, ...]]


def _new_part(campaign: Campaign, company: Company, quarter: str, window: datetime,
              wanted: _Wanted) -> _Part:
    rows = drawn_rows(campaign, company, quarter, window)
    new = [row for row in rows if row[7] >= wanted.now and row[0] not in wanted.existing]
    return _Part(len(rows), [(*row, token)
                             for row, token in zip(new, new_tokens(len(new)), strict=True)])


def _drawn_parts(campaign: Campaign, companies: list[Company], quarter: str, window: datetime,
                 wanted: _Wanted, result: PlanSync, *, big: bool) -> Iterator[_Part]:
    """Each company's ``_new_part``, in order; in worker processes (``SVCBENCH_PLAN_WORKERS``,
    one per core by default) when the plan is ``big``, so a first plan of 60,000 probes draws
    them, and makes their tokens, on every core while this process stores the parts already
    drawn."""
    workers = worker_count("SVCBENCH_PLAN_WORKERS")
    done = 0
    # looked up once here, not in each worker, and remembered for the next plan
    end = quarter_bounds(quarter)[1]
    know_holidays(region for company in companies
                  for region in company.calendar().holiday_years(window, end))
    # fork copies the loaded config instead of importing it again: only on Linux (macOS's
    # system libraries are not fork-safe) and never with other threads running, whose locks
    # a forked child would inherit held
    if (workers > 1 and big and threading.active_count() == 1
            and sys.platform == "linux"):
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        # small chunks, so that storing starts soon after the workers do; a chunk is named
        # by its place in what the workers inherit, not sent (pickling 500 companies cost
        # more than drawing them)
        step = max(1, -(-len(companies) // (8 * workers)))
        chunks = [(i, i + step) for i in range(0, len(companies), step)]
        global _FORKED
        _FORKED = (campaign, companies, quarter, window, wanted)
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        result.workers = max(result.workers, workers)
        try:
            for parts in pool.map(_drawn_chunk, chunks):
                for part in parts:
                    done += 1
                    yield part
        except BrokenProcessPool:  # a worker died (killed, out of memory): draw the rest here
            result.workers = 1
        finally:
            pool.shutdown(cancel_futures=True)
            _FORKED = None
    for company in companies[done:]:
        yield _new_part(campaign, company, quarter, window, wanted)


#: what worker processes draw from: set before they are forked
_FORKED: tuple[Campaign, list[Company], str, datetime, _Wanted] | None = None


def _drawn_chunk(chunk: tuple[int, int]) -> list[_Part]:
    if _FORKED is None:
        raise RuntimeError("drawn in a forked worker only")
    campaign, companies, quarter, window, wanted = _FORKED
    # tokens made here are as random as any: secrets reads the kernel's generator
    return [_new_part(campaign, company, quarter, window, wanted)
            for company in companies[chunk[0]:chunk[1]]]


def drawn_rows(campaign: Campaign, company: Company, quarter: str,
               window: datetime) -> list[tuple[str, ...]]:
    """A company's slots as ``Store.add_planned`` stores them, without their tokens."""
    plugins = _plugins(campaign, company)
    per_channel = {ch: (str(ch), plugin, campaign.deadline_for(ch) // _MICROSECOND)
                   for ch, plugin in plugins.items()}
    campaign_id, company_id, shopper = campaign.id, company.id, campaign.shopper
    rows = []
    for d in draw_slots(campaign, company, quarter, not_before=window):
        channel, plugin, deadline = per_channel[d.channel]
        rows.append((d.id, campaign_id, company_id, channel, plugin, d.scenario, shopper,
                     format_micros(d.due_us), format_micros(d.due_us + deadline),
                     _state_json(d.out_of_hours, d.index)))
    return rows


def _plugins(campaign: Campaign, company: Company) -> dict[str, str]:
    if campaign.kind == "availability":
        return dict.fromkeys(campaign.channels, AVAILABILITY_PLUGIN)
    return {ch: plugin_for(company, ch) for ch in campaign.channels if ch in company.channels}


def _row(p: PlannedProbe, campaign: Campaign, plugins: dict[str, str]) -> tuple[str, ...]:
    return (p.id, campaign.id, p.company, str(p.channel), plugins[p.channel], p.scenario,
            campaign.shopper, format_instant(p.due_at), format_instant(p.deadline_at),
            _state_json(p.out_of_hours, p.index))


def _first_plan(store: Store, campaign: Campaign, company: Company, quarter: str,
                now: datetime, print_: str, window: datetime, part: _Part, result: PlanSync,
                dry_run: bool) -> int:
    """Store a company's first plan for a quarter: only what is missing and not yet due
    (a part planned before fingerprints were stored keeps its probes, as planning always
    did)."""
    result.replanned += 1
    created = utcnow()
    if not dry_run:
        store.add_planned(part.rows, created)
    result.n_added += len(part.rows)
    for row in part.rows[:result.room()]:
        result.added.append(_added_probe(row, created, None if dry_run else store.region))
    if not dry_run:
        _remember_part(store, campaign, quarter, company, print_, window, part.size, now)
    return part.size


def _added_probe(row: tuple[str, ...], created: datetime, region: str | None) -> Probe:
    pid, campaign, company, channel, plugin, scenario, shopper, due, deadline, state, token = row
    return Probe(id=pid, company=company, channel=channel, plugin=plugin, campaign=campaign,
                 scenario=scenario, shopper=shopper, status=ProbeStatus.PLANNED,
                 due_at=parse_instant(due), deadline_at=parse_instant(deadline), token=token,
                 state=json.loads(state), created_at=created, region=region)


def _remember_part(store: Store, campaign: Campaign, quarter: str, company: Company,
                   print_: str, window: datetime, size: int, now: datetime) -> None:
    store.conn.execute(
        "INSERT INTO plan_inputs (campaign, quarter, company, fingerprint, window_start, "
        "probes, planned_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (campaign, quarter, company) DO UPDATE SET "
        "fingerprint = excluded.fingerprint, probes = excluded.probes, "
        "planned_at = excluded.planned_at",
        (campaign.id, quarter, company.id, print_, format_instant(window), size,
         format_instant(now)))


def _replan(store: Store, config: Config, campaign: Campaign, company: Company, quarter: str,
            now: datetime, print_: str, old: tuple[str, str, int], result: PlanSync,
            dry_run: bool) -> int:
    """Plan a company's part again after its inputs changed, in the first plan's window."""
    window = parse_instant(old[1])
    plan = plan_campaign(campaign, [company], quarter, not_before=window)
    result.replanned += 1
    existing = _stored_part(store, campaign.id, company.id, quarter)
    new: list[PlannedProbe] = []
    wanted = {}
    plugins = _plugins(campaign, company)
    for planned in plan:
        wanted[planned.id] = planned
        row = existing.get(planned.id)
        if row is None:
            if planned.due_at >= now:  # never due retroactively
                new.append(planned)
        elif _movable(row, now) and planned.due_at > now and _differs(
                row, planned, campaign, company):
            moved = _move(store, row, planned, campaign, company, dry_run)
            result.n_moved += 1
            if result.room():
                result.moved.append(moved)
    tokens, created = new_tokens(len(new)), utcnow()
    rows = [(*_row(p, campaign, plugins), token) for p, token in zip(new, tokens, strict=True)]
    if not dry_run:
        store.add_planned(rows, created)
    result.n_added += len(new)
    for row in rows[:result.room()]:
        result.added.append(_added_probe(row, created, None if dry_run else store.region))
    for probe_id, row in existing.items():
        if probe_id not in wanted and _movable(row, now):
            _cancel(store, config, probe_id, f"no longer in campaign {campaign.id}'s plan",
                    result, dry_run)
    if not dry_run:
        _remember_part(store, campaign, quarter, company, print_, window, len(plan), now)
    return len(plan)


def _differs(row: dict, planned: PlannedProbe, campaign: Campaign, company: Company) -> bool:
    return (parse_instant(row["due_at"]) != planned.due_at
            or parse_instant(row["deadline_at"]) != planned.deadline_at
            or row["scenario"] != planned.scenario or row["shopper"] != campaign.shopper
            or row["plugin"] != plugin_for(company, planned.channel)
            or row["state"].get("out_of_hours") != planned.out_of_hours)


def _move(store: Store, row: dict, planned: PlannedProbe, campaign: Campaign, company: Company,
          dry_run: bool) -> Probe:
    probe = to_probe(planned, campaign, company)
    probe.state = {**row["state"], "out_of_hours": planned.out_of_hours,
                   "plan_index": planned.index}
    if not dry_run:
        store.conn.execute(
            "UPDATE probes SET due_at = ?, deadline_at = ?, scenario = ?, shopper = ?, "
            "plugin = ?, state = ?, updated_at = ? "
            "WHERE id = ? AND status = 'planned' AND attempts = 0",
            (format_instant(probe.due_at), format_instant(probe.deadline_at), probe.scenario,
             probe.shopper, probe.plugin, json.dumps(probe.state, sort_keys=True),
             format_instant(utcnow()), probe.id))
    return probe


def _cancel(store: Store, config: Config, probe_id: str, reason: str, result: PlanSync,
            dry_run: bool) -> None:
    result.cancelled.append(probe_id)
    if dry_run:
        return
    from .lifecycle import finish_probe

    probe = store.get_probe(probe_id)
    if probe is not None and probe.status == ProbeStatus.PLANNED:
        finish_probe(store, probe, Outcome.CANCELLED, config=config, reason=reason)


def _cancel_removed(store: Store, config: Config, campaign: Campaign, company_id: str,
                    quarter: str, now: datetime, result: PlanSync, dry_run: bool) -> None:
    for probe_id, row in _stored_part(store, campaign.id, company_id, quarter).items():
        if _movable(row, now):
            _cancel(store, config, probe_id, f"company left campaign {campaign.id}", result,
                    dry_run)
    if not dry_run:
        store.conn.execute(
            "DELETE FROM plan_inputs WHERE campaign = ? AND quarter = ? AND company = ?",
            (campaign.id, quarter, company_id))
