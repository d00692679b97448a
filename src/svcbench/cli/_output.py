"""One output convention for every command that prints rows (as sqlite-utils and llm do):

``--json`` (a JSON array), ``--nl`` (newline-delimited JSON, one object a line), ``--csv``
(header row; nested values as JSON, booleans as yes/no; formula cells neutralised unless
``--raw-csv``), or a rich table on the terminal; ``-o FILE`` writes to a file (atomically;
the format follows the flag or the file's suffix) and ``-o -`` to standard output.

A command takes all five with :func:`output_options` and one :class:`Output` parameter.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import typer

from ._common import JsonOption, RawCsvOption, fail

try:  # the context typer passes is click's own class (vendored in recent typer), not typer's
    from typer._click import Context as _Context
except ImportError:  # pragma: no cover - older typer with click as a dependency
    from click import Context as _Context

F = TypeVar("F", bound=Callable[..., Any])

CsvOption = typer.Option(False, "--csv", help="Print CSV (the --json keys as columns).")
NlOption = typer.Option(False, "--nl", help="Print newline-delimited JSON, one object a line.")
OutputFileOption = typer.Option(
    None, "--output", "-o", metavar="FILE",
    help="Write to FILE instead of the terminal ('-' for standard output); the format is "
    "--json/--csv/--nl, or follows the suffix (.json, .csv, .jsonl).")

_SUFFIXES = {".json": "json", ".csv": "csv", ".jsonl": "nl", ".ndjson": "nl"}


def choose_format(*, as_json: bool = False, as_csv: bool = False, as_nl: bool = False,
                  output: str | None = None) -> str:
    """'table', 'json', 'csv' or 'nl' from the flags (one at most) and ``-o``'s suffix."""
    chosen = [name for name, on in (("json", as_json), ("csv", as_csv), ("nl", as_nl)) if on]
    if len(chosen) > 1:
        fail(f"{' and '.join('--' + c for c in chosen)} cannot be combined")
    if chosen:
        return chosen[0]
    if output is not None and output != "-":
        if Path(output).is_dir():
            fail(f"--output: {output} is a directory; name a file")
        by_suffix = _SUFFIXES.get(Path(output).suffix.lower())
        if by_suffix is None:
            fail(f"--output: {output}: say --json, --csv or --nl (or use a .json, .csv or "
                 ".jsonl name)")
        return by_suffix
    return "json" if output == "-" else "table"


@contextmanager
def opened(output: str | None, *, option: str = "--output") -> Iterator[IO[str]]:
    """Standard output for None or '-'; else the file, replaced atomically when it is a
    regular file (a device or pipe such as /dev/stdout is written directly)."""
    if output is None or output == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(output)
    if path.is_dir():
        fail(f"{option}: {path} is a directory; name a file")
    if path.exists() and not path.is_file():
        try:
            with path.open("w", encoding="utf-8", newline="") as f:
                yield f
        except OSError as exc:
            fail(f"{option}: cannot write {path} ({exc.strerror})", code=3)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as f:
            yield f
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"{option}: cannot write {path} ({exc.strerror})", code=3)


