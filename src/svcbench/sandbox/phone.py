"""A simulated company phone line (IVR, queue, agent) over real SIP/RTP on 127.0.0.1.

Run as a process (one SIP stack per process)::

    python -m svcbench.sandbox.phone --port 5071 --truth truth.jsonl --time-scale 0.1

A call to ``sip:<scenario>[+<tag>]@127.0.0.1:<port>`` gets that scenario from
``data/phone/ivr_scenarios.toml``: ringing, greeting and menu (0 works or not), a queue with
hold music or silence and periodic position / wait announcements from Debian's recorded
prompts, an optional recorded "Hi, thanks for waiting" that sounds like a person, and an
agent who answers and replies whenever the caller speaks. Every instant the caller could
measure is written as ground truth (one JSON object per line: tag, kind, wall-clock ``at``
of the first sample on the wire). A scenario's ``line`` (:mod:`.phone_line`: band, noise
floor, level, echo, lost packets) shapes everything the company sends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..probes.phone import voice
from ..probes.phone.sip import BYTES_PER_SECOND, Account, SipCall, SipStack
from .phone_line import LineChannel, LineSpec, parse_line

FRAME = 320  # bytes: 20 ms at 8 kHz, 16 bit
#: frames kept queued ahead of the wire: with 3 (60 ms) a company process starved of CPU
#: for longer (the bench on a loaded 2-core machine) left holes in its own prompts, and
#: the truth (stamped as each clip starts) ran ahead of the audio actually sent
LEAD_FRAMES = 10
#: what an agent says to a silent line, and in reply to the caller
AGENT_CHECK = "Hello? Are you there?"
AGENT_REPLY = "Yes, I am here. Sorry, go ahead, what can I do for you?"


@dataclass(frozen=True)
class IvrScenario:
    name: str = "default"
    company: str = "Northwind Outfitters"
    ring_s: float = 6.0
    menu: bool = True
    zero: str = "works"
    announce_zero: bool = True
    menu_wait_s: float = 4.0
    menu_repeats: int = 2
    hold: str = "music"
    hold_s: float = 60.0
    announce_every_s: float = 30.0
    announced_wait_s: int = 120
    position: int = 3
    fake_human_at_s: float = 0.0
    fake_human_every_s: float = 0.0
    agent: bool = True
    #: the agent picks up right after the first queue announcement has played (a breath
    #: later), not after hold_s: a queue message and a person with no music between
    agent_after_message: bool = False
    #: the silence before the agent speaks (not scaled), after the queue's audio stops
    agent_breath_s: float = 0.4
    hangup_after_s: float = 0.0
    fake_human_text: str = ("Hi there, thanks so much for waiting. We really appreciate your "
                            "patience today.")
    agent_voice: str = "rms"
    recording_voice: str = "slt"
    #: a faulty line played by SIPp instead of the IVR: "codec_mismatch" or "no_rtp"
    fault: str = ""
    #: False: the company's side never hears the caller (one-way audio the other way)
    hears_caller: bool = True
    #: the agent hangs up after this long on the line (company clock, not scaled)
    agent_patience_s: float = 60.0
    #: "dev" (the bench's rules may be tuned on it) or "held-out" (never tuned on)
    split: str = "dev"
    #: each call's durations vary by up to this share, seeded by the call's tag
    jitter: float = 0.0
    music_track: int = 2  # index into Debian's music-on-hold tracks (0-2 fitted the classifier)
    menu_voice: str = "awb"
    agent_text: str = ("Good morning, customer service, this is the orders team. "
                       "How can I help you?")
    #: the first person to answer says this in reply to the caller and transfers the call
    #: to a second queue (transfer_hold_s) and a second agent; "" never transfers
    transfer_text: str = ""
    transfer_hold_s: float = 20.0
    second_agent_voice: str = "awb"
    second_agent_text: str = "Billing department, Sam speaking. How can I help?"
    #: the menu's wording ("{company}" is replaced); "" is the default menu
    menu_text: str = ""
    #: queue announcements spoken by this voice with the wordings below; "" plays Debian's
    #: recorded prompts (Allison: "the estimated hold time is ...", "there are ... calls")
    announce_voice: str = ""
    #: "{minutes}" alone rounds the wait to minutes; with "{seconds}" too the rest is said
    #: in seconds ("1 minute and 30 seconds"), and "{seconds}" alone says it all in seconds
    wait_text: str = "The estimated hold time is currently about {minutes} minutes."
    position_text: str = "You are currently caller number {position}."
    #: how Debian's recorded prompts announce the wait (no announce_voice): "minutes"
    #: ("the estimated hold time is" N "minutes"), "minutes-seconds" (... N "minutes" M
    #: "seconds") or "less-than" (... "less than" N "minutes")
    recorded_wait: str = "minutes"
    #: "wav" or "gsm": Debian's recorded prompts as WAV, or their GSM-coded copies
    prompt_format: str = "wav"
    #: hold music played this many dB louder (negative: quieter)
    music_gain_db: float = 0.0
    #: the track through sox, as voice transforms: "pitch=-200|tempo=0.92" (other music)
    music_transform: str = ""
    #: the line's conditions (band, noise floor, level, echo, lost packets), applied to all
    #: the company sends (:mod:`.phone_line`); the default is a clean digital line
    line: LineSpec = LineSpec()

    def scaled(self, scale: float) -> IvrScenario:
        keys = ("ring_s", "hold_s", "announce_every_s", "fake_human_at_s",
                "fake_human_every_s", "hangup_after_s", "transfer_hold_s")
        return replace(self, **{k: getattr(self, k) * scale for k in keys})

    def jittered(self, tag: str) -> IvrScenario:
        """Durations varied by up to ``jitter`` (the same tag always gets the same call)."""
        if not self.jitter:
            return self
        import hashlib

        rng = np.random.default_rng(int(hashlib.sha256(tag.encode()).hexdigest()[:12], 16))
        keys = ("ring_s", "hold_s", "announce_every_s", "fake_human_at_s", "transfer_hold_s")
        return replace(self, **{k: getattr(self, k) * float(
            rng.uniform(1 - self.jitter, 1 + self.jitter)) for k in keys})


#: fields that take sox transforms ("flite:awb|pitch=-300", "pitch=-200|tempo=0.9")
_TRANSFORMED = ("menu_voice", "agent_voice", "recording_voice", "announce_voice",
                "second_agent_voice", "music_transform")


def load_scenarios(path: str | Path | None = None) -> dict[str, IvrScenario]:
    if path is None:
        text = resources.files("svcbench").joinpath("data/phone/ivr_scenarios.toml").read_text()
    else:
        text = Path(path).read_text()
    data = tomllib.loads(text)
    known = {f.name for f in fields(IvrScenario)}
    defaults = data.get("defaults", {})
    out = {}
    for name, values in data.get("scenario", {}).items():
        merged = {**defaults, **values}
        unknown = set(merged) - known
        if unknown:
            raise ValueError(f"ivr scenario {name}: unknown keys {sorted(unknown)}")
        if "line" in merged:
            merged["line"] = parse_line(name, merged["line"])
        for key in _TRANSFORMED:  # a bad transform fails here, not in the middle of a call
            value = merged.get(key)
            parts = value.split("|") if isinstance(value, str) and value else []
            try:
                if key == "music_transform":
                    voice.sox_effects("music", parts, check_sox=False)
                else:
                    voice.sox_effects(parts[0] if parts else "", parts[1:], check_sox=False)
            except voice.AudioError as exc:
                raise ValueError(f"ivr scenario {name}: {key}: {exc}") from None
        out[name] = IvrScenario(name=name, **merged)
    return out


class Clips:
    """The prompts, built once per process from Debian's recordings and flite."""

    def __init__(self) -> None:
        self._cache: dict[Any, np.ndarray] = {}
        self.music = voice.hold_music(2)
        self._music = {2: self.music}

    def music_track(self, track: int, gain_db: float = 0.0, transform: str = ""
                    ) -> np.ndarray:
        key = (track, transform) if transform else track
        if key not in self._music:
            self._music[key] = voice.hold_music(track, transform)
        if not gain_db:
            return self._music[key]
        return self.get(("music", key, gain_db), lambda: np.clip(
            self._music[key].astype(np.float64) * 10 ** (gain_db / 20), -32768, 32767
        ).astype(np.int16))

    def get(self, key: Any, build) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def menu(self, s: IvrScenario) -> np.ndarray:
        def build():
            if s.menu_text:
                return voice.speak(s.menu_text.replace("{company}", s.company),
                                   voice=s.menu_voice)
            text = f"Thank you for calling {s.company}. For orders, press 1. For billing, press 2."
            if s.announce_zero:
                text += " To speak to a representative, press 0."
            return voice.speak(text, voice=s.menu_voice)
        return self.get(("menu", s.company, s.announce_zero, s.menu_voice, s.menu_text), build)

    def say(self, text: str, who: str = "awb") -> np.ndarray:
        """``text`` in voice ``who``; "{pause 0.8}" in it is 0.8 s of silence (a person who
        stops mid-sentence: "Hello...{pause 0.9} this is Sam")."""
        def build() -> np.ndarray:
            pieces = _PAUSE.split(text)
            if len(pieces) == 1:
                return voice.speak(text, voice=who)
            out = []
            for i, piece in enumerate(pieces):
                if i % 2:
                    out.append(voice.silence(float(piece)))
                elif piece.strip():
                    out.append(voice.speak(piece.strip(), voice=who))
            return np.concatenate(out)
        return self.get(("say", text, who), build)

    def wait(self, seconds: int, s: IvrScenario | None = None) -> np.ndarray:
        """The announcement of a wait of ``seconds`` (as :func:`said_wait` rounds it)."""
        minutes, rest = divmod(seconds, 60)
        if s is not None and s.announce_voice:
            text = s.wait_text
            if "{minutes}" not in text:
                text = text.replace("{seconds}", _spoken(seconds))
            else:
                text = text.replace("{minutes}", _spoken(minutes)).replace(
                    "{seconds}", _spoken(rest))
                if minutes == 1:
                    text = text.replace("minutes", "minute")
            return self.say(text, s.announce_voice)
        style, fmt = (s.recorded_wait, s.prompt_format) if s is not None else ("minutes", "wav")
        p = lambda name: voice.prompt(name, fmt)  # noqa: E731
        unit = lambda n: p("queue-minute" if n == 1 else "queue-minutes")  # noqa: E731

        def build() -> np.ndarray:
            if style == "less-than":
                return voice.concat(p("queue-holdtime"), p("queue-less-than"),
                                    _number(minutes, fmt), unit(minutes))
            parts = [p("queue-holdtime"), _number(minutes, fmt), unit(minutes)]
            if style == "minutes-seconds" and rest:
                parts += [_number(rest, fmt), p("queue-seconds")]
            return voice.concat(*parts)
        return self.get(("wait", seconds, style, fmt), build)

    def position(self, n: int, s: IvrScenario | None = None) -> np.ndarray:
        if s is not None and s.announce_voice:
            return self.say(s.position_text.replace("{position}", _spoken(n)),
                            s.announce_voice)
        fmt = s.prompt_format if s is not None else "wav"
        return self.get(("pos", n, fmt), lambda: voice.concat(
            voice.prompt("queue-thereare", fmt), _number(n, fmt),
            voice.prompt("queue-callswaiting", fmt)))

    def recorded(self, name: str, fmt: str = "wav") -> np.ndarray:
        return self.get(("rec", name, fmt), lambda: voice.prompt(name, fmt))


