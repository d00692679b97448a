"""Numbers you can publish: ties, industry lines, periods, streaks, seals, wording, sources.

Every expectation here is computed independently of ``svcbench.rank`` (plain Python over the
frame or the measurements), or read back from the rendered files."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import numpy as np
import pytest

from svcbench.config import Scoring, Targets
from svcbench.hours import BusinessCalendar
from svcbench.measure import build
from svcbench.models import Channel, Measurement, Outcome, Probe
from svcbench.periods import month_of, parse_period, quarter_of, shift, year_to_date
from svcbench.rank import build_report, frame_from_measurements, highlights, tied
from svcbench.render.wording import (
    headline,
    industry_lines,
    outcome_label,
    plain_duration,
    seal,
)

_ids = iter(range(10**9))


def meas(company: str, wait: float | None, *, when: datetime, channel: str = "phone",
         tz: str = "UTC", simulated: bool = False) -> Measurement:
    return Measurement(
        probe_id=f"p{next(_ids)}", company=company, channel=Channel(channel),
        outcome=Outcome.ANSWERED if wait is not None else Outcome.UNANSWERED,
        started_at=when, quarter=quarter_of(when, tz), month=month_of(when, tz), wait_s=wait,
        wait_bh_s=wait, first_response_s=wait, answered_by_human=wait is not None,
        flags=["simulated"] if simulated else [])


def field_of_companies(rng: np.random.Generator, companies: int = 24,
                       when: datetime = datetime(2026, 11, 3, 10, tzinfo=UTC)) -> list:
    """Companies with medians spread over a decade and mixed sample sizes (wide and narrow
    rank intervals side by side, which is where group-by-first-company ties went wrong)."""
    ms = []
    for i in range(companies):
        median = 10 * 1.12 ** i
        n = int(rng.choice([4, 6, 12, 40]))
        for _ in range(n):
            wait = float(rng.lognormal(np.log(median), 0.7))
            ms.append(meas(f"c{i:02d}", wait if rng.random() > 0.05 else None, when=when))
    return ms


# -- ties -----------------------------------------------------------------------------------


class _Cells(HTMLParser):
    """(rank range, tied with) cells (columns 2 and 3) of every row of one ranking table."""

    def __init__(self, table: str):
        super().__init__()
        self.table, self.inside, self.rows = table, False, {}
        self.company, self.cell, self.cells = None, 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.inside = attrs.get("data-table") == self.table
        elif tag == "tr" and self.inside and "data-company" in attrs:
            self.company, self.cells = attrs["data-company"], []
        elif tag == "td" and self.company:
            self.cells.append("")

    def handle_data(self, data):
        if self.company and self.cells:
            self.cells[-1] += data

    def handle_endtag(self, tag):
        if tag == "tr" and self.company:
            self.rows[self.company] = self.cells[1:3]
            self.company = None


def _range(text: str) -> tuple[int, int]:
    low, _, high = text.strip().partition("-")
    return int(low), int(high or low)


def _check_pairwise(shown: dict[str, tuple[int, int, int]], relation: dict[str, set[str]]
                    ) -> int:
    """For every pair: shown ranges overlap <=> the library says tied; and each shown count
    is the number of overlapping shown ranges. Returns the pairs checked."""
    pairs = 0
    names = sorted(shown)
    for a in names:
        overlapping = 0
        for b in names:
            if a == b:
                continue
            overlap = shown[a][0] <= shown[b][1] and shown[b][0] <= shown[a][1]
            assert overlap == (b in relation[a]) == (a in relation[b]), (a, b)
            overlapping += overlap
            pairs += a < b
        assert shown[a][2] == overlapping, a
    return pairs


def test_ties_are_exactly_the_overlapping_rank_ranges_in_every_format(tmp_path):
    from svcbench.render.html import write_html
    from svcbench.render.json_ import write_json
    from svcbench.render.tables import write_csv

    ms = field_of_companies(np.random.default_rng(4))
    report = build_report(frame_from_measurements(ms), quarter="2026Q4", channels=["phone"],
                          targets=Targets(), scoring=Scoring(bootstrap_samples=300),
                          seed=2)
    ranked = [r for r in report.channels["phone"].rows if r.ranked]
    relation = {r.company: set(r.tied_with) for r in ranked}
    # the rule has teeth here: some pairs are tied, some are not, and the relation is not
    # transitive (a chain of ties joins companies that are not tied with each other)
    matrix = tied(np.array([r.rank_low for r in ranked]),
                  np.array([r.rank_high for r in ranked]))
    assert 0 < matrix.sum() < matrix.size - len(ranked)
    chained = (matrix.astype(int) @ matrix.astype(int) > 0) & ~matrix
    np.fill_diagonal(chained, False)
    assert chained.any()
    for r, row in zip(ranked, matrix, strict=True):
        assert {ranked[j].company for j in np.flatnonzero(row)} == relation[r.company]

    [csv_path, _] = write_csv(report, tmp_path)
    with csv_path.open() as f:
        from_csv = {row["company"]: (int(row["rank_low"]), int(row["rank_high"]),
                                     int(row["tied_count"]))
                    for row in csv.DictReader(f) if row["status"] == "ranked"}
    doc = json.loads(write_json(report, tmp_path)[0].read_text())
    from_json = {r["company"]: (r["rank_low"], r["rank_high"], r["tied_count"])
                 for r in doc["rankings"] if r["status"] == "ranked"}
    parser = _Cells("phone")
    parser.feed(write_html(report, tmp_path)[0].read_text())
    from_html = {c: (*_range(cells[0]), int(cells[1])) for c, cells in parser.rows.items()
                 if c in relation}
    for shown in (from_csv, from_json, from_html):
        assert len(shown) == len(ranked)
        assert _check_pairwise(shown, relation) == len(ranked) * (len(ranked) - 1) // 2


def test_overall_ties_follow_the_same_rule():
    rng = np.random.default_rng(9)
    ms = field_of_companies(rng) + [
        meas(m.company, m.wait_s, when=m.started_at, channel="email") for m in
        field_of_companies(np.random.default_rng(10))]
    report = build_report(frame_from_measurements(ms), quarter="2026Q4",
                          channels=["phone", "email"], targets=Targets(),
                          scoring=Scoring(bootstrap_samples=200))
    shown = {r.company: (r.rank_low, r.rank_high, len(r.tied_with))
             for r in report.overall if r.ranked}
    relation = {r.company: set(r.tied_with) for r in report.overall if r.ranked}
    assert _check_pairwise(shown, relation) > 100


# -- industry lines -------------------------------------------------------------------------


def test_each_industry_line_recomputed_from_the_frame(tmp_path):
    """Line by line from the frame's raw columns with plain Python (no rank.py maths)."""
    from svcbench.rank import load_frame
    from svcbench.simulate import simulate
    from svcbench.store import Store

    store = Store(tmp_path / "lines.db")
    simulate(store, companies=40, quarters=1, end_quarter="2026Q2", seed=5,
             probes_per_company_channel=7)
    frame = load_frame(store.conn, quarters=["2026Q2"])
    scoring = Scoring(bootstrap_samples=0)
    report = build_report(frame, quarter="2026Q2", channels=["phone", "email", "returns"],
                          targets=Targets(), scoring=scoring, include_simulated=True)
    for channel, ranking in report.channels.items():
        targets = sorted(Targets().for_channel(Channel(channel)))
        waits: dict[str, list[float]] = {}
        for i in range(len(frame)):
            if frame.channel[i] != channel or frame.quarter[i] != "2026Q2":
                continue
            if not frame.counted[i]:
                continue
            raw = frame.wait_s[i]
            bh = frame.wait_bh_s[i]
            w = (raw if bh != bh else bh) if channel != "returns" else raw
            waits.setdefault(frame.company[i], []).append(float("inf") if w != w else w)
        ranked = {c: w for c, w in waits.items() if len(w) >= scoring.minimum_sample}
        half = sum(1 for w in ranked.values()
                   if sum(x <= targets[0] for x in w) * 2 >= len(w))
        every = [x for w in waits.values() for x in w]
        over = sum(x > targets[len(targets) // 2] for x in every)
        never = sum(x == float("inf") for x in every)
        lines = industry_lines(ranking)
        assert f"({round(100 * half / len(ranked))}%, {half} of {len(ranked)})" in lines[0]
        assert "at least half of their" in lines[0]
        assert f"({round(100 * over / len(every))}%)" in lines[1]
        if never:
            assert f"({round(100 * never / len(every))}%)" in lines[2]
        facts = {f.kind: (f.k, f.n) for f in ranking.industry}
        assert facts["companies_half_within"] == (half, len(ranked))
        assert facts["probes_over"] == (over, len(every))
        assert facts.get("probes_never", (0, len(every)))[0] == never


# -- periods --------------------------------------------------------------------------------


def test_periods_parse_shift_and_local_assignment():
    assert parse_period("2026q4") == "2026Q4" and parse_period("2026-1") == "2026-01"
    with pytest.raises(ValueError):
        parse_period("2026-13")
    assert shift("2026-01", -1) == "2025-12" and shift("2026Q1", -1) == "2025Q4"
    assert year_to_date("2026-03") == ["2026-01", "2026-02", "2026-03"]
    # 23:30 on 31 December in New York is 04:30 on 1 January in UTC
    sent = datetime(2027, 1, 1, 4, 30, tzinfo=UTC)
    assert (quarter_of(sent, "America/New_York"), month_of(sent, "America/New_York")) == (
        "2026Q4", "2026-12")
    assert quarter_of(sent) == "2027Q1"
    probe = Probe(id="x", company="contoso", channel=Channel.EMAIL, plugin="email")
    calendar = BusinessCalendar(timezone="America/New_York")
    m = build(probe, [], calendar, outcome=Outcome.ANSWERED, start=sent,
              first_response=None, answer=sent + timedelta(hours=2), human=True)
    assert (m.quarter, m.month) == ("2026Q4", "2026-12")


def test_monthly_rankings_streaks_newcomers_and_movers():
    ms = []
    # a is fastest every month of 2026 so far; b climbs into the Top 2 in March
    speeds = {"2026-01": {"a": 5, "b": 90, "c": 20}, "2026-02": {"a": 5, "b": 80, "c": 20},
              "2026-03": {"a": 5, "b": 10, "c": 20}}
    for month, waits in speeds.items():
        when = datetime(int(month[:4]), int(month[5:]), 10, 12, tzinfo=UTC)
        for company, wait in waits.items():
            ms += [meas(company, float(wait), when=when) for _ in range(3)]
    scoring = Scoring(bootstrap_samples=0, top_n=2)
    report = build_report(frame_from_measurements(ms), quarter="2026-03", channels=["phone"],
                          targets=Targets(), scoring=scoring)
    assert report.monthly and report.previous_quarter == "2026-02"
    rows = {r.company: r for r in report.channels["phone"].rows}
    assert rows["b"].n == 3  # only March's probes
    assert (rows["a"].rank, rows["b"].rank, rows["b"].previous_rank) == (1, 2, 3)
    found = report.highlights["phone"]
    kinds = {(s.company, s.kind, s.periods) for s in found.streaks}
    assert ("a", "top", 3) in kinds and ("a", "top_n_year", 3) in kinds
    assert found.newcomers == ["b"] and found.movers == [("b", 1)]
    from svcbench.render.wording import highlight_lines

    lines = highlight_lines(report, "phone")
    assert "a: top-rated for a third month in a row." in lines
    assert "a: in the Top 2 every month this year." in lines
    assert "New in the Top 2: b." in lines


def test_streak_rules_on_ranks_alone():
    history = ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    ranks = {"2026Q1": {"x": 3, "y": 1}, "2026Q2": {"x": 1, "y": 4},
             "2026Q3": {"x": 1, "y": 9}, "2026Q4": {"x": 1, "y": 12, "z": 2}}
    found = highlights(ranks, history, top_n=10, changes={"x": 0, "y": -3, "z": 5})
    streaks = {(s.company, s.kind): s.periods for s in found.streaks}
    assert streaks == {("x", "top"): 3, ("x", "top_n_year"): 4}
    assert found.newcomers == ["z"] and found.movers == [("z", 5)]


# -- simulated data and sources ---------------------------------------------------------------


def test_simulated_probes_count_only_when_asked():
    when = datetime(2026, 11, 3, 10, tzinfo=UTC)
    ms = [meas("real", 20.0, when=when) for _ in range(4)]
    ms += [meas("fake", 5.0, when=when, simulated=True) for _ in range(4)]
    kw = dict(quarter="2026Q4", channels=["phone"], targets=Targets(),
              scoring=Scoring(bootstrap_samples=0))
    plain = build_report(frame_from_measurements(ms), **kw)
    assert [r.company for r in plain.channels["phone"].rows] == ["real"]
    assert plain.simulated_counted == 0
    assert {(s.source, s.probes, s.included) for s in plain.sources} == {
        ("live", 4, True), ("simulated", 4, False)}
    both = build_report(frame_from_measurements(ms), include_simulated=True, **kw)
    rows = {r.company: r for r in both.channels["phone"].rows}
    assert rows["fake"].rank == 1 and rows["fake"].simulated_n == 4
    assert rows["real"].simulated_n == 0 and both.simulated_counted == 4


# -- wording ----------------------------------------------------------------------------------


def test_headlines_outcomes_and_seals():
    assert headline("phone", 14) == "14 s to a live agent"
    assert headline("email", 38 * 60) == "38 min to a human email reply"
    assert headline("returns", 2.1 * 86400) == "2.1 days to refund"
    assert headline("phone", None) == "" and plain_duration(5 * 3600) == "5.0 hours"
    assert outcome_label("returns", "answered") == "refunded"
    assert outcome_label("delivery", "answered") == "delivered"
    assert outcome_label("email", "answered_auto_only") == "auto-reply only"
    assert outcome_label("delivery", "failed") == "failed on our side"
    assert [seal(s) for s in (100, 90.0, 89.9, 80, 79.9, 70, 69.9, None)] == [
        "Elite", "Elite", "Excellent", "Excellent", "Approved", "Approved", "", ""]
    assert re.fullmatch(r"[0-9a-z ]+", headline("chat", 3))


def test_monthly_report_with_streaks_renders_in_every_format(tmp_path):
    import io

    from rich.console import Console

    from svcbench.render.html import write_html
    from svcbench.render.json_ import write_json
    from svcbench.render.tables import write_csv
    from svcbench.render.terminal import print_report

    ms = []
    for month in ("2026-01", "2026-02", "2026-03"):
        when = datetime(2026, int(month[5:]), 10, 12, tzinfo=UTC)
        for company, wait in (("a", 5.0), ("b", 50.0), ("c", 20.0)):
            ms += [meas(company, wait, when=when) for _ in range(3)]
            ms += [meas(company, wait * 100, when=when, channel="email") for _ in range(3)]
    report = build_report(frame_from_measurements(ms), quarter="2026-03",
                          channels=["phone", "email"], targets=Targets(),
                          scoring=Scoring(bootstrap_samples=50, top_n=2),
                          names={"a": "Alpha", "b": "Beta", "c": "Gamma"})
    report.seals = True
    phrase = "top-rated for a third month in a row"
    text = io.StringIO()
    print_report(report, Console(file=text, width=200))
    assert f"Alpha: {phrase}." in text.getvalue() and "2026-03" in text.getvalue()
    [channels, overall] = write_csv(report, tmp_path)
    assert channels.name == "rankings-2026-03.csv"
    with channels.open() as f:
        rows = {(r["channel"], r["company"]): r for r in csv.DictReader(f)}
    assert rows[("phone", "a")]["period"] == "2026-03" and rows[("phone", "a")]["quarter"] == (
        "2026Q1")
    assert phrase in rows[("phone", "a")]["streak"] and rows[("phone", "a")]["seal"]
    with overall.open() as f:
        assert phrase in next(r for r in csv.DictReader(f) if r["company"] == "a")["streak"]
    doc = json.loads(write_json(report, tmp_path)[0].read_text())
    assert doc["period_kind"] == "month" and doc["periods_ranked"][-1] == "2026-03"
    phone = next(c for c in doc["channels"] if c["channel"] == "phone")
    assert f"Alpha: {phrase}." in phone["highlight_lines"]
    assert f"Alpha: {phrase}." in doc["overall_highlights"]
    html = write_html(report, tmp_path)[0].read_text()
    assert f"Alpha: {phrase}." in html and "Elite" in html
