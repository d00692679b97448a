"""The answer-key grader on the labelled replies: the tuning part and, separately, the
held-out part no phrasing was adjusted on."""

from __future__ import annotations

from grading_corpus import load, score


def test_corpus_has_both_parts_and_languages():
    tuning, heldout = load("tuning"), load("heldout")
    assert len(tuning) >= 20 and len(heldout) >= 10
    ids = [i["id"] for i in tuning + heldout]
    assert len(ids) == len(set(ids))
    for part in (tuning, heldout):
        assert {i["channel"] for i in part} == {"email", "chat", "phone"}
        assert any("Norwegen" in str(i) or "Jacke" in str(i) for i in part)  # German too


def test_grader_on_the_tuning_part(workspace_dir, capsys):
    s = score("tuning", workspace_dir)
    with capsys.disabled():
        print(f"\ntuning: {s.summary()}; misses: {s.misses}")
    assert s.fully_accuracy >= 0.9 and s.fact_accuracy >= 0.9, s.misses


def test_grader_on_the_heldout_part(workspace_dir, capsys):
    s = score("heldout", workspace_dir)
    with capsys.disabled():
        print(f"\nheld-out: {s.summary()}; misses: {s.misses}")
    # a floor, not a target: the figures above are what the report quotes
    assert s.fully_accuracy >= 0.7 and s.fact_accuracy >= 0.8, s.misses