_PAUSE = re.compile(r"\{pause ([0-9]*\.?[0-9]+)\}")


def said_wait(s: IvrScenario) -> int:
    """The wait (seconds) an announcement of ``s`` says: its wording decides the rounding
    (whole minutes, or minutes and seconds, or seconds)."""
    wait = int(s.announced_wait_s)
    in_seconds = "{seconds}" in s.wait_text if s.announce_voice else \
        s.recorded_wait == "minutes-seconds"
    if in_seconds:
        return max(1, wait)
    return max(1, round(wait / 60)) * 60


def _loud_frames(samples: np.ndarray) -> np.ndarray:
    """Indices of the 20 ms frames louder than -45 dBFS."""
    n = len(samples) // 160
    fr = samples[: n * 160].astype(np.float64).reshape(n, 160) / 32768.0
    return np.nonzero(10 * np.log10((fr * fr).mean(axis=1) + 1e-10) >= -45.0)[0]


def _leading_quiet(samples: np.ndarray) -> int:
    """Samples before the first 20 ms frame louder than -45 dBFS."""
    loud = _loud_frames(samples)
    return int(loud[0]) * 160 if len(loud) else 0


def _audible_s(samples: np.ndarray) -> float:
    """Seconds from the first to the end of the last 20 ms frame louder than -45 dBFS."""
    loud = _loud_frames(samples)
    return float(loud[-1] + 1 - loud[0]) * 160 / voice.RATE if len(loud) else 0.0


