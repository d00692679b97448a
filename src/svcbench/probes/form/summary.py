"""Per-company web-form findings beside the rankings: the form is all the company offers (no
email address), time to acknowledgement, time to a human reply, and forms that broke on
submission. Pure functions (events and measurements in, numbers out) apart from
:func:`load_form_findings`, the one reader. Wording is in ``svcbench.render.wording``."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...models import COUNTED_OUTCOMES, Event, Outcome, format_instant

#: a "form broken" finding: the submission reached the company and the page showed an error
#: (``submission_error``) or no confirmation at all (``no_confirmation``), and no reply came.
#: A refusal before anything was sent (the browser's checks, a field we cannot fill) is our
#: mapping's failure, not the form's, and is not a finding.
BROKEN_KINDS = ("submission_error", "no_confirmation")
#: distinct page texts kept per company (the rest are counted, not quoted)
MAX_WORDS = 3


@dataclass
class FormProbeFacts:
    """What the findings need of one web-form probe of the period."""

    company: str
    outcome: Outcome
    started_at: str
    form_only: bool = False
    #: seconds to the first automatic acknowledgement (clock time), None: none came
    auto_ack_s: float | None = None
    wait_s: float | None = None
    wait_bh_s: float | None = None
    #: :func:`broken_submission` of its events
    broken: dict[str, str] | None = None


def broken_submission(outcome: Outcome | str | None,
                      events: Sequence[Event]) -> dict[str, str] | None:
    """``{"kind", "words", "at"}`` when a failed probe's submission reached the company but the
    page confirmed nothing and no reply came; None otherwise."""
    from ..email import RECEIVED
    from . import SUBMITTED

    if outcome is None or Outcome(outcome) != Outcome.FAILED:
        return None
    submitted = next((e for e in events if e.kind == SUBMITTED), None)
    if submitted is None or submitted.source == "manual" or submitted.data.get("confirmed"):
        return None
    if any(e.kind == RECEIVED for e in events):
        return None  # a reply came: the form worked, the probe failed for another reason
    data = submitted.data
    return {"kind": "submission_error" if data.get("page_error") else "no_confirmation",
            "words": str(data.get("page_words") or data.get("detail") or ""),
            "at": format_instant(submitted.at)}


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def form_findings(probes: Iterable[FormProbeFacts], names: Mapping[str, str] | None = None, *,
                  business_hours: bool = True) -> dict[str, Any] | None:
    """Per company: form only, counted probes, acknowledgements (how many, median time),
    human replies (how many, median time, over the probes that got one) and "form broken"
    (probes, kinds, dates, the page's words). None when there are no form probes."""
    names = names or {}
    per: dict[str, list[FormProbeFacts]] = {}
    for p in probes:
        per.setdefault(p.company, []).append(p)
    if not per:
        return None
    rows = []
    for company, facts in sorted(per.items()):
        counted = [p for p in facts if p.outcome in COUNTED_OUTCOMES]
        acks = [p.auto_ack_s for p in counted if p.auto_ack_s is not None]
        waits = []
        for p in counted:
            wait = p.wait_bh_s if business_hours and p.wait_bh_s is not None else p.wait_s
            if wait is not None and math.isfinite(wait):
                waits.append(wait)
        broken = sorted((p.broken for p in facts if p.broken), key=lambda b: b["at"])
        words: list[str] = []
        for b in broken:
            if b["words"] and b["words"] not in words and len(words) < MAX_WORDS:
                words.append(b["words"])
        rows.append({
            "company": company, "name": names.get(company, company),
            "form_only": any(p.form_only for p in facts), "probes": len(facts),
            "counted": len(counted), "acknowledged": len(acks),
            "ack_median_s": _median(acks), "human_replies": len(waits),
            "human_median_s": _median(waits),
            "broken": {"probes": len(broken),
                       "kinds": {k: sum(b["kind"] == k for b in broken) for k in BROKEN_KINDS
                                 if any(b["kind"] == k for b in broken)},
                       "dates": sorted({b["at"][:10] for b in broken}), "words": words}
            if broken else None,
        })
    return {"business_hours": business_hours, "companies": rows,
            "form_only": sum(r["form_only"] for r in rows),
            "broken": sum(r["broken"]["probes"] for r in rows if r["broken"])}


def load_form_findings(store: Any, period: str, names: Mapping[str, str], *,
                       companies: set[str] | None = None, business_hours: bool = True,
                       include_simulated: bool = False) -> dict[str, Any] | None:
    """:func:`form_findings` for the form probes of ``period`` (a quarter or a month);
    simulated ones only with ``include_simulated``, as in the rankings."""
    import json

    from ...periods import is_month

    column = "month" if is_month(period) else "quarter"
    facts = []
    # the form-only mark: the measurement's flag, or the probe's own record of it (a failed
    # probe's measurement carries no flags)
    for probe_id, company, outcome, started, wait_s, wait_bh_s, metrics, flags, state in \
            store.conn.execute(
                "SELECT m.probe_id, m.company, m.outcome, m.started_at, m.wait_s, m.wait_bh_s, "
                "m.metrics, m.flags, p.state FROM measurements m LEFT JOIN probes p ON p.id = "
                f"m.probe_id WHERE m.channel = 'form' AND m.{column} = ? AND (? OR "
                "COALESCE(m.source, 'live') <> 'simulated') ORDER BY m.started_at, m.probe_id",
                (period, include_simulated)):
        if companies and company not in companies:
            continue
        metrics = json.loads(metrics or "{}")
        broken = (broken_submission(outcome, store.events(probe_id))
                  if outcome == str(Outcome.FAILED) else None)
        facts.append(FormProbeFacts(
            company=company, outcome=Outcome(outcome), started_at=started,
            form_only="form_only" in json.loads(flags or "[]")
            or bool(json.loads(state or "{}").get("form_only")),
            auto_ack_s=metrics.get("auto_ack_s"), wait_s=wait_s, wait_bh_s=wait_bh_s,
            broken=broken))
    return form_findings(facts, names, business_hours=business_hours)


def form_only_companies(conn: Any, quarters: Sequence[str]) -> set[tuple[str, str]]:
    """(quarter, company) pairs with web-form probes flagged ``form_only`` (the company's
    config had no email channel when the probe ran): the candidates for
    :func:`svcbench.rank.merge_form_into_email`."""
    if not quarters:
        return set()
    marks = ", ".join("?" for _ in quarters)
    return {(q, c) for q, c in conn.execute(
        f"SELECT DISTINCT quarter, company FROM measurements WHERE channel = 'form' AND "
        f"quarter IN ({marks}) AND flags LIKE '%\"form_only\"%'", list(quarters))}
