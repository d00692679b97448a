"""Generates docs/cli.md from the commands' --help (run by cog; checked by the tests)."""

from __future__ import annotations

import typer.main
from typer.testing import CliRunner

from svcbench.cli import app


def _commands(group, path=()):
    for name in group.list_commands(None):
        command = group.commands[name]
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


def reference() -> str:
    root = typer.main.get_command(app)
    runner = CliRunner()
    parts = []
    for path, _ in [((), root), *_commands(root)]:
        result = runner.invoke(app, [*path, "--help"], terminal_width=80,
                               env={"COLUMNS": "80"}, prog_name="svcbench")
        title = " ".join(("svcbench", *path))
        level = "#" * min(2 + len(path), 4)
        parts.append(f"\n{level} {title}\n\n```\n{result.output.rstrip()}\n```\n")
    return "".join(parts)
