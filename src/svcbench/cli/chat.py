"""Commands: chat (try one live-chat probe now)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..render.safe import clean, markup
from ._app import app
from ._common import (
    JsonOption,
    WorkspaceOption,
    console,
    fail,
    open_workspace,
    print_json,
    quarter_option,
)
from ._output import Output, output_options

chat_app = typer.Typer(help="Live-chat probes.", no_args_is_help=True)
app.add_typer(chat_app, name="chat")


@chat_app.command("try")
def try_chat(
    company: str = typer.Argument(..., help="Company id (its [company.channels.chat] is used)."),
    scenario: str | None = typer.Option(None, "--scenario", help="Scenario id (default: the "
                                        "first one)."),
    shopper: str | None = typer.Option(None, "--shopper", help="Shopper id whose name the "
                                       "visitor uses (default: the first one)."),
    as_json: bool = JsonOption,
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Run one chat probe against COMPANY now; print the transcript and the measurements.

    The probe is recorded in the database like any other. Exit code 0 when the conversation
    ran (whatever the company did), 1 when it failed on our side.
    """
    import asyncio
    from datetime import timedelta

    from ..errors import ProbeError
    from ..lifecycle import finish_probe
    from ..models import Channel, Outcome, Probe, ProbeStatus, new_id, utcnow
    from ..plugins import plugin_for, probe_plugin

    ws = open_workspace(workspace)
    config = ws.config
    target = config.company(company)
    if Channel.CHAT not in target.channels:
        fail(f"company {company} has no chat endpoint ([company.channels.chat])")
    if scenario is None:
        if not config.scenarios:
            fail("no scenarios defined; add a [[scenario]]")
        scenario = sorted(config.scenarios)[0]
    elif scenario not in config.scenarios:
        fail(f"unknown scenario {scenario!r} (known: {', '.join(sorted(config.scenarios))})")
    if shopper is None and config.shoppers:
        shopper = sorted(config.shoppers)[0]
    elif shopper is not None and shopper not in config.shoppers:
        fail(f"unknown shopper {shopper!r} (known: {', '.join(sorted(config.shoppers))})")

    now = utcnow()
    probe = Probe(id=new_id(), company=company, channel=Channel.CHAT,
                  plugin=plugin_for(target, Channel.CHAT), scenario=scenario, shopper=shopper,
                  status=ProbeStatus.RUNNING, due_at=now, started_at=now,
                  deadline_at=now + timedelta(minutes=30), token=new_id()[:8])
    store = ws.store
    store.add_probe(probe)
    plugin = probe_plugin(probe.plugin)
    ctx = ws.context()

    async def go() -> list:
        try:
            return await plugin.start(probe, ctx)
        finally:
            await ctx.aclose()

    reason: str | None = None
    try:
        events = asyncio.run(go())
    except ProbeError as exc:
        events, outcome, reason = [], Outcome.FAILED, str(exc)
    else:
        store.add_events(events)
        outcome = plugin.outcome(probe, events, utcnow()) or Outcome.FAILED
        ended = [e for e in events if e.kind == "chat.ended"]
        reason = ended[-1].data.get("reason") if ended else None
    measurement = finish_probe(store, probe, outcome, config=config, reason=reason)
    transcript = [_line(m) for m in store.messages(probe.id)]
    ws.close()

    if as_json:
        from .results import measurement_row

        print_json({"probe_id": probe.id, "company": company, "scenario": scenario,
                    "outcome": str(outcome), "reason": reason,
                    "measurement": measurement_row(measurement, config),
                    "transcript": transcript})
    else:
        _render(probe.id, company, outcome, reason, measurement, transcript)
    if outcome is Outcome.FAILED:
        fail(f"chat probe failed: {reason}", 1)


def _line(message: dict[str, Any]) -> dict[str, Any]:
    from ..models import format_instant

    data = message.get("data") or {}
    at = message["at"]
    return {"at": at if isinstance(at, str) else format_instant(at),
            "direction": message["direction"], "actor": message["actor"],
            "text": message["text"], "role": data.get("role"), "t_server": data.get("t_server")}


