"""The simulated company's line conditions and voice transforms (no call is placed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from svcbench.probes.phone import voice
from svcbench.sandbox.phone import (
    AGENT_CHECK,
    AGENT_REPLY,
    _audible_s,
    _leading_quiet,
    load_scenarios,
    said_wait,
)
from svcbench.sandbox.phone_line import (
    LineChannel,
    LineSpec,
    lose_frames,
    noise_loop,
    parse_line,
)

RATE = 8000


def _tone(hz: float, seconds: float = 1.0, level: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def _db(x: np.ndarray) -> float:
    x = x.astype(np.float64) / 32768
    return float(10 * np.log10(np.mean(x * x) + 1e-12))


def test_band_pass_removes_energy_outside_the_band():
    ch = LineChannel(LineSpec(band_hz=(300.0, 3400.0)), "t")
    inside, low, high = (ch.send(_tone(hz, 1.0))[1000:] for hz in (1000, 100, 3800))
    assert abs(_db(inside) - _db(_tone(1000)[1000:])) < 1.0
    assert _db(low) < _db(inside) - 40 and _db(high) < _db(inside) - 40
    narrow = LineChannel(LineSpec(band_hz=(400.0, 3000.0)), "t")
    assert _db(narrow.send(_tone(3400))[1000:]) < _db(inside) - 30


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "hum"])
def test_noise_floor_is_at_the_level_asked_and_fills_silence(kind):
    spec = LineSpec(band_hz=(300.0, 3400.0), noise=kind, noise_dbfs=-52.0)
    ch = LineChannel(spec, "call-1")
    quiet = ch.send(voice.silence(2.0))
    frames = quiet[: len(quiet) // 160 * 160].reshape(-1, 160)
    assert abs(_db(quiet) - -52.0) <= 2.0
    assert (np.abs(frames).max(axis=1) > 0).all()  # never a digitally silent frame
    # the probe's quiet threshold (-45 dBFS) still calls it quiet, and the truth too
    assert _leading_quiet(np.concatenate([quiet, _tone(1000, 0.2)])) >= len(quiet) - 160


@pytest.mark.parametrize("hz", [50, 60])
def test_hum_is_at_the_mains_frequency_asked(hz):
    x = noise_loop(LineSpec(band_hz=(300.0, 3400.0), noise="hum", noise_dbfs=-42.0,
                            hum_hz=float(hz)))
    spectrum, f = np.abs(np.fft.rfft(x)), np.fft.rfftfreq(len(x), 1 / RATE)
    peak = lambda at: spectrum[np.abs(f - at) < 1.0].max()  # noqa: E731
    other = 110 - hz  # 60 Hz's harmonics where 50 Hz has none, and the other way round
    for k in (7, 8, 9):
        assert peak(hz * k) > 10 * peak(other * k)
    assert abs(_db(x.astype(np.int16)) - -42.0) <= 1.0


def test_lines_written_before_hum_hz_keep_their_noise():
    """b3-* ran once blind; its lines (50 Hz when hum) still get the same noise."""
    pink = noise_loop(LineSpec(band_hz=(300.0, 3400.0), noise="pink", noise_dbfs=-58.0))
    hum = noise_loop(LineSpec(band_hz=(400.0, 3000.0), noise="hum", noise_dbfs=-58.0))
    assert np.allclose(pink[:4], [-38.1454, 17.632, 5.0408, -75.7154], atol=1e-3)
    assert np.allclose(hum[:4], [97.1403, 87.9851, 63.7434, 27.0281], atol=1e-3)


def test_gain_changes_the_level_and_echo_adds_a_delayed_copy():
    base = _tone(1000, 0.5)
    quiet = LineChannel(LineSpec(gain_db=-12.0), "t").send(base)
    assert abs(_db(quiet) - (_db(base) - 12.0)) < 0.2
    click = np.zeros(4000, np.int16)
    click[100] = 10000
    echoed = LineChannel(LineSpec(echo_ms=100.0, echo_db=-20.0), "t").send(click)
    assert echoed[100 + 800] == pytest.approx(1000, abs=2)


def test_lost_packets_share_and_reproducibility():
    x = np.full(160 * 2000, 5000.0)
    a = lose_frames(x, 0.03, "zero", np.random.default_rng(7))
    b = lose_frames(x, 0.03, "zero", np.random.default_rng(7))
    c = lose_frames(x, 0.03, "zero", np.random.default_rng(8))
    lost = (a.reshape(-1, 160) == 0).all(axis=1).mean()
    assert 0.02 <= lost <= 0.04
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    ramp = np.arange(160 * 50, dtype=np.float64)
    rep = lose_frames(ramp, 0.2, "repeat", np.random.default_rng(1))
    changed = [i for i in range(1, 50) if not np.array_equal(rep[i * 160:(i + 1) * 160],
                                                             ramp[i * 160:(i + 1) * 160])]
    assert changed and all(np.array_equal(rep[i * 160:(i + 1) * 160],
                                          rep[(i - 1) * 160:i * 160]) for i in changed)
    # the same call's tag loses the same packets
    spec = LineSpec(loss=0.05)
    one, two = (LineChannel(spec, "b3-x+tag1").send(x.astype(np.int16)) for _ in range(2))
    assert np.array_equal(one, two)
    assert not np.array_equal(one, LineChannel(spec, "b3-x+tag2").send(x.astype(np.int16)))


def test_truth_sees_the_clip_not_the_noise():
    """The first audible instant of a clip on a noisy, band-limited line is the clip's
    own (plus the filter's delay), not the noise's."""
    spec = LineSpec(band_hz=(300.0, 3400.0), noise="pink", noise_dbfs=-50.0, loss=0.02)
    ch = LineChannel(spec, "t")
    clip = np.concatenate([voice.silence(0.5), _tone(800, 0.5)])
    heard = ch.alone(clip)
    assert abs(_leading_quiet(heard) - 0.5 * RATE) <= 160
    assert _leading_quiet(ch.send(clip)) <= 0.5 * RATE + 160


def test_bad_line_in_the_scenarios_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "s.toml"
    for bad, words in [('line = "noisy"', "expected a table"),
                       ('line = { noise = "purple" }', "line.noise: expected one of"),
                       ('line = { band_hz = [3400, 300] }', "line.band_hz"),
                       ('line = { loss = 0.9 }', "line.loss: expected a number"),
                       ('line = { snr = 30 }', "unknown keys ['snr']"),
                       ('line = { noise = "hum", hum_hz = 55 }', "line.hum_hz: expected 50"),
                       ('agent_voice = "awb|pitch=9000"', "agent_voice: voice 'awb': "),
                       ('music_transform = "speed=2"', "music_transform: voice 'music'"),
                       ('menu_voice = "flite:slt|tempo"', "menu_voice: ")]:
        path.write_text(f"[scenario.b3-x]\n{bad}\n")
        with pytest.raises(ValueError, match="ivr scenario b3-x: ") as err:
            load_scenarios(path)
        assert words in str(err.value) and "\n" not in str(err.value)
    assert parse_line("x", {"band_hz": [300, 3400], "noise": "pink"}).active
    assert not LineSpec().active


@pytest.mark.skipif(not shutil.which("sox"), reason="sox missing (scripts/install-system-deps)")
def test_voice_transforms(tmp_path, monkeypatch):
    monkeypatch.setenv("SVCBENCH_AUDIO_CACHE", str(tmp_path))
    plain = voice.speak("Thanks for holding, this is Sam.", voice="flite:awb")
    fast = voice.speak("Thanks for holding, this is Sam.", voice="flite:awb|tempo=1.5")
    low = voice.speak("Thanks for holding, this is Sam.", voice="awb|pitch=-400")
    assert len(fast) < 0.8 * len(plain) and abs(len(low) - len(plain)) < 0.05 * len(plain)
    assert not np.array_equal(low[: len(plain)], plain[: len(low)])
    with pytest.raises(voice.AudioError, match="transform 'speed=2'"):
        voice.speak("x", voice="awb|speed=2")
    with pytest.raises(voice.AudioError, match="pitch=CENTS"):
        voice.speak("x", voice="awb|pitch=5000")


@pytest.mark.parametrize("split,prefix", [("blind3", "b3-"), ("blind4", "b4-"),
                                          ("blind5", "b5-"), ("blind6", "b6-"),
                                          ("blind7", "b7-"), ("blind8", "b8-")])
def test_every_blind_line_scenario_parses_and_its_clips_are_8khz(split, prefix):
    """b3-* to b8-* (each run once, by the lead, for the figures) parse, and every
    clip they play synthesises and is heard over its line's noise (which also fills the disk
    cache the simulator reads, so no synthesis stalls its calls); no call is placed. b3 and
    b4 all carry a line and an agent; b5 to b8 mix in clean lines and company hang-ups."""
    from svcbench.sandbox.phone import Clips

    missing = [t for t in ("flite", "espeak-ng", "text2wave", "sox") if not shutil.which(t)]
    if missing or not voice.PROMPTS_DIR.exists() or not voice.MOH_DIR.exists():
        pytest.skip(f"voices, prompts or music missing {missing} (scripts/install-system-deps)")
    blind = {n: s for n, s in load_scenarios().items() if s.split == split}
    assert len(blind) >= 20 and all(n.startswith(prefix) for n in blind)
    lined = [s for s in blind.values() if s.line.active and s.line.band_hz]
    answered = [s for s in blind.values() if s.agent and not s.hangup_after_s]
    if split in ("blind5", "blind6", "blind7", "blind8"):
        assert len(blind) - len(lined) >= 3 and len(blind) - len(answered) >= 2
    else:
        assert len(lined) == len(answered) == len(blind)
    voices = {v for s in blind.values() for v in (s.menu_voice, s.agent_voice,
                                               s.recording_voice, s.second_agent_voice,
                                               s.announce_voice) if v}
    clips = Clips()
    for v in sorted(voices):
        x = clips.say("Thanks for holding.", v)
        assert x.dtype == np.int16 and 0.3 * RATE < len(x) < 5 * RATE, v
    espeak_data = _espeak_variants()
    for v in voices:  # espeak-ng silently ignores a variant it does not have
        if v.startswith("espeak-ng:") and espeak_data is not None:
            assert v.split("|")[0].rsplit("+", 1)[-1] in espeak_data, v
    for s in blind.values():
        said = [clips.menu(s), clips.say(s.agent_text, s.agent_voice)]
        if s.hold == "music" or s.transfer_text:  # its first 10 s, as the caller hears them
            said.append(clips.music_track(s.music_track, s.music_gain_db,
                                          s.music_transform)[:80000])
        if s.announced_wait_s:
            said.append(clips.wait(said_wait(s), s))
        said += [clips.position(n, s) for n in range(1, s.position + 1)]
        said += [clips.say(text, who) for text in (AGENT_CHECK, AGENT_REPLY)
                 for who in {s.agent_voice, s.second_agent_voice if s.transfer_text else
                             s.agent_voice}]
        if s.fake_human_at_s:
            said.append(clips.say(s.fake_human_text, s.recording_voice))
        if s.transfer_text:
            said += [clips.say(s.transfer_text, s.agent_voice),
                     clips.say(s.second_agent_text, s.second_agent_voice)]
        ch = LineChannel(s.line, f"{s.name}+t")
        for clip in said:
            out = ch.send(clip)
            assert clip.dtype == out.dtype == np.int16 and len(out) == len(clip) > 0
            heard = ch.alone(clip)
            assert _audible_s(heard) > 0.3, s.name  # audible on the line
            if s.line.noise:  # and over its noise floor (a caller would hear it fine)
                assert _loud_db(heard) >= s.line.noise_dbfs + 12, s.name


def _loud_db(x: np.ndarray) -> float:
    """The level of a clip's loud frames: the 90th percentile of its 20 ms frames' dBFS."""
    fr = x[: len(x) // 160 * 160].astype(np.float64).reshape(-1, 160) / 32768
    return float(np.percentile(10 * np.log10((fr * fr).mean(axis=1) + 1e-10), 90))


def _espeak_variants() -> set[str] | None:
    import subprocess

    if not shutil.which("espeak-ng"):
        return None
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    data = Path(out.split("Data at:", 1)[-1].strip()) / "voices" / "!v"
    return {p.name for p in data.iterdir()} if data.is_dir() else None


class _Wire:
    """The two things :class:`Line` asks of a call to play audio: the send buffer and a
    write; everything written is kept (what would go on the wire)."""

    is_closed = False

    def __init__(self):
        self.sent = bytearray()

    def on_dtmf(self, handler):
        pass

    def tx_buffered(self) -> int:
        return 0

    def write(self, pcm: bytes) -> int:
        self.sent += pcm
        return len(pcm)


def test_the_company_plays_through_its_line_and_silence_carries_the_noise():
    import asyncio
    import time

    from svcbench.sandbox.phone import Line

    # a loud floor (above the -45 dBFS the truth calls audible) and a strong echo
    spec = LineSpec(band_hz=(300.0, 3400.0), noise="pink", noise_dbfs=-40.0, echo_ms=200.0,
                    echo_db=-6.0)
    clip = np.concatenate([voice.silence(0.3), _tone(1000, 0.3, 3000)])

    async def go(line_spec):
        wire = _Wire()
        line = Line(wire, line=line_spec, tag="linetest+1")
        t0 = time.time()
        at = await line.play(clip)
        audible = line.last_audible_s
        await line.quiet(0.2)
        return np.frombuffer(bytes(wire.sent), "<i2"), at - t0, audible

    sent, lead, audible = asyncio.run(go(spec))
    clean, clean_lead, clean_audible = asyncio.run(go(None))
    assert len(sent) == len(clean) == len(clip) + 1600
    assert abs(_db(sent[:2400]) - -40.0) <= 2.0  # the clip's leading silence carries it
    assert 1000 <= np.abs(sent[-800:]).max() < 4000  # the quiet after: echo tail, then noise
    assert not clean[:2400].any() and not clean[-1600:].any()
    # the truth is the clip's first audible instant on the line (not the noise's), and its
    # audible length includes the echo's tail
    assert abs(lead - clean_lead) < 0.03 and clean_lead > 0.25
    assert abs(audible - (clean_audible + 0.2)) < 0.05
