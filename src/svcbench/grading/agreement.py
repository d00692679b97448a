"""Agreement between two graders: percent agreement and Cohen's kappa (pure functions).

Cohen (1960), "A coefficient of agreement for nominal scales"; weighted kappa for ordered
scales after Cohen (1968), with linear or quadratic disagreement weights.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np


def percent_agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Share of items both graders gave the same value (None for no items)."""
    _same_length(a, b)
    if not a:
        return None
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / len(a)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable], *,
                categories: Sequence[Hashable] | None = None,
                weights: Literal["linear", "quadratic"] | None = None) -> float | None:
    """Cohen's kappa of two graders' values for the same items.

    ``categories`` fixes the value order (needed for weighted kappa on a scale; default: the
    sorted values seen). None when there are no items or chance agreement is already perfect
    (both graders gave one and the same value throughout: kappa is undefined).
    """
    _same_length(a, b)
    if not a:
        return None
    cats = list(categories) if categories is not None else sorted(set(a) | set(b), key=str)
    index = {c: i for i, c in enumerate(cats)}
    unknown = [v for v in (*a, *b) if v not in index]
    if unknown:
        raise ValueError(f"value {unknown[0]!r} is not one of the categories")
    k = len(cats)
    table = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        table[index[x], index[y]] += 1
    table /= table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0))
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(float)
    elif weights == "linear":
        w = np.abs(i - j) / max(k - 1, 1)
    elif weights == "quadratic":
        w = ((i - j) / max(k - 1, 1)) ** 2
    else:
        raise ValueError(f"unknown weights {weights!r} (linear or quadratic)")
    disagreement_expected = float((w * expected).sum())
    if disagreement_expected == 0:
        return None
    return 1.0 - float((w * table).sum()) / disagreement_expected


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(f"graders rated {len(a)} and {len(b)} items; pair them first")


@dataclass(frozen=True)
class Agreement:
    """Agreement of two graders (or groups of graders) on one rubric item."""

    item: str
    pair: str
    n: int
    percent: float | None
    kappa: float | None
    #: weighted kappa for scale items (quadratic), None for yes/no items
    weighted_kappa: float | None = None

    def as_dict(self) -> dict:
        return {"item": self.item, "pair": self.pair, "n": self.n, "percent": self.percent,
                "kappa": self.kappa, "weighted_kappa": self.weighted_kappa}


def agreement(item: str, pair: str, pairs: Iterable[tuple[Hashable, Hashable]], *,
              categories: Sequence[Hashable] | None = None, scale: bool = False) -> Agreement:
    """Agreement from (value of grader 1, value of grader 2) pairs, one per graded item."""
    pairs = list(pairs)
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    return Agreement(
        item=item, pair=pair, n=len(pairs), percent=percent_agreement(a, b),
        kappa=cohen_kappa(a, b, categories=categories),
        weighted_kappa=cohen_kappa(a, b, categories=categories, weights="quadratic")
        if scale else None)


def paired(first: Mapping[str, Hashable], second: Mapping[str, Hashable]
           ) -> list[tuple[Hashable, Hashable]]:
    """Values of two graders for the probes both graded, in probe order."""
    return [(first[k], second[k]) for k in sorted(set(first) & set(second))]
