"""Helpers shared by command modules: opening the workspace, JSON output, errors."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ..workspace import Workspace

E = TypeVar("E", bound=Enum)

WorkspaceOption = typer.Option(
    None, "--workspace", "-w", envvar="SVCBENCH_WORKSPACE",
    help="Workspace directory (default: the nearest one holding svcbench.toml).",
    file_okay=False,
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")
RawCsvOption = typer.Option(
    False, "--raw-csv", help="CSV cells exactly as stored: no apostrophe before text a "
    "spreadsheet would run as a formula (=, +, -, @). For tools that are not spreadsheets.")


def open_workspace(path: Path | None, *, read_only: bool = False) -> Workspace:
    """``read_only`` for commands that only read: they then work on a read-only workspace."""
    from ..workspace import Workspace

    return Workspace.open(path, read_only=read_only)


def console(stderr: bool = False) -> Console:
    from ..render.safe import make_console

    return make_console(stderr=stderr)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def choice(kind: type[E], text: str | None, option: str) -> E | None:
    """``text`` as a member of ``kind`` (any case); one line naming the choices if it is none."""
    if text is None:
        return None
    try:
        return kind(text.lower())
    except ValueError:
        fail(f"{option}: unknown {option.lstrip('-')} {text!r} (use "
             f"{', '.join(str(m.value) for m in kind)})")


def quarter_option(text: str | None, option: str = "--quarter") -> str | None:
    """``text`` as a quarter (2026Q4, 2026q4, 2026-Q4), None for None; else one line."""
    if text is None:
        return None
    from ..rank import parse_quarter

    try:
        return parse_quarter(text)
    except ValueError as exc:
        fail(f"{option}: {exc}")


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, no traceback, a non-zero exit."""
    sys.stderr.write(f"svcbench: error: {message}\n")
    raise typer.Exit(code)
