"""What a durable claim costs: claiming probes (planned -> starting) with the WAL fsync'd at
each commit (``synchronous = FULL``, what tick does) against the cheaper NORMAL.

Measured on the temporary directory's filesystem and, as root, on a fresh ext4 loop device
(a real journal, no tmpfs shortcut).

    .venv/bin/python bench/durable_claim.py [--claims 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from loopfs import LoopFS, loop_unavailable  # noqa: E402
from svcbench.models import Channel, Probe, ProbeStatus, utcnow  # noqa: E402
from svcbench.store import Store  # noqa: E402


def claims_per_second(directory: Path, n: int, durable: bool) -> float:
    path = directory / f"claims-{durable}.db"
    store = Store(path)
    now = utcnow()
    with store.transaction():
        for i in range(n):
            store.add_probe(Probe(id=f"p{i:05d}", company="acme", channel=Channel.EMAIL,
                                  plugin="email", due_at=now, deadline_at=now + timedelta(1)))
    started = time.perf_counter()
    for i in range(n):
        assert store.update_probe(f"p{i:05d}", expect_status=ProbeStatus.PLANNED,
                                  status=ProbeStatus.STARTING, attempts=1,
                                  state={"claimed_at": now.isoformat(), "claimed_by": 1},
                                  durable=durable)
    elapsed = time.perf_counter() - started
    store.close()
    return n / elapsed


def report(where: str, directory: Path, n: int) -> None:
    normal = claims_per_second(directory, n, durable=False)
    full = claims_per_second(directory, n, durable=True)
    print(f"{where:<28} NORMAL {normal:8.0f} claims/s ({1000 / normal:6.3f} ms each)   "
          f"FULL {full:8.0f} claims/s ({1000 / full:6.3f} ms each)   "
          f"cost {1000 / full - 1000 / normal:+.3f} ms per claim")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=500)
    args = parser.parse_args()
    import sqlite3

    print(f"{args.claims} claims, one transaction each (SQLite {sqlite3.sqlite_version})")
    with tempfile.TemporaryDirectory() as tmp:
        report(f"tmp dir ({tempfile.gettempdir()})", Path(tmp), args.claims)
        why = loop_unavailable()
        if why:
            print(f"ext4 loop device: skipped ({why})")
            return
        with LoopFS(Path(tmp) / "disk.img", size_mb=64) as fs:
            report("ext4 on a loop device", fs.mount, args.claims)


if __name__ == "__main__":
    main()
