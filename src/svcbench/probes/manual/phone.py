"""Phone mystery shops, timed by a person with ``svcbench call`` or logged afterwards.

Events (``call.*``): dialed, ivr_prompt, option_pressed {option}, asked_agent, hold_started,
hold_music {playing}, wait_announced {seconds?, text?}, agent_answered, transferred, resolved,
hung_up, note {text}, undo {event_id} (takes back a mistaken key press). The headline
figure is time from dialing to a live agent.
"""

from __future__ import annotations

from ...hours import BusinessCalendar
from ...measure import build, first
from ...models import Channel, Event, Measurement, Outcome, Probe
from ._base import ManualProbe, effective

PHONE_EVENTS = (
    "call.dialed", "call.ivr_prompt", "call.option_pressed", "call.asked_agent",
    "call.hold_started", "call.hold_music", "call.wait_announced", "call.agent_answered",
    "call.transferred", "call.resolved", "call.hung_up", "call.note", "call.undo",
)


def hold_seconds(events: list[Event]) -> float:
    """Time spent on hold: from each hold start to the next agent, transfer end or hang-up."""
    total, held_since = 0.0, None
    for event in sorted(events, key=lambda e: e.at):
        if event.kind == "call.hold_started" and held_since is None:
            held_since = event.at
        elif event.kind in ("call.agent_answered", "call.hung_up") and held_since is not None:
            total += (event.at - held_since).total_seconds()
            held_since = None
    return total


class PhoneProbe(ManualProbe):
    name = "phone"
    channel = Channel.PHONE
    event_kinds = PHONE_EVENTS
    answer_kind = "call.agent_answered"
    give_up_kind = "call.hung_up"

    def measure(self, probe: Probe, events: list[Event], calendar: BusinessCalendar) -> Measurement:
        events = effective(events)
        dialed = first(events, "call.dialed")
        agent = first(events, "call.agent_answered")
        hung_up = first(events, "call.hung_up")
        answered_by_anything = first(
            events, lambda e: e.kind in ("call.ivr_prompt", "call.agent_answered"))
        announced = first(events, "call.wait_announced")
        music = first(events, "call.hold_music")
        outcome = self.outcome(probe, events, probe.finished_at or events[-1].at) if events \
            else Outcome.UNANSWERED
        start = dialed.at if dialed else None
        metrics = {
            "ivr_steps": sum(1 for e in events if e.kind == "call.option_pressed"),
            "asked_for_agent": any(e.kind == "call.asked_agent" for e in events),
            "hold_s": hold_seconds(events),
            "hold_music": bool(music.data.get("playing", True)) if music else None,
            "wait_announced": announced is not None,
            "wait_announced_s": announced.data.get("seconds") if announced else None,
            "transfers": sum(1 for e in events if e.kind == "call.transferred"),
            "resolved": any(e.kind == "call.resolved" for e in events),
        }
        from ..phone.measure import wait_promise  # a stopwatch's announcement is timed too

        metrics.update({k: v for k, v in wait_promise(events).items()
                        if k != "wait_announced_s"})
        if start and hung_up and not agent:
            metrics["abandoned_after_s"] = (hung_up.at - start).total_seconds()
        if start and hung_up:
            metrics["call_length_s"] = (hung_up.at - start).total_seconds()
        return build(
            probe, events, calendar, outcome=outcome or Outcome.UNANSWERED, start=start,
            first_response=answered_by_anything.at if answered_by_anything else None,
            answer=agent.at if agent else None, human=agent is not None, metrics=metrics,
        )
