"""The SQLite store: migrations, transactions, compare-and-set, idempotence, merge, locking."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from svcbench.errors import StoreError
from svcbench.models import (
    Channel,
    Event,
    Measurement,
    Outcome,
    Probe,
    ProbeStatus,
    new_id,
    stable_id,
)
from svcbench.store import BUSY_TIMEOUT_MS, Migrations, Store, run_script
from svcbench.store._migrations import core

T0 = datetime(2026, 10, 5, 9, tzinfo=UTC)
MERGED_TABLES = ("companies", "campaigns", "probes", "events", "messages", "measurements",
                 "grades")


def make_probe(**fields) -> Probe:
    values = {"id": new_id(), "company": "acme", "channel": Channel.EMAIL, "plugin": "email",
              "campaign": "q4", "scenario": "shipping", "shopper": "anna",
              "due_at": T0, "token": new_id()[:12]}
    values.update(fields)
    return Probe(**values)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "svcbench.db") as s:
        yield s


def rows(store: Store, table: str) -> list[tuple]:
    order = "probe_id, check_name" if table == "grades" else (
        "probe_id" if table == "measurements" else "id")
    return [tuple(r) for r in store.conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]


def count(store: Store, table: str) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# -- migrations ---------------------------------------------------------------------------


def test_migrations_apply_once_and_plugin_sets_too(tmp_path):
    calls = []
    plugin = Migrations("test-plugin")

    @plugin
    def m001_notes(db):
        calls.append("m001")
        run_script(db, "CREATE TABLE plugin_notes (id TEXT PRIMARY KEY, note TEXT); "
                       "-- a comment; with a semicolon\n"
                       "CREATE INDEX plugin_notes_note ON plugin_notes (note)")

    path = tmp_path / "svcbench.db"
    with Store(path, migrations=[plugin]) as first:
        applied = {tuple(r) for r in first.conn.execute(
            "SELECT migration_set, name FROM _svcbench_migrations")}
        assert ("core", "m001_initial") in applied
        assert ("test-plugin", "m001_notes") in applied
        assert "plugin_notes" in first.db.table_names()
    with Store(path, migrations=[plugin]) as again:
        assert count(again, "_svcbench_migrations") == len(applied)
        assert plugin.pending(again.db) == []
    assert calls == ["m001"]

    @plugin
    def m002_more(db):
        calls.append("m002")
        run_script(db, "ALTER TABLE plugin_notes ADD COLUMN extra TEXT")

    with Store(path, migrations=[plugin]) as later:
        assert "extra" in later.db["plugin_notes"].columns_dict
    assert calls == ["m001", "m002"]


def test_failed_migration_rolls_back_completely(tmp_path):
    broken = Migrations("broken")

    @broken
    def m001_half(db):
        run_script(db, "CREATE TABLE half (x); INSERT INTO half VALUES (1); "
                       "INSERT INTO no_such_table VALUES (2)")

    path = tmp_path / "svcbench.db"
    with pytest.raises(StoreError, match=r"migration broken\.m001_half failed"):
        Store(path, migrations=[broken])
    with Store(path) as store:  # the core set went in; nothing of the broken one did
        assert "half" not in store.db.table_names()
        assert "probes" in store.db.table_names()
        sets = {r[0] for r in store.conn.execute(
            "SELECT migration_set FROM _svcbench_migrations")}
        assert sets == {"core"} and core.pending(store.db) == []


def test_run_script_keeps_semicolons_in_literals_and_comments(store):
    run_script(store.db, "CREATE TABLE t (x TEXT DEFAULT 'a;b'); -- a comment; with ';'\n"
                         "INSERT INTO t VALUES ('c;d'); INSERT INTO t DEFAULT VALUES;\n-- end")
    assert [r[0] for r in store.conn.execute("SELECT x FROM t ORDER BY x")] == ["a;b", "c;d"]


def test_syncing_unchanged_definitions_changes_nothing(store):
    store.sync_companies([_Company("acme")])
    first = rows(store, "companies")
    store.sync_companies([_Company("acme")])
    assert rows(store, "companies") == first  # same updated_at: merges compare it
    renamed = _Company("acme")
    renamed.name = "Acme Renamed"
    store.sync_companies([renamed])
    assert store.company_names() == {"acme": "Acme Renamed"}
    updated = [r[1] for r in store.conn.execute("PRAGMA table_info(companies)")].index(
        "updated_at")
    assert rows(store, "companies")[0][updated] > first[0][updated]


def test_wal_mode_and_busy_timeout(store, tmp_path):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    other = sqlite3.connect(tmp_path / "svcbench.db")
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent
    other.close()


def test_not_a_database_and_unreachable_paths_are_store_errors(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="garbage.db"):
        Store(garbage)
    with pytest.raises(StoreError, match="unable to open"):
        Store(tmp_path / "missing-dir" / "svcbench.db")


# -- transactions -------------------------------------------------------------------------


def test_exception_inside_a_transaction_writes_nothing(store):
    probe = make_probe()
    with pytest.raises(RuntimeError), store.transaction():
        store.add_probe(probe, [Event(probe.id, "email.sent", T0)])
        store.set_cursor("imap", "anna/INBOX", {"uid": 5})
        raise RuntimeError("crash in the middle")
    assert store.get_probe(probe.id) is None
    assert count(store, "events") == 0
    assert store.get_cursor("imap", "anna/INBOX") is None
    # the store still works afterwards
    assert store.add_probe(probe)


def test_nested_transactions_join_the_outer_one(store):
    first, second = make_probe(), make_probe()
    with pytest.raises(ValueError), store.transaction():
        with store.transaction():
            store.add_probe(first)
        assert store.get_probe(first.id) is not None  # visible inside
        store.add_probe(second)
        raise ValueError("outer fails after the inner one finished")
    assert store.get_probe(first.id) is None and store.get_probe(second.id) is None
    with store.transaction():
        with store.transaction():
            store.add_probe(first)
        store.add_probe(second)
    assert store.get_probe(first.id) and store.get_probe(second.id)


def test_duplicate_probe_is_a_store_error_and_if_absent_is_not(store):
    probe = make_probe()
    assert store.add_probe(probe, [Event(probe.id, "planned", T0)])
    assert store.add_probe(probe, [Event(probe.id, "planned-again", T0)], if_absent=True) is False
    assert [e.kind for e in store.events(probe.id)] == ["planned"]
    with pytest.raises(StoreError, match="UNIQUE"):
        store.add_probe(probe)


def test_round_trip_of_probes_and_measurements(store):
    probe = make_probe(state={"message_id": "<a@b>"}, deadline_at=T0 + timedelta(hours=72))
    store.add_probe(probe)
    back = store.get_probe(probe.id)
    assert back.state == {"message_id": "<a@b>"}
    assert back.deadline_at == T0 + timedelta(hours=72)
    assert store.find_probe(probe.id[:8]).id == probe.id
    assert store.find_probe(probe.token).id == probe.id
    assert [p.id for p in store.probes(status=ProbeStatus.PLANNED, due_before=T0)] == [probe.id]
    assert store.probes(due_before=T0 - timedelta(seconds=1)) == []
    m = Measurement(probe.id, "acme", Channel.EMAIL, Outcome.ANSWERED, T0, "2026Q4",
                    wait_s=60.0, wait_bh_s=30.0, answered_by_human=True, flags=["x"])
    store.save_measurement(m)
    store.save_measurement(m)  # replaces, never duplicates
    # a measurement without a month gets its start's (UTC, as its quarter)
    assert store.measurements(quarter="2026Q4") == [Measurement(**{**m.__dict__,
                                                                   "campaign": None,
                                                                   "month": "2026-10"})]


# -- compare-and-set ----------------------------------------------------------------------


def test_update_probe_compare_and_set_between_two_connections(tmp_path):
    path = tmp_path / "svcbench.db"
    with Store(path) as one, Store(path) as two:
        probe = make_probe()
        one.add_probe(probe)
        won = one.update_probe(probe.id, expect_status=ProbeStatus.PLANNED,
                               status=ProbeStatus.STARTING,
                               events=[Event(probe.id, "claimed", T0, data={"by": "one"})])
        lost = two.update_probe(probe.id, expect_status=ProbeStatus.PLANNED,
                                status=ProbeStatus.STARTING,
                                events=[Event(probe.id, "claimed", T0, data={"by": "two"})])
        assert (won, lost) == (True, False)
        assert [e.data["by"] for e in two.events(probe.id)] == ["one"]
        assert two.get_probe(probe.id).status == ProbeStatus.STARTING
        assert two.update_probe(probe.id, expect_status=ProbeStatus.STARTING,
                                status=ProbeStatus.RUNNING, attempts=1, state={"k": 1})
        assert one.get_probe(probe.id).state == {"k": 1}


def _claim(path: str, probe_id: str, name: str, barrier, results) -> None:
    with Store(path) as store:
        barrier.wait(timeout=30)
        won = store.update_probe(probe_id, expect_status=ProbeStatus.PLANNED,
                                 status=ProbeStatus.STARTING,
                                 events=[Event(probe_id, "claimed", T0, data={"by": name})])
        results.put((name, won))


def test_update_probe_compare_and_set_across_processes(tmp_path):
    path = tmp_path / "svcbench.db"
    with Store(path) as store:
        probes = [make_probe() for _ in range(3)]
        for probe in probes:
            store.add_probe(probe)
    ctx = multiprocessing.get_context("fork")
    workers = 4
    for probe in probes:
        barrier, results = ctx.Barrier(workers), ctx.Queue()
        procs = [ctx.Process(target=_claim, args=(str(path), probe.id, f"p{i}", barrier, results))
                 for i in range(workers)]
        for proc in procs:
            proc.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
            assert proc.exitcode == 0
        winners = [name for name, won in outcomes if won]
        assert len(winners) == 1
        with Store(path) as store:
            assert [e.data["by"] for e in store.events(probe.id)] == winners


# -- idempotence ------------------------------------------------------------------------


def test_add_events_is_idempotent(store):
    probe = make_probe()
    store.add_probe(probe)
    events = [Event(probe.id, "email.sent", T0, source="smtp"),
              Event(probe.id, "email.reply", T0 + timedelta(hours=2), data={"human": True})]
    assert store.add_events(events) == 2
    assert store.add_events(events) == 0
    assert store.add_events([*events, Event(probe.id, "note", T0)]) == 1
    stored = store.events(probe.id)
    assert [e.kind for e in stored] == ["email.sent", "note", "email.reply"]
    assert stored[0] == events[0]


def test_add_message_dedupe_key(store):
    probe = make_probe()
    store.add_probe(probe)
    kwargs = {"probe_id": probe.id, "channel": Channel.EMAIL, "direction": "in",
              "at": T0, "text": "We ship in 3 days", "dedupe_key": "<m1@x>|2026-10-05"}
    assert store.add_message(**kwargs) is True
    assert store.add_message(**kwargs) is False
    assert store.add_message(**{**kwargs, "dedupe_key": "<m2@x>|2026-10-05"}) is True
    assert len(store.messages(probe.id)) == 2
    assert store.add_message(**{**kwargs, "dedupe_key": None}) is True  # no key: no dedupe


# -- read-only, locking ------------------------------------------------------------------


def test_read_only_database_gives_a_store_error(store, tmp_path):
    probe = make_probe()
    store.add_probe(probe)
    store.conn.execute("PRAGMA query_only = 1")  # what a read-only file looks like to SQLite
    with pytest.raises(StoreError, match="read-only"):
        store.add_probe(make_probe())
    with pytest.raises(StoreError, match="read-only"):
        store.update_probe(probe.id, status=ProbeStatus.DONE)
    with pytest.raises(StoreError, match="read-only"):
        store.add_events([Event(probe.id, "x", T0)])
    store.conn.execute("PRAGMA query_only = 0")
    assert store.get_probe(probe.id).status == ProbeStatus.PLANNED


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_file_gives_a_store_error(tmp_path):
    path = tmp_path / "svcbench.db"
    Store(path).close()
    path.chmod(0o444)
    try:
        with pytest.raises(StoreError, match="read-only"), Store(path) as store:
            store.add_probe(make_probe())
    finally:
        path.chmod(0o644)


def test_long_reader_does_not_block_writers(store, tmp_path):
    reader = sqlite3.connect(tmp_path / "svcbench.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM probes").fetchone()[0] == 0
    started = time.monotonic()
    store.add_probe(make_probe())
    assert time.monotonic() - started < 1.0
    assert reader.execute("SELECT count(*) FROM probes").fetchone()[0] == 0  # its snapshot
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM probes").fetchone()[0] == 1
    reader.close()


def test_second_writer_waits_for_the_lock_then_proceeds(tmp_path):
    path = tmp_path / "svcbench.db"
    with Store(path) as one, Store(path) as two:
        holding, errors = threading.Event(), []

        def hold():
            try:
                with one.transaction():
                    one.add_probe(make_probe(company="first"))
                    holding.set()
                    time.sleep(0.6)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=hold)
        thread.start()
        assert holding.wait(10)
        started = time.monotonic()
        two.add_probe(make_probe(company="second"))
        waited = time.monotonic() - started
        thread.join()
        assert errors == []
        assert waited > 0.3
        assert sorted(p.company for p in two.probes()) == ["first", "second"]

        # a lock held longer than the busy timeout gives a clear error, not a traceback
        two.conn.execute("PRAGMA busy_timeout = 100")
        with one.transaction():
            one.add_probe(make_probe())
            with pytest.raises(StoreError, match="locked"):
                two.add_probe(make_probe())


# -- merge --------------------------------------------------------------------------------


class _Company:
    def __init__(self, slug: str):
        self.id, self.name, self.industry = slug, slug.title(), "retail"

    def model_dump_json(self) -> str:
        return f'{{"id": "{self.id}"}}'


def shopper_database(path: Path, shopper: str, shared_id: str, shared_status: ProbeStatus,
                     shared_key: str) -> Store:
    """A shopper's database: own probes, one probe also planned elsewhere, messages."""
    store = Store(path)
    store.sync_companies([_Company("acme"), _Company(f"{shopper}-co")])
    own = make_probe(shopper=shopper, status=ProbeStatus.DONE, outcome=Outcome.ANSWERED)
    shared = make_probe(id=shared_id, shopper=shopper, status=shared_status, token=None)
    for probe in (own, shared):
        store.add_probe(probe, [Event(probe.id, "planned", T0, data={"by": shopper})])
        store.add_message(probe_id=probe.id, channel=Channel.EMAIL, direction="in",
                          at=T0, text=f"reply to {shopper}", dedupe_key=f"{shopper}-{probe.id}")
        store.save_grade(probe.id, "mentions days", shopper == "anna")
        store.save_measurement(Measurement(probe.id, "acme", Channel.EMAIL, Outcome.ANSWERED,
                                           T0, "2026Q4", wait_s=len(shopper)))
    store.add_message(probe_id=shared.id, channel=Channel.EMAIL, direction="in", at=T0,
                      text="same mail seen by both", dedupe_key=shared_key)
    return store


