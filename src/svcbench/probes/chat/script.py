"""The chat scenario runner: one conversation through any connector, phase by phase.

Phases, each bounded by its own timeout from the scenario's ``ChatScript``:

1. connect (``connect_timeout_s``);
2. greeting: wait until the chat is quiet for ``greeting_wait_s`` (capped at
   ``connect_timeout_s``): greetings and proactive messages are not replies;
3. ask: send the question; t0 is our message's echo when the connector pushes events
   (``realtime``), else the instant ``send()`` returned;
4. wait for the first reply (``first_reply_timeout_s``) and the first human reply
   (``human_timeout_s``, both from t0); after ``ask_human_after_bot_turns`` bot turns
   (0 = never) send ``ask_human_text`` once;
5. optional follow-up, waiting ``follow_up_timeout_s`` for the agent's answer;
6. say goodbye (``close_text``) and close the session (always, bounded).

Outcome: a human (agent) message after t0 -> answered. The chat offline when opened (the
connector raises ChatUnavailableError) -> unavailable (cancelled outside posted hours). A realtime
connector that never showed our own question in the conversation and saw no reply -> failed
("could not observe the conversation"), never unanswered: we cannot tell a silent company
from our own blindness. Otherwise: a failure on our side or before the question was sent ->
failed; payloads we could not read -> failed (we cannot tell
what the company said); the company dropping the connection or ending the chat with no reply
after we asked -> abandoned (ended with only bot/system replies -> answered_auto_only);
timeout with bot/system replies only -> answered_auto_only; no reply at all -> unanswered.

Queue announcements (structured, or read from system/bot text) are also recorded as
``chat.promise`` events when their value changes, to be compared with the actual wait.

Pure apart from the connector: events go to the ``on_event`` callback as they happen (the
probe stores them at once, so a killed run is recovered from what was seen) and are returned
in ``ChatRun``. ``chat.sending`` is recorded just before each of our lines goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...config import ChatScript
from ...errors import ProbeError
from ...models import Outcome
from .connector import ChatConnector, ChatUnavailableError, ChatUnreachableError
from .events import Actor, ChatEvent, ChatEventKind

#: extra seconds granted to a connector beyond the timeout it was given, before giving up on it
SLACK_S = 1.0
NOT_OBSERVED = ("could not observe the conversation: our question never appeared in it and "
                "nothing came back (is the connector reading the right conversation?)")
CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RunEvent:
    """One fact of the conversation, becoming a svcbench Event (``kind`` is ``chat.*``)."""

    kind: str
    at: float
    data: dict[str, Any] = field(default_factory=dict)
    raw: Any = None


@dataclass
class ChatRun:
    events: list[RunEvent]
    outcome: Outcome
    reason: str | None = None
    #: nothing answered at all: the probe may be retried later
    unreachable: bool = False
    question_sent: bool = False
    #: the svcbench Events as the probe stored them (set by the chat probe)
    stored: list[Any] = field(default_factory=list)


#: how exactly an event's instant is known, passed through from connectors
_EVIDENCE = ("resolution_s", "time_source", "source")


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


class _Conversation:
    def __init__(self, connector: ChatConnector, script: ChatScript, clock: Callable[[], float],
                 on_event: Callable[[RunEvent], None] | None):
        self.connector = connector
        self.script = script
        self.clock = clock
        self.on_event = on_event
        self.events: list[RunEvent] = []
        self.realtime = bool(getattr(connector, "realtime", True))
        self.connected = False
        self.question_at: float | None = None
        #: our sent messages awaiting their echo: (role, text, instant send() returned)
        self.pending: list[tuple[str, str, float]] = []
        self.got_reply = False
        self.got_human = False
        self.bot_turns = 0
        self.turn_open = False
        self.asked_human = False
        self.follow_up_at: float | None = None
        self.follow_up_answered = False
        self.ended_by_company = False
        self.fatal: dict[str, Any] | None = None
        self.malformed = 0
        self.question_echoed = False
        self.promised: dict[str, Any] = {}

    def record(self, kind: str, at: float, data: dict[str, Any] | None = None,
               raw: Any = None) -> None:
        event = RunEvent(kind=kind, at=at, data=data or {}, raw=raw)
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    @property
    def alive(self) -> bool:
        return self.fatal is None and not self.ended_by_company

    # -- events from the connector --------------------------------------------------------

    async def next(self, timeout_s: float) -> ChatEvent | None:
        try:
            return await asyncio.wait_for(self.connector.next_event(max(0.0, timeout_s)),
                                          max(0.0, timeout_s) + SLACK_S)
        except TimeoutError:
            return None

    def flush_pending(self) -> None:
        """Our messages whose echo did not come: stamped when send() returned."""
        for role, text, sent_at in self.pending:
            self._record_sent(role, text, sent_at, echoed=False)
        self.pending.clear()

    def _record_sent(self, role: str, text: str, at: float, *, echoed: bool,
                     t_server: float | None = None) -> None:
        if role == "question":
            self.question_at = at
            self.question_echoed = echoed
        if role == "follow_up":
            self.follow_up_at = at
        self.record("chat.message", at, {"actor": "visitor", "text": text, "role": role,
                                         "echoed": echoed, "t_server": t_server})

    def handle(self, event: ChatEvent) -> None:
        kind = event.kind
        if kind is ChatEventKind.MESSAGE and event.actor is Actor.VISITOR:
            self._echo(event)
            return
        if self.realtime and self.pending and event.t_local >= min(p[2] for p in self.pending):
            self.flush_pending()   # (a connector may deliver earlier lines late, in order)
        data: dict[str, Any] = {"t_server": event.t_server,
                                **{k: v for k, v in event.data.items() if k in _EVIDENCE}}
        if kind is ChatEventKind.CONNECTED:
            if not self.connected:
                self.connected = True
                self.record("chat.connected", event.t_local, {**event.data,
                                                              "connector": self.connector.name})
        elif kind is ChatEventKind.MESSAGE:
            actor = event.actor or Actor.SYSTEM
            role = "greeting" if self.question_at is None else None
            self.record("chat.message", event.t_local,
                        {"actor": str(actor), "text": event.text, "role": role, **data,
                         **{k: v for k, v in event.data.items() if k == "author"}},
                        raw=event.raw)
            if self.question_at is not None:
                self.got_reply = True
                if actor is Actor.AGENT:
                    self.got_human = True
                    if self.follow_up_at is not None:
                        self.follow_up_answered = True
                elif actor is Actor.BOT and self.turn_open:
                    self.bot_turns += 1
                    self.turn_open = False
            if actor in (Actor.SYSTEM, Actor.BOT):
                self.promise_from_text(event.text, event.t_local)
        elif kind is ChatEventKind.QUEUE_POSITION:
            self.record("chat.queue_position", event.t_local,
                        {"position": event.data.get("position"), **data}, raw=event.raw)
            self.promise("position", event.data.get("position"), event.t_local, "structured")
        elif kind is ChatEventKind.WAIT_ESTIMATE:
            self.record("chat.wait_estimate", event.t_local,
                        {"wait_s": event.data.get("wait_s"), **data}, raw=event.raw)
            self.promise("wait_s", event.data.get("wait_s"), event.t_local, "structured")
        elif kind is ChatEventKind.AGENT_JOINED:
            self.record("chat.agent_joined", event.t_local,
                        {"agent": event.data.get("agent"), **data}, raw=event.raw)
        elif kind is ChatEventKind.CHAT_ENDED:
            self.ended_by_company = True
            self.record("chat.company_ended", event.t_local, data, raw=event.raw)
        elif kind is ChatEventKind.ERROR:
            info = {"reason": event.data.get("reason") or "transport error",
                    "fatal": bool(event.data.get("fatal")),
                    "by_peer": bool(event.data.get("by_peer"))}
            if str(info["reason"]).startswith("malformed"):
                self.malformed += 1
            self.record("chat.error", event.t_local, info,
                        raw=event.raw if isinstance(event.raw, str) else None)
            if info["fatal"]:
                self.fatal = info

    def promise(self, kind: str, value: Any, at: float, source: str,
                text: str | None = None) -> None:
        """A queue announcement is a promise; recorded when its value changes."""
        if value is None or self.got_human or self.promised.get(kind) == value:
            return
        self.promised[kind] = value
        self.record("chat.promise", at, {"kind": kind, "value": value, "source": source,
                                         **({"text": text} if text else {})})

    def promise_from_text(self, text: str | None, at: float) -> None:
        from .phrases import queue_position_in, wait_estimate_in

        self.promise("position", queue_position_in(text), at, "text", text)
        self.promise("wait_s", wait_estimate_in(text), at, "text", text)

    def _echo(self, event: ChatEvent) -> None:
        if not self.pending and self.realtime:
            self.record("chat.message", event.t_local, {"actor": "visitor", "text": event.text,
                                                        "role": "other",
                                                        "t_server": event.t_server})
            return
        if not self.realtime:
            return  # polled echo of a message already recorded when send() returned
        match = next((p for p in self.pending if _norm(p[1]) == _norm(event.text)),
                     self.pending[0])
        self.pending.remove(match)
        role, text, _ = match
        self._record_sent(role, text, event.t_local, echoed=True, t_server=event.t_server)

    # -- our side -------------------------------------------------------------------------

    async def say(self, role: str, text: str) -> None:
        """Send one of our lines; raises ProbeError (incl. timeouts) on failure."""
        # before the irreversible part: a run killed now is known to have (maybe) asked
        self.record("chat.sending", self.clock(), {"role": role, "text": text})
        limit = connect_timeout(self.script, self.connector)
        try:
            await asyncio.wait_for(self.connector.send(text), limit)
        except TimeoutError:
            raise ProbeError(f"sending the {role.replace('_', ' ')} took longer than "
                             f"{limit:g} s") from None
        sent_at = self.clock()
        self.turn_open = True
        if self.realtime:
            self.pending.append((role, text, sent_at))
        else:
            self._record_sent(role, text, sent_at, echoed=False)

    async def drain_until(self, deadline: float, done: Callable[[], bool]) -> None:
        """Handle events until ``done()``, the deadline, or the end of the session."""
        while self.alive and not done():
            remaining = deadline - self.clock()
            if remaining <= 0:
                return
            event = await self.next(remaining)
            if event is not None:
                self.handle(event)
                await self.maybe_ask_human()

    async def maybe_ask_human(self) -> None:
        wanted = self.script.ask_human_after_bot_turns
        if (wanted and not self.asked_human and not self.got_human and self.alive
                and self.question_at is not None and self.bot_turns >= wanted):
            self.asked_human = True
            await self.say("ask_human", self.script.ask_human_text)
            self.record("chat.asked_human", self.clock(),
                        {"text": self.script.ask_human_text, "after_bot_turns": self.bot_turns})

    def outcome(self) -> tuple[Outcome, str | None]:
        if self.got_human:
            return Outcome.ANSWERED, None
        if self.malformed:
            return Outcome.FAILED, (f"could not read {self.malformed} payload(s) from the "
                                    f"platform" + (f": {self.fatal['reason']}" if self.fatal
                                                   else ""))
        if self.fatal is not None:
            if self.fatal["by_peer"]:
                return Outcome.ABANDONED, f"the company dropped the chat: {self.fatal['reason']}"
            return Outcome.FAILED, str(self.fatal["reason"])
        if self.ended_by_company:
            if self.got_reply:
                return Outcome.ANSWERED_AUTO_ONLY, "the company ended the chat without a human"
            return Outcome.ABANDONED, "the company ended the chat without replying"
        if self.got_reply:
            return Outcome.ANSWERED_AUTO_ONLY, "no human replied in time"
        if self.realtime and not self.question_echoed:
            return Outcome.FAILED, NOT_OBSERVED
        return Outcome.UNANSWERED, "no reply in time"


async def run_chat(connector: ChatConnector, script: ChatScript, question: str, *,
                   clock: Callable[[], float],
                   on_event: Callable[[RunEvent], None] | None = None,
                   posted_hours: bool = True) -> ChatRun:
    """Run one conversation; never raises for transport problems, never outlives its timeouts.

    ``posted_hours``: whether the company's posted hours are open now (an offline chat is
    then ``unavailable``; outside them it is expected and ``cancelled``).
    """
    from .phrases import phrases

    phrases()  # compile the phrase lists now, not while events are arriving
    chat = _Conversation(connector, script, clock, on_event)
    outcome, reason, unreachable = Outcome.FAILED, None, False
    try:
        outcome, reason, unreachable = await _converse(chat, question)
    except ChatUnavailableError as exc:  # refused when we asked (the question is in the start)
        chat.flush_pending()
        chat.record("chat.unavailable", clock(), {"reason": str(exc), "source": exc.source},
                    raw=exc.raw)
        outcome, reason = Outcome.UNAVAILABLE, str(exc)
    except ProbeError as exc:
        chat.flush_pending()
        if chat.question_at is None:
            outcome, reason = Outcome.FAILED, str(exc)
        else:
            outcome, reason = chat.outcome()
            if outcome in (Outcome.UNANSWERED, Outcome.ANSWERED_AUTO_ONLY):
                outcome, reason = Outcome.FAILED, str(exc)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connector.close(), CLOSE_TIMEOUT_S)
    if outcome is Outcome.UNAVAILABLE and not posted_hours:
        outcome, reason = Outcome.CANCELLED, f"outside posted hours: {reason}"
    by = "company" if chat.ended_by_company or (chat.fatal or {}).get("by_peer") else "us"
    chat.record("chat.ended", clock(), {"by": by, "outcome": str(outcome), "reason": reason,
                                        "bot_turns": chat.bot_turns})
    return ChatRun(events=chat.events, outcome=outcome, reason=reason, unreachable=unreachable,
                   question_sent=chat.question_at is not None)


def connect_timeout(script: ChatScript, connector: ChatConnector) -> float:
    """The scenario's connect timeout, never shorter than the connector's own budget for
    opening (its request, launch and page timeouts), so the error a user sees names the real
    cause rather than a shorter outer timeout."""
    budget = getattr(connector, "open_budget_s", None)
    if budget is None:  # a connector that only declares its own open timeout (browser)
        budget = getattr(getattr(connector, "options", None), "open_timeout_s", None)
    return max(script.connect_timeout_s, float(budget) + SLACK_S if budget else 0.0)


async def _converse(chat: _Conversation, question: str) -> tuple[Outcome, str | None, bool]:
    script, clock = chat.script, chat.clock
    opened_at = clock()
    limit = connect_timeout(script, chat.connector)
    try:
        await asyncio.wait_for(chat.connector.open(), limit)
    except TimeoutError:
        phase = getattr(chat.connector, "phase", None)
        return Outcome.FAILED, (f"could not connect within {limit:g} s"
                                + (f" (still waiting for: {phase})" if phase else "")), True
    except ChatUnavailableError as exc:
        chat.record("chat.unavailable", clock(), {"reason": str(exc), "source": exc.source},
                    raw=exc.raw)
        return Outcome.UNAVAILABLE, str(exc), False
    except ChatUnreachableError as exc:
        return Outcome.FAILED, str(exc), True
    except ProbeError as exc:
        return Outcome.FAILED, str(exc), False
    opened_at = clock()

    # greeting: wait for a quiet moment; nothing said before our question is a reply
    if script.greeting_wait_s > 0:
        cap = opened_at + max(script.connect_timeout_s, script.greeting_wait_s)
        while chat.alive and clock() < cap:
            event = await chat.next(min(script.greeting_wait_s, cap - clock()))
            if event is None:
                break
            chat.handle(event)
    else:  # take what is already queued (the CONNECTED event, an instant greeting)
        while chat.alive and (event := await chat.next(0.05)) is not None:
            chat.handle(event)
    if not chat.connected:
        chat.connected = True
        chat.record("chat.connected", opened_at, {"connector": chat.connector.name})
    if not chat.alive:
        why = chat.fatal["reason"] if chat.fatal else "the chat ended before the question"
        return Outcome.FAILED, f"before the question was sent: {why}", False

    await chat.say("question", question)
    sent_at = clock()
    first_deadline = sent_at + script.first_reply_timeout_s
    human_deadline = sent_at + script.human_timeout_s
    await chat.maybe_ask_human()
    await chat.drain_until(min(first_deadline, human_deadline), lambda: chat.got_reply)
    if chat.got_reply:
        await chat.drain_until(human_deadline, lambda: chat.got_human)
    # what already arrived with the human reply (one poll can bring the join and the reply)
    while chat.alive and (event := await chat.next(0.02)) is not None:
        chat.handle(event)
    chat.flush_pending()

    if chat.got_human and script.follow_up and chat.alive:
        await chat.say("follow_up", script.follow_up)
        await chat.drain_until(clock() + script.follow_up_timeout_s,
                               lambda: chat.follow_up_answered)
        chat.flush_pending()
        chat.record("chat.follow_up_answered" if chat.follow_up_answered
                    else "chat.follow_up_unanswered", clock(), {})

    if script.close_text and chat.alive:
        with contextlib.suppress(ProbeError):
            await chat.say("close", script.close_text)
            # a moment for the goodbye's echo, so the transcript has it
            await chat.drain_until(clock() + (0.5 if chat.realtime else 0.0),
                                   lambda: not chat.pending)
        chat.flush_pending()
    outcome, reason = chat.outcome()
    return outcome, reason, False
