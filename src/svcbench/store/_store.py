"""The SQLite store: probes, events, messages, measurements, grades.

Every state change is one ``BEGIN IMMEDIATE`` transaction, so a crash leaves either all of
it or none of it. Writes use plain SQL on the connection: sqlite-utils' insert helpers
commit on their own and would split a state change in two. Reads use sqlite-utils.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from ..errors import StoreError
from ..models import (
    Channel,
    Event,
    Measurement,
    Outcome,
    Probe,
    ProbeStatus,
    format_instant,
    new_id,
    parse_instant,
    stable_id,
    utcnow,
)
from ._migrations import Migrations, core

BUSY_TIMEOUT_MS = 30_000

_PROBE_COLUMNS = ("id", "campaign", "company", "channel", "plugin", "scenario", "shopper",
                  "status", "outcome", "outcome_reason", "due_at", "deadline_at",
                  "started_at", "finished_at", "token", "state", "attempts", "created_at",
                  "updated_at", "source", "source_detail", "region", "merge_batch")
_PROBE_TIME_FIELDS = ("due_at", "deadline_at", "started_at", "finished_at", "created_at",
                      "next_attempt_at")


#: json.dumps(value, sort_keys=True, default=str, ensure_ascii=False), without building an
#: encoder for each of the 100,000s of states a plan stores
_ENCODER = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


#: planned probes' states repeat (slot index, out-of-hours flag) across companies
_STATE_TEXTS: dict[tuple, str] = {}


def _state_text(state: dict[str, Any]) -> str:
    """``_dumps(state)``, remembered for the flat states plans store by the ten thousand."""
    key = tuple((k, v.__class__, v) for k, v in state.items())
    try:
        text = _STATE_TEXTS.get(key)
    except TypeError:  # unhashable values: not a plan's state
        return _dumps(state)
    if text is None:
        if len(_STATE_TEXTS) > 4096:
            _STATE_TEXTS.clear()
        text = _STATE_TEXTS[key] = _dumps(state)
    return text


def _instant(value: datetime | None) -> str | None:
    return format_instant(value) if value is not None else None


def _hostname() -> str | None:
    import socket

    return socket.gethostname() or None


def _friendly(exc: sqlite3.Error, path: Path) -> StoreError:
    text = str(exc)
    if "readonly" in text:
        return StoreError(f"{path}: database is read-only ({text})")
    if "unable to open" in text and path.exists() and not os.access(path, os.W_OK):
        return StoreError(f"{path}: database is read-only ({text})")
    if "unable to open" in text and not path.parent.is_dir():
        return StoreError(f"{path}: {text} (directory {path.parent} does not exist)")
    if "disk" in text and "full" in text:
        return StoreError(f"{path}: disk is full; nothing was written ({text})")
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: database stayed locked by another process ({text})")
    return StoreError(f"{path}: {text}")


def writable(path: Path) -> bool:
    """Whether the database (and its directory, for the WAL and lock files) can be written;
    False on a read-only mount even for root."""
    folder = path.parent if path.parent != Path("") else Path(".")
    return os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def _database(conn: sqlite3.Connection) -> sqlite_utils.Database:
    # sqlite-utils' own plugins are for its CLI: they do not run code on the store (finding
    # them scanned every installed package's metadata on each open, ~30 ms a tick)
    return sqlite_utils.Database(conn, execute_plugins=False)


class Store:
    """A svcbench database. Opening it applies pending migrations.

    ``read_only`` opens it without writing anything (no migrations, no journal-mode change):
    listing and reporting then work on a read-only workspace or medium.
    """

    def __init__(self, path: Path | str, *, migrations: Sequence[Migrations] = (),
                 read_only: bool = False):
        self.path = Path(path)
        self._depth = 0
        #: the machine/region label stamped on new probes (Workspace sets the configured one)
        self.region: str | None = os.environ.get("SVCBENCH_REGION") or _hostname()
        self._durable = False
        self.read_only = read_only
        if read_only:
            self._open_read_only(migrations)
            return
        conn = None
        try:
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                with contextlib.suppress(sqlite3.OperationalError):  # read-only: keep its mode
                    conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            self.db = _database(conn)
            for migration_set in (core, *migrations):
                if migration_set.pending(self.db):
                    migration_set.apply(self.db)
        except (sqlite3.DatabaseError, StoreError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, StoreError):
                raise
            raise _friendly(exc, self.path) from None

    def _open_read_only(self, migrations: Sequence[Migrations]) -> None:
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no database here (run 'svcbench init' or a tick "
                             "on a writable workspace first)")
        conn = None
        # mode=ro needs the WAL index (-shm) to exist or be creatable; on read-only media it
        # is neither, and immutable=1 (no locking, nobody can be writing) is what remains
        for query in ("mode=ro", "immutable=1"):
            try:
                conn = sqlite3.connect(f"file:{self.path}?{query}", uri=True,
                                       isolation_level=None, check_same_thread=False)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                break
            except sqlite3.DatabaseError as exc:
                if conn is not None:
                    conn.close()
                    conn = None
                last = exc
        if conn is None:
            raise _friendly(last, self.path) from None
        self.db = _database(conn)
        try:
            pending = [f"{m.name}.{n}" for m in (core, *migrations) for n in m.pending(self.db)]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path}: not a svcbench database ({exc})") from None
        if pending:
            conn.close()
            raise StoreError(
                f"{self.path}: the database is read-only and needs migrations "
                f"({', '.join(pending[:3])}); run svcbench once where it can be written")

    #: how JSON columns (state, data, ...) are encoded
    encode = staticmethod(_dumps)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -----------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One atomic state change; nested calls join the outer transaction.

        ``durable`` commits with ``synchronous = FULL``: the WAL is fsync'd before COMMIT
        returns, so the change (and every commit before it) survives a power cut or a
        filesystem error. The claim that stands between us and a second contact needs it;
        everything else can be recovered from evidence and keeps the cheaper NORMAL.
        """
        if self._depth:
            if durable and not self._durable:
                raise RuntimeError("a durable transaction cannot join a non-durable one")
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        try:
            if durable:
                self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._relax(durable)
            raise _friendly(exc, self.path) from None
        self._depth, self._durable = 1, durable
        try:
            yield self.conn
        except sqlite3.Error as exc:
            self._depth = 0
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            self._relax(durable)
            raise _friendly(exc, self.path) from None
        except BaseException:
            self._depth = 0
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            self._relax(durable)
            raise
        self._depth = 0
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # with durable, a failed fsync lands here: the caller must not act on the change
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise _friendly(exc, self.path) from None
        finally:
            self._relax(durable)

    def _relax(self, durable: bool) -> None:
        self._durable = False
        if durable:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("PRAGMA synchronous = NORMAL")

    def _insert(self, table: str, row: dict[str, Any], *, conflict: str = "ABORT") -> int:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            with self.transaction() as conn:
                cursor = conn.execute(
                    f"INSERT OR {conflict} INTO {table} ({columns}) VALUES ({marks})",
                    tuple(row.values()),
                )
                return cursor.rowcount
        except sqlite3.DatabaseError as exc:
            raise _friendly(exc, self.path) from None

    # -- config mirror ----------------------------------------------------------------

    def sync_companies(self, companies: Iterable[Any]) -> None:
        """Mirror company definitions (config.Company) so reports work from the db alone."""
        now = format_instant(utcnow())
        with self.transaction() as conn:
            for company in companies:
                conn.execute(
                    "INSERT INTO companies (id, slug, name, industry, data, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(slug) DO UPDATE SET "
                    "name = excluded.name, industry = excluded.industry, data = excluded.data, "
                    "updated_at = excluded.updated_at "
                    # unchanged definitions keep their row (and updated_at, which merge compares)
                    "WHERE (companies.name, companies.industry, companies.data) IS NOT "
                    "(excluded.name, excluded.industry, excluded.data)",
                    (stable_id("company", company.id), company.id, company.name,
                     company.industry, company.model_dump_json(), now),
                )

    def sync_campaigns(self, campaigns: Iterable[Any]) -> None:
        now = format_instant(utcnow())
        with self.transaction() as conn:
            for campaign in campaigns:
                conn.execute(
                    "INSERT INTO campaigns (id, slug, name, data, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(slug) DO UPDATE SET "
                    "name = excluded.name, data = excluded.data, updated_at = excluded.updated_at "
                    "WHERE campaigns.name IS NOT excluded.name OR campaigns.data IS NOT "
                    "excluded.data",
                    (stable_id("campaign", campaign.id), campaign.id, campaign.name,
                     campaign.model_dump_json(), now),
                )

    def company_names(self) -> dict[str, str]:
        return {row["slug"]: row["name"] for row in self.db.query(
            "SELECT slug, name FROM companies")}

    def company_industries(self) -> dict[str, str]:
        return {row["slug"]: row["industry"] for row in self.db.query(
            "SELECT slug, industry FROM companies")}

    # -- probes -----------------------------------------------------------------------

    @staticmethod
    def _probe_values(probe: Probe, now: str, created: tuple[datetime, str] | None = None,
                      state: str | None = None) -> tuple[Any, ...]:
        """A probe's column values in ``_PROBE_COLUMNS`` order (``created``: a created_at
        already formatted, shared by the probes of a plan; ``state``: the state encoded)."""
        return (
            probe.id, probe.campaign, probe.company, str(probe.channel), probe.plugin,
            probe.scenario, probe.shopper, str(probe.status),
            str(probe.outcome) if probe.outcome else None, probe.outcome_reason,
            _instant(probe.due_at), _instant(probe.deadline_at), _instant(probe.started_at),
            _instant(probe.finished_at), probe.token,
            _dumps(probe.state) if state is None else state, probe.attempts,
            created[1] if created and created[0] is probe.created_at
            else format_instant(probe.created_at), now, probe.source, probe.source_detail,
            probe.region, probe.merge_batch,
        )

    @classmethod
    def _probe_row(cls, probe: Probe, now: str | None = None) -> dict[str, Any]:
        return dict(zip(_PROBE_COLUMNS, cls._probe_values(probe, now or format_instant(
            utcnow())), strict=True))

    @staticmethod
    def probe_from_row(row: dict[str, Any]) -> Probe:
        times = {k: parse_instant(row[k]) if row.get(k) else None for k in _PROBE_TIME_FIELDS}
        return Probe(
            id=row["id"], company=row["company"], channel=Channel(row["channel"]),
            plugin=row["plugin"], campaign=row["campaign"], scenario=row["scenario"],
            shopper=row["shopper"], status=ProbeStatus(row["status"]),
            outcome=Outcome(row["outcome"]) if row["outcome"] else None,
            outcome_reason=row["outcome_reason"], due_at=times["due_at"],
            deadline_at=times["deadline_at"], started_at=times["started_at"],
            finished_at=times["finished_at"], token=row["token"],
            state=json.loads(row["state"] or "{}"), attempts=row["attempts"],
            created_at=times["created_at"] or utcnow(), source=row.get("source") or "live",
            source_detail=row.get("source_detail"), region=row.get("region"),
            merge_batch=row.get("merge_batch"),
        )

    def add_probe(self, probe: Probe, events: Sequence[Event] = (), *,
                  if_absent: bool = False) -> bool:
        """Insert a probe (and its first events) atomically. Returns False if it existed.

        A probe without a region label gets this store's (``region``)."""
        if probe.region is None:
            probe.region = self.region
        with self.transaction():
            inserted = self._insert("probes", self._probe_row(probe),
                                    conflict="IGNORE" if if_absent else "ABORT")
            if inserted:
                self.add_events(events)
        return bool(inserted)

    def add_probes(self, probes: Iterable[Probe]) -> int:
        """Insert many new probes (no events) in one statement; existing ids are kept as they
        are. Returns how many were added."""
        now = format_instant(utcnow())
        probes = list(probes)
        for probe in probes:
            if probe.region is None:
                probe.region = self.region
        if not probes:
            return 0
        created = (probes[0].created_at, format_instant(probes[0].created_at))
        rows = [self._probe_values(p, now, created, _state_text(p.state)) for p in probes]
        sql = (f"INSERT OR IGNORE INTO probes ({', '.join(_PROBE_COLUMNS)}) "
               f"VALUES ({', '.join('?' for _ in _PROBE_COLUMNS)})")
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(sql, rows)
            return conn.total_changes - before

    def rows_at_most(self, table: str) -> int:
        """An upper bound of the table's rows, without counting them (its largest rowid)."""
        (top,) = self.conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()
        return top or 0

    @contextlib.contextmanager
    def indexes_rebuilt(self, table: str) -> Iterator[None]:
        """Inside a transaction: the table's own indexes (not those of its keys) dropped, and
        built again from the rows at the end, sorted in one pass. For tens of thousands of
        rows inserted into a small table that is a quarter faster than updating each index
        row by row; if anything fails the transaction's rollback brings them back."""
        if not self._depth:
            raise RuntimeError("indexes_rebuilt needs a transaction")
        indexes = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL", (table,)).fetchall()
        for name, _ in indexes:
            self.conn.execute(f'DROP INDEX "{name}"')
        yield
        for _, sql in indexes:
            self.conn.execute(sql)

    def add_planned(self, rows: Iterable[tuple[str, ...]], created_at: datetime) -> int:
        """Insert new planned probes from what a plan decides: (id, campaign, company,
        channel, plugin, scenario, shopper, due_at, deadline_at, state, token) each, the
        instants ``format_instant``ed and the state ``Store.encode``d; every other column as
        for a new ``Probe``. Existing ids are kept as they are. Returns how many were added (a
        first plan stores 60,000 without building a Probe for each)."""
        tail = (format_instant(created_at), format_instant(utcnow()), self.region)
        values = [(*row, *tail) for row in rows]
        if not values:
            return 0
        sql = ("INSERT OR IGNORE INTO probes (id, campaign, company, channel, plugin, scenario, "
               "shopper, due_at, deadline_at, state, token, created_at, updated_at, region, "
               "status, attempts, source) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', 0, 'live')")
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(sql, values)
            return conn.total_changes - before

    def get_probe(self, probe_id: str) -> Probe | None:
        rows = list(self.db.query("SELECT * FROM probes WHERE id = ?", [probe_id]))
        return self.probe_from_row(rows[0]) if rows else None

    def find_probe(self, id_or_prefix: str) -> Probe | None:
        """A probe by id, unique id prefix (8+ chars) or token."""
        rows = list(self.db.query(
            "SELECT * FROM probes WHERE id = ? OR token = ? OR id LIKE ? LIMIT 2",
            [id_or_prefix, id_or_prefix, f"{id_or_prefix}%" if len(id_or_prefix) >= 8 else ""],
        ))
        return self.probe_from_row(rows[0]) if len(rows) == 1 else None

    def probes(self, *, status: ProbeStatus | Sequence[ProbeStatus] | None = None,
               channel: Channel | None = None, company: str | None = None,
               campaign: str | None = None, plugin: str | None = None,
               due_before: datetime | None = None, limit: int | None = None) -> list[Probe]:
        where, params = [], []
        if status is not None:
            statuses = [status] if isinstance(status, ProbeStatus | str) else list(status)
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params += [str(s) for s in statuses]
        for column, value in (("channel", channel), ("company", company),
                              ("campaign", campaign), ("plugin", plugin)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        if due_before is not None:
            where.append("due_at <= ?")
            params.append(format_instant(due_before))
        sql = "SELECT * FROM probes"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY due_at, created_at, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self.probe_from_row(r) for r in self.db.query(sql, params)]

    def next_due_at(self, after: datetime) -> datetime | None:
        """The earliest due time of a planned probe after ``after`` (one index seek)."""
        row = self.conn.execute(
            "SELECT min(due_at) FROM probes WHERE status = 'planned' AND due_at > ?",
            (format_instant(after),)).fetchone()
        return parse_instant(row[0]) if row and row[0] else None

    def update_probe(self, probe_id: str, *, expect_status: ProbeStatus | None = None,
                     events: Sequence[Event] = (), durable: bool = False,
                     **fields: Any) -> bool:
        """Change a probe and add events in one transaction.

        With ``expect_status`` it is a compare-and-set: nothing changes (and False is
        returned) unless the probe is still in that status. That is how two overlapping runs
        never both start the same probe. ``durable``: on disk before this returns (see
        ``transaction``).
        """
        values: dict[str, Any] = {}
        for key, value in fields.items():
            if key in _PROBE_TIME_FIELDS:
                values[key] = _instant(value)
            elif key == "state":
                values[key] = _dumps(value)
            elif key in ("status", "outcome", "channel"):
                values[key] = str(value) if value is not None else None
            else:
                values[key] = value
        values["updated_at"] = format_instant(utcnow())
        sql = f"UPDATE probes SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?"
        params = [*values.values(), probe_id]
        if expect_status is not None:
            sql += " AND status = ?"
            params.append(str(expect_status))
        with self.transaction(durable=durable) as conn:
            changed = conn.execute(sql, params).rowcount
            if changed:
                self.add_events(events)
        return bool(changed)

    def reopen_probe(self, probe_id: str, *, events: Sequence[Event] = (),
                     **fields: Any) -> bool:
        """A finished probe running again (a person submitted a blocked form, a review took
        its answer away): outcome and measurement cleared with ``events`` added, in one
        transaction; False (nothing changed) unless it was still done."""
        with self.transaction() as conn:
            reopened = self.update_probe(
                probe_id, expect_status=ProbeStatus.DONE, events=events,
                status=ProbeStatus.RUNNING, outcome=None, outcome_reason=None,
                finished_at=None, **fields)
            if reopened:
                conn.execute("DELETE FROM measurements WHERE probe_id = ?", (probe_id,))
        return reopened

    # -- events -----------------------------------------------------------------------

    def add_events(self, events: Iterable[Event]) -> int:
        """Insert events; an event whose id is already stored is skipped (idempotent)."""
        now = format_instant(utcnow())
        count = 0
        with self.transaction() as conn:
            for event in events:
                count += conn.execute(
                    "INSERT OR IGNORE INTO events (id, probe_id, kind, at, source, data, "
                    "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (event.id, event.probe_id, event.kind, format_instant(event.at),
                     event.source, _dumps(event.data), now),
                ).rowcount
        return count

    def events(self, probe_id: str) -> list[Event]:
        return [
            Event(probe_id=r["probe_id"], kind=r["kind"], at=parse_instant(r["at"]),
                  data=json.loads(r["data"]), source=r["source"], id=r["id"])
            for r in self.db.query(
                "SELECT * FROM events WHERE probe_id = ? ORDER BY at, recorded_at, id", [probe_id])
        ]

    # -- messages (transcripts) -------------------------------------------------------

    def add_message(self, *, probe_id: str | None, channel: Channel, direction: str,
                    at: datetime, actor: str | None = None, subject: str | None = None,
                    text: str | None = None, headers: dict[str, Any] | None = None,
                    classification: str | None = None, match_method: str | None = None,
                    match_score: float | None = None, dedupe_key: str | None = None,
                    data: dict[str, Any] | None = None, id: str | None = None) -> bool:
        """Store one message; returns False if its dedupe_key (or id) was already stored."""
        from ..models import new_id

        row = {
            "id": id or new_id(), "probe_id": probe_id, "channel": str(channel),
            "direction": direction, "actor": actor, "at": format_instant(at),
            "subject": subject, "text": text,
            "headers": _dumps(headers) if headers is not None else None,
            "classification": classification, "match_method": match_method,
            "match_score": match_score, "dedupe_key": dedupe_key, "data": _dumps(data or {}),
            "recorded_at": format_instant(utcnow()),
        }
        return bool(self._insert("messages", row, conflict="IGNORE"))

    def messages(self, probe_id: str) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM messages WHERE probe_id = ? ORDER BY at, id",
                             [probe_id])
        out = []
        for row in rows:
            row["data"] = json.loads(row["data"])
            row["headers"] = json.loads(row["headers"]) if row["headers"] else None
            row["at"] = parse_instant(row["at"])
            out.append(row)
        return out

    # -- measurements and grades ------------------------------------------------------

    def save_measurement(self, m: Measurement) -> None:
        """Store a measurement; its source and merge batch are copied from its probe."""
        from ..periods import month_of

        row = {
            "probe_id": m.probe_id, "company": m.company, "campaign": m.campaign,
            "channel": str(m.channel), "quarter": m.quarter, "outcome": str(m.outcome),
            "started_at": format_instant(m.started_at), "wait_s": m.wait_s,
            "wait_bh_s": m.wait_bh_s, "first_response_s": m.first_response_s,
            "first_response_bh_s": m.first_response_bh_s,
            "answered_by_human": int(m.answered_by_human), "metrics": _dumps(m.metrics),
            "flags": _dumps(m.flags), "computed_at": format_instant(utcnow()),
            "month": m.month or month_of(m.started_at),
        }
        columns = ", ".join([*row, "source", "merge_batch"])
        marks = ", ".join("?" for _ in row)
        try:
            with self.transaction() as conn:
                conn.execute(
                    f"INSERT OR REPLACE INTO measurements ({columns}) SELECT {marks}, "
                    "(SELECT source FROM probes WHERE id = ?), "
                    "(SELECT merge_batch FROM probes WHERE id = ?)",
                    (*row.values(), m.probe_id, m.probe_id))
        except sqlite3.DatabaseError as exc:
            raise _friendly(exc, self.path) from None

    @staticmethod
    def measurement_from_row(row: dict[str, Any]) -> Measurement:
        return Measurement(
            probe_id=row["probe_id"], company=row["company"], channel=Channel(row["channel"]),
            outcome=Outcome(row["outcome"]), started_at=parse_instant(row["started_at"]),
            quarter=row["quarter"], campaign=row["campaign"], wait_s=row["wait_s"],
            wait_bh_s=row["wait_bh_s"], first_response_s=row["first_response_s"],
            first_response_bh_s=row["first_response_bh_s"],
            answered_by_human=bool(row["answered_by_human"]),
            metrics=json.loads(row["metrics"]), flags=json.loads(row["flags"]),
            month=row.get("month"),
        )

    def measurements(self, *, company: str | None = None, channel: Channel | None = None,
                     quarter: str | None = None, outcome: Outcome | None = None,
                     campaign: str | None = None,
                     period: str | None = None) -> list[Measurement]:
        """Measurements, filtered; ``period`` is a quarter (2026Q4) or a month (2026-11)."""
        where, params = [], []
        for column, value in (("company", company), ("channel", channel),
                              ("quarter", quarter), ("outcome", outcome),
                              ("campaign", campaign)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        if period is not None:
            where.append("? IN (quarter, month)")
            params.append(period)
        sql = "SELECT * FROM measurements"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at, probe_id"
        return [self.measurement_from_row(r) for r in self.db.query(sql, params)]

    def save_grade(self, probe_id: str, check_name: str, passed: bool,
                   detail: str | None = None) -> None:
        self._insert("grades", {
            "probe_id": probe_id, "check_name": check_name, "passed": int(passed),
            "detail": detail, "graded_at": format_instant(utcnow()),
        }, conflict="REPLACE")

    # -- cursors (incremental sync state) ---------------------------------------------

    def get_cursor(self, name: str, key: str) -> Any:
        rows = list(self.db.query("SELECT value FROM cursors WHERE name = ? AND key = ?",
                                  [name, key]))
        return json.loads(rows[0]["value"]) if rows else None

    def set_cursor(self, name: str, key: str, value: Any) -> None:
        self._insert("cursors", {"name": name, "key": key, "value": _dumps(value),
                                 "updated_at": format_instant(utcnow())}, conflict="REPLACE")

    # -- merge ----------------------------------------------------------------------

    def merge(self, other: Path | str, *, touched: set[str] | None = None,
              dry_run: bool = False, result: MergeResult | None = None) -> dict[str, int]:
        """Copy another svcbench database's rows into this one; returns new rows per table.

        Running it twice adds nothing, and merging two shoppers' files in either order gives
        the same rows: rows are keyed by UUID or natural key, and when both files hold the
        same row the same one wins either way (a probe further along, else the later update;
        the later measurement or grade; events are facts and simply add up). Sync cursors
        stay per machine. ``touched`` (if given) receives the ids of probes whose row or
        events changed, whose measurements may need recomputing.

        The probes, events and company rows it adds are tagged with a new merge batch
        (recorded in ``merge_batches``; none when nothing was added), which
        :meth:`unmerge` removes again. Probes keep their source (live, manual, csv,
        simulated). ``dry_run`` does it all and rolls back; ``result`` receives details.
        """
        other = Path(other)
        if not other.is_file():
            raise StoreError(f"{other}: no such database file")
        if other.resolve() == self.path.resolve():
            raise StoreError(f"{other}: cannot merge a database into itself")
        tables = _svcbench_tables(other)
        try:
            self.conn.execute("ATTACH DATABASE ? AS other", (str(other),))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{other}: cannot open ({exc})") from None
        out = result if result is not None else MergeResult(file=str(other))
        out.file, out.dry_run = str(other), dry_run
        try:
            with self.transaction() as conn:
                changed = _changed_probes(conn)
                batch = new_id()
                new_probes, new_events, new_companies = _new_keys(conn, tables)
                counts = {}
                for table, key, newer in _MERGE_RULES:
                    if table not in tables:
                        continue
                    before = conn.execute(f"SELECT count(*) FROM main.{table}").fetchone()[0]
                    _merge_table(conn, table, key, newer)
                    after = conn.execute(f"SELECT count(*) FROM main.{table}").fetchone()[0]
                    counts[table] = after - before
                _tag_batch(conn, batch, other, new_probes, new_events, new_companies)
                out.counts = counts
                out.batch = batch if (new_probes or new_events or new_companies) else None
                out.new_probes_by_source = dict(conn.execute(
                    "SELECT source, count(*) FROM main.probes WHERE merge_batch = ? "
                    "GROUP BY source", (batch,)))
                out.companies = sorted(r[0] for r in conn.execute(
                    "SELECT DISTINCT company FROM main.probes WHERE merge_batch = ?", (batch,)))
                out.touched = set(changed)
                if dry_run:
                    raise _Rollback
        except _Rollback:
            pass
        finally:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("DETACH DATABASE other")
        if touched is not None and not dry_run:
            touched.update(out.touched)
        return out.counts

    def merge_batches(self) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM merge_batches ORDER BY merged_at, id")
        return [{**r, "unknown_companies": json.loads(r["unknown_companies"])} for r in rows]

    def record_unknown_companies(self, batch: str, companies: Sequence[str]) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE merge_batches SET unknown_companies = ? WHERE id = ?",
                         (_dumps(sorted(companies)), batch))

    def unmerge(self, batch: str) -> dict[str, Any]:
        """Remove what a merge batch added: its probes (with their events, messages,
        measurements and grades), the events it added to other probes, and the company rows
        it added that no probe uses any more. Idempotent: a removed batch stays removed.

        ``batch`` is the id or a unique prefix (4+ characters). Returns counts, the batch and
        ``recompute``: ids of probes that lost events and need measuring again."""
        rows = [r for r in self.merge_batches()
                if r["id"] == batch or (len(batch) >= 4 and r["id"].startswith(batch))]
        if len(rows) != 1:
            known = ", ".join(r["id"][:8] for r in self.merge_batches()) or "none"
            problem = "is ambiguous" if rows else "not found"
            raise StoreError(f"merge batch {batch!r} {problem} (batches: {known})")
        row = rows[0]
        out: dict[str, Any] = {"batch": row["id"], "file": row["file"], "probes": 0,
                               "events": 0, "companies": 0, "recompute": [],
                               "already_removed": row["unmerged_at"] is not None}
        if out["already_removed"]:
            return out
        ident = row["id"]
        mine = "SELECT id FROM probes WHERE merge_batch = ?"
        with self.transaction() as conn:
            out["recompute"] = sorted(r[0] for r in conn.execute(
                "SELECT DISTINCT probe_id FROM events WHERE merge_batch = ? AND probe_id NOT IN "
                f"({mine})", (ident, ident)))
            for table in ("grades", "measurements", "messages", "events"):
                conn.execute(f"DELETE FROM {table} WHERE probe_id IN ({mine})", (ident,))
            out["events"] = conn.execute("DELETE FROM events WHERE merge_batch = ?",
                                         (ident,)).rowcount
            out["probes"] = conn.execute("DELETE FROM probes WHERE merge_batch = ?",
                                         (ident,)).rowcount
            out["companies"] = conn.execute(
                "DELETE FROM companies WHERE merge_batch = ? AND slug NOT IN "
                "(SELECT company FROM probes)", (ident,)).rowcount
            conn.execute("UPDATE merge_batches SET unmerged_at = ? WHERE id = ?",
                         (format_instant(utcnow()), ident))
        return out


