"""Commands: ``svcbench replies list`` and ``svcbench replies review`` (a person in the loop).

Review shows each reply the classifier was unsure about (sender, subject, the headers that
counted, the text, the classifier's reasons) and takes one key per reply; a verdict is stored
as an event and the probe's outcome and measurement are derived again.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ._app import app
from ._common import WorkspaceOption, console, open_workspace
from ._output import Output, output_options

if TYPE_CHECKING:
    from ..probes.email.review import ReviewItem

replies_app = typer.Typer(help="Email replies: list and review the classifier's unsure ones.",
                          no_args_is_help=True)
app.add_typer(replies_app, name="replies")

#: key -> kind (Enter or c confirms the classifier's kind)
KEYS = {"h": "human", "a": "auto_ack", "o": "out_of_office", "x": "auto_other", "b": "bounce"}


def _safe(text: object, limit: int = 2000) -> str:
    """Company text for the terminal: control codes made visible, never read as markup."""
    from rich.markup import escape

    from ..render.safe import clean

    return escape(clean(str(text or "")[:limit]))


SUMMARY_KEYS = ["probe_id", "company", "event_id", "at", "from", "subject", "kind",
                "confidence", "reviewed", "reasons"]


def _summary(item: ReviewItem) -> dict:
    d = item.event.data
    return {"probe_id": item.probe.id, "company": item.probe.company, "event_id": item.event.id,
            "at": item.event.at.isoformat(), "from": d.get("from"), "subject": d.get("subject"),
            "kind": d.get("kind"), "confidence": d.get("confidence"),
            "reviewed": bool(d.get("reviewed")), "reasons": d.get("reasons", [])}


@replies_app.command("list")
@output_options
def list_command(
    all_replies: bool = typer.Option(False, "--all", help="Every reply, not only flagged ones."),
    out: Output = Output(),
    workspace: Path = WorkspaceOption,
) -> None:
    """Replies waiting for a person's review (or all with --all)."""
    from ..probes.email.review import pending

    ws = open_workspace(workspace)
    try:
        items = pending(ws.store, everything=all_replies)
    finally:
        ws.close()

    def lines(rows: list[dict]) -> None:
        con = console()
        if not rows:
            con.print("no replies waiting for review")
        for row in rows:
            con.print(f"{row['at'][:16].replace('T', ' ')} {_safe(row['company'])} "
                      f"{_safe(row['kind'])} ({row['confidence'] or '?'}) "
                      f"{_safe(row['from'])}: {_safe(row['subject'], 80)}")

    out.emit([_summary(i) for i in items], table=lines, columns=SUMMARY_KEYS)


@replies_app.command("review")
def review_command(
    all_replies: bool = typer.Option(False, "--all",
                                     help="Go through every reply, not only flagged ones."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Confirm or change the class of each unsure reply, one key per reply."""
    from ..probes.email.review import pending, record_verdict

    ws = open_workspace(workspace)
    try:
        items = pending(ws.store, everything=all_replies)
        out = console()
        if not items:
            out.print("no replies waiting for review")
            return
        done = changed = 0
        for n, item in enumerate(items, 1):
            _show(out, item, n, len(items))
            key = _ask(out)
            if key == "q":
                break
            if key == "s":
                out.print("skipped")
                continue
            current = item.event.data.get("kind")
            kind = current if key in ("", "c") else KEYS[key]
            record_verdict(ws.store, ws.config, item, kind)
            done += 1
            changed += kind != current
            out.print(f"recorded: {kind}" + (f" (was {current})" if kind != current else
                                             " (confirmed)"))
        out.print(f"reviewed {done} of {len(items)} replies, {changed} changed; "
                  "measurements recomputed")
    finally:
        ws.close()


def _ask(out) -> str:
    legend = ("[bold]Enter[/]/c confirm  h human  a acknowledgement  o out-of-office  "
              "x other automatic  b bounce  s skip  q quit")
    while True:
        out.print(legend)
        sys.stdout.write("> ")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:  # end of input: stop, keeping what was recorded
            return "q"
        key = line.strip().lower()[:1]
        if key in ("", "c", "s", "q") or key in KEYS:
            return key
        out.print(f"unknown key {_safe(line.strip(), 20)!r}")


def _show(out, item: ReviewItem, n: int, total: int) -> None:
    from rich.panel import Panel

    d = item.event.data
    message = item.message or {}
    headers = message.get("headers") or {}
    lines = [
        f"[bold]company[/]  {_safe(item.probe.company)}   [bold]probe[/] {item.probe.id[:8]}",
        f"[bold]from[/]     {_safe(d.get('from'))}",
        f"[bold]subject[/]  {_safe(d.get('subject'), 300)}",
        f"[bold]arrived[/]  {item.event.at:%Y-%m-%d %H:%M:%S} UTC via {_safe(d.get('match'))}",
        f"[bold]class[/]    {_safe(d.get('kind'))}  confidence {d.get('confidence', '?')}"
        + (f"  helpdesk {_safe(d.get('helpdesk'))}" if d.get("helpdesk") else ""),
    ]
    used = d.get("headers_used") or []
    if used:
        lines.append("[bold]headers that counted[/]")
        for name in used:
            for value in (headers.get(name) or ["(not kept)"])[:2]:
                lines.append(f"  {_safe(name)}: {_safe(value, 200)}")
    lines.append("[bold]reasons[/]")
    lines += [f"  - {_safe(r, 300)}" for r in d.get("reasons", [])]
    text = (message.get("text") or "").strip().splitlines()[:30]
    lines.append("[bold]text[/]")
    lines += [f"  {_safe(t, 200)}" for t in text] or ["  (no text stored)"]
    out.print(Panel("\n".join(lines), title=f"reply {n} of {total}", expand=False))
