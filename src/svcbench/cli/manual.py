"""Commands: call (phone stopwatch), log call/return/delivery/open, import csv."""

from __future__ import annotations

import os
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from ..render.safe import markup
from ._app import app
from ._common import (
    JsonOption,
    WorkspaceOption,
    console,
    fail,
    open_workspace,
    print_json,
)
from ._output import Output, output_options
from .results import human_duration, measurement_row

if TYPE_CHECKING:
    from rich.text import Text

    from ..config import Company, Config
    from ..manual_log import EntryError
    from ..models import Probe
    from ..probes.manual.stopwatch import CallStopwatch
    from ..workspace import Workspace

TIME_HELP = ("ISO 8601; a date (2026-03-02) or a time without offset (2026-03-02T10:15) is in "
             "the company's time zone; 'now' works too.")
DURATION_HELP = "Seconds (95) or 95s, 1m35s, 1:35."


# -- shared helpers ----------------------------------------------------------------------------

#: entry fields -> the option a person typed
_OPTION_NAMES = {
    "dialed_at": "--at", "agent_after": "--agent-after", "abandoned_after": "--abandoned-after",
    "hold": "--hold", "transferred": "--transferred", "resolved": "--resolved",
    "requested_at": "--requested", "shipped_at": "--shipped", "refunded_at": "--refunded",
    "placed_at": "--placed", "delivered_at": "--delivered", "amount": "--amount",
    "scenario": "--scenario", "shopper": "--shopper", "campaign": "--campaign",
    "company": "COMPANY", "probe": "--probe", "wait_announced": "--wait-announced",
    "ivr_steps": "--ivr-steps",
}


ScenarioOption = typer.Option(None, "--scenario", help="Scenario id.")
ShopperOption = typer.Option(None, "--shopper", help="Shopper id.")
CampaignOption = typer.Option(None, "--campaign", help="Campaign id.")
AllowUnlistedOption = typer.Option(
    False, "--allow-unlisted-channel",
    help="Accept a company that does not list this channel (e.g. history from before it "
    "dropped the channel).")


def _entry_fail(exc: EntryError) -> NoReturn:
    fail(f"{_OPTION_NAMES.get(exc.field, exc.field)}: {exc.problem}; nothing was written")


def _company(config: Config, ident: str) -> Company:
    from ..errors import ConfigError
    from ..manual_log import company_of

    try:
        return company_of(config, ident)
    except ConfigError as exc:
        fail(str(exc))


def _check_refs(config: Config, **refs: str | None) -> None:
    for kind, value in refs.items():
        known = getattr(config, f"{kind}s")
        if value is not None and value not in known:
            fail(f"--{kind}: unknown {kind} {value!r} (known: "
                 f"{', '.join(sorted(known)) or 'none defined'})")


def _report(ws: Workspace, probe: Probe, as_json: bool, headline: Text | str) -> None:
    """Print the new/updated probe: its id, and its measurement if it is finished."""
    store = ws.store
    probe = store.get_probe(probe.id) or probe
    rows = list(store.db.query("SELECT * FROM measurements WHERE probe_id = ?", [probe.id]))
    measured = store.measurement_from_row(rows[0]) if rows else None
    if as_json:
        print_json({
            "probe_id": probe.id, "company": probe.company, "channel": str(probe.channel),
            "status": str(probe.status), "outcome": str(probe.outcome) if probe.outcome else None,
            "measurement": measurement_row(measured, ws.config) if measured else None,
        })
        return
    out = console()
    out.print(headline)
    if measured is not None:
        out.print(f"  outcome   {measured.outcome}")
        if measured.wait_s is not None:
            out.print(f"  wait      {human_duration(measured.wait_s)} "
                      f"(business hours: {human_duration(measured.wait_bh_s)})")
    else:
        out.print(f"  status    {probe.status} (complete it later with --probe {probe.id[:8]})")
    out.print(f"  probe     {probe.id}")


