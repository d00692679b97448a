"""A person in the loop: replies the classifier was unsure about, and a person's verdicts.

A verdict is stored as an event (``email.reviewed``, naming the ``email.received`` event it
overrides); the received event itself is never changed, so the classifier's view and the
person's stay side by side. Everything that reads replies goes through `effective_replies`,
which applies the latest verdict per reply; after a verdict the probe's outcome and
measurement are derived again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...models import Event, Probe, ProbeStatus, utcnow

if TYPE_CHECKING:
    from ...config import Config
    from ...store import Store

RECEIVED = "email.received"
REVIEWED = "email.reviewed"
KINDS = ("human", "auto_ack", "out_of_office", "auto_other", "bounce")
_NS = uuid.UUID("5f0e1c7a-3b9d-4e55-8a21-0c6d2b7e9f13")


def effective_replies(events: list[Event]) -> list[Event]:
    """The probe's received replies in arrival order, each with the kind a person gave it
    (if any): ``data["kind"]`` replaced, ``data["reviewed"]`` set, the original kept as
    ``data["classified_as"]``."""
    verdicts: dict[str, Event] = {}
    for e in events:
        if e.kind == REVIEWED and e.data.get("reviews"):
            verdicts[e.data["reviews"]] = e  # events come in time order: the last one wins
    out = []
    for e in sorted((e for e in events if e.kind == RECEIVED), key=lambda e: e.at):
        verdict = verdicts.get(e.id)
        if verdict is not None:
            data = {**e.data, "kind": verdict.data["kind"], "reviewed": True,
                    "classified_as": e.data.get("kind"), "review": False}
            e = Event(probe_id=e.probe_id, kind=e.kind, at=e.at, data=data, source=e.source,
                      id=e.id)
        out.append(e)
    return out


@dataclass
class ReviewItem:
    probe: Probe
    event: Event  # the received reply, with any earlier verdict applied
    message: dict[str, Any] | None  # the stored message (text, headers), if found


def pending(store: Store, *, include_reviewed: bool = False,
            everything: bool = False) -> list[ReviewItem]:
    """Replies flagged for review (low confidence, wording-only automatic, very short...)
    that no person has judged yet, oldest first."""
    from ...models import Channel

    items = []
    # web-form probes are answered by email and classified the same way
    for probe in [p for ch in (Channel.EMAIL, Channel.FORM) for p in store.probes(channel=ch)]:
        events = store.events(probe.id)
        replies = effective_replies(events)
        flagged = [e for e in replies if everything or
                   (e.data.get("review") and not e.data.get("reviewed")) or
                   (include_reviewed and e.data.get("reviewed"))]
        if not flagged:
            continue
        messages = store.messages(probe.id)
        for event in flagged:
            items.append(ReviewItem(probe, event, _message_for(event, messages)))
    return sorted(items, key=lambda i: i.event.at)


def _message_for(event: Event, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    key = event.data.get("dedupe_key")
    for m in messages:
        if m["direction"] == "in" and (
                (key and m.get("dedupe_key") == key)
                or (not key and m["at"] == event.at
                    and (m.get("subject") or "")[:300] == (event.data.get("subject") or ""))):
            return m
    return None


def record_verdict(store: Store, config: Config | None, item: ReviewItem, kind: str, *,
                   note: str | None = None, now: datetime | None = None) -> Event:
    """Store a person's verdict on one reply and derive the probe's outcome and
    measurement again. Returns the verdict event."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    now = now or utcnow()
    previous = item.event.data.get("classified_as", item.event.data.get("kind"))
    verdict = Event(
        probe_id=item.probe.id, kind=REVIEWED, at=now, source="manual",
        id=str(uuid.uuid5(_NS, f"{item.event.id}|{kind}|{now.isoformat()}")),
        data={"reviews": item.event.id, "kind": kind, "classified_as": previous,
              "by": "person", **({"note": note} if note else {})})
    with store.transaction():
        store.add_events([verdict])
        rederive(store, config, item.probe.id, now=now)
    return verdict


def rederive(store: Store, config: Config | None, probe_id: str, *,
             now: datetime | None = None) -> None:
    """A finished probe's outcome and measurement from its events as they are now."""
    from ...lifecycle import measure_probe
    from ...plugins import probe_plugin

    probe = store.get_probe(probe_id)
    if probe is None or probe.status != ProbeStatus.DONE:
        return  # a running probe is concluded by the next tick, verdict included
    events = store.events(probe.id)
    plugin = probe_plugin(probe.plugin)
    at = max(now or utcnow(), probe.deadline_at or probe.finished_at or utcnow())
    outcome = plugin.outcome(probe, events, at)
    if outcome is None:
        # the verdict took away what concluded it (e.g. the only "human" reply was automatic)
        # and nothing concludes it yet: running again, so the next tick decides, never a stale
        # outcome
        store.reopen_probe(probe.id)
        return
    if outcome != probe.outcome:
        reason = plugin.outcome_reason(probe, events)
        store.update_probe(probe.id, outcome=outcome, outcome_reason=reason)
        probe.outcome, probe.outcome_reason = outcome, reason
    store.save_measurement(measure_probe(probe, events, config))
