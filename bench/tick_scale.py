"""Cron at scale: what an idle tick, a plan and a busy tick cost on a big workspace.

Builds the workspace shape of issue 16 (500 companies in 8 time zones with varied weekly
hours, holidays, half-days and closures; 60 probes per quarter per company and channel):

- ``60000``:  2 channels (email, phone), one campaign          -> 60,000 planned probes
- ``300000``: 5 channels (email, chat, phone, returns, delivery), two campaigns -> 300,000

and runs the real ``svcbench`` entry point in a subprocess for each figure (median wall and
CPU (user + sys) time of ``--runs``, highest peak RSS, from getrusage): the first plan (fresh
database; also in one process, and with no caches as right after a config edit), a re-plan
with nothing changed, an idle tick (nothing due), each also without the fast path
(``SVCBENCH_NO_FAST_PATH=1``: what a tick costs while probes are running, and after a config
edit), and a tick with 50 email probes due against the mail sandbox (SMTP + IMAP on
127.0.0.1), whose time is split by step in-process as well: planning vs sending vs
collecting. Campaigns are fixed to next quarter so that nothing is due by
accident; the 50 busy-tick probes are made due by moving their due time to now (SQL).

    .venv/bin/python bench/tick_scale.py [--sizes 60000 300000] [--runs 5] [--keep DIR]

Targets: idle tick < 0.5 s and < 100 MB at both sizes; first plan < 3 s for 60,000; re-plan
with nothing changed < 0.5 s; the busy tick dominated by mail time, not planning.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from svcbench.models import format_instant, quarter_of, utcnow
from svcbench.planning import quarter_bounds
from svcbench.sandbox.mail import CompanyBehaviour, MailSandbox
from svcbench.tomlwrite import toml_table
from svcbench.workers import usable_cores
from svcbench.workspace import init_workspace

COMPANIES = 500
PROBES_PER_QUARTER = 60
ZONES = [("Europe/Berlin", "DE", "BY"), ("America/New_York", "US", "NY"),
         ("Europe/London", "GB", None), ("America/Los_Angeles", "US", "CA"),
         ("Asia/Tokyo", "JP", None), ("Australia/Sydney", "AU", "NSW"),
         ("Europe/Paris", "FR", None), ("America/Sao_Paulo", "BR", None)]
SHAPES = {60000: (["email", "phone"], 1), 300000: (
    ["email", "chat", "phone", "returns", "delivery"], 2)}

#: runs the entry point and reports the process's peak RSS and CPU time on stderr
WRAP = """import atexit, resource, sys
def report():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # VmHWM: the peak of this program only (ru_maxrss keeps the forking bench's across exec)
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    sys.stderr.write("\\nMAXRSS_KB %d CPU_S %.3f\\n" % (peak,
                                                        usage.ru_utime + usage.ru_stime))
atexit.register(report)
from svcbench.launch import main
sys.argv = ["svcbench", *sys.argv[1:]]
main()
"""


def next_quarter() -> str:
    _, end = quarter_bounds(quarter_of(utcnow()))
    return quarter_of(end)


def company(i: int) -> dict:
    zone, country, subdiv = ZONES[i % len(ZONES)]
    opens, closes = 7 + i % 4, 16 + i % 6
    weekly = {d: [f"{opens:02d}:{(i * 7) % 60:02d}-{closes:02d}:00"]
              for d in ("mon", "tue", "wed", "thu", "fri")}
    if i % 3 == 0:
        weekly["sat"] = ["10:00-14:00"]
    if i % 10 == 0:  # a night desk into Monday
        weekly["sun"] = ["22:00-06:00"]
    q_start, _ = quarter_bounds(next_quarter())
    data = {"id": f"co{i:03d}", "name": f"Company {i:03d}", "industry": "retail",
            "timezone": zone, "hours": weekly,
            "holidays": {"country": country, **({"subdiv": subdiv} if subdiv else {})},
            "closed_dates": [(q_start + timedelta(days=20 + i % 40)).date().isoformat()],
            "special_hours": {(q_start + timedelta(days=5 + i % 30)).date().isoformat():
                              ["09:00-12:00"]},
            "channels": {"email": {"address": f"support@co{i:03d}.test"},
                         "chat": {"connector": "rest", "base_url": "http://127.0.0.1:9/api"},
                         "phone": {"number": f"+49 89 555 {i:04d}"},
                         "returns": {}, "delivery": {}}}
    return data


def make_workspace(root: Path, size: int, sandbox: MailSandbox) -> Path:
    channels, campaigns = SHAPES[size]
    root = init_workspace(root, examples=False)
    parts = [toml_table("shopper", sandbox.shopper_config())]
    parts += [toml_table("scenario", {"id": s, "subject": "Delivery to Norway",
                                      "question": "Do you ship to Norway?"})
              for s in ("shipping", "returns")]
    parts += [toml_table("company", company(i)) for i in range(COMPANIES)]
    parts += [toml_table("campaign", {
        "id": f"bench-{c}", "channels": channels, "scenarios": ["shipping", "returns"],
        "shopper": "anna", "quarter": next_quarter(), "probes_per_quarter": PROBES_PER_QUARTER,
        "seed": c}) for c in range(campaigns)]
    (root / "probes" / "bench.toml").write_text("\n".join(parts))
    return root


def cli(root: Path, *args: str, env: dict[str, str]) -> tuple[float, float, float, str]:
    """(seconds, peak RSS in MB, CPU seconds, stdout) of one svcbench process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WRAP, *args, "-w", str(root)],
                          capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"svcbench {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr.strip()[-2000:]}")
    fields = next(line.split() for line in done.stderr.splitlines()
                  if line.startswith("MAXRSS_KB"))
    return elapsed, int(fields[1]) / 1024, float(fields[3]), done.stdout


