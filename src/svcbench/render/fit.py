"""Tables that fit the terminal they are printed on: wrap what can wrap, leave out the least
important columns when even that is too wide, and say which were left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text


@dataclass
class Column:
    header: str
    cells: list[Text | str] = field(default_factory=list)
    justify: str = "right"
    #: text that may wrap onto several lines (names, details); others never wrap or truncate
    wraps: bool = False
    #: 0 = always shown; otherwise higher numbers are left out first when space is short
    drop: int = 0
    min_width: int = 14


def _width(column: Column) -> int:
    from rich.cells import cell_len

    if column.wraps:
        return max(column.min_width, cell_len(column.header))
    texts = [column.header, *(c.plain if hasattr(c, "plain") else str(c) for c in column.cells)]
    return max(cell_len(t) for line in texts for t in str(line).splitlines() or [""])


def fitted_table(columns: list[Column], width: int,
                 **table_options: Any) -> tuple[Table, list[str]]:
    """A rich Table of ``columns`` that fits ``width`` cells, and the headers left out."""
    from rich.table import Table

    edge = 2 if table_options.get("show_edge", True) else 0
    kept = list(columns)

    def total() -> int:
        return sum(_width(c) + 3 for c in kept) - 1 + edge  # padding 2 and a rule each

    while total() > width and any(c.drop for c in kept):
        kept.remove(max((c for c in kept if c.drop), key=lambda c: c.drop))
    table = Table(**table_options)
    for c in kept:
        table.add_column(c.header, justify=c.justify, no_wrap=not c.wraps,  # type: ignore[arg-type]
                         overflow="fold", min_width=c.min_width if c.wraps else None)
    for row in zip(*(c.cells for c in kept), strict=True):
        table.add_row(*row)
    return table, [c.header for c in columns if not any(c is k for k in kept)]


def left_out_note(headers: list[str], width: int) -> str:
    return (f"  (left out at {width} columns: {', '.join(headers)}; a wider terminal or "
            "--json shows them)") if headers else ""