# -- svcbench call -----------------------------------------------------------------------------


@app.command()
def call(
    company: str = typer.Argument(..., help="The company to call (id or name)."),
    scenario: str | None = typer.Option(None, "--scenario", help="Scenario id (what you ask)."),
    shopper: str | None = typer.Option(None, "--shopper", help="Shopper id (who calls)."),
    campaign: str | None = typer.Option(None, "--campaign", help="Campaign id."),
    allow_unlisted_channel: bool = AllowUnlistedOption,
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Time a phone call live: a stopwatch in the terminal, one key per thing that happens.

    Press d (or space) when you dial; then i = IVR prompt, o = option pressed (asks the digit),
    0 = pressed 0 / asked for an agent, h = on hold, m = hold music (y/n), w = wait time
    announced (asks seconds), a = live agent answered, t = transferred, r = resolved,
    n = note, u = undo last, x = hang up (ends and saves the call), q = quit (cancel).
    Every key is stored the moment you press it. To record a call afterwards use
    `svcbench log call`.
    """
    from ..manual_log import EntryError, check_channel
    from ..models import Channel

    ws = open_workspace(workspace)
    target = _company(ws.config, company)
    _check_refs(ws.config, scenario=scenario, shopper=shopper, campaign=campaign)
    if not allow_unlisted_channel:
        try:
            check_channel(target, Channel.PHONE)
        except EntryError as exc:
            _entry_fail(exc)
    if not sys.stdin.isatty():
        fail("stdin is not a terminal: `svcbench call` reads single key presses; to record a "
             "call afterwards use `svcbench log call`")
    ws.store  # noqa: B018 - open (and migrate) the database before the clock matters
    planned = _next_planned_call(ws, target, campaign)
    if planned is not None:
        scenario = scenario or planned.scenario
        shopper = shopper or planned.shopper
        campaign = campaign or planned.campaign
    _run_stopwatch(ws, target, scenario=scenario, shopper=shopper, campaign=campaign,
                   planned=planned)


def _next_planned_call(ws: Workspace, company: Company, campaign: str | None) -> Probe | None:
    """The campaign's planned phone probe this call fulfils: the one due first."""
    from ..models import Channel, ProbeStatus
    from ..plugins import plugin_for

    found = ws.store.probes(status=ProbeStatus.PLANNED, channel=Channel.PHONE,
                            company=company.id, campaign=campaign,
                            plugin=plugin_for(company, Channel.PHONE), limit=1)
    return found[0] if found else None


def _call_notes(ws: Workspace, company: Company, question: str | None,
                planned: Probe | None) -> list[str]:
    """What the caller should know before dialing: what to ask, closed now, which probe."""
    from ..models import utcnow

    notes = [f"Ask: {question}" if question else
             "No scenario: ask a question of your own (or pass --scenario) and note it with n."]
    calendar = company.calendar()
    now = utcnow()
    if not calendar.is_open(now):
        opening = calendar.next_opening(now)
        when = (f"opens {opening.astimezone(calendar.tz):%a %d %b %H:%M %Z}" if opening
                else "no opening in the next 60 days")
        notes.append(f"Closed now ({when}): the call is timed anyway; business-hours waits "
                     "count from the opening.")
    if planned is not None:
        due = (f", due {planned.due_at.astimezone(calendar.tz):%d %b %H:%M %Z}"
               if planned.due_at else "")
        notes.append(f"This call fulfils planned probe {planned.id[:8]}"
                     f"{f' of campaign {planned.campaign}' if planned.campaign else ''}{due}.")
    return notes


_ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z~]|O.)")