def median_of(runs: int, fn) -> tuple[float, float, float]:
    """Median wall time, highest peak RSS, median CPU time."""
    results = [fn() for _ in range(runs)]
    return (statistics.median(r[0] for r in results), max(r[1] for r in results),
            statistics.median(r[2] for r in results))


def restore(db: Path, pristine: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(pristine, db)


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def make_due(db: Path, n: int) -> list[str]:
    """n planned email probes made due now (the bench's only manipulation of the plan)."""
    now = utcnow()
    conn = sqlite3.connect(db)
    try:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM probes WHERE channel = 'email' AND status = 'planned' "
            "ORDER BY due_at LIMIT ?", (n,))]
        conn.executemany("UPDATE probes SET due_at = ?, deadline_at = ? WHERE id = ?",
                         [(format_instant(now - timedelta(minutes=1)),
                           format_instant(now + timedelta(hours=72)), i) for i in ids])
        conn.commit()
    finally:
        conn.close()
    return ids


def busy_tick_split(root: Path, sandbox: MailSandbox) -> dict[str, float]:
    """One tick in-process with each step timed (the same Ticker the CLI runs)."""
    from svcbench.plugins import Secrets
    from svcbench.schedule import Ticker, workspace_lock
    from svcbench.workspace import Workspace

    split: dict[str, float] = {}
    started = time.perf_counter()
    ws = Workspace.open(root)
    ws.store  # noqa: B018 - opening and syncing the store is part of every tick
    split["open workspace"] = time.perf_counter() - started

    class Timed(Ticker):
        def plan(self):
            t = time.perf_counter()
            super().plan()
            split["plan"] = time.perf_counter() - t

        async def start_due(self, ctx):
            t = time.perf_counter()
            await super().start_due(ctx)
            split["start 50 (SMTP)"] = time.perf_counter() - t

        async def advance_running(self, ctx):
            t = time.perf_counter()
            await super().advance_running(ctx)
            split["advance (IMAP collect)"] = time.perf_counter() - t

    ticker = Timed(ws)
    original = ws.context
    ws.context = lambda **kw: original(secrets=Secrets(sandbox.env()), **kw)
    with workspace_lock(root):
        report = asyncio.run(ticker.run())
    ws.close()
    split["total"] = time.perf_counter() - started
    split["started"] = report.started
    return split


