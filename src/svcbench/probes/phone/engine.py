"""One automated call: dial, follow the IVR script, listen, detect hold and the live human.

The engine turns what the SIP stack signals and what the audio stream contains into the
phone stopwatch's events (``call.dialed``, ``call.ivr_prompt``, ``call.option_pressed``,
``call.asked_agent``, ``call.hold_started``, ``call.hold_music``, ``call.wait_announced``,
``call.queue_position``, ``call.agent_answered``, ``call.transferred``, ``call.hung_up``,
``call.undo`` of a hold taken back) plus ``call.ringing``, ``call.connected`` (signalling)
and ``call.detector`` (each decision with kind and confidence, for audit). ``call.failed``
means our side could not place or observe the call.

Live-human rule: speech during hold that is new (its fingerprint matches no earlier segment)
and not a queue announcement is a *candidate*; when it ends we say "Hello?" and confirm only
on new speech that starts within a few seconds after our prompt. Hold music coming back, a
repeat, or no reply means a recording: hold resumes. A person who says a transfer phrase
hands us on: ``call.transferred``, then the next queue and person are heard the same way.
Hold starts at the end of the IVR's last prompt before the queue (docs/phone.md). Every
timer runs on the clock of the audio heard so far (``Listener.now``), not the wall clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import classify, voice
from .listen import LABEL_LAG_S, Change, Listener, Segment
from .recognise import Heard, Recogniser
from .sip import BYTES_PER_SECOND, SipCall, SipError, SipStack

Emit = Callable[[str, float, dict[str, Any]], None]
RING_CYCLE_S = 6.0
HOLD_MIN_S = 1.5
#: after our request, a pause this long before a queue position or wait is the queue's
#: start too: its first message may follow "connecting you" after a breath
QUEUE_WORDS_PAUSE_S = 0.75
#: music after a candidate's speech says "recording" once it lasted this long (shorter
#: "music" inside speech is the classifier mishearing a voice)
MUSIC_RESUMED_S = 3.0  # from the music's onset, which is refined back by up to 0.75 s
#: hold music back for this long means the voice before it was a recording (a short
#: phrase misread as music must not count)
MUSIC_BACK_S = 3.0
#: silence counts as (silent) hold after a "please hold" prompt, or once it lasted this long
SILENT_HOLD_S = 8.0  # North American ring cadence: 2 s on, 4 s off
#: silence after an IVR prompt no phrase of which was recognised: the IVR is waiting for a
#: key (menus wait about 3-10 s for one), so the default digit is tried; shorter than that
#: wait, so the key lands before the menu repeats or the call is routed on
IVR_INPUT_WAIT_S = 2.5
#: a hello said over the end of their speech was heard if this share of it came after: a
#: word said mostly over someone talking is lost to them (and to the line's jitter buffer)
HELLO_HEARD_SHARE = 0.5
#: a company hang-up on a music hold is judged on what the line played this long before it:
#: silent this share of the time, with sounds coming back into the silence, the music had
#: stopped (see CallEngine._music_gone)
HANG_UP_LOOK_S = 30.0
MUSIC_GONE_SILENT_SHARE = 0.5
#: a voice that did not answer our hello, then the company's hang-up: a person who cannot
#: hear us tries again for a while before hanging up (possibly one-way audio, ours); a
#: queue that drops the call right after its message does so sooner (the company's)
ONE_WAY_PATIENCE_S = 5.0
#: in the IVR after our request, a short word alone in the silence (Listener.hear_short)
#: counts this far into the silence: hold music's first notes, 1 s after "connecting", were
#: heard as a word and the hold began after them (fr-transfer, 2 s late); a person who
#: greeted us and heard nothing asks "Hello?" later than that
SHORT_AFTER_REQUEST_S = 3.0


@dataclass(frozen=True)
class Step:
    """One IVR script step: when a prompt with any of ``expect`` is heard, reply."""

    expect: tuple[str, ...] = ()
    dtmf: str | None = None
    say: str | None = None
    timeout_s: float = 60.0


@dataclass(frozen=True)
class CallPlan:
    uri: str
    steps: tuple[Step, ...] = ()
    #: default strategy: press 0 when a menu offers an agent (or anything, after a menu)
    default_digit: str = "0"
    ask_agent_phrase: str = "Representative."
    hello_phrase: str = "Hello?"
    closing_phrase: str = "Thank you, that is all I needed. Goodbye."
    abandon_after_s: float = 600.0
    ring_timeout_s: float = 60.0
    #: people answer "Hello?" within about a second; the rest is room for a slow line (and a
    #: loaded machine in tests)
    reply_window_s: float = 3.0
    record: bool = False
    voice: str = "slt"


@dataclass
class CallResult:
    events: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)
    failed: str | None = None
    recording: np.ndarray | None = None

    def undone(self) -> set[int]:
        """Indices in ``events`` that a later ``call.undo`` took back."""
        return {data["event"] for kind, _, data in self.events if kind == "call.undo"}


class CallEngine:
    def __init__(self, stack: SipStack, plan: CallPlan, *, emit: Emit | None = None,
                 recogniser: Recogniser | None = None):
        self.stack = stack
        self.plan = plan
        self.result = CallResult()
        self._emit_cb = emit
        from .recognise import shared

        self.recogniser = recogniser or shared()
        self.fingerprints: list[np.ndarray] = []
        self.phase = "ivr"  # ivr -> hold -> agent
        self.steps_done: set[int] = set()
        self.pressed: list[str] = []
        self.asked_by_voice = False
        self.menus_heard = 0
        self.hold_music: bool | None = None
        self.candidate: Segment | None = None
        self.hello_end: float | None = None
        #: the end of the first of our hellos still awaiting a reply (speech that begins
        #: after it answers it, even if we said another since)
        self.hello_first_end: float | None = None
        #: when our last "Hello?" began to play (wall clock, as the audio's arrival times)
        self.hello_from = 0.0
        #: the candidate's voice spoke again before our late hello ended: (the candidate,
        #: that speech); the candidate's start stays when the person answered
        self.late_hello: tuple[Segment, Segment] | None = None
        #: (candidate, the candidate before it) where a voice change right after a
        #: candidate made the next piece the candidate; judged again on the reply's audio
        self.changed_from: list[tuple[Segment, Segment]] = []
        #: (candidate, the confirmed person's reply before it) where a voice judged another
        #: after the person's pause made us think we were handed on; judged again when
        #: a reply to our hello gives the new voice more audio
        self.handed_to: tuple[Segment, Segment] | None = None
        #: the end of the last speech read as a queue position or wait (alone or joined
        #: across pauses): a piece before it is the message's, never the person's
        self.announced_until = 0.0
        self.speaking_from = self.speaking_until = 0.0
        self.last_action_at = 0.0
        self.listener: Listener | None = None
        #: start of the run of music / silence after the IVR's last prompt and our last
        #: request (the hold start, once that run turns out to be the queue), and whether
        #: music played in it
        self.quiet_from: float | None = None
        self.quiet_music = False
        #: the quiet run just before a speech segment: (segment, start, music)
        self.quiet_before: tuple[Segment, float, bool] | None = None
        self.last_topics: set[str] = set()
        #: topics of speech that began after our last request ("please hold" before it is
        #: the menu's wording, not the queue's)
        self.heard_since_request: set[str] = set()
        self._timers_at = 0.0
        self.reply: Segment | None = None
        self.reply_delay = 0.0
        self.candidate_topics: set[str] = set()
        self.candidate_phrases: list[str] = []
        self.transfers = 0
        #: music that followed a candidate, not yet long enough to say it resumed
        self.music_after: Segment | None = None
        #: speech that goes on with the candidate after a misheard stretch of "music"
        self.continuation: Segment | None = None
        #: the last speech on hold whose announcement had no number yet (its segment, with
        #: the audio of the pieces before it, and the kinds those pieces announced): a
        #: prompt played from several files ("there are" | "three" | "calls waiting") is cut
        #: at its pauses into segments of its own
        self.unread: tuple[Segment, frozenset[str]] | None = None
        self.done = False
        #: when the first sound (speech or music) was heard after the answer; a line that
        #: stays silent to the end cannot be told from our own audio path failing
        self.first_sound_at: float | None = None
        #: music or a pause right after a confirmed person's reply: (where it began, the
        #: reply); hold music that lasts, or another voice, means the person handed us on
        #: (a transfer), even with no phrase heard
        self.after_person: tuple[float, Segment] | None = None
        #: the confirmed person's reply went on after a pause: (the rest, the reply)
        self.person_speech: tuple[Segment, Segment] | None = None
        #: where a pause in the confirmed person's turn began, if speech followed it
        self.person_pause_at: float | None = None
        #: when we last pressed a key (a key tried into silence keeps the hold's start)
        self.pressed_at = 0.0
        #: a voice we said hello to did not answer, and no hold music came back since: if the
        #: company then hangs up, it may not have heard us (one-way audio): not scorable
        self.unanswered_voice_at: float | None = None
        #: what the line played on hold, all of it (up to QUEUE_MEMORY_S): hold music
        #: heard as speech after a transfer repeats it from anywhere, not only from where
        #: one of our segments began
        self.queue_audio: list[np.ndarray] = []
        self.queue_kept = 0
        #: the first prompt the line played (its greeting or menu): (start, fingerprint)
        self.opening: tuple[float, np.ndarray] | None = None
        #: where in ``result.events`` the last hold's hold_started and hold_music are
        self.hold_events: tuple[int, ...] = ()
        #: speech heard in the IVR before any transfer: (segment, no IVR or queue wording
        #: in it, new): a person who greeted us there, unrecognised, is found again in it
        #: once confirmed (see _greeted_before_hold)
        self.ivr_speech: list[tuple[Segment, bool]] = []
        #: when each of our keys and requests by voice ended
        self.requests_at: list[float] = []
        self.connected_at = 0.0

    def emit(self, kind: str, at: float, **data: Any) -> None:
        self.result.events.append((kind, at, data))
        if self._emit_cb is not None:
            self._emit_cb(kind, at, data)

    def detector(self, at: float, kind: str, confidence: float, **data: Any) -> None:
        self.emit("call.detector", at, detector=kind, confidence=round(confidence, 3), **data)

    # -- the call ---------------------------------------------------------------------

    async def run(self) -> CallResult:
        dialed = time.time()
        self.emit("call.dialed", dialed, uri_scheme=self.plan.uri.split(":", 1)[0],
                  clock="local", sip_stack=getattr(self.stack, "backend", "python"))
        try:
            call = await self.stack.dial(self.plan.uri, timeout=self.plan.ring_timeout_s)
        except SipError as exc:
            self._signals_before(None)
            if exc.ours:
                return self._fail(f"call not placed: {exc.reason}")
            self.emit("call.hung_up", time.time(), by="company", reason=exc.reason)
            return self.result
        self._signals_before(call)
        try:
            await self._converse(call)
        except SipError as exc:  # e.g. a key this stack cannot send: ours, with the events so far
            self._fail(exc.reason)
        finally:
            await call.hangup()
        return self.result

    def _fail(self, reason: str) -> CallResult:
        self.result.failed = reason
        self.emit("call.failed", time.time(), reason=reason)
        return self.result

    def _signals_before(self, call: SipCall | None) -> None:
        if call is None:
            return
        ringing = next((s.at for s in call.signals if s.kind in ("ringing", "progress")), None)
        connected = next((s.at for s in call.signals if s.kind == "established"), time.time())
        dialed = self.result.events[0][1]
        if ringing is not None:
            self.emit("call.ringing", ringing)
        ring_s = max(0.0, connected - (ringing or dialed))
        self.emit("call.connected", connected, answer_s=round(connected - dialed, 3),
                  ringing_s=round(ring_s, 3), rings=int(np.ceil(ring_s / RING_CYCLE_S)) if
                  ringing is not None else 0, source="sip")

    async def _converse(self, call: SipCall) -> None:
        connected = self.connected_at = time.time()
        listener = self.listener = Listener(connected)
        if self.plan.record:
            listener.recording = []
        deadline = self.result.events[0][1] + self.plan.abandon_after_s
        chunks: list[tuple[bytes, float]] = []

        async def reader() -> None:  # keeps reading while decisions (recognition) are awaited
            while not call.is_closed:
                pcm, at = call.read()
                if pcm:
                    chunks.append((pcm, at))
                await asyncio.sleep(0.02)

        read_task = asyncio.get_running_loop().create_task(reader())
        try:
            await self._loop(call, listener, deadline, chunks, connected)
        finally:
            read_task.cancel()
        if listener.recording is not None:
            self.result.recording = np.concatenate(listener.recording) if \
                listener.recording else np.zeros(0, dtype=np.int16)

    async def _loop(self, call: SipCall, listener: Listener, deadline: float,
                    chunks: list[tuple[bytes, float]], connected: float) -> None:
        heard_any = False
        while not self.done:
            if call.is_closed and getattr(call, "failure", None):
                self._fail(call.failure)  # our user agent ended the call, not the company
                break
            if call.is_closed:
                self.emit("call.hung_up", time.time(), by="company",
                          reason="the company hung up"
                          + (f" ({call.close_reason})" if call.close_reason else ""))
                if self.unanswered_voice_at is not None and self.phase != "agent" and \
                        listener.now - self.unanswered_voice_at >= ONE_WAY_PATIENCE_S:
                    self._fail("a voice came on after the hold but never answered our hello, "
                               "then the company hung up: it may not have heard us (one-way "
                               "audio), so the call cannot be scored")
                elif (gone := self._music_gone(listener.now)) is not None:
                    self._fail(f"the hold music stopped: in the last {HANG_UP_LOOK_S:g} s "
                               f"before the company hung up the line was silent "
                               f"{gone[0]:.0%} of the time and a voice spoke into the silence "
                               f"{gone[1]} times, as a person asking whether we are there "
                               "would; we did not recognise a person, so the call cannot be "
                               "scored")
                else:
                    self._nothing_heard(connected, "then the company hung up")
                break
            now = time.time()
            if now >= deadline:
                self.emit("call.hung_up", now, by="us", abandoned=True,
                          reason=f"abandoned after {self.plan.abandon_after_s:g} s "
                                 "without a live agent")
                self._nothing_heard(connected, "until we hung up")
                break
            batch, chunks[:] = list(chunks), []
            for pcm, at in batch:
                heard_any = True
                # on hold, a pause inside speech may be where a queue message ends and a
                # person begins
                listener.split_pauses = self.phase == "hold" and self.hello_end is None
                # after our request too: a person who greeted us, unrecognised, and heard
                # only our key asks "Hello?" before the silence counts as a hold (later
                # into the silence than hold music's first notes after "connecting")
                listener.hear_short = 0.0 if self.phase == "hold" else \
                    SHORT_AFTER_REQUEST_S if self.phase == "ivr" and (
                        self.pressed or self.asked_by_voice) else None
                if self.phase == "hold":
                    self._keep_queue(np.frombuffer(pcm, dtype="<i2"))
                for change in listener.feed(pcm, at):
                    await self._on_change(call, change)
                if listener.now - self._timers_at >= 0.1:  # on the clock of what was heard
                    self._timers_at = listener.now
                    await self._timers(call, listener)
            if not heard_any and now - connected > 5.0:
                self._fail("no audio received from the far end (one-way audio or RTP "
                           "blocked on our side)")
                break
            await self._timers(call, listener)
            await asyncio.sleep(0.02)

    def _music_gone(self, at: float) -> tuple[float, int] | None:
        """On a music hold, whether the music had stopped before the company hung up at
        ``at``: the last HANG_UP_LOOK_S mostly silence, with sounds coming back into it.
        A queue plays its music (and messages over it) until it drops the call; an agent
        who answered and heard nothing says "Hello? Are you there?" into the silence, then
        hangs up (b6: an agent heard as music or as queue words, the call "unanswered").
        Returns (silent share, sounds after a silence)."""
        if self.phase != "hold" or not self.hold_music or not self.hold_events:
            return None
        held_from = self.result.events[self.hold_events[0]][1]
        since = at - HANG_UP_LOOK_S
        if since < held_from:
            return None
        segments = sorted(self._labels(-np.inf, np.inf))
        silent, sounds, before = 0.0, 0, None
        # each segment ends where the next begins, the last at the hang-up (none: no pairs)
        for (start, label), (end, _) in zip(segments, [*segments[1:], (at, "")], strict=False):
            if min(end, at) > max(start, since):
                if label == "silence":
                    silent += min(end, at) - max(start, since)
                elif start >= since and before == "silence":
                    sounds += 1
            before = label
        share = silent / HANG_UP_LOOK_S
        return (share, sounds) if share >= MUSIC_GONE_SILENT_SHARE and sounds >= 2 else None

    def _nothing_heard(self, connected: float, then: str) -> None:
        """A line answered that never played a sound (no greeting, prompt or music, only
        silence on the RTP stream): every IVR plays something after answering, so this is
        indistinguishable from our audio path failing, and the call is ours, not scored."""
        if self.first_sound_at is None:
            silent = (self.listener.now if self.listener is not None else time.time()) - \
                connected
            self._fail(f"heard nothing on the line after the answer (only silence for "
                       f"{silent:.0f} s, {then}): a line that plays no sound at all cannot "
                       "be told from our audio path failing, so the call is not scored")

    # -- decisions ----------------------------------------------------------------------

    async def _on_change(self, call: SipCall, change: Change) -> None:
        seg, ended = change.started, change.ended
        self.detector(seg.start, "segment", seg.confidence, label=seg.label)
        # the next sound's onset, refined back, left a speech segment no time: the
        # classifier's first windows on a sound (music's opening) said speech, and nobody
        # spoke. As a prompt it made the queue's music need MUSIC_BACK_S, and its start hid
        # where the quiet run began (a line put straight into a short queue: the agent
        # taken for the IVR, 10 s late); on hold it was a candidate whose start a reply
        # to our hello made the agent's (b4-*: 6 of 13 such pieces, one a false agent)
        swallowed = ended is not None and ended.label == "speech" and ended.duration <= 0
        if swallowed and self.phase == "ivr" and self.quiet_before and \
                self.quiet_before[0] is ended:
            _, self.quiet_from, self.quiet_music = self.quiet_before
            self.quiet_music |= seg.label == "music"
            self.detector(ended.start, "segment_swallowed", 1.0, next_label=seg.label)
            return
        if swallowed and self.phase == "hold" and ended is not self.reply and \
                ended is not self.continuation:
            self.detector(ended.start, "segment_swallowed", 1.0, next_label=seg.label)
            ended = None
        if seg.label != "silence" and self.first_sound_at is None:
            self.first_sound_at = seg.start
        if seg.label == "speech":
            if self.quiet_from is not None:
                self.quiet_before = (seg, self.quiet_from, self.quiet_music)
            self.quiet_from, self.quiet_music = None, False
        elif self.quiet_from is None:
            # music's onset is its first loud frame: the queue began in the pause before it
            self.quiet_from = max(seg.after_quiet if seg.label == "music" and
                                  seg.after_quiet is not None else seg.start,
                                  self.last_action_at)
        if seg.label == "music" and self.quiet_from is not None:
            self.quiet_music = True
        if self.music_after is not None and ended is self.music_after:
            # the "music" after a candidate stopped within MUSIC_RESUMED_S: a misheard
            # stretch of the same speech (or a pause), not hold music coming back
            self.music_after = None
            if self.candidate is not None and seg.label == "speech":
                self.continuation = seg
            elif self.candidate is not None:
                await self._say_hello(call)
        if ended is not None and ended.label == "speech":
            await self._speech_ended(call, ended, next_seg=seg)
        if seg.label == "speech" and self._answers(seg.start) is not None:
            await self._reply_after_hello(call, seg)

    def _maybe_hold(self, seg: Segment, now: float) -> None:
        """Hold starts at the end of the IVR's last prompt before the queue (or our last
        request, if later): the start of the music / silence run that turns out to be the
        queue. Music counts once it lasted HOLD_MIN_S; silence after our request once it
        followed a "please hold" prompt for HOLD_MIN_S or lasted SILENT_HOLD_S (an IVR
        waiting for a key is silent too). ``now`` is the clock of the audio heard."""
        music = seg.label == "music"
        if self.phase == "ivr" and self.quiet_from is not None:
            requested = bool(self.pressed) or self.asked_by_voice
            held = now - seg.start
            # before any request, "music" right after a prompt may be the classifier
            # mishearing a voice it never heard (as inside speech): it must last longer
            prompted = any(k == "call.ivr_prompt" for k, _, _ in self.result.events)
            need = HOLD_MIN_S if requested or not prompted else MUSIC_BACK_S
            if music and held >= need and (requested or self.menus_heard == 0):
                self._enter_hold(self.quiet_from, True, music_at=seg.start)
            elif seg.label == "silence" and (
                    (requested and now - self.quiet_from >= SILENT_HOLD_S)
                    or (now - self.quiet_from >= HOLD_MIN_S
                        and self.heard_since_request & {"busy"}
                        and (requested or self.menus_heard == 0))):
                self._enter_hold(self.quiet_from, self.quiet_music)
            return
        if self.phase == "hold" and music and self.hold_music is False:
            self.hold_music = True
            self.emit("call.hold_music", seg.start, playing=True)

    def _enter_hold(self, at: float, music: bool, *, music_at: float | None = None,
                    why: str | None = None) -> None:
        self.phase = "hold"
        self.hold_music = music
        listener = self.listener
        if listener is not None:  # the queue's first seconds, heard before we knew
            first = max(0, int((at - listener.buffer_start) * classify.RATE))
            self._keep_queue(listener.buffer[first:])
        self._hold_events(at, music, 0.9 if music else 0.7, why, music_at=music_at)

    def _hold_events(self, at: float, music: bool, confidence: float, why: str | None, *,
                     music_at: float | None = None) -> None:
        """Emit a hold's hold_started and hold_music, kept in ``hold_events``."""
        self.emit("call.hold_started", at, confidence=confidence,
                  **({"why": why} if why else {}))
        self.emit("call.hold_music", music_at or at, playing=music)
        self.hold_events = (len(self.result.events) - 2, len(self.result.events) - 1)

    def _undo_hold(self, at: float, why: str) -> None:
        """Take back the last hold's events (``call.undo``; they stay stored)."""
        for index in self.hold_events:
            self.emit("call.undo", at, event=index, why=why)
        self.hold_events = ()

    def _ivr_again(self, audio: np.ndarray) -> bool:
        """On hold and before any transfer, the line's first prompt, heard before the hold
        began, played again: the IVR is still repeating its menu (a menu under a noisy
        line's floor heard as music took the call for a queue from its greeting on: hold
        15-37 s early, 5 calls of b6's 24). A first prompt the hold began with is the
        queue's own message (a line that puts every caller straight into the queue)."""
        if self.phase != "hold" or self.transfers or not self.hold_events or \
                self.opening is None or \
                self.opening[0] >= self.result.events[self.hold_events[0]][1]:
            return False
        return classify.repeat_score(audio, [self.opening[1]]) >= 0.8

    def _withdraw_hold(self, at: float) -> None:
        """Take back the hold (``call.undo`` of its events, which stay stored): the call is
        in the IVR again, and its next quiet run after a prompt may be the queue."""
        self._undo_hold(at, "the line's first prompt played again: still in the IVR")
        self.phase = "ivr"
        self.hold_music = None
        self.queue_audio, self.queue_kept = [], 0
        self.candidate = self.continuation = self.music_after = self.reply = None
        self.hello_end = self.hello_first_end = None
        self.unread = None

    def _keep_queue(self, samples: np.ndarray) -> None:
        room = int(QUEUE_MEMORY_S * classify.RATE) - self.queue_kept
        if room > 0 and len(samples):
            self.queue_audio.append(samples[:room].copy())
            self.queue_kept += len(self.queue_audio[-1])

    async def _candidate_ended(self, call: SipCall, next_seg: Segment,
                               ended: Segment | None = None) -> None:
        """Music right after a candidate rejects it once it lasted MUSIC_RESUMED_S (see
        _timers); a pause gets our hello, unless ours, pending, was heard apart from the
        speech that ``ended`` (its reply is awaited)."""
        if next_seg.label == "music":
            self.music_after = next_seg
        elif next_seg.label == "silence":
            if ended is not None and self._hello_heard(ended):
                return  # no second hello: it would cross their reply to ours
            await self._say_hello(call)
        else:  # speech split at a pause (Listener.split_pauses): the same voice goes on
            self.continuation = next_seg

    async def _speech_ended(self, call: SipCall, seg: Segment, next_seg: Segment) -> None:
        if self.phase == "hold" and seg.uncut and seg is not self.reply:
            # heard whole while our hello was pending: a queue message and the agent who
            # picks up right after it are one stretch of speech; the agent is its tail
            tail = _voice_change(seg)
            if tail is not None:
                self.detector(tail.start, "voice_changed", 0.6,
                              reason="inside speech heard whole while our hello was pending")
                # the segment keeps its place (continuation, reply)
                cut = int(round((tail.start - seg.start) * classify.RATE))
                seg.samples, seg.end = [seg.audio()[:cut]], tail.start
                seg.uncut = False
                await self._speech_ended(call, seg, tail)
                await self._speech_ended(call, tail, next_seg)
                return
        audio = seg.audio()
        repeat = classify.repeat_score(audio, self.fingerprints)
        self.fingerprints.append(classify.fingerprint(audio))
        if self.opening is None and self.phase == "ivr":
            self.opening = (seg.start, self.fingerprints[-1])
        if repeat >= 0.8 and self._ivr_again(audio):
            self.detector(seg.start, "ivr_again", repeat,
                          reason="the line's first prompt played again on hold")
            self._withdraw_hold(seg.start)
        if repeat >= 0.8:
            self.detector(seg.start, "repeat_recording", repeat)
            if self.continuation is seg:
                if self.candidate is not None:
                    self.detector(self.candidate.start, "human_rejected", 0.8,
                                  reason="the speech after it repeats a recording")
                self.continuation = self.candidate = None
            if self.phase == "hold" and self.reply is not seg:
                return
        heard = await asyncio.get_running_loop().run_in_executor(
            _recognition(), self.recogniser.recognise, audio)
        if heard.error:
            self.detector(seg.start, "recogniser_error", 1.0, error=heard.error)
        self.detector(seg.start, "speech", seg.confidence, **heard.to_json(),
                      duration_s=round(seg.duration, 2))
        emitted: set[str] = set()
        if "person" not in heard.topics:  # a greeting's misheard "minute" is no promise
            emitted = self._announcements(seg, heard)
            await self._read_across_pauses(seg, audio, heard, emitted)
        self.last_topics = set(heard.topics)
        if seg.start >= self.last_action_at:
            self.heard_since_request |= heard.topics
        if self.continuation is seg:
            self.continuation = None
            if self.candidate is not None and (repeat >= 0.8 or _announcement(heard)):
                self.detector(seg.start, "human_rejected", 0.8,
                              reason="the rest of the speech was a recording or IVR prompt")
                self.candidate = None
            elif self.candidate is not None:
                change = classify.voice_distance(classify.voice_profile(
                    self.candidate.audio()), classify.voice_profile(audio))
                if change is not None and change > classify.VOICE_CHANGE:
                    # another voice right after the candidate's (an agent who picks up as
                    # a queue message ends): the candidate starts here
                    self.detector(seg.start, "voice_changed", 0.6, distance=round(change, 2))
                    self.detector(self.candidate.start, "human_rejected", 0.6,
                                  reason="another voice followed it at once")
                    self.changed_from.append((seg, self.candidate))
                    self.candidate = seg
                    self.candidate_topics = set(heard.topics)
                    self.candidate_phrases = list(heard.phrases)
                else:
                    self.candidate_topics |= heard.topics
                    self.candidate_phrases += heard.phrases
                await self._candidate_ended(call, next_seg)
            return
        if self.reply is seg:
            await self._judge_reply(call, seg, heard, repeat, next_seg)
            return
        if self.person_speech is not None and self.person_speech[0] is seg:
            reply = self.person_speech[1]
            self.person_speech = None
            pause_at, self.person_pause_at = self.person_pause_at, None
            change = classify.voice_distance(classify.voice_profile(reply.audio()),
                                             classify.voice_profile(audio))
            if self.queue_audio and repeat < 0.8:
                repeat = classify.heard_in(audio, np.concatenate(self.queue_audio))
            if pause_at is not None and repeat >= 0.8 and self.transfers < MAX_TRANSFERS:
                # a recording heard before (hold music's opening heard as speech, which
                # the queue played from the same note) after their pause: back in a
                # queue, no voice to take for the next person (as one, with the next
                # person linked to it, the reply was dated 2.6 and 5 s late)
                self._transferred(reply, source="a recording after the person's pause",
                                  confidence=0.6, phrases=[], repeat=round(repeat, 2))
                self._enter_hold(pause_at, False, why="a recording after the person")
            elif pause_at is not None and seg.start - pause_at >= HANDOVER_MIN_S and \
                    change is not None and change > classify.VOICE_CHANGE and \
                    self.transfers < MAX_TRANSFERS:
                # after a pause another voice speaks: the person handed us on to a second
                # one with no hold music between; that voice is heard as a candidate
                self._transferred(reply, source="another voice after a pause",
                                  confidence=0.5, phrases=[], distance=round(change, 2))
                self._enter_hold(pause_at, False, why="handed on to another voice")
                self.candidate = seg
                self.handed_to = (seg, reply)
                self.candidate_topics = set(heard.topics)
                self.candidate_phrases = list(heard.phrases)
                self.detector(seg.start, "human_candidate", 0.5,
                              reason="another voice after the person's pause")
                await self._candidate_ended(call, next_seg)
            elif "transfer" in heard.topics and self.transfers < MAX_TRANSFERS:
                self._transferred(reply, source="speech", confidence=0.8,
                                  phrases=[p for p in heard.phrases if p in TRANSFER_PHRASES])
            else:
                await self._after_person(call, next_seg, reply)
            return
        # a prompt heard before is the IVR speaking again (its menu), not the queue
        entered = self.phase == "ivr" and repeat < 0.8 and self._queue_speech(seg, heard)
        if entered:
            before = self.quiet_before
            assert before is not None
            self._enter_hold(before[1], before[2],
                             why="speech that is not an IVR prompt after our request and "
                                 f"{seg.start - before[1]:.1f} s of music or silence")
        # a person's greeting before any hold (a line answered by a person) is heard too
        person = self.phase == "ivr" and "person" in heard.topics and not _prompt(heard)
        listening = self.phase == "hold" or person
        if self.phase == "ivr" and not person and not self.transfers:
            self.ivr_speech.append((seg, repeat < 0.8 and not _announcement(heard) and
                                    "menu" not in heard.topics))
        if self.phase == "ivr" and not person:
            await self._ivr(call, seg, heard, repeat=repeat)
        elif listening and repeat < 0.8 and (_announcement(heard) or emitted):
            # speech announced as a wait or position (a number read, its cue a bare
            # "minutes") is the queue's, never also a person to say hello to: a silent
            # queue's "your wait time is ten minutes" got our hello, no reply, and the
            # company's hang-up was then taken for one-way audio (b8, failed)
            self.detector(seg.start, "announcement", 0.7, reason="queue announcement words: "
                          + ", ".join(sorted(heard.topics)))
            # heard whole before the hold began (speech is cut at pauses only on hold): a
            # person who spoke right after the message is in its tail, in another voice
            tail = _voice_change(seg) if entered else None
            if tail is not None:
                self.detector(tail.start, "voice_changed", 0.6, reason="after the message")
                await self._speech_ended(call, tail, next_seg)
        elif listening and repeat < 0.8:
            if self._crossed_hello(seg, audio, heard):
                await self._candidate_ended(call, next_seg, seg)
                return
            self.candidate = seg
            self.candidate_topics = set(heard.topics)
            self.candidate_phrases = list(heard.phrases)
            self.detector(seg.start, "human_candidate", 0.5, reason="new speech during hold")
            await self._candidate_ended(call, next_seg, seg)

    def _hello_heard(self, speech: Segment) -> bool:
        """Whether ``speech`` crossed our pending hello and ours ended after it, said mostly
        into their silence: then it was heard. One said mostly over them may not have been
        (a greeting goes on over a hello said at its start; one 0.18 s past a greeting's
        end went unanswered, and the agent was found 10 s late at "are you there?")."""
        if not self._crossing(speech) or self.hello_end is None:
            return False
        after = self.hello_end - (speech.end or speech.start)
        return after > max(0.1, HELLO_HEARD_SHARE * (self.hello_end - self.hello_from))

    def _crossing(self, speech: Segment) -> bool:
        """Speech that began before our pending hello ended and answers no earlier one."""
        return self.hello_end is not None and speech.start < self.hello_end - 0.1 and \
            self._answers(speech.start) is None

    def _answers(self, start: float) -> float | None:
        """The end of the pending hello that speech beginning at ``start`` may answer: our
        last one, or the first, said before it, within the reply window."""
        if self.hello_end is not None and start >= self.hello_end - 0.1:
            return self.hello_end
        first = self.hello_first_end
        if first is not None and first - 0.1 <= start <= first + self.plan.reply_window_s:
            return first
        return None

    def _crossed_hello(self, seg: Segment, audio: np.ndarray, heard: Heard) -> bool:
        """New speech that began before our pending "Hello?" ended is no reply to it: the
        hello went out late (the line is heard late under load) and the far end spoke
        again ("are you there?"). When the candidate was a person's greeting (its words)
        and this speech is in its voice, it is the same person going on: the candidate
        stays, so its start stays the agent's instant if a reply confirms it; returns
        whether it stayed. Otherwise (no greeting heard, another or an unknown voice: never
        an earlier instant on a guess, a recording's tail may precede the agent) this
        speech is the candidate."""
        candidate = self.candidate
        if candidate is None or not self._crossing(seg):
            return False
        change = classify.voice_distance(classify.voice_profile(candidate.audio()),
                                         classify.voice_profile(audio))
        if change is None or change > classify.VOICE_CHANGE or \
                "person" not in self.candidate_topics:
            self.detector(candidate.start, "human_rejected", 0.6,
                          reason="other speech began before our hello ended, and the "
                                 "candidate was no greeting in its voice",
                          **({"distance": round(change, 2)} if change is not None else {}))
            if "person" not in heard.topics or "person" in self.candidate_topics:
                # judged again on the reply's audio: a greeting's pieces cut at a pause,
                # heard while our hello went out late, were 1.11-1.2 apart; a greeting
                # in words after speech with none begins a person's turn (an agent after
                # a recording was 0.97 from it on the reply's audio)
                self.changed_from.append((seg, candidate))
            return False
        self.candidate_topics |= heard.topics
        self.candidate_phrases += heard.phrases
        self.late_hello = (candidate, seg)
        self.detector(seg.start, "speech_before_hello", 0.6, distance=round(change, 2),
                      hello_late_s=round(self.hello_from - (candidate.end or candidate.start), 2),
                      reason="the greeting's voice spoke again before our late hello ended")
        return True

    def _queue_speech(self, seg: Segment, heard: Heard) -> bool:
        """Speech after our request and a quiet run of HOLD_MIN_S that is no IVR prompt
        (queue wording, a recording, or a person): the quiet run was the queue. After our
        request a position or a wait needs a pause of QUEUE_WORDS_PAUSE_S only (a queue's
        first message 1.1 s after "connecting": hold found in the silence after it, 20 s
        late)."""
        before = self.quiet_before
        requested = bool(self.pressed) or self.asked_by_voice
        if before is None or before[0] is not seg:
            return False
        quiet = seg.start - max(before[1], self.pressed_at)
        counted = requested and not _prompt(heard) and _position_or_wait(heard)
        # speech soon after a key we tried into the silence is the IVR answering it
        if quiet < (QUEUE_WORDS_PAUSE_S if counted else HOLD_MIN_S):
            return False
        if "person" in heard.topics:
            return requested
        expected = any(p in heard.phrases or p in heard.topics
                       for i, step in enumerate(self.plan.steps) if i not in self.steps_done
                       for p in step.expect)
        if _prompt(heard) or expected:
            return False
        if requested:  # "please hold while I connect you" may be the last prompt itself
            return counted or "busy" not in heard.topics
        # no request and no menu: a line that puts every caller straight into the queue
        return self.menus_heard == 0 and _queue_words(heard)

    async def _read_across_pauses(self, seg: Segment, audio: np.ndarray, heard: Heard,
                                  emitted: set[str]) -> None:
        """An announcement whose number and wording fell into pieces split at pauses on hold
        is read again from the pieces joined (up to JOIN_MAX_S of audio); what a piece
        already announced is not announced twice."""
        unread, self.unread = self.unread, None
        if self.phase != "hold" or heard.position is not None or heard.wait_s is not None:
            return
        if unread is not None and unread[0].end is not None and \
                seg.start - unread[0].end <= JOIN_GAP_S and \
                unread[0].duration + seg.duration <= JOIN_MAX_S:
            piece, skip = unread[0], unread[1] | emitted
            joined = Segment("speech", piece.start, seg.confidence, end=seg.end,
                             samples=[piece.audio(), audio])
            again = await asyncio.get_running_loop().run_in_executor(
                _recognition(), self.recogniser.recognise, joined.audio())
            if again.position is not None or again.wait_s is not None:
                self.detector(joined.start, "speech_joined", seg.confidence, **again.to_json(),
                              duration_s=round(joined.duration, 2))
                # pieces are joined for a number: a wait cue spotted only in the join, with
                # no wait read, was in neither piece ("hold time" in a recording's "all of
                # our agents are busy" and a position: a wait announced 11.6 s early)
                self._announcements(joined, again, skip | (
                    {"call.wait_announced"} if again.wait_s is None else set()))
                return
            self.unread = (joined, skip)
            return
        self.unread = (Segment("speech", seg.start, seg.confidence, end=seg.end,
                               samples=[audio]), frozenset(emitted))

    def _announcements(self, seg: Segment, heard: Heard, skip: frozenset[str] = frozenset(),
                       ) -> set[str]:
        """Emit the queue position and wait ``heard`` announces (not the kinds in ``skip``);
        returns the kinds emitted."""
        audio = seg.audio()
        emitted = set()
        # the number grammar always finds some sentence: a number counts only where its
        # phrases were spotted, and a bare "minutes" inside a menu is no wait announcement
        if heard.position is not None and "position" in heard.topics and \
                "call.queue_position" not in skip:
            at = seg.start + sentence_start(audio, heard.first_start(POSITION_CUES))
            self.emit("call.queue_position", at, position=heard.position, text=heard.text)
            emitted.add("call.queue_position")
        # a bare "minute(s)" is a one-word spot that voices the recogniser hears poorly
        # produce out of nothing: it is a wait only in the queue, with a number read
        strong = heard.first_start(WAIT_CUES) is not None
        if "wait" in heard.topics and "call.wait_announced" not in skip and (strong or (
                self.phase == "hold" and heard.wait_s is not None and not _prompt(heard))):
            data: dict[str, Any] = {"text": heard.text or " ".join(heard.phrases)}
            if heard.wait_s is not None:
                data["seconds"] = int(heard.wait_s)
            at = seg.start + sentence_start(audio, heard.first_start(WAIT_CUES))
            self.emit("call.wait_announced", at, **data)
            emitted.add("call.wait_announced")
        if emitted:
            self.announced_until = max(self.announced_until, seg.end or seg.start)
        return emitted

    async def _ivr(self, call: SipCall, seg: Segment, heard: Heard, *,
                   repeat: float = 0.0) -> None:
        if not any(kind == "call.ivr_prompt" for kind, _, _ in self.result.events):
            self.emit("call.ivr_prompt", seg.start, text=" ".join(heard.phrases))
        if "menu" in heard.topics:
            self.menus_heard += 1
        for i, step in enumerate(self.plan.steps):
            if i in self.steps_done:
                continue
            if step.expect and not any(p in heard.phrases or p in heard.topics
                                       for p in step.expect):
                continue
            self.steps_done.add(i)
            await self._reply(call, step.dtmf, step.say, why=f"script step {i + 1}")
            return
        if "invalid" in heard.topics and not self.asked_by_voice:
            await self._reply(call, None, self.plan.ask_agent_phrase,
                              why="the option was refused; asking for an agent by voice")
            return
        if "menu" in heard.topics and not self.pressed:
            why = "the menu offers an agent" if heard.offers_agent else \
                "a menu without an agent option: trying 0"
            await self._reply(call, self.plan.default_digit, None, why=why)
        elif repeat >= 0.8 and not self.pressed and not self.asked_by_voice:
            # a prompt that comes back unanswered is a menu waiting for a key, whether or
            # not its words were recognised
            await self._reply(call, self.plan.default_digit, None,
                              why="the prompt repeated unanswered: trying 0")
        elif "menu" in heard.topics and self.pressed and seg.start > self.last_action_at \
                and not self.asked_by_voice:
            await self._reply(call, None, self.plan.ask_agent_phrase,
                              why="the menu came back; asking for an agent by voice")

    async def _reply(self, call: SipCall, dtmf: str | None, say: str | None, *, why: str,
                     keep_quiet: bool = False) -> None:
        """Press or say; ``keep_quiet``: a key tried into silence that nothing answers is
        no request the IVR took, so a hold in that silence still starts where it began."""
        now = time.time()
        current = self.listener.current if self.listener is not None else None
        if dtmf:
            self.last_action_at = now
            await call.send_dtmf(dtmf)
            self.pressed.append(dtmf)
            self.pressed_at = now
            self.requests_at.append(now)
            self.emit("call.option_pressed", now, option=dtmf, why=why)
            if dtmf == self.plan.default_digit or "agent" in why:
                self.emit("call.asked_agent", now, how="dtmf")
        if say:
            self.last_action_at = await self._play(call, say)
            self.requests_at.append(self.last_action_at)
            self.asked_by_voice = True
            self.emit("call.asked_agent", now, how="speech", phrase=say, why=why)
        self.heard_since_request = set()
        if keep_quiet and self.quiet_from is not None:
            self.last_action_at = self.quiet_from
            return
        # a hold that starts now starts after our request, not in the pause before it
        quiet = current is not None and current.label != "speech"
        self.quiet_from = self.last_action_at if quiet else None
        self.quiet_music = False

    async def _play(self, call: SipCall, text: str) -> float:
        samples = await asyncio.get_running_loop().run_in_executor(
            None, lambda: voice.speak(text, voice=self.plan.voice))
        pcm = samples.astype("<i2").tobytes()
        started = time.time()
        for i in range(0, len(pcm), 320):
            while call.tx_buffered() > 960 and not call.is_closed:
                await asyncio.sleep(0.01)
            call.write(pcm[i:i + 320])
        end = started + len(pcm) / BYTES_PER_SECOND + 0.06
        self.speaking_from, self.speaking_until = started, end
        return end

    async def _say_hello(self, call: SipCall) -> None:
        first = self.hello_first_end if self.hello_end is not None else None
        self.hello_end = await self._play(call, self.plan.hello_phrase)
        self.hello_first_end = first if first is not None else self.hello_end
        self.hello_from = self.speaking_from
        self.detector(self.hello_end, "hello_sent", 1.0, phrase=self.plan.hello_phrase)

    async def _reply_after_hello(self, call: SipCall, seg: Segment) -> None:
        candidate, answered = self.candidate, self._answers(seg.start)
        self.hello_end = self.hello_first_end = None
        if candidate is None or answered is None:
            return
        delay = seg.start - answered
        if delay > self.plan.reply_window_s:
            return
        self.reply = seg  # judged when it ends: new, and not IVR wording
        self.reply_delay = delay

    async def _judge_reply(self, call: SipCall, seg: Segment, heard: Heard,
                           repeat: float, next_seg: Segment | None = None) -> None:
        candidate, delay, links = self.candidate, self.reply_delay, self.changed_from
        self.reply = None
        self.candidate = None
        self.changed_from = []
        if candidate is None:
            return
        transfer = "transfer" in heard.topics or "transfer" in self.candidate_topics
        if repeat >= 0.8 or (_announcement(heard) and not transfer):
            self.detector(seg.start, "human_rejected", 0.8,
                          reason="the reply after our hello was a recording or IVR prompt")
            return
        self.phase = "agent"
        confidence = 0.9 if delay < 2.5 else 0.7
        handed, self.handed_to = self.handed_to, None
        if handed is not None and self._handed_on_to(candidate, seg, links, *handed):
            answered = seg
        else:
            # an agent who picked up just after our hello greets us; the candidate before
            # was then a recording, and the agent's own greeting is when they answered
            answered = seg if "person" in heard.topics and "person" not in \
                self.candidate_topics else self._same_voice_before(candidate, seg, links)
        if before := self._greeted_before_hold(answered, candidate, seg):
            answered = before
        late = self.late_hello if self.late_hello and self.late_hello[0] is candidate else None
        self.late_hello = None
        self.detector(seg.start, "human_confirmed", confidence,
                      reply_after_s=round(delay, 2), reason="new speech answered our hello",
                      **({"late_hello": True, "spoke_again_at": late[1].start,
                          "answered_at": "candidate" if answered is candidate else "reply",
                          "why": "our hello went out late, after the candidate's voice had "
                                 "spoken again (the same speaker going on, no reply to us): "
                                 "the candidate's start is when the person answered"}
                         if late else {}))
        self.emit("call.agent_answered", answered.start, confidence=confidence,
                  confirmed_at=seg.start, **({"after_transfer": self.transfers}
                                             if self.transfers else {}))
        if transfer and self.transfers < MAX_TRANSFERS:
            # the person hands us on: the utterance that says so is the transfer; then a
            # queue and another person, heard the same way
            said = seg if "transfer" in heard.topics else candidate
            phrases = heard.phrases if said is seg else self.candidate_phrases
            self._transferred(said, source="speech", confidence=0.8,
                              phrases=[p for p in phrases if p in TRANSFER_PHRASES])
            return
        await self._after_person(call, next_seg, seg)

    def _same_voice_before(self, candidate: Segment, reply: Segment,
                           links: list[tuple[Segment, Segment]]) -> Segment:
        """Where the confirmed person began: a voice change judged on two short pieces of
        one greeting cut at a pause (one voice's pieces under 1.5 s were up to 1.42 apart)
        made the later piece the candidate. Judged again on the candidate and the reply
        together, the piece before is the same voice when within SAME_VOICE_AFTER (a
        recording followed at once by the agent stays apart), unless it was read as part of
        a queue message (a short piece of one is near any voice)."""
        answered, profile = candidate, _voice_of(candidate, reply)
        for old in _linked_before(candidate, links):
            if old.start < self.announced_until:
                break
            distance = classify.voice_distance(classify.voice_profile(old.audio()), profile)
            if distance is None or distance > SAME_VOICE_AFTER:
                break
            self.detector(old.start, "same_voice_before", 0.6, distance=round(distance, 2),
                          reason="the reply and the candidate are the voice of the speech "
                                 "just before the change: one greeting cut at a pause")
            answered = old
        return answered

    def _greeted_before_hold(self, first: Segment, candidate: Segment,
                             reply: Segment) -> Segment | None:
        """Where a confirmed person began who had greeted us before the hold: speech in the
        IVR with no prompt or queue wording, in the person's voice (SAME_VOICE_AFTER, on the
        candidate and reply together), followed by nothing but silence (and our keys, which
        nothing answered) until the person's ``first`` piece, within REPROMPT_MAX_S: a
        person whose greeting the recogniser could not read (no "how can I help") was taken
        for the IVR, and found at "Hello? Are you there?", 10 s late. The hold taken from
        that silence is taken back (``call.undo``) and starts again where the greeting's
        line began. None when no such speech was heard."""
        if self.transfers or not self.hold_events or first.duration > REPROMPT_LONGEST_S:
            return None
        profile = _voice_of(candidate, reply)
        answered, after = None, first.start
        for index in range(len(self.ivr_speech) - 1, -1, -1):
            seg, plain = self.ivr_speech[index]
            # the IVR answering our key ("please hold while I try that extension") is no
            # person's greeting, whatever its voice (b8-fake-silent-white: 0.75 from a
            # recording and the agent after it; the agent 26 s early)
            answers_us = any(0.0 <= seg.start - at <= ANSWERS_US_S for at in self.requests_at)
            if not plain or answers_us or seg.end is None or \
                    after - seg.end > REPROMPT_MAX_S or not self._only_silence(seg.end, after):
                break
            distance = classify.voice_distance(classify.voice_profile(seg.audio()), profile)
            if distance is None or distance > SAME_VOICE_AFTER:
                break
            self.detector(seg.start, "greeted_before_hold", 0.6, distance=round(distance, 2),
                          reason="speech in the IVR in the person's voice, then silence until "
                                 "they spoke again: they had answered there")
            answered, after = seg, seg.start
        else:
            index = -1
        if answered is None:
            return None
        # hold music heard as the greeting's first words: the voice begins after its pause
        tail = _voice_change(answered)
        if tail is not None and (d := classify.voice_distance(
                classify.voice_profile(tail.audio()), profile)) is not None and \
                d <= SAME_VOICE_AFTER:
            self.detector(tail.start, "voice_changed", 0.6, distance=round(d, 2),
                          reason="the person's voice begins after a pause in the speech "
                                 "before the hold")
            answered = tail
        self._undo_hold(answered.start, "the person had answered before this silence: no "
                        "hold in it")
        # the line before the greeting: after the IVR's last prompt, or from the answer
        held_from = self.ivr_speech[index][0].end if index >= 0 else None
        held_from = held_from or self.connected_at
        music = any(label == "music" for _, label in self._labels(held_from, answered.start))
        self._hold_events(held_from, music, 0.5, "the line before the person's greeting")
        return answered

    def _labels(self, since: float, until: float) -> list[tuple[float, str]]:
        """The segments (start, label) that began in [since, until)."""
        return [(t, d["label"]) for kind, t, d in self.result.events
                if kind == "call.detector" and d.get("detector") == "segment"
                and since <= t < until]

    def _only_silence(self, since: float, until: float) -> bool:
        return all(label == "silence" for _, label in self._labels(since, until))

    def _handed_on_to(self, candidate: Segment, reply: Segment,
                      links: list[tuple[Segment, Segment]], handed: Segment,
                      person: Segment) -> bool:
        """Whether the voice taken for the next person after the first person's pause
        (``handed``, the candidate or linked to it) is nearer the first person than the
        reply to our hello: a short piece ("Please hold.") is far from any voice (one
        greeting's pieces up to 1.46 apart), so the first person going on was heard as
        another, and the pieces after it are too short to tell (hold music's opening heard
        as speech came within 1.0 of the next agent): the reply is where they began."""
        if not any(piece is handed for piece in [candidate, *_linked_before(candidate, links)]):
            return False
        profile = classify.voice_profile(handed.audio())
        to_person = classify.voice_distance(profile, classify.voice_profile(person.audio()))
        to_reply = classify.voice_distance(profile, classify.voice_profile(reply.audio()))
        if to_person is None or to_reply is None or to_person >= to_reply:
            return False
        self.detector(handed.start, "human_rejected", 0.6, to_person=round(to_person, 2),
                      to_reply=round(to_reply, 2),
                      reason="the voice after the person's pause is nearer theirs than the "
                             "reply to our hello: the first person went on")
        return True

    async def _after_person(self, call: SipCall, next_seg: Segment | None,
                            reply: Segment) -> None:
        """What follows the confirmed person's reply: more of it, hold music (a transfer,
        decided in _timers) or a pause (we thank them and hang up)."""
        if next_seg is not None and next_seg.label == "speech":
            self.person_speech = (next_seg, reply)
        elif next_seg is not None and self.transfers < MAX_TRANSFERS:
            # music, or a pause (music may start after a breath): decided in _timers
            self.after_person = (next_seg.start, reply)
        else:
            await self._close(call)

    def _transferred(self, said: Segment, **data: Any) -> None:
        self.transfers += 1
        self.emit("call.transferred", said.start, **data)
        self.phase = "ivr"

    async def _close(self, call: SipCall) -> None:
        """Thank the person and hang up (their time is the company's cost)."""
        await asyncio.sleep(1.0)
        await self._play(call, self.plan.closing_phrase)
        await asyncio.sleep(max(0.0, self.speaking_until - time.time()) + 0.3)
        self.emit("call.hung_up", time.time(), by="us", reason="done: reached a live agent")
        self.done = True

    async def _timers(self, call: SipCall, listener: Listener) -> None:
        now = listener.now  # what was heard so far, not the wall clock
        current = listener.current
        if current is not None and current.label == "music" and \
                now - current.start >= MUSIC_BACK_S:
            self.unanswered_voice_at = None  # back on hold: that voice was a recording
        if current is not None and current.label in ("music", "silence"):
            self._maybe_hold(current, now)
        if self.music_after is not None and current is self.music_after and \
                now - current.start >= MUSIC_RESUMED_S:
            self.music_after = None
            if self.candidate is not None:
                self.detector(current.start, "human_rejected", 0.9,
                              reason="hold music resumed right after the speech")
                self.candidate = None
        if self.after_person is not None and current is not None:
            began, said = self.after_person
            if current.label == "speech":  # they (or another voice) speak again
                self.after_person = None
                self.person_speech = (current, said)
                self.person_pause_at = began
            elif current.label == "music" and now - current.start >= MUSIC_BACK_S:
                self.after_person = None
                # the reply to our hello handed us on to hold music: a transfer
                self._transferred(said, source="music after the person", confidence=0.6,
                                  phrases=[])
                if self.quiet_from is None:
                    self.quiet_from = began
                self.quiet_music = True
            elif current.label == "silence" and \
                    now - current.start >= PERSON_PAUSE_S + LABEL_LAG_S:
                self.after_person = None  # their turn is over: thank them, hang up
                await self._close(call)
        crossing = current is not None and current.label == "speech" and \
            self._crossing(current)
        if self.hello_end is not None and self.reply is None and not crossing and \
                now - self.hello_end > self.plan.reply_window_s:
            self.detector(now, "human_rejected", 0.8,
                          reason="no reply to our hello: a recording")
            if (current is None or current.label != "music") and \
                    self.unanswered_voice_at is None:
                # hold music already back (a hello said late, or after a message's tail):
                # the voice was a recording, not a person who may not have heard us
                self.unanswered_voice_at = now
            self.hello_end = self.hello_first_end = None
            self.candidate = None
        if self.phase == "ivr" and not self.pressed and self.menus_heard == 0 and \
                current is not None and current.label == "silence" and \
                now - current.start > IVR_INPUT_WAIT_S and \
                any(k == "call.ivr_prompt" for k, _, _ in self.result.events):
            await self._reply(call, self.plan.default_digit, None, keep_quiet=True,
                              why="silence after the prompts: trying 0")


