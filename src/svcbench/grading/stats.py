"""Agreement per rubric item between graders: person vs person, answer key vs people, model
vs people (pure functions over stored grades)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import combinations

from .agreement import Agreement, agreement
from .settings import GradingSettings
from .store import GradeRow


def human_consensus(rows: Iterable[GradeRow]) -> dict[tuple[str, str], float]:
    """(probe, item) -> the people's value: the mean of their values (a tie on yes/no is 0.5)."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if r.kind == "human" and r.value is not None:
            sums[(r.probe_id, r.item)].append(r.value)
    return {k: sum(v) / len(v) for k, v in sums.items()}


def _category(value: float, scale: bool) -> float | None:
    """A consensus value as a category: scales round half up; a yes/no tie has none."""
    if scale:
        return float(int(value + 0.5))
    if value == 0.5:
        return None
    return 1.0 if value > 0.5 else 0.0


def agreement_table(rows: list[GradeRow], settings: GradingSettings) -> list[Agreement]:
    """Per rubric item: people with each other, and the key and each model with the people.

    Person vs person pools every pair of reviewers who graded the same probe (values ordered
    by reviewer id), an approximation of Cohen's two-rater design that is exact when two
    people grade everything. Key and models are compared with the people's consensus.
    """
    by_item: dict[str, dict[str, dict[str, GradeRow]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r.value is not None:
            by_item[r.item][r.probe_id][r.grader] = r
    consensus = human_consensus(rows)
    out: list[Agreement] = []
    for item in settings.rubric:
        scale = item.kind == "scale"
        cats = [float(v) for v in item.values]
        people: list[tuple[float, float]] = []
        versus: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for probe, graders in sorted(by_item.get(item.id, {}).items()):
            if len(graders) < 2:
                continue  # nobody to agree with
            humans = sorted((g for g in graders.values() if g.kind == "human"),
                            key=lambda g: g.reviewer or "")
            for a, b in combinations(humans, 2):
                people.append((a.value, b.value))  # type: ignore[arg-type]
            reference = consensus.get((probe, item.id))
            if reference is None:
                continue
            ref = _category(reference, scale)
            if ref is None:
                continue
            for g in graders.values():
                if g.kind == "key":
                    versus["key vs people"].append((g.value, ref))  # type: ignore[arg-type]
                elif g.kind == "model":
                    versus[f"{g.grader} vs people"].append((g.value, ref))  # type: ignore
        if people:
            out.append(agreement(item.id, "person vs person", people, categories=cats,
                                 scale=scale))
        for pair, values in sorted(versus.items()):
            out.append(agreement(item.id, pair, values, categories=cats, scale=scale))
    return out
