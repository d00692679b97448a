"""Per-company phone figures beside the ranking: announced wait versus actual wait ("your
wait is about 2 minutes", agent after 7: a promise broken). Pure functions."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from ...models import Measurement


def wait_promise_summary(measurements: Iterable[Measurement],
                         names: dict[str, str] | None = None) -> dict[str, Any] | None:
    """{"calls": n, "companies": [{company, name, calls, kept, broken, announced_median_s,
    actual_median_s, automated}]} over phone measurements whose announced wait was judged
    (a number was announced at a timed instant and an agent came); None when there are none.
    ``automated``: how many of the calls the sip probe made (the rest a person timed)."""
    names = names or {}
    per: dict[str, list[Measurement]] = {}
    for m in measurements:
        if str(m.channel) != "phone" or m.metrics.get("wait_promise_kept") is None:
            continue
        per.setdefault(m.company, []).append(m)
    if not per:
        return None
    rows = []
    for company, calls in sorted(per.items()):
        kept = sum(1 for m in calls if m.metrics["wait_promise_kept"])
        rows.append({
            "company": company, "name": names.get(company, company), "calls": len(calls),
            "kept": kept, "broken": len(calls) - kept,
            "announced_median_s": statistics.median(
                float(m.metrics["wait_announced_s"]) for m in calls),
            "actual_median_s": statistics.median(
                float(m.metrics["wait_after_announcement_s"]) for m in calls),
            "automated": sum(1 for m in calls if m.metrics.get("source") == "sip"),
        })
    return {"calls": sum(r["calls"] for r in rows), "companies": rows}
