"""Ranking maths on small hand-made data, each expectation computed independently."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest

from svcbench.config import Scoring, Targets
from svcbench.models import Channel, Measurement, Outcome
from svcbench.rank import (
    build_report,
    competition_ranks,
    frame_from_measurements,
    normalised_weights,
    parse_quarter,
    previous_quarter,
    rank_channel,
)
from svcbench.render.wording import (
    duration_phrase,
    industry_lines,
    share_phrase,
    top_n_summary,
)

WHEN = {"2026Q4": datetime(2026, 11, 2, 10, tzinfo=UTC),
        "2026Q3": datetime(2026, 8, 3, 10, tzinfo=UTC)}
_counter = iter(range(10**9))


def m(company: str, wait: float | None, *, channel: str = "phone", quarter: str = "2026Q4",
      outcome: Outcome | None = None, human: bool | None = None,
      first: float | None = None) -> Measurement:
    if outcome is None:
        outcome = Outcome.ANSWERED if wait is not None else Outcome.UNANSWERED
    return Measurement(
        probe_id=f"p{next(_counter)}", company=company, channel=Channel(channel),
        outcome=outcome, started_at=WHEN[quarter], quarter=quarter, wait_s=wait,
        wait_bh_s=wait, first_response_s=first if first is not None else wait,
        answered_by_human=wait is not None if human is None else human)


def rank(ms, **kw):
    options = dict(targets=[30, 120], weights=normalised_weights(
        {"speed": 0.5, "within_target": 0.3, "human": 0.2}), minimum_sample=3)
    options.update(kw)
    ranking, _ = rank_channel(frame_from_measurements(ms), "phone", **options)
    return {r.company: r for r in ranking.rows}, ranking


def test_statistics_per_company():
    b_waits = [5.0, 15.0, 25.0, 35.0, 100.0, 200.0]
    ms = [m("a", w) for w in (10.0, 20.0, 30.0, 40.0)] + [m("a", None)]
    ms += [m("b", w) for w in b_waits]
    ms += [m("b", 1.0, outcome=Outcome.FAILED), m("b", None, outcome=Outcome.CANCELLED)]
    rows, ranking = rank(ms)
    a, b = rows["a"], rows["b"]
    assert (a.n, b.n) == (5, 6)
    assert b.excluded == 2 and ranking.excluded == 2
    # unanswered is an infinite wait: the median of a's five waits is the third, 30
    assert a.median_s == 30.0
    assert a.p90_s is None  # lands between 40 and "never"
    assert a.mean_answered_s == statistics.mean([10, 20, 30, 40])
    assert a.within[30.0] == pytest.approx(3 / 5)
    assert a.within[120.0] == pytest.approx(4 / 5)
    assert a.share_answered == pytest.approx(4 / 5)
    assert a.share_unanswered == pytest.approx(1 / 5)
    assert b.median_s == statistics.median(b_waits)
    assert b.p90_s == pytest.approx(statistics.quantiles(b_waits, n=10, method="inclusive")[8])
    assert b.within[30.0] == pytest.approx(3 / 6)
    assert b.share_human == 1.0


def test_failed_probes_never_count():
    base = [m("a", w) for w in (10.0, 12.0, 14.0)] + [m("b", w) for w in (50.0, 60.0, 70.0)]
    ours = [m("b", None, outcome=Outcome.FAILED) for _ in range(5)]
    rows_without, _ = rank(base)
    rows_with, _ = rank(base + ours)
    assert rows_with["b"].n == 3 and rows_with["b"].excluded == 5
    assert rows_with["b"].score == rows_without["b"].score
    assert rows_with["b"].share_unanswered == 0.0


def test_score_is_speed_percentile_and_shares():
    ms = []
    for company, waits in {"fast": [5, 6, 7], "mid": [40, 50, 60], "slow": [100, 200, 300],
                           "never": [None, None, None]}.items():
        ms += [m(company, w) for w in waits]
    rows, _ = rank(ms)
    # speed: share of the other 3 companies with a slower median
    assert [rows[c].speed for c in ("fast", "mid", "slow", "never")] == [100.0, 66.7, 33.3, 0.0]
    mid = rows["mid"]
    expected = round(0.5 * (200 / 3) + 0.3 * 100 * (0 / 3 + 3 / 3) / 2 + 0.2 * 100, 1)
    assert mid.score == expected
    assert [rows[c].rank for c in ("fast", "mid", "slow", "never")] == [1, 2, 3, 4]


def test_competition_ranking_and_ties():
    assert competition_ranks([90.0, 80.0, 80.0, 70.0]).tolist() == [1, 2, 2, 4]
    assert competition_ranks([5.0, 5.0, 5.0]).tolist() == [1, 1, 1]
    ms = []
    for company, waits in {"a": [5, 6, 7], "b": [20, 25, 30], "c": [20, 25, 30],
                           "d": [90, 95, 99]}.items():
        ms += [m(company, w) for w in waits]
    rows, _ = rank(ms)
    assert rows["b"].score == rows["c"].score
    assert (rows["a"].rank, rows["b"].rank, rows["c"].rank, rows["d"].rank) == (1, 2, 2, 4)


def test_minimum_sample():
    ms = [m("big", w) for w in (10, 20, 30)] + [m("small", w) for w in (1, 2)]
    rows, ranking = rank(ms, minimum_sample=3)
    assert rows["small"].ranked is False and rows["small"].rank is None
    assert rows["small"].status == "not ranked (n<3)"
    assert rows["small"].median_s == 1.5  # still described, just not ranked
    assert rows["big"].rank == 1 and ranking.ranked == 1
    assert ranking.rows[-1].company == "small"


def test_bootstrap_is_seeded_and_brackets_the_median():
    import random

    rnd = random.Random(3)
    ms = []
    for company, scale in (("a", 10), ("b", 12), ("c", 40), ("d", 200)):
        ms += [m(company, rnd.expovariate(1 / scale)) for _ in range(25)]
    first, _ = rank(ms, bootstrap_samples=150, seed=11)
    again, _ = rank(ms, bootstrap_samples=150, seed=11)
    for c in "abcd":
        r = first[c]
        assert (r.median_low_s, r.median_high_s, r.rank_low, r.rank_high) == (
            again[c].median_low_s, again[c].median_high_s, again[c].rank_low,
            again[c].rank_high)
        assert r.median_low_s <= r.median_s <= r.median_high_s
        assert r.rank_low <= r.rank <= r.rank_high
    # a and b are close, d is far slower: a and b are tied, d with neither
    assert first["a"].rank_high >= first["b"].rank_low
    assert "b" in first["a"].tied_with and "a" in first["b"].tied_with
    assert "d" not in first["a"].tied_with and first["d"].rank == 4


def test_bootstrap_median_matches_naive_resampling():
    """The counting shortcut gives the same distribution as resampling by hand."""
    import numpy as np

    waits = [3.0, 8.0, 9.0, 15.0, 40.0, 41.0, 90.0]
    ms = [m("a", w) for w in waits] + [m("b", w * 2) for w in waits]
    rows, _ = rank(ms, bootstrap_samples=4000, seed=5)
    rng = np.random.default_rng(0)
    naive = np.median(rng.choice(waits, size=(4000, len(waits))), axis=1)
    assert rows["a"].median_low_s == pytest.approx(np.quantile(naive, 0.025), rel=0.35)
    assert rows["a"].median_high_s == pytest.approx(np.quantile(naive, 0.975), rel=0.35)


def _report(ms, **kw):
    options = dict(quarter="2026Q4", channels=["phone", "email"], targets=Targets(),
                   scoring=Scoring(bootstrap_samples=0),
                   names={"a": "Alpha", "b": "Beta", "c": "Gamma"})
    options.update(kw)
    return build_report(frame_from_measurements(ms), **options)


def test_movement_and_overall():
    ms = []
    # Q3: c best, then b, then a. Q4: a best, then b, then c.
    for q, order in (("2026Q3", ["c", "b", "a"]), ("2026Q4", ["a", "b", "c"])):
        for i, company in enumerate(order):
            ms += [m(company, 10.0 * (i + 1) ** 3, quarter=q) for _ in range(3)]
            ms += [m(company, 600.0 * (i + 1) ** 3, channel="email", quarter=q)
                   for _ in range(3)]
    ms += [m("d", 1.0, quarter="2026Q4") for _ in range(3)]  # new, phone only
    report = _report(ms)
    phone = {r.company: r for r in report.channels["phone"].rows}
    assert phone["d"].rank == 1 and phone["d"].movement == "new"
    assert phone["a"].rank == 2 and phone["a"].previous_rank == 3
    assert phone["a"].rank_change == 1 and phone["a"].movement == "up"
    assert phone["c"].previous_rank == 1 and phone["c"].rank_change == -3
    overall = {r.company: r for r in report.overall}
    assert report.overall_min_channels == 2
    assert overall["d"].ranked is False  # ranked in one channel only
    email = {r.company: r for r in report.channels["email"].rows}
    assert overall["a"].score == round((phone["a"].score + email["a"].score) / 2, 1)
    assert overall["a"].rank == 1 and overall["a"].previous_rank == 3
    assert top_n_summary(overall["a"], 10) == "top 10 in 2 of 2 channels"
    assert overall["c"].movement == "down"


def test_industry_lines_wording():
    ms = []
    # c0's median is within 30 s; c1 has exactly half of its calls within 30 s but a median
    # of 160 s: both connected at least half of their callers within 30 s
    halves = {0: [20.0, 20.0, 20.0, 300.0], 1: [20.0, 20.0, 300.0, 300.0]}
    for i in range(10):
        ms += [m(f"c{i}", wait) for wait in halves.get(i, [300.0] * 4)]
    ms += [m("c9", None)]  # one call in 41 never reached a person
    report = _report(ms, channels=["phone"])
    lines = industry_lines(report.channels["phone"])
    assert lines[0] == ("Only 2 in 10 companies (20%, 2 of 10) connected at least half of "
                        "their callers to a person within 30 seconds.")
    assert lines[1] == ("9 in 10 calls (88%) waited more than 2 minutes for a person or "
                        "never reached one.")
    assert lines[2] == "1 in 40 calls (2%) never reached a person."


def test_phrases():
    assert share_phrase(4, 10, "email") == "4 in 10 emails"
    assert share_phrase(1, 20, "call") == "1 in 20 calls"
    assert share_phrase(13, 100, "call") == "1 in 10 calls"
    assert share_phrase(1, 50, "call") == "1 in 50 calls"
    assert share_phrase(0, 7, "chat") == "none of the 7 chats"
    assert share_phrase(3, 3, "company") == "all 3 companies"
    assert share_phrase(98, 100, "order") == "almost all orders"
    assert share_phrase(1, 1000, "order") == "fewer than 1 in 100 orders"
    assert duration_phrase(30) == "30 seconds"
    assert duration_phrase(60) == "1 minute"
    assert duration_phrase(120) == "2 minutes"
    assert duration_phrase(3600) == "1 hour"
    assert duration_phrase(43200) == "12 hours"
    assert duration_phrase(86400) == "24 hours"
    assert duration_phrase(604800) == "7 days"


def test_quarters_and_weights():
    assert parse_quarter("2026q4") == "2026Q4"
    assert previous_quarter("2026Q1") == "2025Q4"
    with pytest.raises(ValueError):
        parse_quarter("2026Q5")
    with pytest.raises(ValueError, match="unknown score part 'looks'"):
        normalised_weights({"looks": 1.0})
    assert normalised_weights({"speed": 2, "human": 2}) == {"speed": 0.5, "human": 0.5}


def test_unavailable_counts_against_the_company_like_no_answer():
    """An offline chat during posted hours is the company's finding: counted, infinite wait,
    not answered, not human; shown on its own share and also in share_unanswered."""
    base = [m("a", w) for w in (10.0, 12.0, 14.0)] + [m("b", w) for w in (10.0, 12.0, 14.0)]
    offline = [m("b", None, outcome=Outcome.UNAVAILABLE) for _ in range(3)]
    ours = [m("a", None, outcome=Outcome.FAILED) for _ in range(3)]
    rows, _ = rank(base + offline + ours)
    a, b = rows["a"], rows["b"]
    assert (a.n, a.excluded) == (3, 3)  # our failures: excluded
    assert (b.n, b.excluded) == (6, 0)  # unavailable: counted
    assert b.share_unavailable == pytest.approx(0.5) and a.share_unavailable == 0.0
    assert b.share_unanswered == pytest.approx(0.5)
    assert b.share_answered == pytest.approx(0.5) and b.share_human == pytest.approx(0.5)
    assert b.within[30.0] == pytest.approx(0.5)
    assert b.median_s is None or b.median_s > 14.0
    assert b.score < a.score and b.rank > a.rank


def test_bootstrap_draws_do_not_depend_on_the_chunk_size(monkeypatch):
    import numpy as np

    from svcbench import rank as module

    ms = [m(f"c{i % 7}", None if i % 5 == 0 else float(i % 97), human=i % 3 > 0)
          for i in range(700)]
    s = module._slice(frame_from_measurements(ms), True)
    out = []
    for chunk in (10**7, 3_000, 700, 1):
        monkeypatch.setattr(module, "_CHUNK_DRAWS", chunk)
        out.append(module._bootstrap(s, [30, 120], 50, module._seed_for(0, "q", "phone")))
    for other in out[1:]:
        for key, values in out[0].items():
            assert np.array_equal(values, other[key], equal_nan=True), key