def _render(probe_id: str, company: str, outcome, reason, measurement, transcript) -> None:
    from rich.table import Table

    from ..models import parse_instant
    from .results import human_duration

    out = console()
    out.print(markup("[bold]Chat probe {}[/] with {}: [bold]{}[/]", probe_id[:8], company,
                     outcome) + (f" ({clean(reason)})" if reason else ""))
    table = Table(show_header=True, header_style="bold")
    for column in ("t", "who", "text"):
        table.add_column(column)
    start = parse_instant(transcript[0]["at"]) if transcript else None
    for line in transcript:
        offset = (parse_instant(line["at"]) - start).total_seconds() if start else 0.0
        who = line["actor"] or "?"
        if line.get("role") and line["role"] not in ("greeting",):
            who += f" ({line['role']})"
        table.add_row(f"{offset:+.2f}s", who, line["text"] or "")
    out.print(table)
    m = measurement.metrics
    rows = [
        ("first reply", human_duration(measurement.first_response_s)),
        ("connected to an agent", human_duration(m.get("connect_s"))),
        ("first human reply", human_duration(measurement.wait_s)),
        ("queue announced", "yes " + str(m.get("queue_positions") or m.get("wait_estimates_s"))
         if m.get("queue_announced") else "no"),
        ("still-waiting messages", str(m.get("still_waiting_count", 0))),
        ("asked for a human", "yes" if m.get("asked_human") else "no"),
        ("human after asking", {True: "yes", False: "no", None: "-"}[m.get("human_on_request")]),
        ("transcript lines", str(m.get("transcript_length", 0))),
    ]
    summary = Table(show_header=False)
    summary.add_column("metric")
    summary.add_column("value")
    for name, value in rows:
        summary.add_row(name, value)
    out.print(summary)


#: the --csv / --nl columns of `chat availability`: one row per company
AVAILABILITY_KEYS = (
    "quarter", "company", "name", "checks", "online", "offline", "unknown", "outside_hours",
    "share_available", "chats", "with_promise", "kept", "broken", "open", "share_kept",
    "availability_source", "promise_source",
)