def _run_stopwatch(ws: Workspace, company: Company, *, scenario: str | None,
                   shopper: str | None, campaign: str | None, planned: Probe | None) -> None:
    import dataclasses
    import select
    import signal
    import termios
    import tty

    from rich.live import Live

    from ..lifecycle import finish_probe
    from ..models import Channel, Outcome, Probe, ProbeStatus, new_id
    from ..plugins import plugin_for
    from ..probes.manual.stopwatch import CallStopwatch, Pending

    store = ws.store
    out = console()
    watch = CallStopwatch(probe_id=planned.id if planned is not None else new_id())
    question = None
    if scenario is not None and scenario in ws.config.scenarios:
        question = ws.config.scenarios[scenario].question_for(Channel.PHONE)
    notes = _call_notes(ws, company, question, planned)
    number = company.channels.get(Channel.PHONE)
    number_text = str(number.options.get("number", "")) if number is not None else ""
    probe: Probe | None = None

    def store_events(events) -> None:
        nonlocal probe
        if not events:
            return
        if events[0].kind == "call.dialed" and planned is not None:
            claimed = store.update_probe(
                planned.id, expect_status=ProbeStatus.PLANNED, events=events,
                status=ProbeStatus.RUNNING, started_at=events[0].at, scenario=scenario,
                shopper=shopper, state={**planned.state, "recorded_with": "svcbench call"},
                source="manual")  # planned as a campaign slot, made by a person
            if claimed:
                probe = store.get_probe(planned.id)
                return
            # another run took the planned probe meanwhile: this call becomes a probe of its own
            watch.probe_id = new_id()
            watch.events = [dataclasses.replace(e, probe_id=watch.probe_id)
                            for e in watch.events]
            events = [e for e in watch.events if e.kind == "call.dialed"]
        if events[0].kind == "call.dialed":
            probe = Probe(
                id=watch.probe_id, company=company.id, channel=Channel.PHONE,
                plugin=plugin_for(company, Channel.PHONE), campaign=campaign, scenario=scenario,
                shopper=shopper, status=ProbeStatus.RUNNING, started_at=events[0].at,
                state={"recorded_with": "svcbench call"}, source="manual",
            )
            store.add_probe(probe, events)
        else:
            store.add_events(events)

    # Ctrl-C asks before cancelling a call that is under way (a second Ctrl-C confirms); it is
    # a flag, not an exception, so it never interrupts a write to the database
    interrupts: list[int] = []
    previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupts.append(1))
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        with Live(_screen(watch, company, number_text, notes), console=out,
                  auto_refresh=False, transient=False) as live:
            while not watch.finished:
                try:
                    ready, _, _ = select.select([fd], [], [], 0.1)
                except InterruptedError:
                    ready = []
                if interrupts:
                    interrupts.clear()
                    if watch.dialed_at is None:
                        watch.finished = "quit"
                    elif watch.pending is not None and watch.pending.kind == "quit":
                        watch.press("y")
                    else:
                        watch.pending = Pending("quit", watch.now())
                        watch.message = "Ctrl-C: y cancels the call, n goes on"
                if ready:
                    chunk = os.read(fd, 64).decode("utf-8", errors="ignore")
                    for key in _ESCAPE_SEQUENCE.sub("", chunk):
                        store_events(watch.press(key))
                        if watch.finished:
                            break
                live.update(_screen(watch, company, number_text, notes), refresh=True)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGINT, previous_handler)
    if probe is None:
        out.print("No call was dialed; nothing recorded.")
        return
    if watch.finished == "quit":
        finish_probe(store, probe, Outcome.CANCELLED, config=ws.config,
                     reason="quit before hanging up")
        out.print(f"Call cancelled (not counted). Marks kept in probe {probe.id}")
        return
    outcome = Outcome.ANSWERED if watch.has("call.agent_answered") else Outcome.ABANDONED
    measurement = finish_probe(store, probe, outcome, config=ws.config,
                               at=watch.live_events()[-1].at)
    _print_call_summary(company, probe, measurement)


