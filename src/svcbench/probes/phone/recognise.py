"""Offline keyword spotting on speech segments (pocketsphinx, model shipped in its wheel).

Two passes over a segment: keyphrase search for topics (menu, agent, wait, position, invalid
option, ...) from ``data/phone/keyphrases.toml``; then, when a wait or position topic was
heard, a strict JSGF grammar (``data/phone/numbers.jsgf``) reads the number. Decoding runs in
a worker process with a time limit: a search that hangs (pocketsphinx's loop grammars can)
costs one segment, never the call.
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

    def first_start(self, phrases: tuple[str, ...]) -> float | None:
        found = [self.starts[p] for p in phrases if p in self.starts]
        return min(found) if found else None

    @property
    def offers_agent(self) -> bool:
        return {"menu", "agent"} <= self.topics

    def to_json(self) -> dict[str, Any]:
        return {"phrases": self.phrases, "topics": sorted(self.topics), "text": self.text,
                "wait_s": self.wait_s, "position": self.position}


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
    """(wait seconds, queue position) from a grammar hypothesis."""
    words = text.split()
    wait = position = None
    i = 0
    while i < len(words):
        word = words[i]
        if word not in _NUMBERS:
            i += 1
            continue
        value, used = _NUMBERS[word], 1
        if i + 1 < len(words) and words[i + 1] in _NUMBERS and value >= 20:
            value, used = value + _NUMBERS[words[i + 1]], 2
        after = words[i + used] if i + used < len(words) else ""
        before = " ".join(words[max(0, i - 2):i])
        if after.startswith("minute"):
            wait = value * 60.0
        elif after.startswith("second"):
            wait = float(value)
        elif "number" in before:
            position = value
        i += used
    return wait, position


def _upsample(pcm: bytes) -> bytes:
    a = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if not len(a):
        return b""
    up = np.interp(np.arange(len(a) * 2) / 2.0, np.arange(len(a)), a)
    return up.astype("<i2").tobytes()


def serve() -> None:
    """The worker: length-prefixed PCM on stdin, one JSON line per segment on stdout."""
    import json
    import os
    import struct
    import sys
    import tempfile

    from pocketsphinx import Decoder

    topics, phrases = keyphrases()
    # the decoders read their files as they start; the worker is killed, never told to
    # stop, so the files go now (one directory was left in /tmp per worker ever started)
    with tempfile.TemporaryDirectory(prefix="svcbench-kws-") as tmp:
        kws_path = os.path.join(tmp, "keyphrases.list")
        with open(kws_path, "w") as fh:
            fh.write("".join(f"{p} /{t:g}/\n" for p, t in phrases.items()))
        gram_path = os.path.join(tmp, "numbers.jsgf")
        with open(gram_path, "w") as fh:
            fh.write(_data("numbers.jsgf"))
        kws = Decoder(kws=kws_path, samprate=16000, loglevel="FATAL")
        numbers = Decoder(jsgf=gram_path, samprate=16000, loglevel="FATAL")
    stdin, stdout = sys.stdin.buffer, sys.stdout
    stdout.write("ready\n")
    stdout.flush()
    while True:
        head = stdin.read(4)
        if len(head) < 4:
            return
        pcm = stdin.read(struct.unpack("<I", head)[0])
        audio = _upsample(pcm)
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

    def recognise(self, samples: np.ndarray) -> Heard:
        import json
        import struct

        with self._lock:
            try:
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
                pcm = samples.astype("<i2").tobytes()
                self._proc.stdin.write(struct.pack("<I", len(pcm)) + pcm)
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
                      starts=reply.get("starts", {}))
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

    def recognise(self, samples: np.ndarray) -> Heard:
        import heapq

        me = (int(np.size(samples)), next(self._arrivals))
        with self._turn:
            heapq.heappush(self._waiting, me)
            self._turn.wait_for(lambda: bool(self._idle) and self._waiting[0] == me)
            heapq.heappop(self._waiting)
            worker = self._idle.pop()  # the worker started last is taken first
            self._turn.notify_all()
        try:
            return worker.recognise(samples)
        finally:
            with self._turn:
                self._idle.append(worker)
                self._turn.notify_all()

    def close(self) -> None:
        for worker in self._all:
            worker.close()


_shared: RecogniserPool | None = None


def shared() -> RecogniserPool:
    global _shared
    if _shared is None:
        _shared = RecogniserPool(worker_count("SVCBENCH_RECOGNISERS"))
    return _shared


def wait_phrase(text: str) -> bool:
    return bool(re.search(r"\b(hold|wait) time\b", text))


if __name__ == "__main__":
    serve()