@chat_app.command("availability")
@output_options
def availability(
    quarter: str | None = typer.Option(None, "--quarter", "-q", help="Quarter like 2026Q4 "
                                       "(default: the current one)."),
    check: str | None = typer.Option(None, "--check", help="Check this company's chat now "
                                     "(company id); starts no conversation, records nothing."),
    out: Output = Output(),
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Chat available during what share of posted hours (from availability checks), and
    queue promises kept or broken (from chat probes), per company.

    --json prints one object (quarter, availability, promises); --csv and --nl one row per
    company with both parts (empty where a company had no checks or announced no queue
    promise).
    """
    import asyncio

    from ..models import Channel, quarter_of, utcnow

    ws = open_workspace(workspace)
    if check is not None:
        from ..models import Probe, new_id
        from ..plugins import probe_plugin
        from ..probes.chat.connector import AnchoredClock

        target = ws.config.company(check)
        if Channel.CHAT not in target.channels:
            fail(f"company {check} has no chat endpoint ([company.channels.chat])")
        probe = Probe(id=new_id(), company=check, channel=Channel.CHAT, plugin="chat")
        connector = probe_plugin("chat").connector_for(probe, ws.context(), AnchoredClock())
        found = asyncio.run(connector.availability(30.0))
        row = {"company": check, "state": found.state, "detail": found.detail,
               "source": found.source, "posted_hours": target.calendar().is_open(utcnow())}

        def line() -> None:
            from ..render.safe import plain

            console().print(plain(f"{check}: {found.state}"
                                  + (f" ({found.detail})" if found.detail else "")
                                  + f" [{found.source}]"))

        out.emit_document(row, [row], table=line)
        return
    wanted = quarter_option(quarter or None) or quarter_of(utcnow())
    from ..chat_service import chat_service_findings

    findings = chat_service_findings(ws.store.conn, wanted, ws.store.company_names())

    def table() -> None:
        from ..render.terminal import print_chat_service

        con = console()
        if not any(findings.values()):
            con.print(f"No availability checks or queue promises in {wanted}. Plan checks "
                      'with a campaign of kind = "availability" (see docs/chat.md).')
            return
        con.print(f"[bold]Chat service, {wanted}[/bold]")
        print_chat_service(findings, con)

    out.emit_document({"quarter": wanted, **findings}, _availability_rows(wanted, findings),
                      table=table, columns=list(AVAILABILITY_KEYS))


def _availability_rows(quarter: str, findings: dict[str, Any]) -> list[dict[str, Any]]:
    """Availability and promise rows joined by company (AVAILABILITY_KEYS)."""
    rows: dict[str, dict[str, Any]] = {}
    for part, source_key in (("availability", "availability_source"),
                             ("promises", "promise_source")):
        for found in findings[part]:
            row = rows.setdefault(found["company"], dict.fromkeys(AVAILABILITY_KEYS))
            row.update({k: v for k, v in found.items() if k in row and k != "source"})
            row[source_key] = found["source"]
            row["quarter"] = quarter
    return list(rows.values())


@chat_app.command("inspect")
def inspect_chat(
    url: str = typer.Argument(..., help="The shop page with the chat widget."),
    out: Path | None = typer.Option(None, "--dump-dir", help="Folder for the screenshot, DOM "
                                    "and network dump (default: ./chat-inspect)."),
    recipe: str = typer.Option("auto", "--recipe", help="Recipe to use ('auto' recognises it, "
                               "'none' forces generic discovery)."),
    timeout: float = typer.Option(30.0, "--timeout", min=1, help="Seconds for the page and "
                                  "widget to appear."),
    as_json: bool = JsonOption,
) -> None:
    """Open URL in headless Chromium and report how the browser connector sees its chat widget.

    Says which recipe (or generic discovery) applies and what was found (launcher, composer,
    status, offline state), prints a config snippet, and writes a screenshot, the DOM of every
    frame (with shadow roots) and the widget's network traffic for a bug report. No message is
    sent to anyone. Exit code 0 when a chat composer was found, 1 otherwise.
    """
    import asyncio
    import json
    from urllib.parse import urlsplit

    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        fail(f"chat inspect: not an http(s) URL: {url!r}")
    from pydantic import ValidationError

    from ..errors import ConfigError
    from ..plugins import Secrets
    from ..probes.chat.connector import AnchoredClock, Visitor
    from ..probes.chat.connectors.browser import BrowserConnector

    folder = out or Path("chat-inspect")
    try:
        chat = BrowserConnector({"url": url, "recipe": recipe, "open_timeout_s": timeout},
                                clock=AnchoredClock(), secrets=Secrets({}),
                                visitor=Visitor("Inspector"))
    except ValidationError as exc:
        fail(f"chat inspect: {exc.errors()[0]['msg']}")

    async def go() -> tuple[dict[str, Any], dict[str, Any], bool]:
        try:
            report = await chat.inspect()
            dump = await chat.dump()
            shot = await chat.screenshot(str(folder / "screenshot.png"))
            return report, dump, shot
        finally:
            await chat.close()

    try:
        report, dump, shot = asyncio.run(go())
    except ConfigError as exc:
        fail(f"chat inspect: {exc}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dom.html").write_text("\n".join(
        f"<!-- frame {f['url']} -->\n{f['html']}" for f in dump["frames"]), encoding="utf-8")
    (folder / "network.json").write_text(json.dumps(
        {"summary": dump["network_summary"], "records": dump["network"]}, indent=1,
        default=str), encoding="utf-8")
    report["snippet"] = _snippet(url, report)
    report["network_summary"] = dump["network_summary"]
    report["files"] = {"screenshot": str(folder / "screenshot.png") if shot else None,
                       "dom": str(folder / "dom.html"), "network": str(folder / "network.json")}
    if as_json:
        print_json(report)
    else:
        _render_inspection(report)
    if not report["ready"]:
        raise typer.Exit(1)


def _snippet(url: str, report: dict[str, Any]) -> str:
    import json

    lines = ["[company.channels.chat]", 'connector = "browser"', f"url = {json.dumps(url)}"]
    if report.get("recipe"):
        lines.append(f"# recognised as {report['recipe']!r}; pin it with:")
        lines.append(f"# recipe = {json.dumps(report['recipe'])}")
    else:
        lines.append("# no recipe matched: launcher, composer and messages are discovered")
    if report.get("error") and not report.get("unavailable"):
        lines.append("# not ready: set frame_selector / open_selector / input_selector here")
    return "\n".join(lines)


def _render_inspection(report: dict[str, Any]) -> None:
    from ..render.safe import markup

    out = console()
    recipe = report.get("recipe")
    out.print(markup("[bold]{}[/]", report["url"]))
    if recipe:
        why = "; ".join(report["recognition"][0]["why"]) if report.get("recognition") else ""
        out.print(markup("recipe: [bold]{}[/] ({}) from {}", recipe,
                         report.get("recipe_title") or "", why or "its name"))
        for source in report.get("recipe_verified_against") or []:
            out.print(markup("  verified against: {}", source))
    else:
        out.print("recipe: none matched, generic discovery")
    found = report.get("found") or {}
    for key in ("launcher", "launchers_clicked", "composer", "offline"):
        if key in found:
            out.print(markup("{}: {}", key.replace("_", " "), found[key]))
    if report.get("frame"):
        out.print(markup("chat frame: {}", report["frame"]))
    summary = report.get("network_summary") or {}
    out.print(markup("network: {} {}", summary.get("transport") or "no chat traffic yet",
                     summary.get("poll_intervals_s") or ""))
    if report.get("unavailable"):
        out.print(markup("[bold]unavailable[/]: {}", report["error"]))
    elif report.get("error"):
        out.print(markup("[bold red]not ready[/]: {}", report["error"]))
    else:
        out.print(markup("[bold green]ready[/]: {}", "a chat composer was found"))
    out.print("\nconfig snippet:\n" + report["snippet"])
    files = report.get("files") or {}
    out.print("files: " + ", ".join(v for v in files.values() if v))
