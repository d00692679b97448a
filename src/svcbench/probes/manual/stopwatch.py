"""The phone stopwatch's logic, without a terminal: keys in, ``call.*`` events out.

``svcbench call`` reads single key presses and feeds them to a :class:`CallStopwatch`; the
stopwatch decides which event a key means, asks for a detail when one is needed (which digit,
how many seconds, the note's text) and keeps the log shown on screen. Times come from a
monotonic clock anchored to the wall clock at dialing, so a clock adjustment during the call
cannot distort a duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ...models import Event, utcnow
from ._base import effective

#: key -> (event kind, label shown in the legend)
KEYS: dict[str, tuple[str, str]] = {
    "i": ("call.ivr_prompt", "IVR prompt"),
    "o": ("call.option_pressed", "option pressed"),
    "0": ("call.asked_agent", "pressed 0 / asked for agent"),
    "h": ("call.hold_started", "on hold"),
    "m": ("call.hold_music", "hold music y/n"),
    "w": ("call.wait_announced", "wait announced"),
    "a": ("call.agent_answered", "live agent answered"),
    "t": ("call.transferred", "transferred"),
    "r": ("call.resolved", "resolved"),
    "x": ("call.hung_up", "hang up (ends call)"),
    "n": ("call.note", "note"),
}
#: keys that are not events
COMMAND_KEYS = {"u": "undo last", "q": "quit (cancel call)"}
DIAL_KEYS = ("d", " ")

#: what each prompt asks, and which event kind gets the answer
PROMPTS = {
    "call.option_pressed": "Which option? (digit, * or #; Esc cancels)",
    "call.hold_music": "Hold music playing? (y/n; Esc cancels)",
    "call.wait_announced": "Announced wait? (90, 90s, 5m, 1:30 then Enter; Enter alone = not "
                           "said; Esc cancels) ",
    "call.note": "Note (Enter saves, Esc cancels): ",
    "quit": "Quit without hanging up? The call is kept as cancelled. (y/n)",
}

LABELS = {kind: label for kind, label in KEYS.values()} | {"call.dialed": "dialed"}

ESCAPE = "\x1b"
ENTER = ("\r", "\n")
BACKSPACE = ("\x7f", "\x08")


@dataclass
class Pending:
    """A key that needs a detail before it becomes an event; ``at`` is when it was pressed."""

    kind: str
    at: datetime
    buffer: str = ""


@dataclass
class CallStopwatch:
    """State of one call being timed. ``press`` returns the events to store right away."""

    probe_id: str
    wall: Callable[[], datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic
    events: list[Event] = field(default_factory=list)
    pending: Pending | None = None
    dialed_at: datetime | None = None
    finished: str | None = None  # "hung_up" or "quit"
    message: str = ""
    _anchor: tuple[datetime, float] | None = None

    # -- clock --------------------------------------------------------------------------

    def now(self) -> datetime:
        if self._anchor is None:
            return self.wall()
        wall, mono = self._anchor
        return wall + timedelta(seconds=self.monotonic() - mono)

    def elapsed(self, at: datetime | None = None) -> float:
        if self.dialed_at is None:
            return 0.0
        return ((at or self.now()) - self.dialed_at).total_seconds()

    # -- state derived from the events ----------------------------------------------------

    def live_events(self) -> list[Event]:
        return effective(self.events)

    def has(self, kind: str) -> bool:
        return any(e.kind == kind for e in self.live_events())

    def status(self) -> str:
        """One word for the screen: what the caller is doing now."""
        if self.dialed_at is None:
            return "ready"
        if self.finished:
            return "ended"
        last_state = "ringing"
        for event in self.live_events():
            if event.kind == "call.ivr_prompt" or event.kind == "call.option_pressed":
                last_state = "IVR"
            elif event.kind == "call.hold_started":
                last_state = "on hold"
            elif event.kind in ("call.agent_answered", "call.transferred"):
                last_state = "with agent" if event.kind == "call.agent_answered" else "transferred"
        return last_state

    # -- keys ---------------------------------------------------------------------------

    def dial(self) -> list[Event]:
        at = self.wall()
        self._anchor = (at, self.monotonic())
        self.dialed_at = at
        return self._add("call.dialed", at, {"clock": "local"})

    def press(self, key: str) -> list[Event]:
        """Handle one key; returns the new events (to store immediately)."""
        self.message = ""
        if self.finished:
            return []
        if self.pending is not None:
            return self._answer(key)
        if self.dialed_at is None:
            if key in DIAL_KEYS:
                return self.dial()
            if key == "q":
                self.finished = "quit"
            return []
        at = self.now()
        if key == "u":
            return self._undo(at)
        if key == "q":
            self.pending = Pending("quit", at)
            return []
        if key not in KEYS:
            return []
        kind = KEYS[key][0]
        if kind in PROMPTS:
            self.pending = Pending(kind, at)
            return []
        if kind == "call.agent_answered" and self.has(kind):
            self.message = "agent already marked as answered (t marks a transfer)"
            return []
        events = self._add(kind, at)
        if kind == "call.hung_up":
            self.finished = "hung_up"
        return events

    def prompt(self) -> str | None:
        if self.pending is None:
            return None
        return PROMPTS[self.pending.kind] + self.pending.buffer

    def _answer(self, key: str) -> list[Event]:
        pending = self.pending
        assert pending is not None
        if key == ESCAPE:
            self.pending = None
            return []
        if pending.kind == "call.option_pressed":
            if key in "0123456789*#" and len(key) == 1:
                self.pending = None
                return self._add(pending.kind, pending.at, {"option": key})
            return []
        if pending.kind in ("call.hold_music", "quit"):
            if key.lower() not in ("y", "n"):
                return []
            self.pending = None
            if pending.kind == "quit":
                if key.lower() == "y":
                    self.finished = "quit"
                return []
            return self._add(pending.kind, pending.at, {"playing": key.lower() == "y"})
        if key in BACKSPACE:
            pending.buffer = pending.buffer[:-1]
            return []
        if key in ENTER:
            self.pending = None
            if pending.kind == "call.wait_announced":
                data = {}
                if pending.buffer.strip():
                    from ...manual_log import EntryError, parse_seconds

                    try:
                        data = {"seconds": round(parse_seconds(pending.buffer, "wait"))}
                    except EntryError:
                        # keep asking, with what was typed, instead of guessing a unit
                        self.pending = pending
                        self.message = (f"{pending.buffer!r} is not a duration: type 90, 90s, "
                                        "5m or 1:30")
                        return []
                return self._add(pending.kind, pending.at, data)
            text = pending.buffer.strip()
            return self._add(pending.kind, pending.at, {"text": text}) if text else []
        if pending.kind == "call.wait_announced":
            if (key.isdigit() or key in "hms:. ") and len(pending.buffer) < 12:
                pending.buffer += key
            return []
        if key.isprintable() and len(pending.buffer) < 500:
            pending.buffer += key
        return []

    def _undo(self, at: datetime) -> list[Event]:
        live = [e for e in self.live_events() if e.kind != "call.dialed"]
        if not live:
            self.message = "nothing to undo"
            return []
        target = live[-1]
        self.message = f"undid: {LABELS.get(target.kind, target.kind)}"
        return self._add("call.undo", at, {"event_id": target.id, "kind": target.kind})

    def _add(self, kind: str, at: datetime, data: dict | None = None) -> list[Event]:
        event = Event(probe_id=self.probe_id, kind=kind, at=at, data=data or {}, source="manual")
        self.events.append(event)
        return [event]


def describe(event: Event) -> str:
    """A short human description of an event for the on-screen log."""
    label = LABELS.get(event.kind, event.kind)
    data = event.data
    if event.kind == "call.option_pressed":
        return f"{label}: {data.get('option')}"
    if event.kind == "call.hold_music":
        return "hold music: " + ("yes" if data.get("playing") else "no")
    if event.kind == "call.wait_announced":
        return f"{label}: {data['seconds']} s" if "seconds" in data else label
    if event.kind == "call.note":
        return f"note: {data.get('text', '')}"
    return label