def _screen(watch: CallStopwatch, company: Company, number: str, notes: list[str]):
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from ..probes.manual.stopwatch import COMMAND_KEYS, KEYS, describe

    parts: list[Any] = []
    title = f"Call {company.name}" + (f"  {number}" if number else "")
    head = Text()
    if watch.dialed_at is None:
        head.append("Press d (or space) when you dial.  q quits.", style="bold yellow")
    else:
        elapsed = watch.elapsed()
        minutes, seconds = divmod(elapsed, 60)
        head.append(f"{int(minutes):02d}:{seconds:04.1f}", style="bold cyan")
        head.append(f"   {watch.status()}", style="bold")
    parts.append(head)
    for note in notes:
        parts.append(Text(note, style="yellow" if note.startswith("Closed") else "dim"))
    log = Table.grid(padding=(0, 2))
    log.add_column(justify="right", style="cyan")
    log.add_column()
    shown = watch.live_events()[-12:]
    for event in shown:
        log.add_row(f"+{human_duration(watch.elapsed(event.at))}", describe(event))
    if shown:
        parts.append(log)
    prompt = watch.prompt()
    if prompt:
        parts.append(Text(prompt, style="bold yellow"))
    if watch.message:
        parts.append(Text(watch.message, style="magenta"))
    legend = Table.grid(padding=(0, 2))
    for _ in range(3):
        legend.add_column()
    items = [markup("[bold]{}[/bold] {}", k, label) for k, (_, label) in KEYS.items()]
    items += [markup("[bold]{}[/bold] {}", k, label) for k, label in COMMAND_KEYS.items()]
    for index in range(0, len(items), 3):
        legend.add_row(*items[index:index + 3], *[""] * (3 - len(items[index:index + 3])))
    parts.append(Panel(legend, title="keys", title_align="left", border_style="dim"))
    return Panel(Group(*parts), title=title, title_align="left")


def _print_call_summary(company: Company, probe: Probe, m) -> None:
    out = console()
    out.print(markup("[bold]Call to {}: {}[/bold]", company.name, m.outcome))
    out.print(f"  time to live agent   {human_duration(m.wait_s)}"
              + (f" (business hours: {human_duration(m.wait_bh_s)})" if m.wait_s else ""))
    out.print(f"  IVR steps            {m.metrics.get('ivr_steps', 0)}")
    out.print(f"  hold time            {human_duration(m.metrics.get('hold_s'))}")
    if m.metrics.get("abandoned_after_s") is not None:
        out.print(f"  gave up after        {human_duration(m.metrics['abandoned_after_s'])}")
    if m.metrics.get("call_length_s") is not None:
        out.print(f"  call length          {human_duration(m.metrics['call_length_s'])}")
    out.print(f"  probe                {probe.id}")


# -- svcbench log ------------------------------------------------------------------------------

log_app = typer.Typer(
    help="Record manual probes without the stopwatch (for scripts and after the fact). "
    "Times: " + TIME_HELP,
    no_args_is_help=True,
)
app.add_typer(log_app, name="log")


def _when(company: Company, text: str | None, option: str) -> datetime | None:
    from ..manual_log import EntryError, parse_when

    if text is None:
        return None
    try:
        return parse_when(text, company.timezone, option)
    except EntryError as exc:
        fail(f"{option}: {exc.problem}; nothing was written")


def _seconds(text: str | None, option: str) -> float | None:
    from ..manual_log import EntryError, parse_seconds

    if text is None:
        return None
    try:
        return parse_seconds(text, option)
    except EntryError as exc:
        fail(f"{option}: {exc.problem}; nothing was written")


def _save_new(ws: Workspace, entry, as_json: bool, what: str,
              allow_unlisted_channel: bool = False) -> None:
    from ..manual_log import EntryError, plan, save
    from ..models import new_id

    try:
        planned = plan(entry, ws.config, new_id(), state={"recorded_with": "svcbench log"},
                       allow_unlisted_channel=allow_unlisted_channel)
    except EntryError as exc:
        _entry_fail(exc)
    save(ws.store, ws.config, [planned])
    company = ws.config.companies[entry.company]
    _report(ws, planned.probe, as_json,
            markup("Logged {} for [bold]{}[/bold]", what, company.name))


