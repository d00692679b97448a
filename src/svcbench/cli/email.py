"""Commands: ``svcbench collect`` (fetch and match email replies by IMAP)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ._app import app
from ._common import JsonOption, WorkspaceOption, console, fail, open_workspace, print_json


def print_json_line(data) -> None:
    """One JSON document per line: what ``--watch --json`` prints after every pass."""
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")


@app.command()
def collect(
    shopper: list[str] = typer.Option(None, "--shopper", "-s",
                                      help="Only this shopper's mailbox (repeatable)."),
    watch: bool = typer.Option(False, "--watch",
                               help="Keep running: IMAP IDLE wakes a new collection."),
    json_output: bool = JsonOption,
    workspace: Path = WorkspaceOption,
) -> None:
    """Fetch new email replies by IMAP, match them to probes and store them."""
    from ..plugins import Secrets
    from ..probes.email.collect import collect as run_collect
    from ..probes.email.collect import watch as run_watch

    ws = open_workspace(workspace)
    try:
        with_imap = [s.id for s in ws.config.shoppers.values() if s.imap is not None]
        for ident in shopper or []:
            if ident not in ws.config.shoppers:
                fail(f"--shopper: unknown shopper {ident!r} "
                     f"(known: {', '.join(sorted(ws.config.shoppers)) or 'none'})")
            if ident not in with_imap:
                fail(f"--shopper: shopper {ident!r} has no [shopper.imap] server configured")
        if not with_imap:
            fail("no shopper has an [shopper.imap] server configured")
        chosen = list(shopper) if shopper else None
        secrets = Secrets()
        errors = 0

        def show(report) -> None:
            nonlocal errors
            errors = len(report.errors)
            if json_output:
                (print_json_line if watch else print_json)({
                    "mailboxes": [m.as_dict() for m in report.mailboxes],
                    "events": [{"probe_id": e.probe_id, "event": e.kind, "at": e.at.isoformat(),
                                **{k: e.data.get(k) for k in ("kind", "match", "score",
                                                              "from", "subject")}}
                               for events in report.events.values() for e in events],
                })
                sys.stdout.flush()
                return
            out = console()
            for mailbox in report.mailboxes:
                style = "red" if mailbox.status == "error" else ""
                out.print(mailbox.summary(), style=style, markup=False)
            for events in report.events.values():
                for e in events:
                    out.print(f"  {e.probe_id[:8]}  {e.at:%Y-%m-%d %H:%M:%S}Z  "
                              f"{e.data.get('kind'):<16} match={e.data.get('match')}  "
                              f"{e.data.get('from') or ''}", markup=False)
            sys.stdout.flush()

        if watch:
            try:
                run_watch(ws.config, ws.store, secrets=secrets, shoppers=chosen, on_report=show)
            except KeyboardInterrupt:
                console(stderr=True).print("stopped")
            return
        show(run_collect(ws.config, ws.store, secrets=secrets, shoppers=chosen))
        if errors:
            raise typer.Exit(1)
    finally:
        ws.close()
