"""The typer application every command module adds its commands to."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

#: commands in the order a newcomer meets them; any others follow alphabetically
ORDER = ("init", "config", "demo", "plan", "tick", "schedule", "collect", "chat", "call", "log",
         "import", "probes", "results", "report", "simulate", "db", "metrics")


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
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
