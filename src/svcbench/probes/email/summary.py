"""Per-company email figures beside the rankings: replies a person reviewed, and whether
companies kept the reply times their acknowledgements promised. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...models import Measurement


def reply_summary(measurements: Iterable[Measurement],
                  names: dict[str, str] | None = None) -> dict[str, Any]:
    """{"reviewed_by_person": n, "probes": n, "promises": [{company, promised, kept, missed,
    open, kept_share}]} for email measurements (others are ignored)."""
    names = names or {}
    reviewed = probes = 0
    per: dict[str, dict[str, int]] = {}
    for m in measurements:
        if str(m.channel) != "email":
            continue
        probes += 1
        reviewed += int(m.metrics.get("reviewed_by_person") or 0)
        if not m.metrics.get("promise"):
            continue
        row = per.setdefault(m.company, {"promised": 0, "kept": 0, "missed": 0, "open": 0})
        row["promised"] += 1
        kept = m.metrics.get("promise_kept")
        row["kept" if kept is True else "missed" if kept is False else "open"] += 1
    promises = []
    for company, row in sorted(per.items()):
        decided = row["kept"] + row["missed"]
        promises.append({"company": company, "company_name": names.get(company, company), **row,
                         "kept_share": round(row["kept"] / decided, 3) if decided else None})
    return {"probes": probes, "reviewed_by_person": reviewed, "promises": promises}