def _spoken(n: int) -> str:
    """A number in words, as a synthesised announcement says it (the recogniser's words)."""
    from ..probes.phone.recognise import _NUMBERS

    words = {v: k for k, v in _NUMBERS.items()}
    if n in words:
        return words[n]
    tens, ones = n // 10 * 10, n % 10
    return f"{words[tens]}-{words[ones]}" if tens in words else str(n)


def _number(n: int, fmt: str = "wav") -> np.ndarray:
    if n <= 20 or n % 10 == 0:
        return voice.prompt(f"digits/{min(n, 90)}", fmt)
    return voice.concat(voice.prompt(f"digits/{n // 10 * 10}", fmt),
                        voice.prompt(f"digits/{n % 10}", fmt), gap_s=0.02)


class Truth:
    def __init__(self, path: Path | None):
        self.path = path

    def write(self, tag: str, scenario: str, kind: str, at: float, **data: Any) -> None:
        if self.path is None:
            return
        line = json.dumps({"tag": tag, "scenario": scenario, "kind": kind, "at": at, **data})
        with self.path.open("a") as fh:
            fh.write(line + "\n")


class Line:
    """One answered call: paced playback, DTMF, and the caller's voice activity."""

    def __init__(self, call: SipCall, *, hears_caller: bool = True,
                 line: LineSpec | None = None, tag: str = ""):
        self.call = call
        #: the line's conditions between the company and the wire (None: a clean line)
        self.channel = LineChannel(line, tag) if line is not None and line.active else None
        #: the last clip played, as heard on a clean line (its audible end, for prompts)
        self._last_heard = np.zeros(0, dtype=np.int16)
        self.hears_caller = hears_caller
        self.digits: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
        call.on_dtmf(lambda digit, at: self.digits.put_nowait((digit, at)))
        self.caller_voice_at: float = 0.0  # last time the caller was heard
        self.caller_spoke: asyncio.Event = asyncio.Event()
        self._listening = False
        #: when the line was answered, the last prompt's last audible sample went on the
        #: wire, and the caller's last key arrived (for the hold-start truth)
        self.answered_at = time.time()
        self.prompt_end: float | None = None
        self.digit_at: float | None = None

    async def prompt(self, samples: np.ndarray) -> float:
        """Play an IVR prompt (one that talks to the caller); returns its first audible
        instant and remembers its last."""
        at = await self.play(samples)
        self.prompt_end = at + self.last_audible_s
        return at

    @property
    def last_audible_s(self) -> float:
        """Where the last clip played stops being audible (seconds into it, on a clean line;
        only prompts need it, so it is not measured for every chunk of music)."""
        return _audible_s(self._last_heard)

    def hold_from(self) -> float:
        """The hold start as docs/phone.md defines it: the end of the IVR's last prompt
        before the queue, or the caller's last key if later (the answer, with no prompt)."""
        return max(self.prompt_end or self.answered_at, self.digit_at or 0.0)

    async def play(self, samples: np.ndarray, *, until: float | None = None) -> float:
        """Play ``samples`` (or up to the instant ``until``); returns when its first sample
        goes on the wire."""
        # truth is the first audible sample of this clip (line noise is not a sound)
        heard = samples if self.channel is None else self.channel.alone(samples)
        lead = _leading_quiet(heard) / voice.RATE
        self._last_heard = heard
        if self.channel is not None:
            samples = self.channel.send(samples)
        pcm = samples.astype("<i2").tobytes()
        first_at: float | None = None
        pos = 0
        while pos < len(pcm) and not self.call.is_closed:
            if until is not None and time.time() >= until:
                break
            buffered = self.call.tx_buffered()
            if buffered < LEAD_FRAMES * FRAME:
                if first_at is None:
                    first_at = time.time() + buffered / BYTES_PER_SECOND + lead
                written = self.call.write(pcm[pos:pos + FRAME])
                pos += written if written > 0 else 0
                if written <= 0:
                    await asyncio.sleep(0.02)
                continue
            await asyncio.sleep(0.01)
        return first_at if first_at is not None else time.time()

    async def quiet(self, seconds: float) -> None:
        await self.play(voice.silence(seconds))

    async def listen(self) -> None:
        """Track the caller's voice (energy above the line's noise) in the background."""
        self._listening = True
        while not self.call.is_closed and self._listening:
            pcm, at = self.call.read()
            if pcm:
                x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
                if self.hears_caller and math.sqrt(float((x * x).mean())) > 400:
                    self.caller_voice_at = at
                    self.caller_spoke.set()
            await asyncio.sleep(0.02)