def run_size(size: int, runs: int, base: Path, sandbox: MailSandbox) -> None:
    root = make_workspace(base / f"ws-{size}", size, sandbox)
    env = {**os.environ, **sandbox.env(), "COLUMNS": "120"}
    db = root / "svcbench.db"
    cli(root, "probes", "--limit", "1", env=env)  # creates and migrates the database
    pristine = base / f"pristine-{size}.db"
    shutil.copyfile(db, pristine)

    def first_plan(environment=env):
        restore(db, pristine)
        return cli(root, "plan", env=environment)[:3]

    full_env = {**env, "SVCBENCH_NO_FAST_PATH": "1"}
    # as right after editing the config: neither it nor the public holidays cached
    cold_env = {**full_env, "SVCBENCH_CACHE_DIR": "off"}
    first = median_of(max(1, min(3, runs)) if size == 60000 else 1, first_plan)
    alone = median_of(max(1, min(3, runs)) if size == 60000 else 1,
                      lambda: first_plan({**env, "SVCBENCH_PLAN_WORKERS": "1"}))
    first_cold = median_of(1, lambda: first_plan(cold_env))
    planned = count(db, "SELECT count(*) FROM probes")
    cli(root, "tick", "--json", env=env)  # the first tick after a plan runs in full
    replan = median_of(runs, lambda: cli(root, "plan", env=env)[:3])
    replan_full = median_of(runs, lambda: cli(root, "plan", env=full_env)[:3])
    idle = median_of(runs, lambda: cli(root, "tick", "--json", env=env)[:3])
    assert '"fast_path": true' in cli(root, "tick", "--json", env=env)[3]
    idle_full = median_of(runs, lambda: cli(root, "tick", "--json", env=full_env)[:3])
    cold = median_of(max(1, runs // 2), lambda: cli(root, "tick", "--json", env=cold_env)[:3])
    assert count(db, "SELECT count(*) FROM probes WHERE status != 'planned'") == 0
    shutil.copyfile(db, base / f"planned-{size}.db")
    sent = []

    def busy_tick():
        restore(db, base / f"planned-{size}.db")
        make_due(db, 50)
        figures = cli(root, "tick", "--json", env=env)[:3]
        sent.append(count(db, "SELECT count(*) FROM probes WHERE status = 'running'"))
        return figures

    busy = median_of(max(1, min(3, runs)), busy_tick)
    sent = min(sent)
    # the split, on the same state again
    restore(db, base / f"planned-{size}.db")
    make_due(db, 50)
    split = busy_tick_split(root, sandbox)
    print(f"\n{size:,} target shape: {planned:,} probes planned "
          f"({count(db, 'SELECT count(DISTINCT company) FROM probes')} companies)")
    rows = [("first plan", first, "< 3 s" + (" for 60,000" if size != 60000 else "")
             + f"; drawn by {usable_cores()} worker processes"),
            ("first plan, one process", alone, "SVCBENCH_PLAN_WORKERS=1"),
            ("first plan, config edited", first_cold,
             "no config or holiday cache: the config validated first"),
            ("re-plan, no change", replan, "< 0.5 s"),
            ("re-plan, full path", replan_full, "fingerprints compared with the config loaded"),
            ("idle tick", idle, "< 0.5 s, < 100 MB"),
            ("idle tick, full path", idle_full, "as while probes are running"),
            ("idle tick, config edited", cold, "full path, no config cache"),
            ("tick, 50 emails due", busy, f"at least {sent} sent through the sandbox SMTP")]
    for name, (wall, rss, cpu), note in rows:
        print(f"  {name:<25} {wall:6.2f} s wall {cpu:6.2f} s CPU {rss:5.0f} MB peak  ({note})")
    mail = split["start 50 (SMTP)"] + split["advance (IMAP collect)"]
    print("  its split in-process: " + ", ".join(
        f"{k} {v:.3f} s" if k != "started" else f"{k} {v}" for k, v in split.items())
        + f"; planning {split['plan'] / split['total']:.0%} of the tick, SMTP + IMAP "
        f"{mail / split['total']:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(SHAPES),
                        choices=sorted(SHAPES))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the workspaces here and keep them")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"tick_scale: {COMPANIES} companies x {PROBES_PER_QUARTER} probes per quarter and "
          f"channel; median of {args.runs} runs (first plan: {max(1, min(3, args.runs))} at "
          "60,000, 1 at 300,000); "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    reference = {}
    for name, command in (("python -c pass", [sys.executable, "-c", "pass"]),
                          ("svcbench --help", [sys.executable, "-m", "svcbench", "--help"])):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        reference[name] = statistics.median(times)
    began = time.process_time()
    sum(i * i for i in range(3_000_000))
    reference["3M-step Python loop (CPU)"] = time.process_time() - began
    print("reference on this machine now: " + ", ".join(
        f"{k} {v:.2f} s" for k, v in reference.items()) + " (svcbench --help: < 0.3 s quiet; "
        "the loop shows how much slower than quiet the CPU figures are)")
    behaviours = [CompanyBehaviour(f"co{i:03d}", ack_after_s=None, human_after_s=None)
                  for i in range(COMPANIES)]
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        with MailSandbox(Path(tmp) / "sandbox", companies=behaviours) as sandbox:
            print(f"mail sandbox: IMAP {type(sandbox.imap).__name__}, SMTP aiosmtpd on 127.0.0.1")
            for size in args.sizes:
                run_size(size, args.runs, base, sandbox)
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
