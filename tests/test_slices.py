"""The column cache behind reports: always equal to reading ``measurements`` afresh."""

from __future__ import annotations

import dataclasses
import math
import shutil
import sqlite3
import threading
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svcbench import slices
from svcbench.models import Outcome
from svcbench.rank import frame_from_measurements, load_frame, quarters_with_data
from svcbench.simulate import simulate
from svcbench.store import Store


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("slices") / "template.db"
    with Store(path) as store:
        simulate(store, companies=6, quarters=2, end_quarter="2026Q3", seed=3,
                 total_probes=600)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def db(template, tmp_path) -> Path:
    """A copy of the simulated database with no packed columns yet."""
    path = tmp_path / "svcbench.db"
    shutil.copy(template, path)
    with Store(path) as store:
        store.conn.execute("DELETE FROM measurement_columns")
    return path


def test_simulate_packs_the_columns_it_wrote(template, tmp_path, monkeypatch):
    path = tmp_path / "svcbench.db"
    shutil.copy(template, path)
    monkeypatch.setattr(slices, "_build", lambda conn, keys: pytest.fail(f"rebuilt {keys}"))
    with Store(path) as store:
        assert_current(store)


def rows(frame) -> list[tuple]:
    """A frame as sorted plain tuples (NaN as None), for comparing frames row by row."""
    def num(x):
        return None if math.isnan(x) else x

    out = [(c, ch, q, bool(co), bool(r), num(w), num(wb), num(f), bool(h))
           for c, ch, q, co, r, w, wb, f, h in zip(
               frame.company, frame.channel, frame.quarter, frame.counted, frame.responded,
               frame.wait_s, frame.wait_bh_s, frame.first_response_s, frame.human, strict=True)]
    return sorted(out, key=repr)


def assert_current(store: Store, **filters) -> None:
    """The cached frame equals one built from every measurement read from scratch."""
    wanted = [m for m in store.measurements()
              if all(str(getattr(m, k[:-1])) in v for k, v in filters.items())]
    expected = frame_from_measurements(wanted)
    got = load_frame(store.conn, **filters)
    assert rows(got) == rows(expected)
    assert got.spans == expected.spans


def cached(store: Store) -> dict[tuple[str, str, str], int]:
    return {(q, ch, co): v for q, ch, co, v in store.conn.execute(
        "SELECT quarter, channel, company, version FROM measurement_columns")}


def slice_keys(store: Store) -> set[tuple[str, str, str]]:
    return {(q, ch, co) for q, ch, co in store.conn.execute(
        "SELECT DISTINCT quarter, channel, company FROM measurements")}


@pytest.mark.parametrize("ranges, fetch", [(500, 50_000), (0, 7)],
                         ids=["a range per slice", "one pass in small chunks"])
def test_first_read_builds_then_reuses(db, monkeypatch, ranges, fetch):
    """Both ways of reading stale slices; small fetches split slices across chunks."""
    monkeypatch.setattr(slices, "_RANGES", ranges)
    monkeypatch.setattr(slices, "_FETCH_ROWS", fetch)
    with Store(db) as store:
        assert cached(store) == {}
        assert_current(store)
        assert set(cached(store)) == slice_keys(store)

        def no_rebuild(conn, keys):
            raise AssertionError(f"rebuilt {keys} although nothing changed")

        monkeypatch.setattr(slices, "_build", no_rebuild)
        assert_current(store)
        assert_current(store, quarters=["2026Q3"], channels=["email", "phone"])


def test_a_change_rebuilds_only_its_slice(db, monkeypatch):
    with Store(db) as store:
        load_frame(store.conn)
        m = store.measurements(quarter="2026Q3")[0]
        store.save_measurement(dataclasses.replace(m, wait_s=1.5, wait_bh_s=1.0))
        rebuilt = []
        build = slices._build
        monkeypatch.setattr(slices, "_build",
                            lambda conn, keys: rebuilt.append(keys) or build(conn, keys))
        assert_current(store)
        assert rebuilt == [[("2026Q3", str(m.channel), m.company)]]


