"""Importing manual probes from CSV: phone calls, returns, deliveries.

Columns (a header row is required; order does not matter; names are case-insensitive)::

    phone:    company, dialed_at, ivr_steps, agent_answered_after_s | agent_answered_at,
              hold_s, abandoned, abandoned_after_s, transferred, resolved, wait_announced_s,
              scenario, shopper, campaign, note, id
    returns:  company, requested_at, shipped_at, refunded_at, amount,
              scenario, shopper, campaign, note, id
    delivery: company, placed_at, shipped_at, delivered_at, scenario, shopper, campaign, note, id

Required: ``company`` and the first date (``dialed_at`` / ``requested_at`` / ``placed_at``).
``company`` is the company's id or its name. Dates and times are ISO 8601; a date or a time
without offset is in the company's time zone. Durations (``*_s``) are seconds (``95``) or
``1m35s`` / ``1:35``. Yes/no columns take yes/no, true/false, 1/0. A phone call needs either
``agent_answered_after_s`` (or ``agent_answered_at``) or ``abandoned=yes`` with
``abandoned_after_s``; ``transferred`` is a count (or yes/no).

``id`` (optional) names the row; without it the id is derived from the row's content. Either
way importing the same file twice adds nothing. Bad rows are reported one line each (line,
column, problem) and skipped; the good rows are written in one transaction.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, StoreError
from .manual_log import (
    DeliveryOrder,
    Entry,
    EntryError,
    PhoneCall,
    Planned,
    ReturnCase,
    company_of,
    parse_amount,
    parse_bool,
    parse_count,
    parse_seconds,
    parse_when,
    plan,
    save,
)
from .models import Channel, stable_id

if TYPE_CHECKING:
    from .config import Config
    from .store import Store

_COMMON = ("scenario", "shopper", "campaign", "note", "id")

#: channel -> (required columns, optional columns)
COLUMNS: dict[Channel, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Channel.PHONE: (("company", "dialed_at"), (
        "ivr_steps", "agent_answered_after_s", "agent_answered_at", "hold_s", "abandoned",
        "abandoned_after_s", "transferred", "resolved", "wait_announced_s", *_COMMON)),
    Channel.RETURNS: (("company", "requested_at"),
                      ("shipped_at", "refunded_at", "amount", *_COMMON)),
    Channel.DELIVERY: (("company", "placed_at"), ("shipped_at", "delivered_at", *_COMMON)),
}

#: entry field names used in EntryError -> the CSV column a person should fix
_FIELD_TO_COLUMN = {
    "agent_after": "agent_answered_after_s", "abandoned_after": "abandoned_after_s",
    "hold": "hold_s", "transferred": "transferred", "resolved": "resolved",
}


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.problem}"


@dataclass
class ImportResult:
    file: str
    channel: Channel
    rows: int = 0
    planned: list[tuple[int, Planned]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: probe ids written now; the others were already stored
    added: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def already_present(self) -> int:
        return 0 if self.dry_run else len(self.planned) - len(self.added)

    def summary(self) -> dict[str, Any]:
        return {
            "file": self.file, "channel": str(self.channel), "rows": self.rows,
            "imported": len(self.planned) if self.dry_run else len(self.added),
            "already_present": self.already_present, "rejected": len(self.errors),
            "dry_run": self.dry_run, "errors": [
                {"line": e.line, "column": e.column, "problem": e.problem} for e in self.errors],
            "probe_ids": [p.probe.id for _, p in self.planned] if self.dry_run else self.added,
        }


# -- reading --------------------------------------------------------------------------------


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and rows (with the line each starts on); file-level problems raise ConfigError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a CSV file", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    try:
        text = data.decode("utf-8-sig")  # a BOM (Excel's "CSV UTF-8") is dropped
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                          "save the file as UTF-8 CSV", file=str(path)) from None
    if not text.strip():
        raise ConfigError("empty file: expected a header row and data rows", file=str(path))
    first_line = text.lstrip().splitlines()[0]
    delimiter = ","
    if "," not in first_line:
        delimiter = ";" if ";" in first_line else ("\t" if "\t" in first_line else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    header: list[str] | None = None
    try:
        line = 1
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in record]
                header_line = start
                continue
            if len(record) > len(header):
                extra = record[len(header):]
                if any(cell.strip() for cell in extra):
                    rows.append((start, {"__error__": f"{len(record)} fields but the header "
                                                      f"has {len(header)}"}))
                    continue
            rows.append((start, {name: (record[i] if i < len(record) else "")
                                 for i, name in enumerate(header)}))
    except csv.Error as exc:
        raise ConfigError(f"line {reader.line_num}: malformed CSV ({exc})",
                          file=str(path)) from None
    assert header is not None
    blank = [i + 1 for i, name in enumerate(header) if not name]
    if blank:
        raise ConfigError(f"line {header_line}: header column {blank[0]} has no name",
                          file=str(path))
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ConfigError(f"line {header_line}: column {duplicates[0]!r} appears twice",
                          file=str(path))
    return header, rows


def check_header(header: list[str], channel: Channel, file: str) -> None:
    required, optional = COLUMNS[channel]
    for name in required:
        if name not in header:
            raise ConfigError(f"missing required column {name!r} for {channel} "
                              f"(columns: {', '.join(required + optional)})", file=file)
    unknown = [name for name in header if name not in required + optional]
    if unknown:
        raise ConfigError(f"unknown column {unknown[0]!r} for {channel} "
                          f"(columns: {', '.join(required + optional)})", file=file)


# -- rows -> entries (pure) -------------------------------------------------------------------


def row_id(channel: Channel, row: dict[str, str]) -> str:
    """The probe id for a row: its ``id`` (a UUID as is, other text hashed) or its content."""
    given = row.get("id", "").strip()
    if given:
        try:
            return str(uuid.UUID(given))
        except ValueError:
            return stable_id(f"import:{channel}", given)
    content = {k: v.strip() for k, v in sorted(row.items()) if v.strip() and k != "id"}
    return stable_id(f"import:{channel}", json.dumps(content, sort_keys=True))


def entry_from_row(channel: Channel, row: dict[str, str], config: Config) -> Entry:
    """One CSV row as an entry; raises EntryError naming the column."""
    value = {k: v.strip() for k, v in row.items()}
    raw_company = value.get("company", "")
    if not raw_company:
        raise EntryError("company", "required")
    try:
        company = company_of(config, raw_company)
    except ConfigError as exc:
        raise EntryError("company", exc.problem) from None
    tz = company.timezone
    common: dict[str, Any] = {k: value.get(k) or None
                              for k in ("scenario", "shopper", "campaign", "note")}

    def when(column: str):
        return parse_when(value[column], tz, column) if value.get(column) else None

    if channel == Channel.RETURNS:
        return ReturnCase(company.id, requested_at=when("requested_at"),
                          shipped_at=when("shipped_at"), refunded_at=when("refunded_at"),
                          amount=parse_amount(value["amount"], "amount")
                          if value.get("amount") else None, **common)
    if channel == Channel.DELIVERY:
        return DeliveryOrder(company.id, placed_at=when("placed_at"),
                             shipped_at=when("shipped_at"), delivered_at=when("delivered_at"),
                             **common)

    def seconds(column: str) -> float | None:
        return parse_seconds(value[column], column) if value.get(column) else None

    dialed = when("dialed_at")
    agent_after = seconds("agent_answered_after_s")
    agent_at = when("agent_answered_at")
    if agent_at is not None and dialed is not None:
        if agent_after is not None:
            raise EntryError("agent_answered_at", "give agent_answered_after_s or "
                                                  "agent_answered_at, not both")
        agent_after = (agent_at - dialed).total_seconds()
        if agent_after < 0:
            raise EntryError("agent_answered_at", "is before dialed_at")
    abandoned = parse_bool(value.get("abandoned", ""), "abandoned")
    abandoned_after = seconds("abandoned_after_s")
    if abandoned and abandoned_after is None:
        raise EntryError("abandoned_after_s", "required when abandoned is yes (seconds from "
                                              "dialing until you hung up)")
    if abandoned_after is not None and not abandoned and agent_after is not None:
        raise EntryError("abandoned_after_s", "set, but an agent answered (abandoned is no)")
    transferred_raw = value.get("transferred", "")
    try:
        transfers = parse_count(transferred_raw or "0", "transferred")
    except EntryError:
        transfers = int(parse_bool(transferred_raw, "transferred"))
    resolved = parse_bool(value["resolved"], "resolved") if value.get("resolved") else None
    return PhoneCall(
        company.id, dialed_at=dialed, agent_after_s=agent_after,
        abandoned_after_s=abandoned_after,
        ivr_steps=parse_count(value.get("ivr_steps") or "0", "ivr_steps"),
        hold_s=seconds("hold_s"), transfers=transfers, resolved=resolved,
        wait_announced_s=seconds("wait_announced_s"), **common,
    )


def plan_rows(channel: Channel, rows: list[tuple[int, dict[str, str]]], config: Config,
              file_name: str, *, allow_unlisted_channel: bool = False,
              ) -> tuple[list[tuple[int, Planned]], list[RowError]]:
    """Good rows as planned probes, bad rows as errors (pure: nothing is written)."""
    planned: list[tuple[int, Planned]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if "__error__" in row:
            errors.append(RowError(line, "*", row["__error__"]))
            continue
        probe_id = row_id(channel, row)
        if probe_id in seen:
            errors.append(RowError(line, "id" if row.get("id", "").strip() else "*",
                                   f"duplicate of line {seen[probe_id]} (give each row its "
                                   "own id to keep both)"))
            continue
        try:
            entry = entry_from_row(channel, row, config)
            state = {"imported_from": file_name, "line": line}
            if row.get("id", "").strip():
                state["import_id"] = row["id"].strip()
            item = plan(entry, config, probe_id, state=state, source="csv",
                        source_detail=file_name,
                        allow_unlisted_channel=allow_unlisted_channel)
        except EntryError as exc:
            errors.append(RowError(line, _FIELD_TO_COLUMN.get(exc.field, exc.field),
                                   exc.problem))
            continue
        seen[probe_id] = line
        planned.append((line, item))
    return planned, errors


# -- the whole import -------------------------------------------------------------------------


def import_csv(store: Store, config: Config, path: Path, channel: Channel, *,
               dry_run: bool = False, allow_unlisted_channel: bool = False) -> ImportResult:
    """Read, check and (unless ``dry_run``) store a CSV file's probes in one transaction.

    Rows for a company that does not offer ``channel`` are rejected unless
    ``allow_unlisted_channel`` (history kept from before a channel was dropped)."""
    import sqlite3

    header, rows = read_csv(path)
    check_header(header, channel, str(path))
    planned, errors = plan_rows(channel, rows, config, path.name,
                                allow_unlisted_channel=allow_unlisted_channel)
    result = ImportResult(file=str(path), channel=channel, rows=len(rows), planned=planned,
                          errors=errors, dry_run=dry_run)
    if dry_run or not planned:
        return result
    try:
        added = save(store, config, [item for _, item in planned])
    except sqlite3.Error as exc:
        raise StoreError(f"{store.path}: {exc}; nothing was imported") from None
    except StoreError as exc:
        raise StoreError(f"{exc}; nothing was imported") from None
    result.added = [item.probe.id for (_, item), new in zip(planned, added, strict=True) if new]
    return result
