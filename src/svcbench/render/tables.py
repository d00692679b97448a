"""CSV output: one long-format file for the channel rankings, one for the overall ranking.

``rankings-2026Q4.csv``: one row per company per channel (column ``channel``);
``rankings-2026Q4-overall.csv``: one row per company; ``rankings-2026Q4-phone-waits.csv``
(when calls announced a wait): announced versus actual wait per company. Columns:
docs/report-columns.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING

from . import (
    FORM_FINDING_COLUMNS,
    OVERALL_COLUMNS,
    form_finding_records,
    output_name,
    overall_records,
    ranking_columns,
    ranking_records,
)
from .safe import CsvWriter

if TYPE_CHECKING:
    from ..rank import Report


def write_rankings_csv(report: Report, f: IO[str], *, raw: bool = False) -> None:
    """The channel rankings (long format) to an open text file."""
    writer = CsvWriter(f, ranking_columns(report), raw=raw)
    writer.writeheader()
    writer.writerows(ranking_records(report))


def write_csv(report: Report, directory: Path, *, raw: bool = False) -> list[Path]:
    """Write both files (and ``-forms.csv``, the web-form findings, when there are any); text
    a spreadsheet would run as a formula is neutralised unless ``raw`` (see
    :mod:`svcbench.render.safe`)."""
    directory.mkdir(parents=True, exist_ok=True)
    channels = directory / output_name(report, ".csv")
    overall = directory / output_name(report, "-overall.csv")
    files = [(channels, ranking_columns(report), ranking_records(report)),
             (overall, OVERALL_COLUMNS, overall_records(report))]
    forms = form_finding_records(report)
    if forms:
        files.append((directory / output_name(report, "-forms.csv"), FORM_FINDING_COLUMNS,
                      forms))
    waits = report.sections.get("phone_waits")
    if waits:
        files.append((directory / output_name(report, "-phone-waits.csv"), PHONE_WAIT_COLUMNS,
                      phone_wait_records(waits)))
    for path, columns, records in files:
        tmp = path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = CsvWriter(f, columns, raw=raw)
            writer.writeheader()
            writer.writerows(records)
        tmp.replace(path)
    return [path for path, _, _ in files]


PHONE_WAIT_COLUMNS = ["company", "name", "calls", "kept", "broken", "announced_median_s",
                      "actual_median_s", "automated", "promise"]


def phone_wait_records(section: dict) -> list[dict]:
    """Announced versus actual wait per company (``-phone-waits.csv``)."""
    from .wording import wait_promise_verdict

    return [{**{k: row[k] for k in PHONE_WAIT_COLUMNS[:-1]},
             "promise": wait_promise_verdict(row)} for row in section["companies"]]
