"""The synthetic data generator: deterministic, marked, realistic enough to rank."""

from __future__ import annotations

import pytest

from svcbench.errors import ConfigError
from svcbench.simulate import _WeekCalendar, simulate
from svcbench.store import Store

_ROWS = ("SELECT probe_id, company, channel, quarter, outcome, wait_s, wait_bh_s, "
         "answered_by_human FROM measurements ORDER BY probe_id")


def _run(path, **kw):
    store = Store(path)
    options = dict(companies=20, quarters=2, end_quarter="2026Q2", seed=3,
                   probes_per_company_channel=6)
    options.update(kw)
    summary = simulate(store, **options)
    return store, summary


def test_same_seed_same_data(tmp_path):
    a, summary = _run(tmp_path / "a.db")
    b, _ = _run(tmp_path / "b.db")
    c, _ = _run(tmp_path / "c.db", seed=4)
    rows = a.conn.execute(_ROWS).fetchall()
    assert rows == b.conn.execute(_ROWS).fetchall()
    assert rows != c.conn.execute(_ROWS).fetchall()
    assert summary.probes == len(rows) == summary.measurements
    assert summary.quarters == ["2026Q1", "2026Q2"]
    assert {r[3] for r in rows} == {"2026Q1", "2026Q2"}


def test_simulated_rows_are_marked_and_plausible(tmp_path):
    store, summary = _run(tmp_path / "s.db", companies=40, probes_per_company_channel=15)
    conn = store.conn
    assert conn.execute("SELECT COUNT(*) FROM probes WHERE campaign != 'simulated' "
                        "OR plugin != 'simulated'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM measurements WHERE flags NOT LIKE "
                        "'%simulated%'").fetchone()[0] == 0
    companies = conn.execute("SELECT COUNT(*) FROM companies "
                             "WHERE json_extract(data, '$.simulated') = 1").fetchone()[0]
    assert companies == 40 == len(store.company_names())
    outcomes = dict(conn.execute("SELECT outcome, COUNT(*) FROM measurements GROUP BY 1"))
    assert {"answered", "unanswered", "failed"} <= set(outcomes)
    # every probe's quarter matches its start; failed ones carry no timings
    assert conn.execute("SELECT COUNT(*) FROM measurements WHERE outcome IN "
                        "('failed','cancelled') AND wait_s IS NOT NULL").fetchone()[0] == 0
    medians = dict(conn.execute(
        "SELECT channel, AVG(wait_s) FROM measurements WHERE wait_s IS NOT NULL GROUP BY 1"))
    assert medians["chat"] < 600 < medians["email"] < medians["returns"]
    # email waits in business hours are shorter than raw ones (nights, weekends)
    raw, bh = conn.execute("SELECT SUM(wait_s), SUM(wait_bh_s) FROM measurements "
                           "WHERE channel = 'email' AND wait_s IS NOT NULL").fetchone()
    assert bh < raw
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] >= summary.probes


def test_total_probes_and_replace(tmp_path):
    store, summary = _run(tmp_path / "t.db", total_probes=1234)
    assert summary.probes == 1234
    with pytest.raises(ConfigError, match="--replace"):
        simulate(store, companies=5, quarters=1, end_quarter="2026Q2", seed=1)
    again = simulate(store, companies=5, quarters=1, end_quarter="2026Q2", seed=1,
                     probes_per_company_channel=2, replace=True)
    assert store.conn.execute("SELECT COUNT(*) FROM probes").fetchone()[0] == again.probes


def test_week_calendar_round_trip():
    import numpy as np

    cal = _WeekCalendar({d: (9, 17) for d in range(5)})
    monday_9 = 4 * 86400 + 9 * 3600  # 1970-01-05 09:00
    friday_16 = monday_9 + 4 * 86400 + 7 * 3600
    # Friday 16:00 plus 2 business hours is Monday 10:00
    f = cal.business(np.array([float(friday_16)]))
    later = cal.instant(f + 7200)
    assert later[0] == monday_9 + 7 * 86400 + 3600
    # Saturday counts nothing
    sat = friday_16 + 86400
    assert cal.business(np.array([float(sat)]))[0] == cal.business(
        np.array([float(sat + 3600)]))[0]