class PhoneCompany:
    """Answers calls per scenario; writes ground truth."""

    def __init__(self, scenarios: dict[str, IvrScenario], *, time_scale: float = 1.0,
                 truth: Path | None = None, jitter: bool = False):
        self.scenarios = scenarios
        self.time_scale = time_scale
        #: vary each call's times by its scenario's ``jitter`` (the bench; tests keep the
        #: scenario's exact times)
        self.jitter = jitter
        self.truth = Truth(truth)
        self.clips = Clips()
        self.tasks: set[asyncio.Task] = set()

    def incoming(self, call: SipCall) -> None:
        task = asyncio.get_running_loop().create_task(self.handle(call))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def handle(self, call: SipCall) -> None:
        target = _request_user(call)
        name, _, tag = target.partition("+")
        scenario = self.scenarios.get(name)
        if scenario is None:
            print(f"phone sandbox: no scenario {name!r} (dialed {call.dialed!r})",
                  file=sys.stderr, flush=True)
            await call._call.reject()
            return
        if scenario.fault:
            print(f"phone sandbox: {name!r} is a fault line, served by SIPp "
                  "(PhoneSandbox(faults=True))", file=sys.stderr, flush=True)
            await call._call.reject()
            return
        tag = tag or str(id(call))
        s = scenario.scaled(self.time_scale)
        s = s.jittered(tag) if self.jitter else s
        write = lambda kind, at, **d: self.truth.write(tag, name, kind, at, **d)  # noqa: E731
        try:
            await self._run(call, s, write)
        except Exception as exc:  # noqa: BLE001 - a simulator bug must not kill the line
            write("error", time.time(), text=f"{type(exc).__name__}: {exc}")
        finally:
            await call.hangup()

    async def _run(self, call: SipCall, s: IvrScenario, write) -> None:
        write("ringing", time.time())
        await asyncio.sleep(s.ring_s)
        await call.answer()
        for _ in range(200):
            if any(sig.kind == "established" for sig in call.signals) or call.is_closed:
                break
            await asyncio.sleep(0.01)
        if call.is_closed:
            return
        write("answered", time.time())
        line = Line(call, hears_caller=s.hears_caller, line=s.line, tag=_request_user(call))
        listener = asyncio.get_running_loop().create_task(line.listen())
        try:
            await line.quiet(0.3)
            if s.menu and not await self._menu(line, s, write):
                return
            await self._queue(line, s, write)
        finally:
            line._listening = False
            listener.cancel()

    async def _menu(self, line: Line, s: IvrScenario, write) -> bool:
        for attempt in range(s.menu_repeats + 1):
            at = await line.prompt(self.clips.menu(s))
            write("menu", at, attempt=attempt, offers_zero=s.announce_zero)
            pressed = await self._digit(line, s.menu_wait_s)
            if pressed is None:
                continue
            digit, pressed_at = pressed
            line.digit_at = pressed_at
            write("digit", pressed_at, digit=digit)
            if digit in "12" or (digit == "0" and s.zero == "works"):
                at = await line.prompt(self.clips.recorded("pls-hold-while-try",
                                                           s.prompt_format))
                write("connecting", at)
                return True
            at = await line.prompt(self.clips.recorded("pm-invalid-option", s.prompt_format))
            write("invalid_option", at, digit=digit)
        return not line.call.is_closed

    async def _digit(self, line: Line, wait_s: float) -> tuple[str, float] | None:
        # digits pressed while the menu played count too (barge-in)
        deadline = time.time() + wait_s
        while time.time() < deadline and not line.call.is_closed:
            if not line.digits.empty():
                return line.digits.get_nowait()
            await line.quiet(0.1)
        return None

    async def _queue(self, line: Line, s: IvrScenario, write) -> None:
        start = time.time() + line.call.tx_buffered() / BYTES_PER_SECOND
        write("hold_started", line.hold_from(), music=s.hold == "music", queue_at=start)
        agent_at = start + s.hold_s if s.agent else math.inf
        hangup_at = start + s.hangup_after_s if s.hangup_after_s else math.inf
        next_announce = start + s.announce_every_s if s.announce_every_s else math.inf
        if s.announce_every_s and (s.announced_wait_s or s.position):
            next_announce = start + min(3.0, s.announce_every_s)  # first one soon after joining
        next_fake = start + s.fake_human_at_s if s.fake_human_at_s else math.inf
        music_pos = 0
        while not line.call.is_closed:
            now = time.time()
            if now >= hangup_at:
                write("hung_up", now, by="company")
                return
            if now >= agent_at:
                await self._agent(line, s, write)
                return
            if now >= next_fake:
                at = await line.play(self.clips.say(s.fake_human_text, s.recording_voice))
                write("fake_human", at)
                next_fake = now + s.fake_human_every_s if s.fake_human_every_s else math.inf
                continue
            if now >= next_announce:
                await self._announce(line, s, write, start, agent_at)
                next_announce = time.time() + s.announce_every_s
                if s.agent and s.agent_after_message:
                    while line.call.tx_buffered() and not line.call.is_closed:
                        await asyncio.sleep(0.01)  # played out (the agent flushes the rest)
                    agent_at = time.time()
                continue
            until = min(agent_at, hangup_at, next_announce, next_fake)
            if s.hold == "music":
                music = self.clips.music_track(s.music_track, s.music_gain_db,
                                                 s.music_transform)
                chunk = music[music_pos:music_pos + 8000]
                music_pos = (music_pos + 8000) % (len(music) - 8000)
            else:
                chunk = (np.random.default_rng().normal(0, 20, 8000)).astype(np.int16)
            await line.play(chunk, until=until)

    async def _announce(self, line: Line, s: IvrScenario, write, start: float,
                        agent_at: float) -> None:
        if s.position:
            left = (agent_at - time.time()) / max(s.hold_s, 1e-9) if s.agent else 1.0
            n = max(1, math.ceil(s.position * max(0.0, min(1.0, left))))
            at = await line.play(self.clips.position(n, s))
            write("position_announced", at, position=n)
        if s.announced_wait_s:
            seconds = said_wait(s)
            at = await line.play(self.clips.wait(seconds, s))
            write("wait_announced", at, seconds=seconds)
        if not s.position and not s.announced_wait_s:
            at = await line.play(self.clips.recorded("queue-periodic-announce",
                                                     s.prompt_format))
            write("announcement", at)

    async def _agent(self, line: Line, s: IvrScenario, write) -> None:
        line.call.flush()
        await line.quiet(s.agent_breath_s)
        at = await line.play(self.clips.say(s.agent_text, s.agent_voice))
        write("agent_answered", at)
        if s.transfer_text:
            s = await self._transfer(line, s, write)
            if s is None:
                return
        deadline = time.time() + s.agent_patience_s
        line.caller_spoke.clear()
        spoke_at = time.time()
        while not line.call.is_closed and time.time() < deadline:
            if not line.caller_spoke.is_set() and time.time() - max(
                    spoke_at, line.caller_voice_at) > 6.0:
                # a silent line: the agent checks whether anyone is there
                at = await line.play(self.clips.say(AGENT_CHECK, s.agent_voice))
                write("agent_prompted", at)
                spoke_at = time.time()
            if line.caller_spoke.is_set() and time.time() - line.caller_voice_at > 0.5:
                line.caller_spoke.clear()
                at = await line.play(self.clips.say(AGENT_REPLY, s.agent_voice))
                write("agent_replied", at)
                line.caller_spoke.clear()
                spoke_at = time.time()
            await line.quiet(0.1)
        if not line.call.is_closed:
            write("hung_up", time.time(), by="agent")

    async def _transfer(self, line: Line, s: IvrScenario, write) -> IvrScenario | None:
        """The first person answers the caller's hello with ``transfer_text``, then the call
        waits in a second queue (music) for the second agent; returns the second agent's
        scenario (None if the caller hung up first)."""
        line.caller_spoke.clear()
        deadline = time.time() + 10.0
        while not line.call.is_closed and time.time() < deadline and not (
                line.caller_spoke.is_set() and time.time() - line.caller_voice_at > 0.5):
            await line.quiet(0.1)
        if line.call.is_closed:
            return None
        clip = self.clips.say(s.transfer_text, s.agent_voice)
        at = await line.prompt(clip)
        write("transferred", at)
        start = time.time() + line.call.tx_buffered() / BYTES_PER_SECOND
        write("hold_started", line.prompt_end or start, music=True, queue_at=start,
              after_transfer=True)
        music = self.clips.music_track(s.music_track, s.music_gain_db, s.music_transform)
        pos = 0
        while not line.call.is_closed and time.time() < start + s.transfer_hold_s:
            await line.play(music[pos:pos + 8000], until=start + s.transfer_hold_s)
            pos = (pos + 8000) % (len(music) - 8000)
        line.call.flush()
        await line.quiet(0.4)
        at = await line.play(self.clips.say(s.second_agent_text, s.second_agent_voice))
        write("agent_answered", at, after_transfer=True)
        return replace(s, agent_voice=s.second_agent_voice)


