"""Commands: init (create a workspace), config check."""

from __future__ import annotations

from pathlib import Path

import typer

from ..render.safe import markup
from ._app import app
from ._common import JsonOption, WorkspaceOption, console, open_workspace, print_json


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
def config_check(workspace: Path | None = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Load every definition and report what was found (errors name file and key).

    Also checks that every environment variable named for a secret (password_env, auth_env,
    ...) is set, without printing any value: a campaign should not find out at 3 a.m. that a
    password is missing. Exits 2 when anything is wrong.
    """
    import os

    from ..config import named_secrets

    ws = open_workspace(workspace)
    cfg = ws.config
    secrets = [{"file": file, "key": key, "variable": variable,
                "set": bool(os.environ.get(variable))}
               for file, key, variable in named_secrets(cfg)]
    summary = {
        "workspace": str(cfg.root),
        "companies": sorted(cfg.companies),
        "shoppers": sorted(cfg.shoppers),
        "scenarios": sorted(cfg.scenarios),
        "campaigns": sorted(cfg.campaigns),
        "secrets": secrets,
        "ok": all(s["set"] for s in secrets),
    }
    if as_json:
        print_json(summary)
    else:
        out = console()
        for s in secrets:
            if not s["set"]:
                console(stderr=True).print(
                    f"svcbench: error: {s['file']}: {s['key']}: environment variable "
                    f"{s['variable']} is not set", soft_wrap=True)
        if summary["ok"]:
            out.print(markup("[green]OK[/green] {}", cfg.root))
        for key in ("companies", "shoppers", "scenarios", "campaigns"):
            out.print(f"  {key:<10} {len(summary[key]):>4}  {', '.join(summary[key][:6])}"
                      + (" ..." if len(summary[key]) > 6 else ""))
        if secrets:
            out.print(f"  secrets    {sum(s['set'] for s in secrets):>4}  of {len(secrets)} "
                      "named variables set")
    if not summary["ok"]:
        raise typer.Exit(2)
