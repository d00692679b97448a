"""Moving probes through their lifecycle in the store: record, finish, measure, recompute.

This is the I/O edge between plugins (which return events) and the store (which keeps them);
the CLI, the manual channels and ``tick`` all go through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from .config import Config
from .measure import failed_measurement
from .models import (
    COUNTED_OUTCOMES,
    Channel,
    Event,
    Measurement,
    Outcome,
    Probe,
    ProbeStatus,
    utcnow,
)
from .plugins import probe_plugin
from .store import Store


def measure_probe(probe: Probe, events: list[Event], config: Config | None) -> Measurement:
    """Measurement for a finished probe (pure apart from looking up the company calendar)."""
    from .hours import BusinessCalendar

    calendar = BusinessCalendar()
    if config is not None and probe.company in config.companies:
        calendar = config.companies[probe.company].calendar()
    if probe.outcome is not None and probe.outcome not in COUNTED_OUTCOMES:
        return failed_measurement(probe, probe.outcome_reason, calendar.timezone)
    return probe_plugin(probe.plugin).measure(probe, events, calendar)


def finish_probe(store: Store, probe: Probe, outcome: Outcome, *, config: Config | None,
                 reason: str | None = None, events: Sequence[Event] = (),
                 at: datetime | None = None) -> Measurement | None:
    """Mark a probe done with its outcome, store final events and its measurement."""
    probe.status, probe.outcome, probe.outcome_reason = ProbeStatus.DONE, outcome, reason
    probe.finished_at = at or utcnow()
    with store.transaction():
        store.update_probe(probe.id, events=events, status=ProbeStatus.DONE, outcome=outcome,
                           outcome_reason=reason, finished_at=probe.finished_at)
        if not _measured(probe):
            return None
        measurement = measure_probe(probe, store.events(probe.id), config)
        store.save_measurement(measurement)
        if config is not None and probe.scenario in config.scenarios:
            grade_probe(store, probe, config)
    return measurement


def _measured(probe: Probe) -> bool:
    from .plugins import PROBES_GROUP, available

    return probe.plugin not in available(PROBES_GROUP) or probe_plugin(probe.plugin).measured


TRANSCRIPT_CHANNELS = frozenset({Channel.EMAIL, Channel.FORM, Channel.CHAT})


def grade_probe(store: Store, probe: Probe, config: Config) -> None:
    """Grade by answer key (svcbench.grading) and apply the scenario's older regex checks."""
    from .grading.store import grade_by_key

    if probe.outcome in COUNTED_OUTCOMES:
        grade_by_key(store, config, probe)
    scenario = config.scenarios[probe.scenario]
    # phone calls, returns and deliveries keep no transcript: nothing to check against
    if not scenario.checks or probe.channel not in TRANSCRIPT_CHANNELS:
        return
    replies = [m["text"] or "" for m in store.messages(probe.id)
               if m["direction"] == "in" and m["actor"] in ("human", "agent")]
    text = "\n".join(replies)
    for check in scenario.checks:
        hit = re.search(check.pattern, text)
        store.save_grade(probe.id, check.name, bool(hit),
                         hit.group(0)[:200] if hit else ("no human reply" if not replies else None))


def recompute(store: Store, config: Config | None,
              probe_ids: Iterable[str] | None = None) -> int:
    """Derive every finished probe's measurement again from its events (after a rule change),
    and its answer-key grade from its replies (after an answer key changed).

    With ``probe_ids`` only those probes (the finished ones among them) are measured again,
    e.g. the probes a database merge brought in.
    """
    from .grading.store import grade_by_key

    count = 0
    if probe_ids is None:
        probes = store.probes(status=ProbeStatus.DONE)
    else:
        found = (store.get_probe(i) for i in sorted(set(probe_ids)))
        probes = [p for p in found if p is not None and p.status == ProbeStatus.DONE]
    from .plugins import PROBES_GROUP, available

    installed = set(available(PROBES_GROUP))
    for probe in probes:
        if probe.plugin not in installed or not probe_plugin(probe.plugin).measured:
            continue  # simulated probes, a plugin no longer installed, or checks
        measurement = measure_probe(probe, store.events(probe.id), config)
        store.save_measurement(measurement)
        if config is not None and probe.scenario in config.scenarios \
                and measurement.outcome in COUNTED_OUTCOMES:
            grade_by_key(store, config, probe)
        count += 1
    return count
