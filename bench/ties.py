"""Benchmark: how well the tie rule separates companies, by simulation.

Usage: .venv/bin/python bench/ties.py [--replicates 100] [--bootstrap 200]

Each replicate is one channel of 20 companies at 10 speed levels (true median waits 20 s x
sqrt(2)^level, lognormal, sigma 0.8), two identical companies per level, n probes each, ranked
by ``svcbench.rank.rank_channel`` with its bootstrap. Printed per n = 5..100:

- equal split: share of pairs of identical companies shown as NOT tied (a false separation;
  the 95% intervals make this small);
- 2x merged: share of pairs whose true medians differ by 2x shown as tied (the price of
  honesty at small n; it falls as n grows);
- for comparison the same two figures under the old rule (a company joined the tie group of
  the group's first company when their rank intervals overlapped);
- coverage of the 95% bootstrap interval of the median (target: about 95%).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

LEVELS, PER_LEVEL, BASE, SIGMA = 10, 2, 20.0, 0.8


def old_groups(order: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The rule before: walk best first; join while overlapping the group's FIRST company."""
    group = np.zeros(len(low), dtype=np.int64)
    current, leader_high = 0, -1
    for i in order:
        if current == 0 or low[i] > leader_high:
            current += 1
            leader_high = high[i]
        group[i] = current
    return group


def replicate(n: int, rng: np.random.Generator, bootstrap: int, seed: int):
    from svcbench.config import Targets
    from svcbench.models import Channel
    from svcbench.rank import MeasurementFrame, normalised_weights, rank_channel, tied

    medians = {f"c{lv:02d}{k}": BASE * 2 ** (lv / 2) for lv in range(LEVELS)
               for k in range(PER_LEVEL)}
    names = sorted(medians)
    company = np.repeat(np.array(names, dtype=object), n)
    waits = np.concatenate([rng.lognormal(np.log(medians[c]), SIGMA, n) for c in names])
    size = len(company)
    frame = MeasurementFrame(
        company=company, channel=np.full(size, "phone", dtype=object),
        quarter=np.full(size, "2026Q4", dtype=object), counted=np.ones(size, bool),
        responded=np.ones(size, bool), wait_s=waits, wait_bh_s=waits,
        first_response_s=waits, human=np.ones(size, bool))
    weights = normalised_weights({"speed": 0.5, "within_target": 0.3, "human": 0.2})
    ranking, _ = rank_channel(frame, "phone", targets=Targets().for_channel(Channel.PHONE),
                              weights=weights, minimum_sample=3, bootstrap_samples=bootstrap,
                              seed=seed, quarter="2026Q4")
    rows = {r.company: r for r in ranking.rows}
    low = np.array([rows[c].rank_low for c in names])
    high = np.array([rows[c].rank_high for c in names])
    rank = np.array([rows[c].rank for c in names])
    relation = tied(low, high)
    order = np.lexsort((np.array(names), rank))
    groups = old_groups(order, low, high)
    level = {c: int(c[1:3]) for c in names}
    out = {"equal": [], "double": [], "old_equal": [], "old_double": [], "covered": []}
    for a in range(len(names)):
        truth = medians[names[a]]
        r = rows[names[a]]
        out["covered"].append(r.median_low_s <= truth <= (r.median_high_s or np.inf))
        for b in range(a + 1, len(names)):
            gap = abs(level[names[a]] - level[names[b]])
            if gap == 0:
                out["equal"].append(not relation[a, b])
                out["old_equal"].append(groups[a] != groups[b])
            elif gap == 2:
                out["double"].append(bool(relation[a, b]))
                out["old_double"].append(groups[a] == groups[b])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    print(f"{LEVELS * PER_LEVEL} companies per channel, {args.replicates} replicates per n, "
          f"bootstrap {args.bootstrap}; lognormal sigma {SIGMA}")
    print(f"{'n':>4} {'equal split':>12} {'2x merged':>10} {'old: split':>11} "
          f"{'old: merged':>12} {'median CI coverage':>19} {'s':>6}")
    for n in (5, 10, 20, 50, 100):
        began = time.perf_counter()
        totals: dict[str, list[bool]] = {}
        for r in range(args.replicates):
            for key, values in replicate(n, rng, args.bootstrap, seed=r).items():
                totals.setdefault(key, []).extend(values)

        def pct(key: str, totals: dict[str, list[bool]] = totals) -> str:
            return f"{100 * np.mean(totals[key]):.1f}%"

        print(f"{n:>4} {pct('equal'):>12} {pct('double'):>10} {pct('old_equal'):>11} "
              f"{pct('old_double'):>12} {pct('covered'):>19} "
              f"{time.perf_counter() - began:>6.1f}")


if __name__ == "__main__":
    main()
