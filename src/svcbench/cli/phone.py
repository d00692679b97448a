"""Commands: phone dial (one automated call now, with a live view of what is heard)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._app import app
from ._common import JsonOption, WorkspaceOption, console, fail, open_workspace, print_json

phone_app = typer.Typer(help="Automated phone probes (SIP).", no_args_is_help=True)
app.add_typer(phone_app, name="phone")

_QUIET = {"segment"}  # detector events too frequent for the live view


@phone_app.command("dial")
def dial(
    company: str = typer.Argument(..., help="Company id (its [company.channels.phone] with "
                                  "plugin = \"sip\" is used)."),
    scenario: str | None = typer.Option(None, "--scenario", help="Scenario id (default: the "
                                        "first one)."),
    as_json: bool = JsonOption,
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Place one automated call to COMPANY now; show what the probe hears and decides.

    The probe is recorded in the database like any other. Exit code 0 when the call ran
    (whatever the company did), 1 when it failed on our side.
    """
    import asyncio
    import time
    from datetime import timedelta

    from ..lifecycle import finish_probe
    from ..models import Channel, Outcome, Probe, ProbeStatus, new_id, utcnow
    from ..plugins import plugin_for, probe_plugin
    from ..probes.phone import SipPhoneProbe, account_for, place_call, save_recording, to_events

    ws = open_workspace(workspace)
    config = ws.config
    target = config.company(company)
    if Channel.PHONE not in target.channels or plugin_for(target, Channel.PHONE) != "sip":
        fail(f"company {company} has no automated phone endpoint "
             "([company.channels.phone] with plugin = \"sip\")")
    if scenario is None:
        scenario = sorted(config.scenarios)[0] if config.scenarios else None
    elif scenario not in config.scenarios:
        fail(f"unknown scenario {scenario!r} (known: {', '.join(sorted(config.scenarios))})")
    plugin = probe_plugin("sip")
    assert isinstance(plugin, SipPhoneProbe)
    now = utcnow()
    probe = Probe(id=new_id(), company=company, channel=Channel.PHONE, plugin="sip",
                  scenario=scenario, status=ProbeStatus.RUNNING, due_at=now, started_at=now,
                  deadline_at=now + timedelta(minutes=30))
    ctx = ws.context()
    endpoint = plugin.endpoint(probe, ctx)
    account = account_for(endpoint, ctx.secrets)
    store = ws.store
    store.add_probe(probe)
    out = console(stderr=as_json)
    t0 = time.time()

    def live(kind: str, at: float, data: dict[str, Any]) -> None:
        if kind == "call.detector" and data.get("detector") in _QUIET:
            return
        detail = ", ".join(f"{k}={v}" for k, v in data.items()
                           if k not in ("confirmed_at",) and v not in (None, "", []))
        out.print(f"{at - t0:+7.2f}s  [bold]{kind}[/]  {detail}", markup=True,
                  highlight=False, soft_wrap=True)

    abandon = endpoint.abandon_after_s or 600.0
    result = asyncio.run(place_call(endpoint, account, abandon, emit=live))
    if endpoint.record and result.recording is not None:
        save_recording(ctx, probe, result.recording)
    events = to_events(probe.id, result)
    store.add_events(events)
    outcome = plugin.outcome(probe, events, utcnow()) or Outcome.FAILED
    reason = plugin.outcome_reason(probe, events)
    measurement = finish_probe(store, probe, outcome, config=config, reason=reason)
    ws.close()
    if as_json:
        from ..models import format_instant
        from .results import measurement_row

        print_json({"probe_id": probe.id, "company": company, "outcome": str(outcome),
                    "reason": reason, "measurement": measurement_row(measurement, config),
                    "events": [{"kind": e.kind, "at": format_instant(e.at), "data": e.data}
                               for e in events]})
    else:
        m = measurement.metrics
        out.print(f"[bold]{company}[/]: {outcome}" + (f" ({reason})" if reason else ""),
                  highlight=False)
        out.print(f"time to a live agent: {measurement.wait_s!s} s; answered after "
                  f"{m.get('answer_s')} s ({m.get('rings')} rings); announced wait "
                  f"{m.get('wait_announced_s')} s, actual {m.get('wait_after_announcement_s')} s",
                  highlight=False)
    if outcome is Outcome.FAILED:
        fail(f"phone probe failed: {reason}", 1)