def test_replace_by_a_plain_sqlite_connection_invalidates_the_old_slice(db):
    """sqlite-utils turns recursive triggers on, so REPLACE fires DELETE triggers in svcbench;
    other tools (the sqlite3 shell, scripts) leave them off: the BEFORE INSERT trigger covers
    the row REPLACE removes from its old slice."""
    with Store(db) as store:
        load_frame(store.conn)
        m = store.measurements(quarter="2026Q3")[0]
        other = sqlite3.connect(db, isolation_level=None)
        assert other.execute("PRAGMA recursive_triggers").fetchone() == (0,)
        columns = [r[1] for r in other.execute("PRAGMA table_info(measurements)")]
        moved = ", ".join("'2026Q2'" if c == "quarter" else c for c in columns)
        other.execute(f"INSERT OR REPLACE INTO measurements SELECT {moved} FROM measurements "
                      "WHERE probe_id = ?", [m.probe_id])
        other.close()
        assert_current(store)


changes = st.lists(st.tuples(
    st.sampled_from(["replace", "move", "delete", "update", "read"]),
    st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False) | st.none()), max_size=12)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes, st.sampled_from([0, 500]))
def test_any_sequence_of_changes_keeps_the_cache_true(template, tmp_path_factory, ops,
                                                       ranges):
    """INSERT OR REPLACE, UPDATE (also moving a row to another slice) and DELETE, read in
    between or not: what load_frame returns is always what the table holds."""
    path = tmp_path_factory.mktemp("ops") / "svcbench.db"
    shutil.copy(template, path)
    with Store(path) as store, mock.patch.object(slices, "_RANGES", ranges):
        load_frame(store.conn)
        for op, pick, value in ops:
            ms = store.measurements()
            m = ms[pick % len(ms)]
            if op == "replace":
                store.save_measurement(dataclasses.replace(
                    m, wait_s=value, outcome=Outcome.ANSWERED if value is not None
                    else Outcome.UNANSWERED, answered_by_human=value is not None))
            elif op == "move":  # a recompute that lands the probe in another quarter
                store.save_measurement(dataclasses.replace(
                    m, quarter="2026Q1" if m.quarter != "2026Q1" else "2026Q2"))
            elif op == "delete":
                store.conn.execute("DELETE FROM measurements WHERE probe_id = ?", [m.probe_id])
            elif op == "update":
                store.conn.execute("UPDATE measurements SET wait_bh_s = ?, channel = ? "
                                   "WHERE probe_id = ?", [value, "returns", m.probe_id])
            else:
                load_frame(store.conn)
        assert_current(store)
        assert quarters_with_data(store.conn) == sorted({m.quarter for m in store.measurements()})


def test_read_only_database_is_read_but_not_cached(db):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        frame = load_frame(conn)
    with Store(db) as store:
        assert rows(frame) == rows(frame_from_measurements(store.measurements()))
        assert cached(store) == {}


def test_busy_writer_does_not_block_the_report(db, monkeypatch):
    """A tick holding the write lock: the report reads the last committed state and moves on
    without keeping its rebuilt slices; the next read keeps them."""
    monkeypatch.setattr(slices, "_KEEP_WAIT_MS", 200)
    with Store(db) as store:
        everything = slice_keys(store)
        before = rows(frame_from_measurements(store.measurements()))
        writer = sqlite3.connect(db, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM measurements WHERE quarter = '2026Q2'")
        result = []
        reader = threading.Thread(target=lambda: result.append(rows(load_frame(store.conn))))
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive() and result == [before]
        assert cached(store) == {}
        writer.execute("COMMIT")
        writer.close()
        assert_current(store)
        assert set(cached(store)) == everything  # emptied slices too: nothing to rescan
        assert quarters_with_data(store.conn) == ["2026Q3"]
