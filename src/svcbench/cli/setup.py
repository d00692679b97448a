"""Commands: init (create a workspace), config check."""

from __future__ import annotations

from pathlib import Path

import typer

from ..render.safe import markup
from ._app import app
from ._common import WorkspaceOption, console, open_workspace
from ._output import Output, output_options


@app.command()
def init(
    directory: Path = typer.Argument(Path("."), help="Where to create the workspace."),
    examples: bool = typer.Option(True, help="Add example companies, shopper, scenarios."),
) -> None:
    """Create a workspace: svcbench.toml, probes/ with examples, reports/, the database."""
    from ..workspace import init_workspace

    root = init_workspace(directory, examples=examples)
    out = console()
    out.print(markup("Created workspace in [bold]{}[/bold]", root))
    out.print("  svcbench.toml     settings, targets and scoring")
    out.print("  probes/           companies, shoppers, scenarios and campaigns (TOML)")
    out.print("  reports/          rendered reports")
    out.print("  svcbench.db       results (SQLite)")


config_app = typer.Typer(help="Inspect the workspace configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("check")
@output_options
def config_check(
    workspace: Path | None = WorkspaceOption,
    connect: bool = typer.Option(
        False, "--connect", help="Also log in to each shopper's SMTP and IMAP server and reach "
        "each company's chat and web-form URL (sends nothing)."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.5,
                                  help="Seconds for each --connect check."),
    out: Output = Output(),
) -> None:
    """Load every definition and report what was found (errors name file and key).

    Also checks that every environment variable named for a secret (password_env, auth_env,
    ...) is set, without printing any value: a campaign should not find out at 3 a.m. that a
    password is missing. --connect logs in to the mail servers and reaches the chat and form
    URLs, one line per check (OK or FAIL and why). --json prints one object (workspace,
    companies, shoppers, scenarios, campaigns, secrets, connect, connections, ok); --csv and
    --nl one row per check (check, subject, target, ok, detail). Exits 2 when the
    configuration is wrong or a named variable is not set, 1 when a --connect check fails,
    else 0.
    """
    import os

    from ..config import named_secrets

    ws = open_workspace(workspace)
    cfg = ws.config
    secrets = [{"file": file, "key": key, "variable": variable,
                "set": bool(os.environ.get(variable))}
               for file, key, variable in named_secrets(cfg)]
    connections = []
    if connect:
        import asyncio

        from ..connections import run_checks
        from ..plugins import Secrets

        connections = [c.as_row() for c in asyncio.run(
            run_checks(cfg, Secrets(), timeout=timeout))]
    summary = {
        "workspace": str(cfg.root),
        "companies": sorted(cfg.companies),
        "shoppers": sorted(cfg.shoppers),
        "scenarios": sorted(cfg.scenarios),
        "campaigns": sorted(cfg.campaigns),
        "secrets": secrets,
        "connect": connect,
        "connections": connections,
        "ok": all(s["set"] for s in secrets) and all(c["ok"] for c in connections),
    }
    from ..connections import CHECK_KEYS

    rows = [{"check": "secret", "subject": s["file"], "target": s["key"], "ok": s["set"],
             "detail": f"{s['variable']} is {'set' if s['set'] else 'not set'}"}
            for s in secrets] + connections
    out.emit_document(summary, rows, table=lambda: _print_check(summary),
                      columns=list(CHECK_KEYS))
    if not all(s["set"] for s in secrets):
        raise typer.Exit(2)
    if not summary["ok"]:
        raise typer.Exit(1)


def _print_check(summary: dict) -> None:
    out = console()
    for s in summary["secrets"]:
        if not s["set"]:
            console(stderr=True).print(
                f"svcbench: error: {s['file']}: {s['key']}: environment variable "
                f"{s['variable']} is not set", soft_wrap=True)
    if summary["ok"]:
        out.print(markup("[green]OK[/green] {}", summary["workspace"]))
    for key in ("companies", "shoppers", "scenarios", "campaigns"):
        out.print(f"  {key:<10} {len(summary[key]):>4}  {', '.join(summary[key][:6])}"
                  + (" ..." if len(summary[key]) > 6 else ""))
    secrets = summary["secrets"]
    if secrets:
        out.print(f"  secrets    {sum(s['set'] for s in secrets):>4}  of {len(secrets)} "
                  "named variables set")
    for c in summary["connections"]:
        verdict = "[green]OK[/green]  " if c["ok"] else "[red]FAIL[/red]"
        out.print(markup(verdict + " {}", f"{c['check']:<5} {c['subject']}: {c['detail']}"),
                  soft_wrap=True)
    if summary["connect"] and not summary["connections"]:
        out.print("  no mail servers, chat or form URLs to connect to")
    failed = sum(not c["ok"] for c in summary["connections"])
    if failed:
        out.print(f"{failed} of {len(summary['connections'])} connection checks failed")
