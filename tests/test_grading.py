"""Answer keys, the deterministic grader, agreement statistics and the quality part."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from svcbench.grading.agreement import cohen_kappa, percent_agreement
from svcbench.grading.grader import grade_reply
from svcbench.grading.keys import AnswerKey, phrase_regex
from svcbench.grading.quality import QualityFrame, probe_quality, resolve, wilson
from svcbench.grading.settings import GradingSettings
from svcbench.grading.store import GradeRow

# -- Cohen's kappa against published examples ------------------------------------------


def _from_table(yy: int, yn: int, ny: int, nn: int) -> tuple[list[str], list[str]]:
    a = ["y"] * (yy + yn) + ["n"] * (ny + nn)
    b = ["y"] * yy + ["n"] * yn + ["y"] * ny + ["n"] * nn
    return a, b


@pytest.mark.parametrize(("table", "po", "kappa"), [
    # Wikipedia, "Cohen's kappa", simple example: 50 grant proposals, kappa = 0.4
    ((20, 5, 10, 15), 0.7, 0.4),
    # same article, "same agreement, different kappa": both po = 0.60
    ((45, 15, 25, 15), 0.6, 0.1304),
    ((25, 35, 5, 35), 0.6, 0.2593),
])
def test_cohen_kappa_matches_published_examples(table, po, kappa):
    a, b = _from_table(*table)
    assert percent_agreement(a, b) == pytest.approx(po)
    assert cohen_kappa(a, b) == pytest.approx(kappa, abs=1e-4)


def test_weighted_kappa_credits_near_misses():
    a = [1, 2, 3, 4, 5, 3, 4, 2]
    near = [1, 2, 4, 4, 5, 2, 4, 3]
    far = [5, 2, 1, 4, 1, 3, 1, 2]
    cats = [1, 2, 3, 4, 5]
    assert cohen_kappa(a, near, categories=cats, weights="quadratic") > cohen_kappa(
        a, near, categories=cats)
    assert cohen_kappa(a, far, categories=cats, weights="quadratic") < 0.3
    # two categories: every weighting is the same kappa
    a2, b2 = _from_table(20, 5, 10, 15)
    assert cohen_kappa(a2, b2, weights="linear") == pytest.approx(0.4)


def test_kappa_edge_cases():
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["y", "y"], ["y", "y"]) is None  # chance agreement already perfect
    with pytest.raises(ValueError, match="pair them first"):
        cohen_kappa(["y"], [])
    with pytest.raises(ValueError, match="not one of the categories"):
        cohen_kappa([1, 7], [1, 2], categories=[1, 2])


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1,
                max_size=40))
def test_kappa_is_symmetric_and_at_most_one(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    k = cohen_kappa(a, b)
    if k is not None:
        assert k <= 1 + 1e-9
        assert cohen_kappa(b, a) == pytest.approx(k)
        assert (k == pytest.approx(1)) == (a == b)


# -- answer keys and the grader ---------------------------------------------------------

KEY = AnswerKey.model_validate({
    "facts": [
        {"id": "ships", "label": "ships", "polarity": "any",
         "phrases": {"en": ["ship to norway"], "de": ["nach norwegen"]}},
        {"id": "time", "label": "time",
         "phrases": {"en": ["{n} days"], "de": ["{n} tage", "{n} tagen"]}},
        {"id": "cost", "label": "cost", "channels": ["email"],
         "patterns": [r"\d+\s?(eur|€)"]},
    ],
    "extras": [{"id": "customs", "label": "customs", "phrases": {"en": ["customs"]}}],
    "forbidden": [{"id": "no-customs", "label": "no customs",
                   "phrases": {"en": ["no customs"], "de": ["zollfrei"]}}],
})


def test_phrasings_match_words_not_substrings():
    import re

    rx = re.compile(phrase_regex("{n} days"))
    assert rx.search("arrives in 3-5 days") and rx.search("in 3 to 5 days")
    assert not rx.search("in 35days") and not rx.search("holidays")
    assert re.search(phrase_regex("don't ship"), "we don’t ship there")  # typographic quote


def test_fully_answered_needs_every_fact_and_no_wrong_claim():
    full = grade_reply(KEY, "Yes, we ship to Norway in 5 days for 9 EUR.", ["en"], "email")
    assert full.fully_answered is True and full.covered == ["ships", "time", "cost"]
    assert full.evidence["time"] == "5 days"
    part = grade_reply(KEY, "We ship to Norway in 5 days.", ["en"], "email")
    assert part.fully_answered is False and part.missing == ["cost"]
    # the cost is not asked by chat
    assert grade_reply(KEY, "We ship to Norway in 5 days.", ["en"], "chat").fully_answered
    wrong = grade_reply(KEY, "We ship to Norway in 5 days, 9 EUR, no customs!", ["en"], "email")
    assert wrong.fully_answered is False and "forbidden:no-customs" in wrong.flags
    extra = grade_reply(KEY, "We ship to Norway in 5 days, 9 EUR; customs may apply.",
                        ["en"], "email")
    assert extra.anticipated and extra.extras == ["customs"]


def test_negation_cues_of_the_scenario_languages():
    # "any" polarity: "we do not ship to Norway" answers whether they ship
    assert grade_reply(KEY, "We do not ship to Norway.", ["en"]).covered == ["ships"]
    negated = grade_reply(KEY, "We ship to Norway. Delivery is not 5 days.", ["en"], "chat")
    assert "time" in negated.missing and "negated:time" in negated.flags
    german = grade_reply(KEY, "Wir liefern nach Norwegen, leider nicht in 5 Tagen.",
                         ["de"], "chat")
    assert german.covered == ["ships"] and "negated:time" in german.flags
    # a terminator ends the scope; a pseudo-negation negates nothing
    assert grade_reply(KEY, "Not to Sweden but ship to Norway in 5 days", ["en"],
                       "chat").fully_answered
    assert grade_reply(KEY, "No problem we ship to Norway in 5 days", ["en"],
                       "chat").fully_answered
    # a negated wrong claim is no wrong claim
    assert not grade_reply(KEY, "We ship to Norway in 5 days. It's not zollfrei.", ["de", "en"],
                           "chat").forbidden


def test_no_reply_is_not_graded():
    result = grade_reply(KEY, "  ", ["en"])
    assert result.fully_answered is None and result.flags == ["no reply"]


@pytest.mark.parametrize(("toml", "message"), [
    ('languages = ["en"]\n[[scenario.answer_key.facts]]\nid = "x"\nlabel = "x"\n'
     'phrases.de = ["nach norwegen"]\n',
     "scenario[0]: answer_key has phrases in de, not in languages (en)"),
    ('[[scenario.answer_key.facts]]\nid = "x"\nlabel = "x"\npatterns = ["(unclosed"]\n',
     "scenario[0].answer_key.facts[0].patterns: invalid regular expression"),
    ('[[scenario.answer_key.facts]]\nid = "x"\nlabel = "x"\n',
     "scenario[0].answer_key.facts[0]: give phrases or patterns"),
])
def test_bad_answer_keys_are_one_line_errors(workspace_dir, cli, toml, message):
    (workspace_dir / "probes" / "zz.toml").write_text(
        '[[scenario]]\nid = "bad"\nquestion = "q"\n' + toml)
    result = cli("config", "check", cwd=workspace_dir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "zz.toml" in result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(("toml", "message"), [
    ('[grading]\nmodel = "m"\nmodel_options = { api_key = "sk-123" }\n',
     "grading.model_options: api_key: secrets are not stored in config"),
    ('[grading]\nmodel_items = ["nope"]\n',
     "grading: model_items: unknown rubric item 'nope'"),
    ('[[grading.rubric]]\nid = "k"\nlabel = "k"\nquestion = "q"\nkind = "scale"\nlow = 5\n'
     'high = 1\n', "grading.rubric[0]: low (5) must be below high (1)"),
])
def test_bad_grading_settings_are_one_line_errors(workspace_dir, cli, toml, message):
    path = workspace_dir / "svcbench.toml"
    path.write_text(path.read_text() + "\n" + toml)
    result = cli("config", "check", cwd=workspace_dir)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert message in result.stderr and "sk-123" not in result.stderr


def test_old_regex_checks_still_grade(workspace):
    from svcbench.grading.store import scenario_key

    scenario = workspace.config.scenarios["shipping-norway"].model_copy(
        update={"answer_key": None})
    key = scenario_key(scenario)
    assert [f.label for f in key.facts] == ["mentions delivery time", "mentions Norway"]
    assert grade_reply(key, "We ship to Norway in 3 days", ["en"]).fully_answered
    assert not grade_reply(key, "We ship to Norway soon", ["en"]).fully_answered


# -- quality ----------------------------------------------------------------------------


def _row(probe, kind, item, value, reviewer=None):
    grader = kind if kind == "key" else f"{kind}:{reviewer}"
    return GradeRow(probe, grader, kind, reviewer, item, value, {}, None, "2026-11-01")


def test_people_before_model_before_key_and_stellar():
    settings = GradingSettings()
    rows = [_row("p1", "key", "fully_answered", 0.0), _row("p1", "human", "fully_answered",
                                                           1.0, "anna"),
            _row("p1", "human", "fully_answered", 1.0, "bob"),
            _row("p1", "model", "knowledge", 5.0, "m"), _row("p1", "human", "knowledge", 4.0,
                                                             "anna"),
            _row("p1", "key", "anticipated", 1.0), _row("p1", "model", "professionalism", 4.0,
                                                        "m"),
            _row("p2", "key", "fully_answered", 0.0), _row("p2", "key", "anticipated", 0.0)]
    graded = resolve(rows, settings)
    p1 = graded["p1"]
    assert p1.values == {"fully_answered": 1.0, "knowledge": 4.0, "anticipated": 1.0,
                         "professionalism": 4.0}
    assert p1.sources == {"fully_answered": "human", "knowledge": "human", "anticipated": "key",
                          "professionalism": "model"}
    assert p1.fully_answered and p1.stellar
    # weights: fully 2 x 100, knowledge 75, professionalism 75, anticipated 100 -> 450/5
    assert p1.score == pytest.approx(90.0)
    assert graded["p2"].score == 0 and graded["p2"].stellar is False


def test_a_tie_between_two_people_is_not_fully_answered():
    q = probe_quality("p", {"fully_answered": 0.5}, {"fully_answered": "human"},
                      GradingSettings())
    assert q.fully_answered is False and q.score == pytest.approx(50)


def test_wilson_interval_known_values():
    low, high = wilson(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(5, 10)
    assert (low, high) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))


def _ranking(scores: dict[str, float]):
    from svcbench.rank import ChannelRanking, CompanyChannelRow

    rows = []
    for i, (company, score) in enumerate(sorted(scores.items(), key=lambda kv: -kv[1])):
        rows.append(CompanyChannelRow(
            channel="email", company=company, name=company, industry="", n=4, excluded=0,
            ranked=True, status="ranked", rank=i + 1, rank_low=i + 1, rank_high=i + 1,
            score=score, speed=None, within_target_score=None, median_s=1,
            median_low_s=None, median_high_s=None, mean_answered_s=1, p90_s=1, within={},
            share_answered=1, share_human=1, share_unanswered=0))
    return ChannelRanking(channel="email", targets=[], rows=rows, companies=len(rows),
                          ranked=len(rows), probes=4 * len(rows), excluded=0, first_started=None,
                          last_started=None, industry=[])


def test_quality_weight_reorders_and_rescales_the_ungraded():
    from svcbench.grading.quality import ProbeQuality

    def pq(i, score, fully):
        return ProbeQuality(f"p{i}", {}, {"fully_answered": "key"}, score, fully, False)

    frame = QualityFrame(probes={
        ("2026Q4", "email", "fast"): [pq(1, 0.0, False), pq(2, 0.0, False)],
        ("2026Q4", "email", "good"): [pq(3, 100.0, True), pq(4, 100.0, True)],
    })
    # scores of the other parts, as rank.py computes them with quality_frame.score_weights
    ranking = _ranking({"fast": 90.0, "good": 60.0, "nobody": 70.0})
    frame.apply(ranking, {}, quarter="2026Q4", weight=0.5)
    by = {r.company: r for r in ranking.rows}
    assert by["good"].score == 80.0 and by["fast"].score == 45.0
    assert by["nobody"].score == 70.0  # unchanged: neither rewarded nor punished
    assert not by["nobody"].quality.weighted and by["good"].quality.weighted
    assert [r.company for r in ranking.rows] == ["good", "nobody", "fast"]
    assert [r.rank for r in ranking.rows] == [1, 2, 3]
    cell = by["good"].quality
    assert (cell.graded, cell.probed, cell.fully_answered) == (2, 4, 1.0)
    assert cell.fully_answered_low == pytest.approx(wilson(2, 2)[0])


def test_score_weights_leave_quality_out_and_sum_to_one():
    weights = QualityFrame.score_weights({"speed": 0.4, "human": 0.2, "quality": 0.4})
    assert weights == {"speed": pytest.approx(2 / 3), "human": pytest.approx(1 / 3)}
    assert QualityFrame.score_weights({"quality": 1.0}) == {}


def test_bootstrap_scores_mix_quality_into_rank_intervals():
    from svcbench.grading.quality import ProbeQuality

    graded = [ProbeQuality(f"p{i}", {}, {}, s, None, None) for i, s in
              enumerate([0.0, 100.0, 100.0, 0.0, 100.0])]
    frame = QualityFrame(probes={("2026Q4", "email", "a"): graded})
    ranking = _ranking({"a": 50.0, "b": 55.0})
    boot = {"a": np.full(200, 50.0), "b": np.full(200, 55.0)}
    new = frame.apply(ranking, boot, quarter="2026Q4", weight=0.5, bootstrap_samples=200)
    a = next(r for r in ranking.rows if r.company == "a")
    assert a.score == 55.0  # 0.5 x 50 + 0.5 x 60
    assert a.quality.score == 60.0 and a.quality.score_low < 60 < a.quality.score_high
    assert np.all(new["b"] == 55.0) and new["a"].std() > 0
    # a and b cannot be told apart: their rank intervals overlap, so they are tied
    assert {r.rank_low for r in ranking.rows} == {1} and {r.rank_high for r in ranking.rows} == {2}
    assert {r.company: r.tied_with for r in ranking.rows} == {"a": ["b"], "b": ["a"]}


def test_without_a_weight_quality_is_shown_but_scores_stay():
    frame = QualityFrame()
    ranking = _ranking({"a": 70.0, "b": 50.0})
    boot = {"a": np.array([70.0]), "b": np.array([50.0])}
    assert frame.apply(ranking, boot, quarter="2026Q4", weight=0) is boot
    assert [(r.score, r.quality.graded) for r in ranking.rows] == [(70.0, 0), (50.0, 0)]
