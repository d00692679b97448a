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
    """Load every definition and report what was found (errors name file and key)."""
    ws = open_workspace(workspace)
    cfg = ws.config
    summary = {
        "workspace": str(cfg.root),
        "companies": sorted(cfg.companies),
        "shoppers": sorted(cfg.shoppers),
        "scenarios": sorted(cfg.scenarios),
        "campaigns": sorted(cfg.campaigns),
    }
    if as_json:
        print_json(summary)
        return
    out = console()
    out.print(markup("[green]OK[/green] {}", cfg.root))
    for key in ("companies", "shoppers", "scenarios", "campaigns"):
        out.print(f"  {key:<10} {len(summary[key]):>4}  {', '.join(summary[key][:6])}"
                  + (" ..." if len(summary[key]) > 6 else ""))
