"""The typer application every command module adds its commands to."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="svcbench",
    help="Customer-service benchmarking by mystery shopping: probe companies by email, chat "
    "and phone, keep every result in SQLite, and publish quarterly rankings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
