"""Measurements as packed numpy columns, one cached slice per (quarter, channel).

A report needs five numbers per measurement, but reading a million rows through Python's
sqlite3 makes a Python object of every value and takes seconds. So each (quarter, channel)
slice is packed once into BLOBs in ``measurement_columns`` and reused until one of its
measurements changes: triggers on ``measurements`` (migration m002) bump the slice's
version in ``measurement_slices``, and a cached slice counts only while its version
matches. Stale slices are rebuilt from ``measurements`` when read; where the database
cannot be written (read-only, or held by a long write) the rebuilt columns are not kept.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .models import COUNTED_OUTCOMES, RESPONDED_OUTCOMES

#: bits of ``Slice.flags``
COUNTED, RESPONDED, HUMAN = 1, 2, 4
_FLAGS_SQL = (
    f"(outcome IN ({', '.join(repr(str(o)) for o in sorted(COUNTED_OUTCOMES))}))"
    f" | ((outcome IN ({', '.join(repr(str(o)) for o in RESPONDED_OUTCOMES)})) << 1)"
    " | ((answered_by_human <> 0) << 2)"
)
_FLOATS = ("wait_s", "wait_bh_s", "first_response_s")
_CACHE_COLUMNS = ("quarter", "channel", "version", "rows", "first_started", "last_started",
                  "companies", "company_codes", "flags", *_FLOATS)
#: rows per fetchmany: bounds the Python row tuples alive at once (a few tens of MB)
_FETCH_ROWS = 50_000
#: how long a reader waits for another writer before giving up on keeping rebuilt slices
_KEEP_WAIT_MS = 2_000
_SEP = "\x1f"


@dataclass
class Slice:
    """One (quarter, channel)'s measurements as columns; ``codes`` index ``companies``.

    Durations are float64 with NaN for none; ``first_started``/``last_started`` are the
    earliest and latest ``started_at`` (ISO text), None for an empty slice.
    """

    quarter: str
    channel: str
    companies: list[str]
    codes: np.ndarray
    flags: np.ndarray
    wait_s: np.ndarray
    wait_bh_s: np.ndarray
    first_response_s: np.ndarray
    first_started: str | None
    last_started: str | None

    def __len__(self) -> int:
        return len(self.codes)


def read_slices(conn: sqlite3.Connection, *, quarters: Sequence[str] | None = None,
                channels: Sequence[str] | None = None) -> list[Slice]:
    """The non-empty slices wanted (a filter of None: all), in (quarter, channel) order."""
    where, params = _where(quarters, channels)
    with _read_snapshot(conn):
        versions = {(q, c): v for q, c, v in conn.execute(
            f"SELECT quarter, channel, version FROM measurement_slices{where}", params)}
        found: dict[tuple[str, str], Slice] = {}
        for row in conn.execute(
                f"SELECT {', '.join(_CACHE_COLUMNS)} FROM measurement_columns{where}", params):
            if versions.get((row[0], row[1])) == row[2]:
                found[(row[0], row[1])] = _unpack(row)
        stale = sorted(set(versions) - set(found))
        built = _build(conn, stale) if stale else {}
    _keep(conn, built, versions)
    found.update(built)
    return [found[key] for key in sorted(found) if len(found[key])]


def _where(quarters: Sequence[str] | None,
           channels: Sequence[str] | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    for column, values in (("quarter", quarters), ("channel", channels)):
        if values is not None:
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params += [str(v) for v in values]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


@contextlib.contextmanager
def _read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction, so versions and rows come from the same state of the file."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _unpack(row: Sequence) -> Slice:
    quarter, channel, _, _, first, last, companies, codes, flags, *floats = row
    return Slice(quarter, channel, json.loads(companies), np.frombuffer(codes, "<i4"),
                 np.frombuffer(flags, np.uint8),
                 *(np.frombuffer(blob, "<f8") for blob in floats), first, last)


class _Codes:
    """Text values -> integer codes, a chunk at a time (hashing in pandas, not a Python
    loop per row)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def encode(self, values: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """(codes, chunk-local codes, the chunk's distinct values)."""
        import pandas as pd

        local, uniques = pd.factorize(np.array(values, dtype=object))
        distinct = uniques.tolist()
        lookup = np.array([self.index.setdefault(u, len(self.index)) for u in distinct],
                          dtype=np.int64)
        return lookup[local], local, distinct


def _build(conn: sqlite3.Connection,
           keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Slice]:
    """Rebuild these slices from ``measurements`` in one pass over their rows."""
    where, params = _where(sorted({q for q, _ in keys}), sorted({c for _, c in keys}))
    # the index covers these columns: only its pages are read, in slice order
    cursor = conn.execute(
        f"SELECT quarter || char(31) || channel, company, {_FLAGS_SQL}, "
        f"{', '.join(_FLOATS)}, started_at FROM measurements INDEXED BY measurements_slice"
        f"{where}", params)
    slice_codes, company_codes = _Codes(), _Codes()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("key", "company", "flags", *_FLOATS)}
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    while rows := cursor.fetchmany(_FETCH_ROWS):
        key, company, flags, *floats, started = zip(*rows, strict=True)
        del rows
        codes, local, distinct = slice_codes.encode(key)
        parts["key"].append(codes)
        parts["company"].append(company_codes.encode(company)[0])
        parts["flags"].append(np.array(flags, dtype=np.uint8))
        for name, values in zip(_FLOATS, floats, strict=True):
            parts[name].append(np.array(values, dtype=np.float64))  # None becomes NaN
        # text order, as SQLite's MIN/MAX on text
        started_at = np.array(started, dtype=object)
        for code, k in enumerate(distinct):
            values = started_at[local == code].tolist() if len(distinct) > 1 else started
            low, high = min(values), max(values)
            first[k], last[k] = min(first.get(k, low), low), max(last.get(k, high), high)
    columns = {k: np.concatenate(v) if v else np.array([], dtype=np.int64)
               for k, v in parts.items()}
    names = list(company_codes.index)
    built = {}
    for quarter, channel in keys:
        text = f"{quarter}{_SEP}{channel}"
        code = slice_codes.index.get(text)
        index = np.flatnonzero(columns["key"] == code) if code is not None else np.array([], int)
        present, inverse = np.unique(columns["company"][index], return_inverse=True)
        built[(quarter, channel)] = Slice(
            quarter, channel, [names[i] for i in present.tolist()], inverse.astype("<i4"),
            columns["flags"][index].astype(np.uint8),
            *(columns[name][index].astype("<f8") for name in _FLOATS),
            first.get(text), last.get(text))
    return built


def _keep(conn: sqlite3.Connection, built: dict[tuple[str, str], Slice],
          versions: dict[tuple[str, str], int]) -> None:
    """Store rebuilt slices, best effort: the cache only saves time, so a read-only or busy
    database, or a full disk, leaves it as it was and the report goes on."""
    if not built or conn.in_transaction:
        return
    rows = [(s.quarter, s.channel, versions[key], len(s), s.first_started, s.last_started,
             json.dumps(s.companies), s.codes.tobytes(), s.flags.tobytes(),
             *(getattr(s, name).tobytes() for name in _FLOATS))
            for key, s in built.items()]
    wait = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout = {min(wait, _KEEP_WAIT_MS)}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                f"INSERT OR REPLACE INTO measurement_columns ({', '.join(_CACHE_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _CACHE_COLUMNS)})", rows)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
    except sqlite3.DatabaseError:
        pass
    finally:
        conn.execute(f"PRAGMA busy_timeout = {wait}")
