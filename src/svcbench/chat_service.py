"""Chat service findings beside the rankings: availability during posted hours (from
availability checks) and queue promises kept or broken (from chat measurements).

The summaries are pure functions of plain rows; ``chat_service_findings`` is the one reader.
Every figure carries its sample size and where it came from.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class AvailabilityRow:
    company: str
    name: str
    #: checks during posted hours that could tell (online + offline)
    checks: int
    online: int
    offline: int
    #: checks that could not tell (our side): excluded from the share
    unknown: int
    #: checks that happened outside posted hours: not part of the share
    outside_hours: int
    share_available: float | None
    source: str = "scheduled availability checks during posted hours"


@dataclass(frozen=True)
class PromiseRow:
    company: str
    name: str
    chats: int  # counted chat probes in the quarter
    with_promise: int  # chats that announced a wait or a queue position
    kept: int
    broken: int
    open: int  # promises we could not judge (stopped watching in time)
    share_kept: float | None
    source: str = "queue announcements in chat probes, compared with the wait to an agent"


def availability_summary(checks: Iterable[tuple[str, str, bool]],
                         names: Mapping[str, str] | None = None) -> list[AvailabilityRow]:
    """Per company from (company, state, during posted hours) of each finished check."""
    names = names or {}
    counts: dict[str, dict[str, int]] = {}
    for company, state, in_hours in checks:
        c = counts.setdefault(company, {"online": 0, "offline": 0, "unknown": 0, "outside": 0})
        if not in_hours:
            c["outside"] += 1
        elif state in ("online", "offline"):
            c[state] += 1
        else:
            c["unknown"] += 1
    rows = []
    for company, c in sorted(counts.items()):
        n = c["online"] + c["offline"]
        rows.append(AvailabilityRow(
            company=company, name=names.get(company, company), checks=n, online=c["online"],
            offline=c["offline"], unknown=c["unknown"], outside_hours=c["outside"],
            share_available=c["online"] / n if n else None))
    return rows


def promise_summary(chats: Iterable[tuple[str, Mapping[str, Any]]],
                    names: Mapping[str, str] | None = None) -> list[PromiseRow]:
    """Per company from (company, metrics) of each counted chat measurement."""
    names = names or {}
    counts: dict[str, dict[str, int]] = {}
    for company, metrics in chats:
        c = counts.setdefault(company, {"chats": 0, "with": 0, "kept": 0, "broken": 0,
                                        "open": 0})
        c["chats"] += 1
        promises = metrics.get("promises") or []
        if promises:
            c["with"] += 1
        for p in promises:
            verdict = p.get("verdict")
            if verdict in ("kept", "broken", "open"):
                c[verdict] += 1
    rows = []
    for company, c in sorted(counts.items()):
        judged = c["kept"] + c["broken"]
        if not c["with"]:
            continue
        rows.append(PromiseRow(
            company=company, name=names.get(company, company), chats=c["chats"],
            with_promise=c["with"], kept=c["kept"], broken=c["broken"], open=c["open"],
            share_kept=c["kept"] / judged if judged else None))
    return rows


def chat_service_findings(conn: sqlite3.Connection, quarter: str,
                          names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Both summaries for one quarter, as plain dicts (for the report renderers)."""
    from .models import COUNTED_OUTCOMES, quarter_of
    from .models import parse_instant as instant
    from .planning import AVAILABILITY_PLUGIN

    checks = []
    for company, at, data in conn.execute(
            "SELECT p.company, e.at, e.data FROM probes p JOIN events e ON e.probe_id = p.id "
            "WHERE p.plugin = ? AND p.status = 'done' AND e.kind = 'chat.availability'",
            [AVAILABILITY_PLUGIN]):
        if quarter_of(instant(at)) != quarter:
            continue
        values = json.loads(data)
        checks.append((company, str(values.get("state")), bool(values.get("posted_hours"))))
    counted = sorted(str(o) for o in COUNTED_OUTCOMES)
    chats = [(company, json.loads(metrics or "{}")) for company, metrics in conn.execute(
        f"SELECT company, metrics FROM measurements WHERE channel = 'chat' AND quarter = ? "
        f"AND outcome IN ({', '.join('?' for _ in counted)})", [quarter, *counted])]
    return {
        "availability": [asdict(r) for r in availability_summary(checks, names)],
        "promises": [asdict(r) for r in promise_summary(chats, names)],
    }