_RECOGNITION: Any = None


def _recognition() -> Any:
    """Threads that wait for a recogniser worker, apart from the default executor: with 20
    calls its 6 threads all waited for the 2 workers, and every "Hello?" (speech synthesis,
    the Debian backend's audio file) queued behind other calls' segments, seconds late."""
    global _RECOGNITION
    if _RECOGNITION is None:
        from concurrent.futures import ThreadPoolExecutor

        _RECOGNITION = ThreadPoolExecutor(max_workers=64, thread_name_prefix="recognise")
    return _RECOGNITION


#: after the confirmed person's reply, a pause this long ends their turn (we thank them);
#: hold music starting before then may be a transfer (Debian's tracks open with 1-2 s of
#: near silence; 3 s was too short for fr-transfer, whose second person speaks 2.8-3.1 s
#: after); counted once the listener's labels have caught up (LABEL_LAG_S): at 4.0 s
#: from the pause's start, the second person's first second of speech was still "silence"
#: and we hung up on them
PERSON_PAUSE_S = 4.0
#: a shorter pause after the person's reply is a breath in their turn, never a hand-over
#: to another voice (fr-transfer's second agent's greeting, cut at a 0.44 s pause, was
#: 1.08 from their reply: a false second transfer); a hand-over, by a PBX or across a
#: desk, takes seconds (the simulator's second queues without music heard: 2.1 s and up)
HANDOVER_MIN_S = 1.0
#: the candidate and the reply to our hello (seconds of one voice) against the piece before
#: a voice change (bench/phone_voices.py on dev, fr-*, bl-* and the spent b2-*): one
#: greeting's pieces 0.30-0.98 apart in 34 of 39 cuts (then 1.01-1.46); a recording and the
#: agent after it 1.01-2.64 in 48 of 49 scenarios (many dev ones the same slt / rms pair; one
#: 0.74, so close that the live rule does not tell them apart either)
SAME_VOICE_AFTER = 1.0
#: a person whose greeting met silence speaks again ("Hello? Are you there?") within this
#: long; a queue's silent hold after an IVR prompt usually lasts longer
REPROMPT_MAX_S = 10.0
#: ... and says something short ("Hello? Are you there?"): a longer first piece is their
#: own greeting, or a recording
REPROMPT_LONGEST_S = 4.0
#: speech that began this soon after our key or request is the IVR answering it
ANSWERS_US_S = 3.0
#: seconds of the queue's audio kept to find a recording's piece in (480 KB a call): a
#: queue that plays its music again after a transfer starts it over
QUEUE_MEMORY_S = 30.0
#: pieces of one announcement: at most this far apart, and this long together
JOIN_GAP_S, JOIN_MAX_S = 1.0, 12.0
#: a call is followed through at most this many transfers (then we hang up as usual)
MAX_TRANSFERS = 3


