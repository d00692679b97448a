"""Text from companies is data: keep it inert in terminals and spreadsheets.

Names, subjects, transcripts and replies are stored unchanged; only their output is made safe:
- terminals: control and bidirectional-override characters are shown as visible escapes
  (``\\x1b``), so a name cannot clear the screen, set the window title or reorder a line, and
  rich never reads external text as markup (``[/]``, ``[link=…]``);
- CSV: a value that a spreadsheet would run as a formula gets a leading apostrophe (OWASP's
  CSV-injection guidance), unless the caller asks for raw output.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.text import Text

#: C0 controls but tab and newline, DEL, C1 controls, and the bidi marks and overrides that
#: can make a line read differently from what it contains (Trojan Source, CVE-2021-42574)
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object) -> str:
    """``text`` as a string with every unsafe character replaced by a visible escape."""
    return _UNSAFE.sub(_visible, str(text))


def plain(text: object, style: str = "") -> Text:
    """External text as a rich ``Text``: cleaned, never parsed as markup."""
    from rich.text import Text

    return Text(clean(text), style=style)


def markup(template: str, *values: object) -> Text:
    """Our own markup ``template`` with ``{}`` slots filled by external ``values`` as plain text.

    ``markup("[bold]Call to {}[/]: {}", company.name, outcome)``: the template is ours and may
    style; the values are escaped, so ``[/nope]`` in a name prints as it is.
    """
    from rich.markup import escape
    from rich.text import Text

    return Text.from_markup(template.format(*(escape(clean(v)) for v in values)))


def make_console(*, stderr: bool = False, **kwargs: Any) -> Console:
    """A rich console for which every string is plain, cleaned text."""
    from rich.console import Console

    class SafeConsole(Console):
        # A str given to print() or put in a table cell arrives here: never markup or emoji.
        def render_str(self, text: str, **options: Any) -> Text:  # type: ignore[override]
            options.update(markup=False, emoji=False, highlight=False)
            return super().render_str(clean(text), **options)

        # The last line of defence: whatever built a Text, no raw control character leaves.
        def render(self, renderable: RenderableType,
                   options: ConsoleOptions | None = None) -> Any:
            from rich.segment import Segment

            for segment in super().render(renderable, options):
                if segment.control or not _UNSAFE.search(segment.text):
                    yield segment
                else:
                    yield Segment(clean(segment.text), segment.style)

    return SafeConsole(stderr=stderr, highlight=False, markup=False, emoji=False, **kwargs)


#: what a spreadsheet may take as the start of a formula (OWASP: = + - @, tab, CR) and the
#: full-width forms some spreadsheets accept too
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: Any) -> Any:
    """A CSV value a spreadsheet will show, not run: text starting like a formula is prefixed
    with ``'``. Numbers (``-3``, ``+1.5``) and non-text values pass unchanged."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if _NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_record(record: dict[str, Any], *, raw: bool = False) -> dict[str, Any]:
    """``record`` with every text value passed through :func:`csv_cell` (unless ``raw``)."""
    if raw:
        return record
    return {key: csv_cell(value) for key, value in record.items()}


class CsvWriter(csv.DictWriter):
    """``csv.DictWriter`` for external text: formula cells neutralised (unless ``raw``), and
    RFC 4180 line ends, so a carriage return inside a value is quoted like a newline."""

    def __init__(self, f: IO[str], fieldnames: list[str], *, raw: bool = False):
        super().__init__(f, fieldnames=fieldnames, lineterminator="\r\n")
        self.raw = raw

    def writerow(self, rowdict: dict[str, Any]) -> Any:
        return super().writerow(csv_record(rowdict, raw=self.raw))

    def writerows(self, rowdicts: Iterable[dict[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)
