"""The synthetic data generator: deterministic, marked, realistic enough to rank."""

from __future__ import annotations

import pytest

from svcbench.errors import ConfigError
from svcbench.simulate import simulate
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


def test_business_waits_and_periods_follow_each_companys_real_calendar(tmp_path):
    """Every simulated business-hours wait is what the company's own calendar (hours.py via
    config.Company: DST, public holidays) gives for the stored instants, and every quarter and
    month is the local one. 2026Q1-Q2 has the March DST change in Europe and the US, Easter
    and May holidays."""
    import json

    from svcbench.config import Company
    from svcbench.models import parse_instant
    from svcbench.periods import month_of, quarter_of

    store, _ = _run(tmp_path / "cal.db", companies=25, probes_per_company_channel=10)
    conn = store.conn
    companies = {}
    for slug, data in conn.execute("SELECT slug, data FROM companies"):
        definition = json.loads(data)
        definition.pop("simulated")
        assert definition["holidays"]["country"]
        companies[slug] = Company.model_validate(definition)
    rows = conn.execute(
        "SELECT m.company, m.quarter, m.month, m.wait_bh_s, m.first_response_bh_s, "
        "s.at, a.at, f.at FROM measurements m "
        "JOIN events s ON s.probe_id = m.probe_id AND s.kind = 'sim.started' "
        "LEFT JOIN events a ON a.probe_id = m.probe_id AND a.kind = 'sim.answered' "
        "LEFT JOIN events f ON f.probe_id = m.probe_id AND f.kind = 'sim.first_response'"
    ).fetchall()
    checked = crossing_dst = 0
    for company, quarter, month, wait_bh, first_bh, started, answered, first in rows:
        definition = companies[company]
        start = parse_instant(started)
        assert (quarter, month) == (quarter_of(start, definition.timezone),
                                    month_of(start, definition.timezone))
        calendar = definition.calendar()
        if answered is not None:
            end = parse_instant(answered)
            assert wait_bh == pytest.approx(calendar.business_seconds(start, end), abs=2e-3)
            checked += 1
            zone = calendar.tz
            crossing_dst += start.astimezone(zone).utcoffset() != end.astimezone(
                zone).utcoffset()
        if first is not None:
            assert first_bh == pytest.approx(
                calendar.business_seconds(start, parse_instant(first)), abs=2e-3)
    assert checked > 1000 and crossing_dst > 0