def _transfer_phrases() -> frozenset[str]:
    from .recognise import keyphrases

    return frozenset(keyphrases()[0].get("transfer", []))


TRANSFER_PHRASES = _transfer_phrases()
WAIT_CUES = ("estimated", "hold time", "wait time")
POSITION_CUES = ("currently caller", "caller number")


def _linked_before(candidate: Segment, links: list[tuple[Segment, Segment]]) -> list[Segment]:
    """The pieces a voice change moved the candidate from, nearest first (``links``:
    (new candidate, the one before it), in the order they were made)."""
    before, piece = [], candidate
    for new, old in reversed(links):
        if new is piece:
            before.append(old)
            piece = old
    return before


def _voice_of(*pieces: Segment) -> np.ndarray | None:
    """The voice profile of pieces of speech heard together (a candidate and its reply)."""
    return classify.voice_profile(np.concatenate([p.audio() for p in pieces]))


def _voice_change(seg: Segment) -> Segment | None:
    """The part of a speech segment after the pause where the voice changes most, when the
    voices differ (classify.VOICE_CHANGE); None for one voice. Only the segment's own time
    counts: its samples run on until the next label was decided, and the next sound there
    (fr-transfer: the agent 0.5 s after a message heard whole) made a tail that began after
    the segment ended, then "repeated" the agent's own greeting: 13 s late."""
    from .listen import voice_onsets

    audio = seg.audio()
    if seg.end is not None:
        audio = audio[:max(0, int(round((seg.end - seg.start) * classify.RATE)))]
    best, at = classify.VOICE_CHANGE, None
    for onset, _ in voice_onsets(audio):
        change = classify.voice_distance(classify.voice_profile(audio[:onset]),
                                         classify.voice_profile(audio[onset:]))
        if change is not None and change > best:
            best, at = change, onset
    if at is None:
        return None
    return Segment("speech", seg.start + at / classify.RATE, seg.confidence, end=seg.end,
                   samples=[audio[at:]])


