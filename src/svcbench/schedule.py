"""``tick``: the one cron entry. Plan, recover, start what is due, advance, expire.

Safe to re-run and to kill at any point:
- a file lock keeps two overlapping runs apart (the second exits at once with code 75);
- a probe is claimed (planned -> starting) by compare-and-set before anything irreversible
  happens, and its start events are stored in the same transaction that marks it running;
- a probe found in ``starting`` belongs to a run that died: its plugin looks for evidence
  that it was started (``recover``); without evidence it is marked failed, never started again;
- servers that are down leave probes planned with a backoff: our side's trouble never counts
  against a company.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from .dispatch import DEFAULT_POLL_S, dispatch
from .errors import (
    LockedError,
    ProbeError,
    RetryableProbeError,
    StartUnknownError,
    StoreError,
    SvcbenchError,
)
from .fastpath import LOCK_FILE, record_tick
from .lifecycle import finish_probe
from .models import Event, Outcome, Probe, ProbeStatus, format_instant, utcnow
from .plan_sync import remember_plans, sync_plans
from .plugins import ProbeContext, probe_plugin
from .workspace import Workspace, plugin_migrations

#: a probe left in STARTING longer than this belongs to a run that died
STALE_START = timedelta(minutes=15)
MAX_BACKOFF = timedelta(hours=2)
DEFAULT_CONCURRENCY = 20
#: while long probes are in progress, running probes are advanced (mail collected) this often,
#: as a cron run every minute would have, had the lock not kept it out
ADVANCE_EVERY_S = 60.0


@dataclass
class TickReport:
    """What one tick did; printed by the CLI and written to the log."""

    planned: int = 0
    started: int = 0
    retried: int = 0
    recovered: int = 0
    advanced_events: int = 0
    #: passes over running probes made while long probes were still in progress
    advanced_meanwhile: int = 0
    finished: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    would_start: list[Probe] = field(default_factory=list)
    #: due probes left for the next run because the tick's budget was spent
    deferred: int = 0
    #: steps skipped because the budget was spent
    skipped: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    budget_s: float | None = None
    #: the previous run died holding the lock (what the lock file said)
    stale_lock: str | None = None
    #: seconds each step took
    step_s: dict[str, float] = field(default_factory=dict)
    #: answered by ``svcbench.fastpath`` (nothing to do) without the full tick
    fast_path: bool = False

    def count_finished(self, outcome: Outcome) -> None:
        self.finished[str(outcome)] = self.finished.get(str(outcome), 0) + 1

    def as_dict(self) -> dict:
        return {
            "planned": self.planned, "started": self.started, "retried": self.retried,
            "recovered": self.recovered, "events": self.advanced_events,
            "advanced_meanwhile": self.advanced_meanwhile,
            "finished": dict(self.finished), "failed": list(self.failed),
            "deferred": self.deferred, "skipped": list(self.skipped),
            "elapsed_s": round(self.elapsed_s, 3), "budget_s": self.budget_s,
            "stale_lock": self.stale_lock, "step_s": dict(self.step_s),
            "fast_path": self.fast_path,
            "would_start": [
                {"id": p.id, "company": p.company, "channel": str(p.channel),
                 "due_at": p.due_at.isoformat() if p.due_at else None}
                for p in self.would_start
            ],
        }


#: a lock held this long past the holder's tick budget means that run is hung (a chat under
#: way when the budget ran out may rightly take a quarter of an hour more)
OVERDUE_GRACE = timedelta(minutes=30)


@dataclass
class LockHolder:
    """What the lock file says about the run that holds (or last held) the lock."""

    pid: int | None
    since: datetime | None
    budget_s: float | None

    @classmethod
    def parse(cls, text: str) -> LockHolder | None:
        fields = dict(zip(text.split()[::2], text.split()[1::2], strict=False))
        if "pid" not in fields:
            return None
        try:
            pid = int(fields["pid"])
            since = datetime.fromisoformat(fields["since"]) if "since" in fields else None
            budget = float(fields["budget_s"]) if "budget_s" in fields else None
        except ValueError:
            return None
        return cls(pid, since, budget)

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        since = f" since {self.since.isoformat(timespec='seconds')}" if self.since else ""
        return f"pid {self.pid}{since}"

    def overdue(self, now: datetime) -> bool:
        if self.since is None:
            return False
        budget = timedelta(seconds=self.budget_s) if self.budget_s else timedelta(0)
        return now - self.since > budget + OVERDUE_GRACE


@contextlib.contextmanager
def workspace_lock(root: Path, *, budget_s: float | None = None,
                   on_stale: Callable[[str], None] | None = None) -> Iterator[None]:
    """An exclusive, non-blocking lock; the kernel releases it even after kill -9.

    The file names the holder (pid, start, budget) while a run holds it and is emptied when
    it ends, so a run that finds it non-empty knows the previous one died (``on_stale`` is
    told), and a run that finds it held can say whether the holder is gone or overdue.
    """
    path = root / LOCK_FILE
    try:
        handle = path.open("a+")
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the lock file ({exc.strerror}); "
                         "is the workspace read-only?") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise LockedError(_held_message(path, handle.read().strip())) from None
        handle.seek(0)
        previous = LockHolder.parse(handle.read())
        if previous is not None and on_stale is not None:
            on_stale(f"{path}: the previous run ({previous.describe()}) ended without "
                     "releasing the lock: it was killed or crashed; its claimed probes are "
                     "recovered from evidence")
        try:
            handle.seek(0)
            handle.truncate()
            budget = f" budget_s {budget_s:g}" if budget_s else ""
            handle.write(f"pid {os.getpid()} since "
                         f"{utcnow().isoformat(timespec='seconds')}{budget}\n")
            handle.flush()
        except OSError as exc:
            raise StoreError(f"{path}: cannot write the lock file ({exc.strerror}); "
                             "is the disk full or read-only?") from None
        try:
            yield
        finally:
            with contextlib.suppress(OSError):  # ended, not killed: the next run finds it empty
                handle.seek(0)
                handle.truncate()
    finally:
        with contextlib.suppress(OSError):  # a full disk fails the flush on close again
            handle.close()


def _held_message(path: Path, text: str) -> str:
    holder = LockHolder.parse(text)
    if holder is None:
        return f"{path}: another svcbench run holds the lock ({text or 'unknown'}); try again later"
    if not holder.alive():
        return (f"{path}: stale lock: {holder.describe()} is no longer running but the lock is "
                "still held (a child process of it may have inherited the file); "
                f"find it with 'fuser {path}' and end it")
    if holder.overdue(utcnow()):
        budget = f" (budget {holder.budget_s:g} s)" if holder.budget_s else ""
        return (f"{path}: stale lock: the run holding it ({holder.describe()}) is overdue"
                f"{budget} and looks hung; check it, e.g. 'kill {holder.pid}'")
    return f"{path}: another svcbench run holds the lock ({holder.describe()}); try again later"


class NotStartable(SvcbenchError):
    """``--probe`` names a probe that must not (or cannot) be started now."""

    exit_code = 2


def backoff(attempts: int, first: timedelta = timedelta(minutes=1),
            cap: timedelta = MAX_BACKOFF) -> timedelta:
    """1, 2, 4, ... minutes, capped: how long a probe waits after our side failed to start it."""
    return min(first * 2 ** min(max(0, attempts - 1), 30), cap)


class Ticker:
    """Runs one tick over a workspace. ``progress`` is told about each step (for rich bars)."""

    def __init__(self, workspace: Workspace, *, now: Callable[[], datetime] = utcnow,
                 concurrency: int = DEFAULT_CONCURRENCY, dry_run: bool = False,
                 progress: Callable[[str, int], None] | None = None,
                 start_window: timedelta | None = None, poll_s: float = DEFAULT_POLL_S,
                 only_probe: str | None = None, budget_s: float | None = None,
                 advance_every_s: float = ADVANCE_EVERY_S):
        self.ws = workspace
        self.store = workspace.store
        self.config = workspace.config
        self.now = now
        self.concurrency = concurrency
        self.dry_run = dry_run
        self.progress = progress or (lambda step, n: None)
        #: while earlier probes are in progress, probes that become due this long after the
        #: tick began are started by it too (a cron run meanwhile finds the lock held)
        self.start_window = start_window or self.config.settings.start_window_td
        from . import browser

        browser.set_limit(self.config.settings.browser_max_contexts)
        browser.limit()   # a bad $SVCBENCH_BROWSER_MAX_CHATS is a clear error before any work
        self.poll_s = poll_s
        self.advance_every_s = advance_every_s
        self.report = TickReport()
        #: run just this probe now, due or not (``tick --probe``, ``probes run``)
        self.only_probe = only_probe
        self.budget_s = budget_s if budget_s is not None else self.config.settings.tick_budget_s
        self.report.budget_s = self.budget_s
        self.began = time.monotonic()

    @property
    def budget_ends(self) -> float:
        return self.began + self.budget_s

    def over_budget(self) -> bool:
        return time.monotonic() >= self.budget_ends

    async def _timed(self, name: str, step) -> None:
        began = time.monotonic()
        await step
        self.report.step_s[name] = round(time.monotonic() - began, 3)

    async def run(self) -> TickReport:
        self.began = time.monotonic()
        ctx = self.ws.context(clock=self.now, budget_ends=self.budget_ends)
        try:
            self.plan()
            if self.dry_run:
                self.report.would_start = self.due()
                return self.report
            await self._timed("recover", self.recover_stale(ctx))
            if self.only_probe is not None:
                await self._start(self.one_probe(), ctx)
                return self.report
            await self._timed("start", self.start_due(ctx))
            await self._timed("advance", self.advance_running(ctx))
            self.expire_unstarted()
        finally:
            await ctx.aclose()
            self.report.failed.extend(ctx.problems)
            self.report.elapsed_s = time.monotonic() - self.began
        return self.report

    # -- steps ------------------------------------------------------------------------

    def plan(self) -> None:
        """Plan what changed since the last plan (usually nothing: one small table read)."""
        now = self.now()
        result = sync_plans(self.store, self.config, now, dry_run=self.dry_run, keep=False)
        self.report.planned = result.n_added
        if not self.dry_run:
            remember_plans(self.ws, now)

    def due(self) -> list[Probe]:
        now = self.now()
        return [
            p for p in self.store.probes(status=ProbeStatus.PLANNED, due_before=now)
            if probe_plugin(p.plugin).automatic
            and (p.deadline_at is None or p.deadline_at > now)
            and (not p.state.get("next_attempt_at")
                 or datetime.fromisoformat(p.state["next_attempt_at"]) <= now)
        ]

    def one_probe(self) -> Probe:
        """The probe named by ``only_probe`` (id or unique prefix), if it may start now: only a
        planned probe is ever started, so running it twice never contacts a company twice."""
        probe = self.store.find_probe(self.only_probe or "")
        if probe is None:
            raise NotStartable(f"--probe: no probe {self.only_probe!r} (see 'svcbench probes')")
        if probe.status != ProbeStatus.PLANNED:
            raise NotStartable(
                f"--probe: probe {probe.id[:8]} is {probe.status}"
                + (f" ({probe.outcome})" if probe.outcome else "")
                + "; only a planned probe is started, and never twice")
        if not probe_plugin(probe.plugin).automatic:
            raise NotStartable(f"--probe: probe {probe.id[:8]} is a manual {probe.channel} "
                                "probe; log it with 'svcbench call' or 'svcbench log'")
        if probe.deadline_at is not None and probe.deadline_at <= self.now():
            raise NotStartable(f"--probe: probe {probe.id[:8]}'s deadline has passed")
        return probe

    def _is_stale(self, probe: Probe) -> bool:
        """Claimed by a process that is gone, or so long ago that it must have died."""
        claimed = probe.state.get("claimed_at")
        if not claimed or datetime.fromisoformat(claimed) < self.now() - STALE_START:
            return True
        pid = probe.state.get("claimed_by")
        if pid == os.getpid():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, TypeError, ValueError):
            return False
        return False

    async def recover_stale(self, ctx: ProbeContext) -> None:
        for probe in self.store.probes(status=ProbeStatus.STARTING):
            if not self._is_stale(probe):
                continue  # a live run may still be starting it
            if self.over_budget():
                self.report.skipped.append("recover")
                return  # stays claimed: the next run looks for the evidence
            try:
                events = await probe_plugin(probe.plugin).recover(probe, ctx)
            except RetryableProbeError as exc:
                self.report.failed.append(f"{probe.company} {probe.channel}: {exc}")
                ctx.logger.warning("probe %s: %s; recovery tried again next run",
                                   probe.id[:8], exc)
                continue
            if events:
                self._mark_running(probe, events)
                self.report.recovered += 1
            else:
                why = probe.state.get("start_unknown") or "after a crash"
                self._finish(probe, Outcome.FAILED,
                             f"start outcome unknown ({why}); not started again so the "
                             "company is never contacted twice")

    async def start_due(self, ctx: ProbeContext) -> None:
        """Start what is due, and what becomes due while earlier probes are in progress;
        meanwhile advance running probes every ``advance_every_s``."""
        begun = time.monotonic()

        async def start_one(probe: Probe) -> None:
            if self.over_budget():
                self.report.deferred += 1  # still planned: the next run starts it
                return
            await self._start(probe, ctx)
            self.progress("started", 1)

        starting = asyncio.create_task(dispatch(
            self.due, start_one, concurrency=self.concurrency, clock=self.now,
            may_start=lambda: (time.monotonic() - begun < self.start_window.total_seconds()
                               and not self.over_budget()),
            next_due=lambda: self.store.next_due_at(self.now()), poll_s=self.poll_s,
            on_found=lambda total: self.progress("start", total)))
        try:
            await self.advance_meanwhile(ctx, starting)
        except BaseException:
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
            raise
        await starting

    async def advance_meanwhile(self, ctx: ProbeContext, starting: asyncio.Task) -> None:
        """Until ``starting`` ends, advance running probes every ``advance_every_s`` (within
        the budget), so a reply waiting in a mailbox is collected while a chat sits in a queue.

        Collection runs in a thread; it gets a database connection of its own, since this
        event loop keeps claiming and starting probes on the tick's connection meanwhile.
        Probes being started are claimed (``starting``), never ``running``: not advanced here.
        """
        side: ProbeContext | None = None
        try:
            while not starting.done():
                await asyncio.wait({starting}, timeout=self.advance_every_s)
                if starting.done() or self.over_budget():
                    return
                if side is None:
                    from .store import Store

                    side = replace(ctx, store=Store(self.store.path,
                                                    migrations=plugin_migrations()), _http=None)
                await self.advance_running(side)
                self.report.advanced_meanwhile += 1
        finally:
            if side is not None:
                await side.aclose()
                side.store.close()

    async def _start(self, probe: Probe, ctx: ProbeContext) -> None:
        claimed_at = self.now()
        state = {**probe.state, "claimed_at": claimed_at.isoformat(), "claimed_by": os.getpid()}
        # durable: a claim lost to a power cut or filesystem error would let a later run send
        # again; if the fsync fails, StoreError is raised here and nothing is sent
        if not self.store.update_probe(probe.id, expect_status=ProbeStatus.PLANNED,
                                       status=ProbeStatus.STARTING, state=state,
                                       attempts=probe.attempts + 1, durable=True):
            return  # another run claimed it first
        probe.state, probe.status, probe.attempts = state, ProbeStatus.STARTING, probe.attempts + 1
        plugin = probe_plugin(probe.plugin)
        try:
            events = await plugin.start(probe, ctx)
        except RetryableProbeError as exc:
            settings = self.config.settings
            retry_at = self.now() + backoff(probe.attempts, settings.retry_backoff_td,
                                            settings.retry_backoff_max_td)
            # the plugin may have stored state (e.g. its Message-ID) during start: keep it
            current = self.store.get_probe(probe.id) or probe
            self.store.update_probe(
                probe.id, status=ProbeStatus.PLANNED,
                state={**current.state, "next_attempt_at": retry_at.isoformat(),
                       "last_error": str(exc)},
                events=[Event(probe.id, "probe.retry", self.now(), {"reason": str(exc),
                              "retry_at": retry_at.isoformat()})],
            )
            self.report.retried += 1
            ctx.logger.warning("probe %s (%s %s): %s; retry at %s", probe.id[:8],
                               probe.company, probe.channel, exc, retry_at.isoformat())
            return
        except StoreError:
            raise  # the database failed, not the probe: nothing more can be recorded
        except StartUnknownError as exc:
            # it may have reached the company: stay claimed, recovery decides from evidence
            current = self.store.get_probe(probe.id) or probe
            self.store.update_probe(probe.id, state={**current.state, "start_unknown": str(exc)})
            self.report.failed.append(f"{probe.company} {probe.channel}: {exc}")
            ctx.logger.warning("probe %s (%s %s): %s", probe.id[:8], probe.company,
                               probe.channel, exc)
            return
        except (ProbeError, SvcbenchError) as exc:
            self._finish(probe, Outcome.FAILED, str(exc))
            self.report.failed.append(f"{probe.company} {probe.channel}: {exc}")
            return
        self._mark_running(probe, events)
        self.report.started += 1

    def _mark_running(self, probe: Probe, events: list[Event]) -> None:
        started = min((e.at for e in events), default=self.now())
        current = self.store.get_probe(probe.id) or probe
        self.store.update_probe(probe.id, events=events, status=ProbeStatus.RUNNING,
                                started_at=started, state=current.state)
        probe.status, probe.started_at = ProbeStatus.RUNNING, started
        self._maybe_finish(probe)

    async def advance_running(self, ctx: ProbeContext) -> None:
        if self.over_budget():
            self.report.skipped.append("advance")  # running probes wait for the next run
            return
        running = self.store.probes(status=ProbeStatus.RUNNING)
        by_plugin: dict[str, list[Probe]] = {}
        for probe in running:
            plugin = probe_plugin(probe.plugin)
            if plugin.automatic:
                by_plugin.setdefault(plugin.advance_group or probe.plugin, []).append(probe)
        self.progress("advance", len(running))
        for name, probes in by_plugin.items():
            try:
                new = await probe_plugin(name).advance_all(probes, ctx)
            except RetryableProbeError as exc:
                # e.g. the IMAP server is down: probes stay running, nothing is concluded
                ctx.logger.warning("%s: could not check running probes: %s", name, exc)
                self.report.failed.append(f"{name}: {exc}")
                new = {}
            for probe in probes:
                events = new.get(probe.id, [])
                if events:
                    self.report.advanced_events += self.store.add_events(events)
                self._maybe_finish(probe)
        # manual probes past their deadline without an answer
        for probe in running:
            if not probe_plugin(probe.plugin).automatic:
                self._maybe_finish(probe)

    def _maybe_finish(self, probe: Probe) -> None:
        plugin = probe_plugin(probe.plugin)
        events = self.store.events(probe.id)
        outcome = plugin.outcome(probe, events, self.now())
        if outcome is not None:
            self._finish(probe, outcome, plugin.outcome_reason(probe, events))

    def expire_unstarted(self) -> None:
        """Planned probes whose deadline passed before we could start them: our side's fault."""
        now = self.now()
        for probe in self.store.probes(status=ProbeStatus.PLANNED, due_before=now):
            if probe.deadline_at is None or probe.deadline_at > now:
                continue
            if probe_plugin(probe.plugin).automatic:
                reason = "never started before its deadline: " + probe.state.get(
                    "last_error", "no run was due in time")
                self._finish(probe, Outcome.FAILED, reason)
            else:
                self._finish(probe, Outcome.CANCELLED, "not performed before its deadline")

    def _finish(self, probe: Probe, outcome: Outcome, reason: str | None) -> None:
        finish_probe(self.store, probe, outcome, config=self.config, reason=reason,
                     at=self.now())
        self.report.count_finished(outcome)