class _Rollback(Exception):
    """Ends a dry-run merge's transaction without keeping anything."""


@dataclass
class MergeResult:
    """What a merge added (or, dry run, would add)."""

    file: str = ""
    dry_run: bool = False
    batch: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    new_probes_by_source: dict[str, int] = field(default_factory=dict)
    #: companies of the probes it added
    companies: list[str] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)


#: provenance columns the merge sets itself instead of copying
_NOT_COPIED = {"probes": {"merge_batch"}, "events": {"merge_batch"},
               "companies": {"merge_batch"}, "measurements": {"source", "merge_batch"}}


def _new_keys(conn: sqlite3.Connection, tables: set[str]) -> tuple[int, int, int]:
    """Remember which probes, events and companies of the attached file are new here."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS merge_new (kind TEXT, id TEXT)")
    conn.execute("DELETE FROM temp.merge_new")
    counts = []
    for kind, table in (("probe", "probes"), ("event", "events"), ("company", "companies")):
        if table not in tables:
            counts.append(0)
            continue
        counts.append(conn.execute(
            f"INSERT INTO temp.merge_new SELECT ?, o.id FROM other.{table} o "
            f"WHERE NOT EXISTS (SELECT 1 FROM main.{table} m WHERE m.id = o.id)",
            (kind,)).rowcount)
    return counts[0], counts[1], counts[2]


def _tag_batch(conn: sqlite3.Connection, batch: str, other: Path, probes: int, events: int,
               companies: int) -> None:
    """Tag the new rows with the batch, fill in what an older file did not record, and
    record the batch (only if it added anything)."""
    from ._migrations import INFER_SOURCE_SQL, backfill_periods

    for kind, table in (("probe", "probes"), ("event", "events"), ("company", "companies")):
        conn.execute(f"UPDATE main.{table} SET merge_batch = ? WHERE id IN "
                     "(SELECT id FROM temp.merge_new WHERE kind = ?)", (batch, kind))
    conn.execute(f"UPDATE main.probes SET source = {INFER_SOURCE_SQL} "
                 "WHERE merge_batch = ? AND source IS NULL", (batch,))
    conn.execute(
        "UPDATE main.measurements SET source = p.source, merge_batch = p.merge_batch "
        "FROM main.probes p WHERE p.id = measurements.probe_id AND "
        "(measurements.source IS NULL OR measurements.probe_id IN "
        "(SELECT id FROM temp.merge_new WHERE kind = 'probe'))")
    backfill_periods(conn)
    conn.execute("DELETE FROM temp.merge_new")
    if probes or events or companies:
        conn.execute(
            "INSERT INTO main.merge_batches (id, file, merged_at, probes, events, companies) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (batch, str(other), format_instant(utcnow()), probes, events, companies))


_STATUS_RANK = ("CASE {t}.status WHEN 'done' THEN 3 WHEN 'running' THEN 2 "
                "WHEN 'starting' THEN 1 ELSE 0 END")
_PROBE_ORDER = _STATUS_RANK + ", {t}.updated_at, {t}.state"
#: table, its key, and the ordering that decides which of two versions of a row wins
#: (None: rows never change once written, so the first copy is as good as any)
_MERGE_RULES: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("companies", ("id",), "{t}.updated_at, {t}.data"),
    ("campaigns", ("id",), "{t}.updated_at, {t}.data"),
    ("probes", ("id",), _PROBE_ORDER),
    ("events", ("id",), None),
    ("messages", ("id",), None),
    ("measurements", ("probe_id",), "{t}.computed_at"),
    ("grades", ("probe_id", "check_name"), "{t}.graded_at, {t}.passed"),
    ("quality_grades", ("probe_id", "grader", "item"), "{t}.graded_at, {t}.detail"),
)


def _svcbench_tables(path: Path) -> set[str]:
    """The tables of a svcbench database file, or StoreError saying what it is not."""
    try:
        probe = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in probe.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a svcbench database ({exc})") from None
    if not {"probes", "events", "_svcbench_migrations"} <= tables:
        raise StoreError(f"{path}: not a svcbench database (no probes/events tables)")
    return tables


def _changed_probes(conn: sqlite3.Connection) -> set[str]:
    """Probes the attached database would add or replace, or add events to."""
    rows = conn.execute(
        "SELECT o.id FROM other.probes o LEFT JOIN main.probes m ON m.id = o.id "
        f"WHERE m.id IS NULL OR ({_PROBE_ORDER.format(t='o')}) > ({_PROBE_ORDER.format(t='m')}) "
        "UNION SELECT o.probe_id FROM other.events o "
        "WHERE NOT EXISTS (SELECT 1 FROM main.events m WHERE m.id = o.id)"
    )
    return {row[0] for row in rows}


def _merge_table(conn: sqlite3.Connection, table: str, key: tuple[str, ...],
                 newer: str | None) -> None:
    columns = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
    theirs = {r[1] for r in conn.execute(f"PRAGMA other.table_info({table})")}
    shared = [c for c in columns if c in theirs and c not in _NOT_COPIED.get(table, ())]
    names = ", ".join(shared)
    if table == "messages":
        # one message stored twice under different ids (same dedupe_key): the smaller id wins
        conn.execute(
            "DELETE FROM main.messages WHERE EXISTS (SELECT 1 FROM other.messages o "
            "WHERE o.dedupe_key = main.messages.dedupe_key AND o.id < main.messages.id)"
        )
    if newer is None:
        conn.execute(f"INSERT OR IGNORE INTO main.{table} ({names}) "
                     f"SELECT {names} FROM other.{table}")
        return
    updates = ", ".join(f"{c} = excluded.{c}" for c in shared if c not in key)
    conn.execute(
        f"INSERT INTO main.{table} ({names}) SELECT {names} FROM other.{table} WHERE true "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} "
        f"WHERE ({newer.format(t='excluded')}) > ({newer.format(t=table)})"
    )
