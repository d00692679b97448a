"""The typer application every command module adds its commands to."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

#: commands in the order a newcomer meets them; any others follow alphabetically
ORDER = ("init", "config", "demo", "plan", "tick", "schedule", "collect", "replies", "chat",
         "call", "phone", "log", "import", "form", "probes", "results", "grade", "report",
         "simulate", "db", "metrics", "datasette-metadata", "plugins")


class OrderedGroup(TyperGroup):
    def list_commands(self, ctx) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(ORDER)), n))


app = typer.Typer(
    cls=OrderedGroup,
    name="svcbench",
    help="Customer-service benchmarking by mystery shopping: probe companies by email, chat "
    "and phone, keep every result in SQLite, and publish quarterly rankings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"svcbench {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_version,
                                 help="Print the version and exit."),
    workspace: str = typer.Option(
        None, "--workspace", "-w", metavar="DIR",
        help="Workspace directory for the command (also accepted after it)."),
) -> None:
    import os

    # every command reads its --workspace default from SVCBENCH_WORKSPACE, so a global -w
    # given before the command reaches it the same way as the variable would
    if workspace is not None:
        os.environ["SVCBENCH_WORKSPACE"] = workspace
