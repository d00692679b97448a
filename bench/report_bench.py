"""Benchmark: 1,000,000 simulated probes -> rankings and all report formats, vs DuckDB.

Usage: .venv/bin/python bench/report_bench.py [--probes 1000000] [--keep DIR]

Prints: time to simulate (bulk insert), time to load the measurements, time for the core
aggregation (per company/channel/quarter: count, median, mean, p90, shares within targets) in
svcbench and in DuckDB, time for the full report (bootstrap included) and for each format,
and the peak memory (ru_maxrss) of the process that made the report. Targets: within 2x of
DuckDB, under 1 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHANNELS = ["phone", "email", "chat", "returns", "delivery"]


def child(db: Path, out: Path) -> None:
    """Run in a fresh process so ru_maxrss is the report's own peak."""
    from rich.console import Console

    from svcbench.config import Scoring, Targets
    from svcbench.rank import build_report, load_frame, previous_quarter, quarters_with_data
    from svcbench.render.html import write_html
    from svcbench.render.json_ import write_json
    from svcbench.render.tables import write_csv
    from svcbench.render.terminal import print_report
    from svcbench.store import Store

    timings = {}
    store = Store(db)
    t = time.perf_counter()
    quarter = quarters_with_data(store.conn)[-1]
    frame = load_frame(store.conn, quarters=[quarter, previous_quarter(quarter)])
    names, industries = store.company_names(), store.company_industries()
    timings["load (2 quarters)"] = time.perf_counter() - t
    t = time.perf_counter()
    report = build_report(frame, quarter=quarter, channels=CHANNELS, targets=Targets(),
                          scoring=Scoring(), names=names, industries=industries)
    timings["ranking incl. bootstrap (200)"] = time.perf_counter() - t
    with open(out / "table.txt", "w") as f:
        t = time.perf_counter()
        print_report(report, Console(file=f, width=160))
        timings["table (default --limit 25)"] = time.perf_counter() - t
    for name, fn in (("csv", write_csv), ("json", write_json), ("html", write_html)):
        t = time.perf_counter()
        paths = fn(report, out)
        timings[name] = time.perf_counter() - t
        timings[f"{name} size MB"] = sum(p.stat().st_size for p in paths) / 1e6
    timings["rows in frame"] = len(frame)
    timings["peak RSS MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(timings))


def core_svcbench(db: Path):
    """Core aggregation for every quarter and channel (no bootstrap)."""
    from svcbench.config import Targets
    from svcbench.models import Channel
    from svcbench.rank import load_frame, normalised_weights, rank_channel
    from svcbench.store import Store

    store = Store(db)
    t = time.perf_counter()
    frame = load_frame(store.conn)
    load = time.perf_counter() - t
    t = time.perf_counter()
    groups = 0
    weights = normalised_weights({"speed": 1})
    for (quarter, channel), index in frame.groups().items():
        ranking, _ = rank_channel(frame.take(index), channel, targets=Targets().for_channel(
            Channel(channel)), weights=weights, minimum_sample=3, business_hours=False,
            quarter=quarter)
        groups += len(ranking.rows)
    return load, time.perf_counter() - t, groups, frame


def core_duckdb(frame):
    """The same aggregation in DuckDB over the same rows (unanswered = infinite wait)."""
    import duckdb
    import numpy as np
    import pandas as pd

    con = duckdb.connect()
    note = ""
    try:
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("LOAD sqlite")
        note = "sqlite extension available"
    except duckdb.Error:
        note = ("DuckDB's sqlite extension is not bundled and this machine is offline, so "
                "DuckDB reads a pandas DataFrame built from the same sqlite3 rows")
    df = pd.DataFrame({
        "company": frame.company, "channel": frame.channel, "quarter": frame.quarter,
        "counted": frame.counted, "wait": np.where(np.isnan(frame.wait_s), np.inf,
                                                   frame.wait_s)})
    con.register("m", df)
    sql = """
        SELECT quarter, channel, company, count(*) AS n, median(wait) AS median,
               avg(wait) FILTER (WHERE isfinite(wait)) AS mean_answered,
               quantile_cont(wait, 0.9) AS p90,
               avg((wait <= 30)::INT) AS w30, avg((wait <= 120)::INT) AS w120,
               avg((wait <= 3600)::INT) AS w3600, avg((wait <= 43200)::INT) AS w43200,
               avg((wait <= 86400)::INT) AS w86400
        FROM m WHERE counted
        GROUP BY ALL
    """
    con.execute(sql).fetchall()  # warm up (registers, plans)
    t = time.perf_counter()
    rows = con.execute(sql).fetchall()
    return time.perf_counter() - t, len(rows), note


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probes", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--child", nargs=2, type=Path)
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: reuse the database simulated by an earlier run")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from svcbench.simulate import simulate
    from svcbench.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        db = base / "bench.db"
        if args.reuse and db.exists():
            print(f"reusing {db}")
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            store = Store(db)
            summary = simulate(store, companies=500, quarters=4, end_quarter="2026Q4", seed=7,
                               total_probes=args.probes)
            store.close()
            _print_simulate(summary, db)
        _compare_and_report(db, base)


def _print_simulate(summary, db: Path) -> None:
    print(f"simulate: {summary.probes:,} probes, {summary.events:,} events, "
          f"{summary.measurements:,} measurements in {summary.seconds:.1f} s "
          f"({summary.probes / summary.seconds:,.0f} probes/s); "
          f"db {db.stat().st_size / 1e6:.0f} MB")


def _compare_and_report(db: Path, base: Path) -> None:
    load, ours, groups, frame = core_svcbench(db)
    duck, duck_groups, note = core_duckdb(frame)
    print(f"load all {len(frame):,} measurements from SQLite (sqlite3): {load:.2f} s")
    print(f"core aggregation, {groups:,} company/channel/quarter rows:")
    print(f"  svcbench (numpy): {ours:.2f} s")
    print(f"  duckdb          : {duck:.2f} s ({duck_groups:,} rows)  [{note}]")
    print(f"  ratio svcbench/duckdb: {ours / duck:.2f}x (target <= 2x)")
    del frame

    out = base / "reports"
    out.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, __file__, "--child", str(db), str(out)],
                          capture_output=True, text=True, check=True)
    timings = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"full report for the latest quarter ({timings.pop('rows in frame'):,} rows of "
          "this and the previous quarter), fresh process:")
    for key, value in timings.items():
        unit = "" if ("MB" in key) else " s"
        print(f"  {key:32s} {value:8.2f}{unit}")
    print(f"  peak memory target: < 1024 MB -> "
          f"{'OK' if timings['peak RSS MB'] < 1024 else 'OVER'}")


if __name__ == "__main__":
    main()