@log_app.command("call")
def log_call(
    company: str = typer.Argument(..., help="Company id or name."),
    at: str = typer.Option(..., "--at", help="When you dialed. " + TIME_HELP),
    ivr_steps: int = typer.Option(0, "--ivr-steps", min=0, help="Menu options pressed."),
    hold: str | None = typer.Option(None, "--hold", help="Time on hold. " + DURATION_HELP),
    agent_after: str | None = typer.Option(
        None, "--agent-after", help="A live agent answered this long after dialing. "
        + DURATION_HELP),
    abandoned_after: str | None = typer.Option(
        None, "--abandoned-after", help="You hung up without reaching an agent this long after "
        "dialing. " + DURATION_HELP),
    transferred: int = typer.Option(0, "--transferred", min=0, help="Times transferred."),
    resolved: bool | None = typer.Option(None, "--resolved/--no-resolved",
                                         help="Whether the question was answered."),
    wait_announced: str | None = typer.Option(
        None, "--wait-announced", help="Waiting time the line announced. " + DURATION_HELP),
    scenario: str | None = ScenarioOption,
    shopper: str | None = ShopperOption,
    campaign: str | None = CampaignOption,
    note: str | None = typer.Option(None, "--note", help="Free text kept with the call."),
    allow_unlisted_channel: bool = AllowUnlistedOption,
    as_json: bool = JsonOption,
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Log a phone call made earlier: prints the new probe id.

    Give either --agent-after (answered) or --abandoned-after (you gave up).
    """
    from ..manual_log import PhoneCall

    ws = open_workspace(workspace)
    target = _company(ws.config, company)
    entry = PhoneCall(
        target.id, dialed_at=_when(target, at, "--at"),
        agent_after_s=_seconds(agent_after, "--agent-after"),
        abandoned_after_s=_seconds(abandoned_after, "--abandoned-after"), ivr_steps=ivr_steps,
        hold_s=_seconds(hold, "--hold"), transfers=transferred, resolved=resolved,
        wait_announced_s=_seconds(wait_announced, "--wait-announced"),
        scenario=scenario, shopper=shopper, campaign=campaign, note=note,
    )
    _save_new(ws, entry, as_json, "phone call", allow_unlisted_channel)


def _open_probe(ws: Workspace, probe_ref: str, company: Company, channel) -> Probe:
    probe = ws.store.find_probe(probe_ref)
    if probe is None:
        fail(f"--probe: no probe {probe_ref!r} (give its id or first 8+ characters)")
    if probe.channel != channel or probe.company != company.id:
        fail(f"--probe: probe {probe.id[:8]} is a {probe.channel} probe for {probe.company}, "
             f"not {channel} for {company.id}")
    from ..models import ProbeStatus

    if probe.status == ProbeStatus.PLANNED:
        # a campaign's planned slot, not a logged case: logging does not fulfil it (yet)
        campaign = f" --campaign {probe.campaign}" if probe.campaign else ""
        fail(f"--probe: probe {probe.id[:8]} is a planned {channel} probe"
             f"{f' of campaign {probe.campaign}' if probe.campaign else ''}, not an open one; "
             f"log the case as a new one (svcbench log {channel.removesuffix('s')} "
             f"{company.id} ...{campaign}); the planned probe is cancelled at its deadline")
    return probe


def _complete(ws: Workspace, probe: Probe, updates: dict[str, Any], note: str | None,
              as_json: bool, what: str) -> None:
    from ..manual_log import EntryError, add_to_open, completion

    try:
        entry, events = completion(probe, ws.store.events(probe.id), updates, note)
    except EntryError as exc:
        _entry_fail(exc)
    add_to_open(ws.store, ws.config, probe, events, entry.outcome())
    company = ws.config.companies[probe.company]
    _report(ws, probe, as_json, markup("Updated {} for [bold]{}[/bold]", what, company.name))


@log_app.command("return")
def log_return(
    company: str = typer.Argument(..., help="Company id or name."),
    requested: str | None = typer.Option(
        None, "--requested", help="When you asked to return the item (required for a new "
        "return). " + TIME_HELP),
    shipped: str | None = typer.Option(None, "--shipped", help="When you sent it back."),
    refunded: str | None = typer.Option(None, "--refunded",
                                        help="When the refund arrived (completes the return)."),
    amount: float | None = typer.Option(None, "--amount", min=0, help="Refunded amount."),
    probe_ref: str | None = typer.Option(
        None, "--probe", help="Add dates to this open return instead of logging a new one."),
    scenario: str | None = ScenarioOption,
    shopper: str | None = ShopperOption,
    campaign: str | None = CampaignOption,
    note: str | None = typer.Option(None, "--note", help="Free text kept with the return."),
    allow_unlisted_channel: bool = AllowUnlistedOption,
    as_json: bool = JsonOption,
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Log a return; without --refunded it stays open (add the date later with --probe ID).

    The clock runs from shipping the item back (or from the request, if not shipped) to the
    refund.
    """
    from ..manual_log import ReturnCase
    from ..models import Channel

    ws = open_workspace(workspace)
    target = _company(ws.config, company)
    dates = {"requested_at": _when(target, requested, "--requested"),
             "shipped_at": _when(target, shipped, "--shipped"),
             "refunded_at": _when(target, refunded, "--refunded")}
    if probe_ref is not None:
        _check_refs(ws.config, scenario=scenario, shopper=shopper, campaign=campaign)
        probe = _open_probe(ws, probe_ref, target, Channel.RETURNS)
        _complete(ws, probe, {**dates, "amount": amount}, note, as_json, "return")
        return
    if requested is None:
        fail("--requested is required for a new return (or give --probe ID to complete one)")
    _save_new(ws, ReturnCase(target.id, **dates, amount=amount, scenario=scenario,
                             shopper=shopper, campaign=campaign, note=note), as_json, "return",
              allow_unlisted_channel)


@log_app.command("delivery")
def log_delivery(
    company: str = typer.Argument(..., help="Company id or name."),
    placed: str | None = typer.Option(
        None, "--placed", help="When you placed the order (required for a new delivery). "
        + TIME_HELP),
    shipped: str | None = typer.Option(None, "--shipped", help="When it was shipped."),
    delivered: str | None = typer.Option(
        None, "--delivered", help="When it arrived (completes the delivery)."),
    probe_ref: str | None = typer.Option(
        None, "--probe", help="Add dates to this open delivery instead of logging a new one."),
    scenario: str | None = ScenarioOption,
    shopper: str | None = ShopperOption,
    campaign: str | None = CampaignOption,
    note: str | None = typer.Option(None, "--note", help="Free text kept with the order."),
    allow_unlisted_channel: bool = AllowUnlistedOption,
    as_json: bool = JsonOption,
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Log an order; without --delivered it stays open (add the date later with --probe ID)."""
    from ..manual_log import DeliveryOrder
    from ..models import Channel

    ws = open_workspace(workspace)
    target = _company(ws.config, company)
    dates = {"placed_at": _when(target, placed, "--placed"),
             "shipped_at": _when(target, shipped, "--shipped"),
             "delivered_at": _when(target, delivered, "--delivered")}
    if probe_ref is not None:
        _check_refs(ws.config, scenario=scenario, shopper=shopper, campaign=campaign)
        probe = _open_probe(ws, probe_ref, target, Channel.DELIVERY)
        _complete(ws, probe, dates, note, as_json, "delivery")
        return
    if placed is None:
        fail("--placed is required for a new delivery (or give --probe ID to complete one)")
    _save_new(ws, DeliveryOrder(target.id, **dates, scenario=scenario, shopper=shopper,
                                campaign=campaign, note=note), as_json, "delivery",
              allow_unlisted_channel)


@log_app.command("open")
@output_options
def log_open(out: Output = Output(), workspace: Path | None = WorkspaceOption) -> None:
    """List returns and deliveries still waiting for their refund or delivery date.

    started_at is UTC; started_local is the same instant in the company's time zone.
    """
    from ..models import Channel, ProbeStatus

    ws = open_workspace(workspace)
    found = [p for channel in (Channel.RETURNS, Channel.DELIVERY)
             for p in ws.store.probes(status=ProbeStatus.RUNNING, channel=channel)]
    rows = []
    for p in found:
        company = ws.config.companies.get(p.company)
        zone = company.calendar().tz if company is not None else None
        local = p.started_at.astimezone(zone) if p.started_at and zone else None
        rows.append({"probe_id": p.id, "company": p.company, "channel": str(p.channel),
                     "started_at": p.started_at.isoformat() if p.started_at else None,
                     "started_local": local.isoformat() if local else None,
                     "timezone": company.timezone if company is not None else None})
    out.emit(rows, table=_open_table)


def _open_table(rows: list[dict[str, Any]]) -> None:

    out = console()
    if not rows:
        out.print("No open returns or deliveries.")
    for row in rows:
        since = row["started_local"] or row["started_at"] or ""
        if since:
            since = f"{datetime.fromisoformat(since):%Y-%m-%d %H:%M} {row['timezone'] or 'UTC'}"
        out.print(f"{row['probe_id'][:8]}  {row['channel']:<9} {row['company']:<24} "
                  f"since {since}")


# -- svcbench import ---------------------------------------------------------------------------

import_app = typer.Typer(help="Import probes recorded elsewhere.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("csv")
def import_csv_command(
    file: Path = typer.Argument(..., help="The CSV file (UTF-8, header row).", dir_okay=True),
    channel: str = typer.Option(..., "--channel", help="phone, returns or delivery."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row; write nothing."),
    allow_unlisted_channel: bool = AllowUnlistedOption,
    as_json: bool = JsonOption,
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Import phone calls, returns or deliveries from a CSV file.

    \b
    Columns (header row, any order; * = required):
      phone:    company*, dialed_at*, ivr_steps, agent_answered_after_s or
                agent_answered_at, hold_s, abandoned (yes/no), abandoned_after_s,
                transferred (count), resolved (yes/no), wait_announced_s
      returns:  company*, requested_at*, shipped_at, refunded_at, amount
      delivery: company*, placed_at*, shipped_at, delivered_at
      all:      scenario, shopper, campaign, note, id

    Dates: ISO 8601; a date or time without offset is in the company's time zone.
    Durations: seconds, or 1m35s / 1:35. company: id or name. An id column (or,
    without one, the row's content) makes re-imports add nothing. Bad rows are listed
    (line, column, problem) and skipped; good rows are written in one transaction;
    the exit code is 2 if any row was rejected.
    """
    from ..csv_import import import_csv
    from ..models import Channel

    channels = (Channel.PHONE, Channel.RETURNS, Channel.DELIVERY)
    if channel.lower() not in {c.value for c in channels}:
        fail(f"--channel: {channel!r} cannot be imported from CSV (use phone, returns or "
             "delivery)")
    ws = open_workspace(workspace)
    result = import_csv(ws.store, ws.config, file, Channel(channel.lower()), dry_run=dry_run,
                        allow_unlisted_channel=allow_unlisted_channel)
    summary = result.summary()
    for error in result.errors:
        sys.stderr.write(f"svcbench: error: {file}: {error}\n")
    if as_json:
        print_json(summary)
    else:
        verb = "would import" if dry_run else "imported"
        line = f"{verb} {summary['imported']}, rejected {summary['rejected']}"
        if summary["already_present"]:
            line += f", already present {summary['already_present']}"
        console().print(f"{file}: {line}")
    if result.errors:
        raise typer.Exit(2)