def _request_user(call: SipCall) -> str:
    """The user part the caller dialed (the scenario), from the To address."""
    return call.dialed.split("sip:", 1)[-1].split("@", 1)[0]


async def serve(port: int, *, time_scale: float, truth: Path | None,
                scenarios_path: Path | None = None, ready: Path | None = None,
                jitter: bool = False) -> None:
    company = PhoneCompany(load_scenarios(scenarios_path), time_scale=time_scale, truth=truth,
                           jitter=jitter)
    for s in company.scenarios.values():  # synthesise prompts before the first call
        company.clips.menu(s)
        if s.music_transform:  # sox on a whole track would stall every call's audio
            company.clips.music_track(s.music_track, 0.0, s.music_transform)
    stack = SipStack(Account(user="ivr", domain=f"127.0.0.1:{port}"),
                     listen=f"127.0.0.1:{port}", max_calls=None, catch_all=True)
    async with stack:
        stack.on_incoming(company.incoming)
        if ready is not None:
            ready.write_text(str(port))
        print(f"simulated phone company on sip:*@127.0.0.1:{port}", flush=True)
        while True:
            await asyncio.sleep(3600)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FAULTS = ("codec_mismatch", "no_rtp")


def sipp_missing() -> str | None:
    """None when SIPp can play the fault lines, else why not."""
    import shutil

    if shutil.which("sipp") is None:
        return "SIPp is not installed (scripts/install-system-deps: sip-tester)"
    return None