@pytest.fixture
def two_shoppers(tmp_path):
    shared = new_id()
    anna = shopper_database(tmp_path / "anna.db", "anna", shared, ProbeStatus.PLANNED, "same")
    time.sleep(0.01)  # bob's copy of the shared probe is updated later and is further along
    bob = shopper_database(tmp_path / "bob.db", "bob", shared, ProbeStatus.DONE, "same")
    anna.close(), bob.close()
    return tmp_path / "anna.db", tmp_path / "bob.db", shared


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """The merged rows without their merge batch: which merge brought a row in depends on
    the order of the merges; the rows themselves must not."""
    out = {}
    for table in MERGED_TABLES:
        names = [r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")]
        keep = [i for i, n in enumerate(names) if n != "merge_batch"]
        out[table] = [tuple(row[i] for i in keep) for row in rows(store, table)]
    return out


def test_merge_twice_adds_nothing_the_second_time(tmp_path, two_shoppers):
    anna, bob, _ = two_shoppers
    with Store(tmp_path / "team.db") as team:
        counts = team.merge(anna)
        assert counts["probes"] == 2 and counts["events"] == 2 and counts["messages"] == 3
        before = snapshot(team)
        assert set(team.merge(anna).values()) == {0}
        assert snapshot(team) == before


def test_two_shoppers_merged_in_either_order_give_the_same_rows(tmp_path, two_shoppers):
    anna, bob, shared = two_shoppers
    with Store(tmp_path / "ab.db") as ab, Store(tmp_path / "ba.db") as ba:
        touched_ab: set[str] = set()
        ab.merge(anna, touched=touched_ab)
        ab.merge(bob, touched=touched_ab)
        ba.merge(bob)
        ba.merge(anna)
        assert snapshot(ab) == snapshot(ba)
        assert count(ab, "probes") == 3
        assert ab.get_probe(shared).status == ProbeStatus.DONE  # the copy further along wins
        assert {e.data["by"] for e in ab.events(shared)} == {"anna", "bob"}  # facts add up
        assert [m["dedupe_key"] for m in ab.messages(shared)].count("same") == 1
        assert shared in touched_ab and len(touched_ab) == 3
        assert ab.company_names().keys() == {"acme", "anna-co", "bob-co"}
        assert count(ab, "cursors") == 0
    # merging straight into each other's files gives the same rows too
    with Store(anna) as a, Store(bob) as b, Store(tmp_path / "ab.db") as ab:
        a.merge(bob)
        b.merge(anna)
        assert snapshot(a) == snapshot(b) == snapshot(ab)


def test_merge_rejects_what_is_not_a_svcbench_database(tmp_path, store):
    store.add_probe(make_probe())
    before = snapshot(store)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00not sqlite\xff" * 500)
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE probes (id TEXT)")
    conn.commit(), conn.close()
    cases = [(tmp_path / "missing.db", "no such database file"),
             (garbage, "not a svcbench database"),
             (foreign, "not a svcbench database"),
             (tmp_path, "no such database file"),
             (store.path, "into itself")]
    for path, words in cases:
        with pytest.raises(StoreError, match=words) as info:
            store.merge(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert snapshot(store) == before
    assert not (tmp_path / "missing.db").exists()
    assert store.add_probe(make_probe())  # still attached to nothing, still writable


def test_merge_failure_leaves_the_target_unchanged(tmp_path, store, two_shoppers):
    anna, _, _ = two_shoppers
    store.add_probe(make_probe())
    before = snapshot(store)
    # an event whose probe is missing breaks the foreign key half-way through the merge
    conn = sqlite3.connect(anna)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO events (id, probe_id, kind, at, source, data, recorded_at) "
                 "VALUES ('e-x', 'no-such-probe', 'x', '2026', 'local', '{}', '2026')")
    conn.commit(), conn.close()
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        store.merge(anna)
    assert snapshot(store) == before
    assert stable_id("company", "acme") not in [r[0] for r in rows(store, "companies")]
