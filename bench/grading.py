"""Answer-quality grading: the key grader's accuracy on the labelled set (tuning and held-out
parts separately) and its throughput; the report's quality part on many grades.

    .venv/bin/python bench/grading.py [--grades 200000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grades", type=int, default=200_000,
                        help="probes with key grades in the ranking test")
    args = parser.parse_args()

    from grading_corpus import interaction_of, load, score
    from svcbench.config import load_config
    from svcbench.grading.store import key_grade
    from svcbench.workspace import init_workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws_dir = init_workspace(Path(tmp) / "ws")
        for split in ("tuning", "heldout"):
            s = score(split, ws_dir)
            print(f"{split:8s} {s.summary()}")
        config = load_config(ws_dir)
        items = [interaction_of(i, config) for i in load("tuning") + load("heldout")]
        rounds = 100
        began = time.perf_counter()
        for _ in range(rounds):
            for item in items:
                key_grade(item)
        took = time.perf_counter() - began
        print(f"key grader: {rounds * len(items) / took:,.0f} replies/s "
              f"({1e6 * took / (rounds * len(items)):.0f} µs per reply)")
        quality_bench(ws_dir, args.grades)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (VmHWM): {peak:.0f} MB")


def quality_bench(ws_dir: Path, n: int) -> None:
    """n probes in 200 companies with key grades: load the quality frame, rank with it."""
    import numpy as np

    from svcbench.config import load_config
    from svcbench.grading.quality import load_quality_frame
    from svcbench.models import Channel, Measurement, Outcome, new_id
    from svcbench.rank import build_report, frame_from_measurements
    from svcbench.store import Store

    config = load_config(ws_dir)
    rng = np.random.default_rng(1)
    store = Store(ws_dir / "bench.db")
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 10, 5, tzinfo=UTC)
    ms = []
    with store.transaction() as conn:
        for i in range(n):
            pid = new_id()
            company = f"c{i % 200:03d}"
            at = t0 + timedelta(minutes=i % 100_000)
            conn.execute("INSERT INTO probes (id, company, channel, plugin, status, created_at, "
                         "updated_at) VALUES (?, ?, 'email', 'email', 'done', ?, ?)",
                         (pid, company, at.isoformat(), at.isoformat()))
            m = Measurement(pid, company, Channel.EMAIL, Outcome.ANSWERED, at, "2026Q4",
                            wait_s=float(rng.exponential(3600)), answered_by_human=True)
            ms.append(m)
            store.save_measurement(m)  # joins the outer transaction
            full, extra = float(rng.random() < 0.6), float(rng.random() < 0.2)
            for item, value in (("fully_answered", full), ("anticipated", extra)):
                conn.execute("INSERT INTO quality_grades (probe_id, grader, kind, item, value, "
                             "graded_at) VALUES (?, 'key', 'key', ?, ?, '2026-11-01')",
                             (pid, item, value))
    began = time.perf_counter()
    frame = load_quality_frame(store.conn, config.grading, quarters=["2026Q4"])
    loaded = time.perf_counter() - began
    scoring = config.scoring.model_copy(update={"weights": {
        "speed": 0.5, "within_target": 0.2, "human": 0.1, "quality": 0.2}})
    mf = frame_from_measurements(ms)
    began = time.perf_counter()
    build_report(mf, quarter="2026Q4", channels=["email"], targets=config.targets,
                 scoring=scoring)
    plain = time.perf_counter() - began
    began = time.perf_counter()
    build_report(mf, quarter="2026Q4", channels=["email"], targets=config.targets,
                 scoring=scoring, quality=frame)
    with_quality = time.perf_counter() - began
    print(f"quality frame for {n:,} graded probes: {loaded:.2f} s; ranking "
          f"{plain:.2f} s without, {with_quality:.2f} s with the quality part "
          f"({config.scoring.bootstrap_samples} bootstrap samples)")
    store.close()


if __name__ == "__main__":
    main()
