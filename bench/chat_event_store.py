"""What storing chat events as they happen costs: one SQLite transaction per event (the
event row, and a transcript row for messages), as the chat probe does so a run killed
mid-chat is recovered from what was seen. Run: ``.venv/bin/python bench/chat_event_store.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from svcbench.models import Channel, Event, Probe, ProbeStatus, new_id
from svcbench.store import Store

EVENTS = 2000


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        probe = Probe(id=new_id(), company="c", channel=Channel.CHAT, plugin="chat",
                      status=ProbeStatus.STARTING)
        store.add_probe(probe)
        costs = []
        for i in range(EVENTS):
            at = datetime.now(UTC)
            started = time.perf_counter()
            store.add_events([Event(probe.id, "chat.message", at,
                                    {"actor": "agent", "text": f"line {i}", "t_server": 1.0})])
            store.add_message(probe_id=probe.id, channel=Channel.CHAT, direction="in",
                              actor="agent", at=at, text=f"line {i}", data={"role": None},
                              dedupe_key=f"{probe.id}:{i}")
            costs.append(time.perf_counter() - started)
        store.close()
    costs.sort()
    print(f"events stored one at a time: {EVENTS}")
    p50, p99 = costs[len(costs) // 2], costs[int(len(costs) * .99)]
    print(f"per event (event + transcript row): mean {statistics.mean(costs) * 1000:.2f} ms, "
          f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms")
    print("writes run on the probe's event loop: a slow write can delay the stamping of an "
          "event arriving meanwhile by up to that write's time (compare bench/chat_timing.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