def sentence_start(audio: np.ndarray, cue_s: float | None) -> float:
    """Seconds into a segment where the sentence holding a spotted phrase begins: the end of
    the last pause (>= 100 ms below -45 dBFS) before the phrase, else the segment start."""
    if cue_s is None:
        return 0.0
    fr = classify.frames(audio[: int(cue_s * classify.RATE)])
    if not len(fr):
        return 0.0
    quiet = classify.frame_db(fr) < -45.0
    run = 0
    for i in range(len(quiet) - 1, -1, -1):
        if quiet[i]:
            run += 1
            if run >= 5:
                end = i + run
                return end * classify.FRAME / classify.RATE
        else:
            run = 0
    return 0.0


def _announcement(heard: Heard) -> bool:
    """Queue wording (wait, position, 'all our agents are busy') that no agent greets with."""
    if "person" in heard.topics:
        return False
    return _queue_words(heard) or _prompt(heard)


def _queue_words(heard: Heard) -> bool:
    """A position, 'busy' wording or a wait phrase ("estimated", "hold time", "wait time");
    a bare "minute(s)" is no queue wording: people say it ("just a minute") and it is the
    spot most often heard in speech the recogniser cannot follow."""
    return "busy" in heard.topics or _position_or_wait(heard)


def _position_or_wait(heard: Heard) -> bool:
    """A queue position, or a wait with its cue ("estimated", "hold time", "wait time")."""
    return "position" in heard.topics or (
        "wait" in heard.topics and heard.first_start(WAIT_CUES) is not None)


def _prompt(heard: Heard) -> bool:
    """IVR wording that asks for input: an option refused, or "press <digit>" (a lone
    "press" is too weak a spot to outvote a person's voice)."""
    return "invalid" in heard.topics or any(
        p.startswith("press ") for p in heard.phrases)
