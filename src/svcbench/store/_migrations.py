"""Schema migrations as numbered functions, applied once each, in order.

Modelled on llm's migrations: a ``Migrations`` set has a name and registers functions with a
decorator; applied ones are recorded in ``_svcbench_migrations``. Plugins that need tables of
their own declare their own set (``ProbePlugin.migrations``) instead of editing the core one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from ..errors import StoreError

MigrationFn = Callable[[sqlite_utils.Database], None]


class Migrations:
    def __init__(self, name: str):
        self.name = name
        self._functions: list[tuple[str, MigrationFn]] = []

    def __call__(self, fn: MigrationFn) -> MigrationFn:
        self._functions.append((fn.__name__, fn))
        return fn

    def pending(self, db: sqlite_utils.Database) -> list[str]:
        done = _applied(db, self.name)
        return [name for name, _ in self._functions if name not in done]

    def apply(self, db: sqlite_utils.Database) -> list[str]:
        """Apply pending migrations, each in its own transaction; return their names."""
        _ensure_table(db)
        done = _applied(db, self.name)
        ran = []
        for name, fn in self._functions:
            if name in done:
                continue
            conn = db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                # re-check inside the write lock: another process may have migrated meanwhile
                if name in _applied(db, self.name):
                    conn.execute("ROLLBACK")
                    continue
                fn(db)
                conn.execute(
                    "INSERT INTO _svcbench_migrations (migration_set, name, applied_at) "
                    "VALUES (?, ?, ?)",
                    (self.name, name, datetime.now(UTC).isoformat()),
                )
                conn.execute("COMMIT")
            except BaseException as exc:
                conn.execute("ROLLBACK")
                if isinstance(exc, Exception):
                    raise StoreError(
                        f"migration {self.name}.{name} failed, nothing was changed: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                raise
            ran.append(name)
        return ran


def _ensure_table(db: sqlite_utils.Database) -> None:
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS _svcbench_migrations ("
        "migration_set TEXT NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, "
        "PRIMARY KEY (migration_set, name))"
    )


def _applied(db: sqlite_utils.Database, set_name: str) -> set[str]:
    if "_svcbench_migrations" not in db.table_names():
        return set()
    rows = db.conn.execute(
        "SELECT name FROM _svcbench_migrations WHERE migration_set = ?", (set_name,)
    )
    return {row[0] for row in rows}


def run_script(db: sqlite_utils.Database, sql: str) -> None:
    """Run statements one by one inside the migration's transaction.

    Neither ``executescript`` (it COMMITs first) nor sqlite-utils' table helpers (they commit
    on their own) keep a migration atomic, so migrations use this.
    """
    # sqlite3.complete_statement knows about strings and comments, so a ';' inside a
    # literal or a '-- comment; like this' does not end a statement
    buffer = ""
    for piece in sql.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            db.conn.execute(buffer)
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        db.conn.execute(buffer.rstrip(";"))


core = Migrations("core")


@core
def m001_initial(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE companies (
            id TEXT PRIMARY KEY,           -- uuid5 of the slug: equal in every database
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            industry TEXT NOT NULL,
            data TEXT NOT NULL,            -- the company definition as JSON
            updated_at TEXT NOT NULL
        );
        CREATE TABLE campaigns (
            id TEXT PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            name TEXT,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE probes (
            id TEXT PRIMARY KEY,
            campaign TEXT,
            company TEXT NOT NULL,
            channel TEXT NOT NULL,
            plugin TEXT NOT NULL,
            scenario TEXT,
            shopper TEXT,
            status TEXT NOT NULL,
            outcome TEXT,
            outcome_reason TEXT,
            due_at TEXT,
            deadline_at TEXT,
            started_at TEXT,
            finished_at TEXT,
            token TEXT UNIQUE,
            state TEXT NOT NULL DEFAULT '{}',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX probes_status_due ON probes (status, due_at);
        CREATE INDEX probes_company_channel ON probes (company, channel);
        CREATE INDEX probes_campaign ON probes (campaign);
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            probe_id TEXT NOT NULL REFERENCES probes(id),
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            source TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX events_probe_at ON events (probe_id, at);
        CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            probe_id TEXT REFERENCES probes(id),
            channel TEXT NOT NULL,
            direction TEXT NOT NULL,       -- 'out' (from the shopper) or 'in'
            actor TEXT,                    -- shopper, visitor, bot, agent, system, auto, human...
            at TEXT NOT NULL,
            subject TEXT,
            text TEXT,
            headers TEXT,
            classification TEXT,
            match_method TEXT,
            match_score REAL,
            dedupe_key TEXT UNIQUE,        -- e.g. Message-ID + INTERNALDATE for email
            data TEXT NOT NULL DEFAULT '{}',
            recorded_at TEXT NOT NULL
        );
        CREATE INDEX messages_probe_at ON messages (probe_id, at);
        CREATE TABLE measurements (
            probe_id TEXT PRIMARY KEY REFERENCES probes(id),
            company TEXT NOT NULL,
            campaign TEXT,
            channel TEXT NOT NULL,
            quarter TEXT NOT NULL,
            outcome TEXT NOT NULL,
            started_at TEXT NOT NULL,
            wait_s REAL,
            wait_bh_s REAL,
            first_response_s REAL,
            first_response_bh_s REAL,
            answered_by_human INTEGER NOT NULL,
            metrics TEXT NOT NULL DEFAULT '{}',
            flags TEXT NOT NULL DEFAULT '[]',
            computed_at TEXT NOT NULL
        );
        CREATE INDEX measurements_quarter_channel ON measurements (quarter, channel, company);
        CREATE TABLE grades (
            probe_id TEXT NOT NULL REFERENCES probes(id),
            check_name TEXT NOT NULL,
            passed INTEGER NOT NULL,
            detail TEXT,
            graded_at TEXT NOT NULL,
            PRIMARY KEY (probe_id, check_name)
        );
        CREATE TABLE cursors (              -- incremental sync positions (IMAP UIDs, etc.)
            name TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (name, key)
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )


@core
def m002_measurement_columns(db: sqlite_utils.Database) -> None:
    """A cache of measurements as packed numpy columns, one slice per quarter, channel and
    company (a tick's new measurements stale only their own company's slices).

    Triggers bump a slice's ``version`` on every change to its measurements; a cached
    slice is used only while its version matches. See ``svcbench.slices``. The BEFORE
    INSERT trigger is for ``INSERT OR REPLACE`` moving a probe to another slice from a
    connection without recursive triggers (sqlite-utils turns them on; the sqlite3 shell
    does not), where the replaced row goes without firing DELETE triggers; it fires for
    inserts that end up ignored too, so it only acts when the slice would differ.

    The (quarter, channel, company) index grows into one that covers every column a slice
    is built from, so rebuilding slices reads only index pages, in slice order.
    """
    run_script(
        db,
        """
        DROP INDEX measurements_quarter_channel;
        CREATE INDEX measurements_slice ON measurements (quarter, channel, company, outcome,
            answered_by_human, wait_s, wait_bh_s, first_response_s, started_at);
        CREATE TABLE measurement_slices (
            quarter TEXT NOT NULL,
            channel TEXT NOT NULL,
            company TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (quarter, channel, company)
        ) WITHOUT ROWID;
        INSERT INTO measurement_slices (quarter, channel, company)
            SELECT DISTINCT quarter, channel, company FROM measurements;
        CREATE TABLE measurement_columns (  -- derived; deleting rows here is always safe
            quarter TEXT NOT NULL,
            channel TEXT NOT NULL,
            company TEXT NOT NULL,
            version INTEGER NOT NULL,
            rows INTEGER NOT NULL,
            first_started TEXT,
            last_started TEXT,
            flags BLOB NOT NULL,            -- uint8: 1 counted, 2 responded, 4 by a person
            wait_s BLOB NOT NULL,           -- float64 little-endian, NaN = none
            wait_bh_s BLOB NOT NULL,
            first_response_s BLOB NOT NULL,
            PRIMARY KEY (quarter, channel, company)
        );
        CREATE TRIGGER measurements_slice_replaced BEFORE INSERT ON measurements BEGIN
            UPDATE measurement_slices SET version = version + 1
            WHERE (quarter, channel, company) =
                (SELECT quarter, channel, company FROM measurements
                 WHERE probe_id = new.probe_id AND (quarter, channel, company)
                    IS NOT (new.quarter, new.channel, new.company));
        END;
        CREATE TRIGGER measurements_slice_inserted AFTER INSERT ON measurements BEGIN
            INSERT INTO measurement_slices (quarter, channel, company)
            VALUES (new.quarter, new.channel, new.company)
            ON CONFLICT DO UPDATE SET version = version + 1;
        END;
        CREATE TRIGGER measurements_slice_updated AFTER UPDATE ON measurements BEGIN
            UPDATE measurement_slices SET version = version + 1
            WHERE (quarter, channel, company) = (old.quarter, old.channel, old.company);
            INSERT INTO measurement_slices (quarter, channel, company)
            VALUES (new.quarter, new.channel, new.company)
            ON CONFLICT DO UPDATE SET version = version + 1;
        END;
        CREATE TRIGGER measurements_slice_deleted AFTER DELETE ON measurements BEGIN
            UPDATE measurement_slices SET version = version + 1
            WHERE (quarter, channel, company) = (old.quarter, old.channel, old.company);
        END;
        """
    )


@core
def m005_plan_inputs(db: sqlite_utils.Database) -> None:
    """What each company's part of a campaign's quarterly plan was made from.

    ``fingerprint`` hashes the campaign, the company's calendar and channels, the quarter and
    the planner's version; a tick re-plans only the companies whose fingerprint changed (or a
    new quarter), so an idle tick costs what is due, not the plan's size. ``window_start`` is
    where the first plan's slots began; re-plans keep it, so a changed calendar moves only its
    own company's future probes. Deleting rows here is safe: the next plan inserts what is
    missing and keeps what exists.

    The (campaign) index grows into (campaign, company, due_at): a re-plan reads one company's
    probes of one quarter as one index range.
    """
    run_script(
        db,
        """
        CREATE TABLE plan_inputs (
            campaign TEXT NOT NULL,
            quarter TEXT NOT NULL,
            company TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            window_start TEXT NOT NULL,
            probes INTEGER NOT NULL,
            planned_at TEXT NOT NULL,
            PRIMARY KEY (campaign, quarter, company)
        ) WITHOUT ROWID;
        DROP INDEX probes_campaign;
        CREATE INDEX probes_campaign_company_due ON probes (campaign, company, due_at);
        """
    )


@core
def m009_quality_grades(db: sqlite_utils.Database) -> None:
    """Answer-quality grades per probe, grader and rubric item (see svcbench.grading).

    ``grader`` is 'key' (the answer key), 'human:<reviewer>' or 'model:<model id>', so one
    probe keeps every reviewer's grade side by side; ``value`` is 1/0 for yes/no items and
    the scale value otherwise, NULL when the grader could not tell.
    """
    run_script(
        db,
        """
        CREATE TABLE quality_grades (
            probe_id TEXT NOT NULL REFERENCES probes(id),
            grader TEXT NOT NULL,
            kind TEXT NOT NULL,             -- key, human, model
            reviewer TEXT,                  -- reviewer id or model id
            item TEXT NOT NULL,             -- rubric item id
            value REAL,
            detail TEXT NOT NULL DEFAULT '{}',  -- facts covered, flags, rationale (JSON)
            prompt_version TEXT,            -- model grades: the prompt they were asked
            graded_at TEXT NOT NULL,
            PRIMARY KEY (probe_id, grader, item)
        );
        CREATE INDEX quality_grades_item ON quality_grades (item, kind);
        """
    )


#: a probe's source, inferred for rows written before sources were recorded (and for rows
#: merged in from such a database): the simulator's, a CSV import's, a manual log's, else live
INFER_SOURCE_SQL = (
    "CASE WHEN plugin = 'simulated' OR campaign = 'simulated' THEN 'simulated' "
    "WHEN json_extract(state, '$.imported_from') IS NOT NULL THEN 'csv' "
    "WHEN plugin IN ('phone', 'returns', 'delivery') THEN 'manual' ELSE 'live' END"
)


def backfill_periods(conn: sqlite3.Connection, where: str = "month IS NULL",
                     params: tuple = ()) -> int:
    """Set quarter and month of these measurements from their start in the company's time
    zone (the companies table's definition; UTC if unknown). Returns rows changed."""
    import json

    from ..models import parse_instant
    from ..periods import month_of, quarter_of

    zones = {}
    for slug, data in conn.execute("SELECT slug, data FROM companies"):
        try:
            zones[slug] = json.loads(data).get("timezone") or "UTC"
        except (ValueError, AttributeError):
            zones[slug] = "UTC"
    updates = []
    for probe_id, company, started, quarter, month in conn.execute(
            f"SELECT probe_id, company, started_at, quarter, month FROM measurements "
            f"WHERE {where}", params):
        at = parse_instant(started)
        zone = zones.get(company, "UTC")
        new = (quarter_of(at, zone), month_of(at, zone))
        if new != (quarter, month):
            updates.append((*new, probe_id))
    conn.executemany("UPDATE measurements SET quarter = ?, month = ? WHERE probe_id = ?",
                     updates)
    return len(updates)


@core
def m003_provenance_and_local_periods(db: sqlite_utils.Database) -> None:
    """Provenance on probes (source, source_detail, region, merge_batch) copied onto
    measurements; merge batches; months; quarters and months in the company's local time.

    The covering slice index grows by month and source, and the packed columns by a month and
    a source column, so reports can pick months and leave simulated data out without reading
    ``measurements`` row by row. Existing packed columns are dropped (rebuilt on first read).
    """
    run_script(
        db,
        f"""
        ALTER TABLE probes ADD COLUMN source TEXT;
        ALTER TABLE probes ADD COLUMN source_detail TEXT;
        ALTER TABLE probes ADD COLUMN region TEXT;
        ALTER TABLE probes ADD COLUMN merge_batch TEXT;
        ALTER TABLE events ADD COLUMN merge_batch TEXT;
        ALTER TABLE companies ADD COLUMN merge_batch TEXT;
        ALTER TABLE measurements ADD COLUMN month TEXT;
        ALTER TABLE measurements ADD COLUMN source TEXT;
        ALTER TABLE measurements ADD COLUMN merge_batch TEXT;
        UPDATE probes SET source = {INFER_SOURCE_SQL};
        UPDATE measurements SET source = (SELECT source FROM probes p
            WHERE p.id = measurements.probe_id);
        CREATE INDEX probes_merge_batch ON probes (merge_batch) WHERE merge_batch IS NOT NULL;
        CREATE INDEX events_merge_batch ON events (merge_batch) WHERE merge_batch IS NOT NULL;
        CREATE TABLE merge_batches (
            id TEXT PRIMARY KEY,
            file TEXT NOT NULL,            -- the merged file, as given
            merged_at TEXT NOT NULL,
            probes INTEGER NOT NULL,       -- probes this batch added
            events INTEGER NOT NULL,       -- events it added (to its own probes or others)
            companies INTEGER NOT NULL,    -- company rows it added
            unknown_companies TEXT NOT NULL DEFAULT '[]',  -- not in the config when merged
            unmerged_at TEXT               -- set by `db unmerge`
        );
        ALTER TABLE measurement_columns ADD COLUMN month BLOB;      -- uint8 1-12 (local)
        ALTER TABLE measurement_columns ADD COLUMN source BLOB;     -- uint16 index into sources
        ALTER TABLE measurement_columns ADD COLUMN sources TEXT;    -- JSON list of labels
        DELETE FROM measurement_columns;
        """,
    )
    backfill_periods(db.conn, "1")
    run_script(
        db,
        """
        DROP INDEX measurements_slice;
        CREATE INDEX measurements_slice ON measurements (quarter, channel, company, outcome,
            answered_by_human, wait_s, wait_bh_s, first_response_s, started_at, month, source,
            merge_batch);
        """,
    )


@core
def m012_analyst_views(db: sqlite_utils.Database) -> None:
    """Views for analysts (Datasette, sqlite3): names instead of slugs, one row per probe
    (``svcbench.datasette.VIEWS``). Derived: recreated whenever their columns change."""
    from ..datasette import create_views

    create_views(db.conn)