class FaultLines:
    """The company's faulty lines (no codec in common, no RTP after answer), played by SIPp
    in UAS mode from ``data/phone/sipp_fault_lines.xml`` on their own port."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_udp_port()
        self.media_port = free_udp_port()
        self.log = directory / "sipp_messages.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        reason = sipp_missing()
        if reason:
            raise RuntimeError(reason)
        script = self.directory / "sipp_fault_lines.xml"
        script.write_text(resources.files("svcbench").joinpath(
            "data/phone/sipp_fault_lines.xml").read_text())
        self.proc = subprocess.Popen(
            ["sipp", "-sf", str(script), "-i", "127.0.0.1", "-p", str(self.port),
             "-mp", str(self.media_port), "-nostdin", "-trace_msg", "-message_file",
             str(self.log), "-trace_err", "-error_file", str(self.directory / "sipp_err.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=(self.directory / "sipp.log").open("w"), cwd=self.directory)
        deadline = time.time() + 20
        while not _udp_bound(self.port):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("SIPp did not start: "
                                   + (self.directory / "sipp.log").read_text()[-500:])
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def messages(self, tag: str) -> list[str]:
        """First lines of the SIP messages of the call dialed with ``tag`` (ground truth)."""
        if not self.log.exists():
            return []
        out = []
        for block in self.log.read_text(errors="replace").split("\n\n"):
            if f"+{tag}@" in block:
                first = [ln.strip() for ln in block.splitlines()
                         if ln.strip().startswith(("SIP/2.0", "INVITE", "ACK", "BYE"))]
                out += first[:1]
        return out


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _udp_bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class PhoneSandbox:
    """The simulated company in its own process (one SIP stack per process); with
    ``faults=True`` also its faulty lines (:class:`FaultLines`, SIPp)."""

    def __init__(self, directory: Path, *, time_scale: float, faults: bool = False,
                 jitter: bool = False):
        self.directory = directory
        self.jitter = jitter
        self.port = free_udp_port()
        self.truth_path = directory / "truth.jsonl"
        self.time_scale = time_scale
        self.proc: subprocess.Popen | None = None
        self.faults = FaultLines(directory) if faults else None
        self._fault_of = {n: s.fault for n, s in load_scenarios().items() if s.fault}

    def __enter__(self) -> PhoneSandbox:
        ready = self.directory / "ready"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "svcbench.sandbox.phone", "--port", str(self.port),
             "--time-scale", str(self.time_scale), "--truth", str(self.truth_path),
             "--ready-file", str(ready), *(["--jitter"] if self.jitter else [])],
            stdout=subprocess.DEVNULL, stderr=(self.directory / "ivr.log").open("w"), env=env)
        deadline = time.time() + 120
        while not ready.exists():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("phone sandbox did not start: "
                                   + (self.directory / "ivr.log").read_text()[-500:])
            time.sleep(0.1)
        if self.faults is not None:
            try:
                self.faults.start()
            except RuntimeError:
                self.__exit__()
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.faults is not None:
            self.faults.stop()
        if self.proc is not None:
            _stop(self.proc)

    def uri(self, scenario: str, tag: str) -> str:
        fault = self._fault_of.get(scenario)
        if fault and self.faults is not None:
            return f"sip:{scenario}+{tag}@127.0.0.1:{self.faults.port};fault={fault}"
        return f"sip:{scenario}+{tag}@127.0.0.1:{self.port}"

    def truth(self, tag: str) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        if not self.truth_path.exists():
            return out
        for line in self.truth_path.read_text().splitlines():
            row = json.loads(line)
            if row["tag"] == tag:
                out.setdefault(row["kind"], []).append(row)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m svcbench.sandbox.phone")
    parser.add_argument("--port", type=int, default=5071)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--scenarios", type=Path)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--jitter", action="store_true",
                        help="vary each call's times by its scenario's jitter (seeded by tag)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.port, time_scale=args.time_scale, truth=args.truth,
                          scenarios_path=args.scenarios, ready=args.ready_file,
                          jitter=args.jitter))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: BLE001
        print(f"phone sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