def _flat(value: Any) -> Any:
    """A CSV cell: nested values as JSON, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return value


def emit(rows: list[dict[str, Any]], *, fmt: str, output: str | None = None,
         table: Callable[[list[dict[str, Any]]], None] | None = None,
         columns: list[str] | None = None, raw_csv: bool = False) -> None:
    """Print or write ``rows`` in ``fmt`` (see :func:`choose_format`)."""
    from ..render.safe import CsvWriter

    if fmt == "table":
        if table is None:
            fmt = "json"
        else:
            table(rows)
            return
    with opened(output) as f:
        if fmt == "json":
            f.write(json.dumps(rows, indent=2, default=str, ensure_ascii=False) + "\n")
        elif fmt == "nl":
            for row in rows:
                f.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
        else:
            names = columns or (list(rows[0]) if rows else [])
            writer = CsvWriter(f, names, raw=raw_csv)
            writer.writeheader()
            writer.writerows({k: _flat(v) for k, v in row.items()} for row in rows)


def emit_document(document: dict[str, Any], rows: list[dict[str, Any]], *, fmt: str,
                  output: str | None = None, table: Callable[[], None] | None = None,
                  columns: list[str] | None = None, raw_csv: bool = False) -> None:
    """For commands whose JSON is one object: ``--json`` prints ``document``; ``--csv`` and
    ``--nl`` print its ``rows`` (e.g. one per table or per check); the terminal ``table()``."""
    if fmt == "table" and table is not None:
        table()
    elif fmt in ("json", "table"):
        with opened(output) as f:
            f.write(json.dumps(document, indent=2, default=str, ensure_ascii=False) + "\n")
    else:
        emit(rows, fmt=fmt, output=output, columns=columns, raw_csv=raw_csv)


@dataclass(frozen=True)
class Output:
    """What a command's output flags asked for: a format (see :func:`choose_format`), the
    ``-o`` target and ``--raw-csv``."""

    format: str = "table"
    file: str | None = None
    raw_csv: bool = False

    def emit(self, rows: list[dict[str, Any]], *,
             table: Callable[[list[dict[str, Any]]], None] | None = None,
             columns: list[str] | None = None) -> None:
        emit(rows, fmt=self.format, output=self.file, table=table, columns=columns,
             raw_csv=self.raw_csv)

    def emit_document(self, document: dict[str, Any], rows: list[dict[str, Any]], *,
                      table: Callable[[], None] | None = None,
                      columns: list[str] | None = None) -> None:
        emit_document(document, rows, fmt=self.format, output=self.file, table=table,
                      columns=columns, raw_csv=self.raw_csv)


#: the options output_options puts where the command's Output parameter stands
_OPTIONS = (
    ("as_json", bool, JsonOption),
    ("as_csv", bool, CsvOption),
    ("as_nl", bool, NlOption),
    ("output", str | None, OutputFileOption),
    ("raw_csv", bool, RawCsvOption),
)


def output_options(command: F) -> F:
    """Give a command ``--json``, ``--csv``, ``--nl``, ``-o/--output`` and ``--raw-csv`` in
    place of its one ``Output`` parameter (called ``out``), which it receives decided.

    typer reads a command's options from ``inspect.signature`` (which honours
    ``__signature__``) and ``get_type_hints`` (typer/utils.py, get_params_from_function) and
    calls it with keywords, so the wrapper shows typer the five options and hands the command
    one :class:`Output`. Flag mistakes fail before the command runs.
    """
    signature = inspect.signature(command)
    names = list(signature.parameters)
    if "out" not in names:
        raise TypeError(f"{command.__name__}: output_options needs a parameter 'out: Output'")
    clash = {name for name, _, _ in _OPTIONS} & set(names)
    if clash:
        raise TypeError(f"{command.__name__}: output_options adds {', '.join(sorted(clash))}")
    at = names.index("out")
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                               annotation=kind) for name, kind, default in _OPTIONS]
    # all keyword-only, as typer passes them, so the five can stand between any two
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
              for p in signature.parameters.values()]
    params[at:at + 1] = added

    @functools.wraps(command)
    def wrapper(*, as_json: bool = False, as_csv: bool = False, as_nl: bool = False,
                output: str | None = None, raw_csv: bool = False, **kwargs: Any) -> Any:
        ctx = next((v for v in kwargs.values() if isinstance(v, _Context)), None)
        if ctx is not None and ctx.invoked_subcommand is not None:
            fmt = "table"  # a group's own listing does not run: its flags are not read
        else:
            fmt = choose_format(as_json=as_json, as_csv=as_csv, as_nl=as_nl, output=output)
        return command(out=Output(fmt, output, raw_csv), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    # a new dict: functools.wraps shares the command's own
    wrapper.__annotations__ = {
        **{k: v for k, v in command.__annotations__.items() if k != "out"},
        **{name: kind for name, kind, _ in _OPTIONS}}
    return wrapper  # type: ignore[return-value]
