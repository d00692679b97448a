"""Commands: form submitted (a person took over a blocked web-form probe)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app
from ._common import JsonOption, WorkspaceOption, console, fail, open_workspace, print_json

form_app = typer.Typer(help="Web contact-form probes.", no_args_is_help=True)
app.add_typer(form_app, name="form")


@form_app.command("submitted")
def form_submitted(
    probe_ref: str = typer.Argument(..., metavar="PROBE",
                                    help="The blocked probe (id, 8+ character prefix or token)."),
    at: str = typer.Option("now", "--at", help="When you submitted it: ISO 8601 (company-local "
                           "without an offset) or 'now'."),
    note: str | None = typer.Option(None, "--note", help="Free text kept with the probe."),
    as_json: bool = JsonOption,
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Record that you submitted a blocked form by hand (CAPTCHA, bot check or login wall).

    Type the probe's message and reply address into the company's form yourself (`svcbench
    probes --json` shows them as state.reply_to and the form's text); from then on the probe
    waits for replies by email like any other and is timed from --at.
    """
    from ..errors import ConfigError
    from ..manual_log import EntryError, parse_when
    from ..models import Channel, Event, Outcome, format_instant
    from ..probes.form import BLOCKED, SUBMITTED

    ws = open_workspace(workspace)
    store = ws.store
    probe = store.find_probe(probe_ref)
    if probe is None:
        fail(f"PROBE: no probe {probe_ref!r} (give its id, an 8+ character prefix or token)")
    if probe.channel != Channel.FORM or probe.outcome != Outcome.BLOCKED:
        fail(f"PROBE: {probe.id[:8]} is not a blocked form probe ({probe.channel}, "
             f"{probe.outcome or probe.status})")
    company = ws.config.companies.get(probe.company)
    try:
        when = parse_when(at, company.timezone if company else "UTC", "--at")
    except EntryError as exc:
        raise ConfigError(str(exc)) from None
    blocked = next((e for e in store.events(probe.id) if e.kind == BLOCKED), None)
    if blocked is not None and when < blocked.at:
        fail(f"--at: {when.isoformat()} is before the probe was blocked "
             f"({blocked.at.isoformat()})")
    event = Event(probe_id=probe.id, kind=SUBMITTED, at=when, source="manual",
                  data={"confirmed": True, "note": note, "reply_to": probe.state.get("reply_to"),
                        "ref": probe.state.get("ref")})
    state = {**probe.state, "sent_at": format_instant(when), "submitted_by": "person"}
    if not store.reopen_probe(probe.id, events=[event], state=state):
        fail(f"PROBE: {probe.id[:8]} changed meanwhile; try again", code=3)
    if as_json:
        print_json({"probe_id": probe.id, "status": "running", "submitted_at": when.isoformat()})
        return
    console().print(f"Probe {probe.id[:8]} is running again, timed from {when.isoformat()}; "
                    "replies are collected by `svcbench tick` / `svcbench collect`.")
