"""Measurements as packed numpy columns, one cached slice per quarter, channel and company.

A report needs five numbers per measurement, but reading a million rows through Python's
sqlite3 makes a Python object of every value and takes seconds. So each slice is packed once
into BLOBs in ``measurement_columns`` and reused until one of its measurements changes:
triggers on ``measurements`` (migration m002) bump the slice's version in
``measurement_slices``, and a cached slice counts only while its version matches. Stale
slices are rebuilt from ``measurements`` when read; where the database cannot be written
(read-only, or held by a long write) the rebuilt columns are not kept.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .models import COUNTED_OUTCOMES, RESPONDED_OUTCOMES

#: bits of ``Slice.flags``
COUNTED, RESPONDED, HUMAN, UNAVAILABLE = 1, 2, 4, 8
_FLAGS_SQL = (
    f"(outcome IN ({', '.join(repr(str(o)) for o in sorted(COUNTED_OUTCOMES))}))"
    f" | ((outcome IN ({', '.join(repr(str(o)) for o in RESPONDED_OUTCOMES)})) << 1)"
    " | ((answered_by_human <> 0) << 2)"
    " | ((outcome = 'unavailable') << 3)"
)
_FLOATS = ("wait_s", "wait_bh_s", "first_response_s")
_KEY = ("quarter", "channel", "company")
_CACHE_COLUMNS = (*_KEY, "version", "rows", "first_started", "last_started", "flags", *_FLOATS,
                  "month", "source", "sources")
#: month 1-12 of the local start (UTC where a row has none), and the provenance label:
#: the source, plus '@' and the merge batch for merged rows (see svcbench.provenance)
_MONTH_SQL = ("COALESCE(CAST(substr(month, 6, 2) AS INTEGER), "
              "CAST(substr(started_at, 6, 2) AS INTEGER))")
_SOURCE_SQL = "COALESCE(source, 'live') || COALESCE('@' || merge_batch, '')"
#: rows per fetchmany: bounds the Python row tuples alive at once (a few tens of MB)
_FETCH_ROWS = 50_000
#: up to this many stale slices are read one index range each; more, in one pass
_RANGES = 500
#: how long a reader waits for another writer before giving up on keeping rebuilt slices
_KEEP_WAIT_MS = 2_000

Key = tuple[str, str, str]


@dataclass
class Slice:
    """One company's measurements in one quarter and channel, as columns.

    Durations are float64 with NaN for none; ``first_started``/``last_started`` are the
    earliest and latest ``started_at`` (ISO text), None for an empty slice. ``month`` is each
    row's local month (1-12); ``source`` indexes ``sources``, the slice's provenance labels.
    """

    quarter: str
    channel: str
    company: str
    flags: np.ndarray
    wait_s: np.ndarray
    wait_bh_s: np.ndarray
    first_response_s: np.ndarray
    first_started: str | None
    last_started: str | None
    month: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.uint8))
    source: np.ndarray = field(default_factory=lambda: np.array([], dtype="<u2"))
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.flags)


def read_slices(conn: sqlite3.Connection, *, quarters: Sequence[str] | None = None,
                channels: Sequence[str] | None = None) -> list[Slice]:
    """The non-empty slices wanted (a filter of None: all), in (quarter, channel, company)
    order."""
    where, params = _where(quarters, channels)
    with _read_snapshot(conn):
        versions = {(q, ch, co): v for q, ch, co, v in conn.execute(
            f"SELECT quarter, channel, company, version FROM measurement_slices{where}",
            params)}
        found: dict[Key, Slice] = {}
        labels: dict[str, list[str]] = {}  # most slices share one label list: decode it once
        for row in conn.execute(
                f"SELECT {', '.join(_CACHE_COLUMNS)} FROM measurement_columns{where}", params):
            key = row[:3]
            if versions.get(key) == row[3]:
                found[key] = _unpack(row, labels)
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


def _unpack(row: Sequence, labels: dict[str, list[str]]) -> Slice:
    quarter, channel, company, _, _, first, last, flags, *floats, month, source, sources = row
    decoded = labels.get(sources)
    if decoded is None:
        decoded = labels[sources] = json.loads(sources)
    return Slice(quarter, channel, company, np.frombuffer(flags, np.uint8),
                 *(np.frombuffer(blob, "<f8") for blob in floats), first, last,
                 np.frombuffer(month, np.uint8), np.frombuffer(source, "<u2"),
                 list(decoded))


def _build(conn: sqlite3.Connection, keys: Sequence[Key]) -> dict[Key, Slice]:
    """Rebuild these slices from ``measurements``, reading the covering index in slice order:
    one index range per slice when they are few, else one pass over their quarters and
    channels."""
    if len(keys) <= _RANGES:
        queries = [(" WHERE quarter = ? AND channel = ? AND company = ?", list(k)) for k in keys]
    else:
        queries = [_where(sorted({k[0] for k in keys}), sorted({k[1] for k in keys}))]
    parts: dict[Key, list[tuple]] = {}
    for where, params in queries:
        cursor = conn.execute(
            f"SELECT {', '.join(_KEY)}, {_FLAGS_SQL}, {', '.join(_FLOATS)}, {_MONTH_SQL}, "
            f"{_SOURCE_SQL}, started_at "
            f"FROM measurements INDEXED BY measurements_slice{where} "
            f"ORDER BY {', '.join(_KEY)}", params)
        while rows := cursor.fetchmany(_FETCH_ROWS):
            _split_runs(rows, parts)
    empty = np.array([], dtype=np.uint8), *(np.array([], dtype="<f8") for _ in _FLOATS)
    built = {}
    for key in keys:
        pieces = parts.get(key)
        if not pieces:
            built[key] = Slice(*key, *empty, None, None)
            continue
        columns = [np.concatenate([p[i] for p in pieces]) for i in range(2 + len(_FLOATS))]
        sources, codes = _slice_sources([p[2 + len(_FLOATS)] for p in pieces])
        built[key] = Slice(*key, *columns[:-1], min(p[-2] for p in pieces),
                           max(p[-1] for p in pieces), columns[-1].astype(np.uint8),
                           codes, sources)
    return built


def _split_runs(rows: list[tuple], parts: dict[Key, list[tuple]]) -> None:
    """Rows ordered by slice key -> (flags, floats..., first, last started) per key run."""
    quarter, channel, company, flags, *floats, month, source, started = zip(*rows, strict=True)
    texts = [np.array(column, dtype=object) for column in (quarter, channel, company)]
    changed = np.zeros(len(rows) - 1, dtype=bool)
    for column in texts:
        changed |= column[1:] != column[:-1]
    bounds = [0, *(np.flatnonzero(changed) + 1).tolist(), len(rows)]
    flag_array = np.array(flags, dtype=np.uint8)
    float_arrays = [np.array(values, dtype="<f8") for values in floats]  # None becomes NaN
    month_array = np.array(month, dtype=np.uint8)
    # labels are few: codes into this chunk's distinct labels, by hashing (not sorting)
    import pandas as pd

    source_codes, source_labels = pd.factorize(np.array(source, dtype=object))
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        run = started[start:end]
        parts.setdefault((quarter[start], channel[start], company[start]), []).append((
            flag_array[start:end], *(a[start:end] for a in float_arrays),
            month_array[start:end], (source_codes[start:end], source_labels), min(run),
            max(run)))


def _slice_sources(pieces: list[tuple[np.ndarray, Sequence[str]]]) -> tuple[list[str],
                                                                             np.ndarray]:
    """One slice's labels (sorted) and uint16 codes from its pieces' chunk codes."""
    if len(pieces) == 1 and len(pieces[0][1]) == 1:  # the usual case: one source
        return [str(pieces[0][1][0])], np.zeros(len(pieces[0][0]), dtype="<u2")
    labels = sorted({str(chunk[c]) for codes, chunk in pieces for c in np.unique(codes)})
    index = {label: i for i, label in enumerate(labels)}
    out = [np.array([index[str(x)] for x in chunk], dtype="<u2")[codes]
           for codes, chunk in pieces]
    return labels, np.concatenate(out)


def _keep(conn: sqlite3.Connection, built: dict[Key, Slice], versions: dict[Key, int]) -> None:
    """Store rebuilt slices, best effort: the cache only saves time, so a read-only or busy
    database, or a full disk, leaves it as it was and the report goes on."""
    if not built or conn.in_transaction:
        return
    rows = [(*key, versions[key], len(s), s.first_started, s.last_started, s.flags.tobytes(),
             *(getattr(s, name).tobytes() for name in _FLOATS), s.month.tobytes(),
             s.source.tobytes(), json.dumps(s.sources))
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
