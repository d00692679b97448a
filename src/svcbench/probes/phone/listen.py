"""The received audio as a stream of segments: silence, speech or music, with onsets.

PCM arrives in chunks stamped with the wall-clock time of their last sample. Every 0.25 s the
last second is classified; a change of label held for two hops becomes a new segment, whose
onset is refined to the first loud 20 ms frame after the last quiet run (so a segment's start
is accurate to a frame or two, not to the window).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from . import classify

RATE = classify.RATE
HOP = 2000  # samples: 0.25 s
WINDOW = 8000  # 1 s
QUIET_DB = -45.0
#: how long after a sound begins its new label can be confirmed (half the window heard
#: as it, then a second hop agreeing): a quiet run is known to have lasted X only at X + this
LABEL_LAG_S = (WINDOW / 2 + 2 * HOP) / RATE
MAX_KEEP_S = 20.0  # audio kept per segment (for recognition and fingerprints)
#: with ``split_pauses``, a pause this long inside speech, then this much voice, starts a new
#: speech segment: the classifier's 1 s window hears a 0.4 s gap between a queue message and
#: the agent who picks up after it as one stretch of speech
PAUSE_FRAMES = 13  # 260 ms
VOICE_FRAMES = 5  # 100 ms
#: with ``hear_short``, a short utterance alone in a silence: at most this long (a voice
#: stretch) with quiet both sides. The classifier's 1 s window averages a 0.3 s "Hello?"
#: with the digital silence around it into silence (a person asking "Hello? Are you
#: there?" on a silent hold, every 8 s for a minute, was never heard: the agent missed)
SHORT_MAX_S = 1.2
SHORT_LOUD_FRAMES = 12  # 240 ms of voice
#: and a spectrum that moves (median change between loud frames, the classifier's flux):
#: ringback bursts, DTMF and beeps are short and alone too, but steady (0.02-0.09 against
#: 0.2-0.6 for "Hello?" and "Yes?" in eight voices)
SHORT_MIN_FLUX = 0.15


@dataclass
class Segment:
    label: str
    start: float
    confidence: float
    end: float | None = None
    samples: list[np.ndarray] = field(default_factory=list)
    #: where the quiet run (200 ms or more) just before the onset began, if there was one
    after_quiet: float | None = None
    #: speech heard (in part) without cutting at pauses (Listener.split_pauses off): a
    #: voice that began after a pause inside it may be another speaker
    uncut: bool = False

    def audio(self) -> np.ndarray:
        return np.concatenate(self.samples) if self.samples else np.zeros(0, dtype=np.int16)

    @property
    def duration(self) -> float:
        return (self.end or self.start) - self.start


@dataclass
class Change:
    """A segment ended (``ended``) and another began (``started``)."""

    ended: Segment | None
    started: Segment


class Listener:
    def __init__(self, start_at: float):
        self.buffer = np.zeros(0, dtype=np.int16)
        self.buffer_start = start_at  # wall time of buffer[0]
        self.pending = 0  # samples since the last hop
        self.current: Segment | None = None
        self._candidate: tuple[str, int] | None = None
        self.total_samples = 0
        self.recording: list[np.ndarray] | None = None
        self._quiet_start: float | None = None
        #: split speech at pauses (the engine turns it on while on hold: each utterance
        #: there may be a new voice); off in the IVR, where a prompt stays one segment
        self.split_pauses = False
        #: hear a short utterance alone in a silence as speech, once the silence lasted
        #: this long (the engine sets it on hold and after its request; see SHORT_MAX_S);
        #: None: never
        self.hear_short: float | None = None
        self._checked_to = 0.0  # wall time up to which speech was searched for pauses
        #: after a split, the 1 s window still holds the pause before it: "silence" until
        #: then is that pause, not a new segment (which would repeat the split one's audio)
        self._split_until = 0.0

    def time_of(self, index: int) -> float:
        return self.buffer_start + index / RATE

    @property
    def now(self) -> float:
        """Arrival time of the last sample fed: the clock of what has been heard so far
        (behind the wall clock while a decision, such as recognition, is awaited)."""
        return self.buffer_start + len(self.buffer) / RATE

    def feed(self, pcm: bytes, at: float) -> Iterator[Change]:
        """Add received audio whose last sample arrived at ``at``; yields segment changes."""
        if not pcm:
            return
        chunk = np.frombuffer(pcm, dtype="<i2")
        if self.recording is not None:
            self.recording.append(chunk.copy())
        # re-anchor on the arrival clock: the stack drops audio for a slow reader
        expected_end = self.buffer_start + (len(self.buffer) + len(chunk)) / RATE
        if abs(at - expected_end) > 0.2:
            self.buffer_start += at - expected_end
        self.buffer = np.concatenate([self.buffer, chunk])
        self.total_samples += len(chunk)
        # a segment gets the audio up to each hop as it is classified, so one that begins
        # inside a long chunk (a reader that fell behind) holds its own audio, not the rest
        # of the chunk its predecessor got
        kept = len(self.buffer) - len(chunk)
        self.pending += len(chunk)
        while self.pending >= HOP:
            self.pending -= HOP
            end = len(self.buffer) - self.pending
            self._keep(kept, end)
            kept = end
            change = self._hop(end)
            if change is not None:
                yield change
        self._keep(kept, len(self.buffer))
        keep = int(3 * RATE)
        if len(self.buffer) > keep:
            drop = len(self.buffer) - keep
            self.buffer = self.buffer[drop:]
            self.buffer_start += drop / RATE

    def _keep(self, first: int, end: int) -> None:
        if self.current is not None and end > first and self.current.duration < MAX_KEEP_S:
            self.current.samples.append(self.buffer[first:end].copy())

    def _hop(self, end: int) -> Change | None:
        window = self.buffer[max(0, end - WINDOW):end]
        if len(window) < WINDOW // 2:
            return None
        label, confidence = classify.classify(window)
        if label == "silence" and self.hear_short is not None and self.current is not None and \
                self.current.label == "silence" and self._short_utterance(end):
            label, confidence = "speech", 0.6
        if self.current is None:
            return self._start(label, confidence, end, first=True)
        if self.current.end is None:
            self.current.end = self.time_of(end)
        if label == "silence" and self.current.label == "speech" and \
                self.time_of(end) < self._split_until:
            label = "speech"
        if label == self.current.label:
            self._candidate = None
            self.current.end = self.time_of(end)
            if label == "speech" and self.split_pauses:
                return self._split(end, confidence)
            self.current.uncut |= label == "speech"
            return None
        if self._candidate is None or self._candidate[0] != label:
            self._candidate = (label, 1)
            return None
        self._candidate = None
        return self._start(label, confidence, end)

    def _split(self, end: int, confidence: float) -> Change | None:
        """A new speech segment at a voice onset after a pause inside the current one."""
        current = self.current
        assert current is not None
        lo = max(current.start + 0.3, self._checked_to - 1.0, self.buffer_start)
        first = int((lo - self.buffer_start) * RATE)
        self._checked_to = self.time_of(end)
        onsets = voice_onsets(self.buffer[first:end])
        if not onsets:
            return None
        i, pause = onsets[0]
        onset = self.time_of(first + i)
        current.end = onset
        segment = Segment("speech", onset, confidence, end=self.time_of(end),
                          samples=[self.buffer[first + i:end].copy()],
                          after_quiet=self.time_of(first + pause))
        self.current = segment
        self._split_until = onset + WINDOW / RATE
        return Change(current, segment)

    def _short_utterance(self, end: int) -> bool:
        """Whether the last 1.75 s hold a short utterance that began ``hear_short`` s or
        more into the current silence: quiet (200 ms), a voice of SHORT_LOUD_FRAMES or more
        loud frames within SHORT_MAX_S, webrtcvad calling most of them voiced, then quiet
        (100 ms) again; no steady tone (SHORT_MIN_FLUX)."""
        look = self.buffer[max(0, end - WINDOW - 3 * HOP):end]
        base = end - len(look)
        fr = classify.frames(look)
        if len(fr) < 30:
            return False
        loud = classify.frame_db(fr) >= QUIET_DB
        idx = np.flatnonzero(loud)
        if not len(idx) or len(fr) - 1 - idx[-1] < 5:
            return False  # no voice, or one still going on
        first = idx[0]
        if first < 10 or self.time_of(base + first * classify.FRAME) < \
                self.current.start + max(0.01, self.hear_short or 0.0):
            return False
        span = (idx[-1] + 1 - first) * classify.FRAME / RATE
        if span > SHORT_MAX_S or len(idx) < SHORT_LOUD_FRAMES:
            return False
        voice = fr[idx]
        spec = np.abs(np.fft.rfft(voice * np.hanning(classify.FRAME), axis=1)) + 1e-9
        spec /= spec.sum(axis=1, keepdims=True)
        if np.median(np.abs(np.diff(spec, axis=0)).sum(axis=1)) < SHORT_MIN_FLUX:
            return False
        sound = look[first * classify.FRAME:(idx[-1] + 1) * classify.FRAME]
        return bool(classify.voiced(sound).mean() >= 0.5)

    def _start(self, label: str, confidence: float, end: int, first: bool = False) -> Change:
        self._quiet_start = None
        onset = self._onset(label, end)
        ended = self.current
        quiet_start = self._quiet_start
        if ended is not None:
            # a segment never begins before the one it follows (onsets are refined backwards)
            onset = max(onset, ended.start)
            if quiet_start is not None:
                quiet_start = min(onset, max(quiet_start, ended.start))
        if ended is not None:
            ended.end = onset
        start_index = max(0, int((onset - self.buffer_start) * RATE))
        segment = Segment(label, onset, confidence, end=self.time_of(end),
                          samples=[self.buffer[start_index:end].copy()],
                          after_quiet=quiet_start,
                          uncut=label == "speech" and not self.split_pauses)
        self.current = segment
        return Change(ended, segment)

    def _onset(self, label: str, end: int) -> float:
        """Where the new label really began, within the last ~1.75 s."""
        look = self.buffer[max(0, end - WINDOW - 3 * HOP):end]
        base = end - len(look)
        fr = classify.frames(look)
        if not len(fr):
            return self.time_of(end)
        db = classify.frame_db(fr)
        quiet = db < QUIET_DB
        if label == "silence":
            # start of the last quiet run of 200 ms or more (the window that said silence
            # may already end in the next sound)
            run = _pause_before(quiet, len(quiet), 10, to_start=True)
            return self.time_of(base + run[0] * classify.FRAME) if run else self.time_of(end)
        # first loud frame after the first quiet run of at least 200 ms (later runs may be
        # pauses between the new speaker's words)
        run, onset_frame = 0, None
        for i, q in enumerate(quiet):
            if q:
                run += 1
            elif run >= 10:
                onset_frame = i
                break
            else:
                run = 0
        if onset_frame is not None:
            self._quiet_start = self.time_of(base + (onset_frame - run) * classify.FRAME)
            return self.time_of(base + onset_frame * classify.FRAME)
        guess = len(quiet) - (WINDOW // 2 + HOP) // classify.FRAME
        if label == "music":
            # music often follows a prompt after a short breath: the nearest pause of 100 ms
            # before the first window that said music is where the prompt ended
            run = _pause_before(quiet, min(len(quiet), max(0, guess + 5)), 5)
            if run:
                self._quiet_start = self.time_of(base + run[0] * classify.FRAME)
                return self.time_of(base + run[1] * classify.FRAME)
        # no pause: the label changed inside sound; the first window that said so
        return self.time_of(end - WINDOW // 2 - HOP)


def voice_onsets(samples: np.ndarray) -> list[tuple[int, int]]:
    """(onset, pause start) sample indices of each voice onset after a pause inside
    ``samples``: PAUSE_FRAMES quiet frames, then VOICE_FRAMES loud ones."""
    fr = classify.frames(samples)
    if len(fr) < PAUSE_FRAMES + VOICE_FRAMES:
        return []
    quiet = classify.frame_db(fr) < QUIET_DB
    out, run = [], 0
    for i, q in enumerate(quiet):
        if q:
            run += 1
            continue
        if run >= PAUSE_FRAMES and i + VOICE_FRAMES <= len(quiet) and \
                not quiet[i:i + VOICE_FRAMES].any():
            out.append((i * classify.FRAME, (i - run) * classify.FRAME))
        run = 0
    return out


def _pause_before(quiet: np.ndarray, i: int, frames: int, *,
                  to_start: bool = False) -> tuple[int, int] | None:
    """(first, end) frame of the nearest run of at least ``frames`` quiet frames ending at or
    before frame ``i`` (or reaching the window's start, with ``to_start``)."""
    while i > 0:
        while i > 0 and not quiet[i - 1]:
            i -= 1
        j = i
        while j > 0 and quiet[j - 1]:
            j -= 1
        if i > j and (i - j >= frames or (to_start and j == 0)):
            return j, i
        i = j
    return None