def tick(workspace: Workspace, **kwargs) -> TickReport:
    """One locked tick; raises LockedError if another run holds the workspace lock."""
    import logging

    budget = kwargs.get("budget_s") or workspace.config.settings.tick_budget_s
    log = logging.getLogger("svcbench")
    stale: list[str] = []
    with workspace_lock(workspace.root, budget_s=budget, on_stale=stale.append):
        for line in stale:
            log.warning("%s", line)
        ticker = Ticker(workspace, **kwargs)
        ticker.report.stale_lock = stale[0] if stale else None
        report = asyncio.run(ticker.run())
        if not ticker.dry_run:
            remember_tick(ticker)
    from .metrics_export import write_textfile_if_configured

    write_textfile_if_configured(workspace)
    return report


def remember_tick(ticker: Ticker) -> None:
    """What a full tick left waiting, for the idle fast path (``svcbench.fastpath``)."""
    store, settings = ticker.store, ticker.config.settings
    now = ticker.now()
    plugins = {row[0] for row in store.conn.execute(
        "SELECT DISTINCT plugin FROM probes WHERE status = 'planned' AND due_at <= ?",
        (format_instant(now),))}
    automatic = {}
    for name in plugins:
        # one that cannot be loaded counts as automatic: nothing is then recorded as idle
        with contextlib.suppress(SvcbenchError, ImportError, AttributeError):
            automatic[name] = probe_plugin(name).automatic
    # an optimisation: a database that cannot take it fails neither the tick nor the record
    with contextlib.suppress(StoreError), store.transaction() as conn:
        record_tick(conn, ticker.ws.inputs_digest, now, automatic=automatic,
                    budget_s=ticker.budget_s,
                    log_file=str(settings.log_file) if settings.log_file else None,
                    textfile=settings.prometheus_textfile is not None)
