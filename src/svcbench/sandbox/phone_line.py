"""What a real telephone line does to the company's audio, for the simulated company.

A scenario's ``line`` (``data/phone/ivr_scenarios.toml``) is applied to everything the
company sends, before the RTP encoder: a level change, the telephone band, a light echo,
a steady noise floor that never stops (gaps and silences included: a real line is never
digitally silent) and lost 20 ms packets. The filter and echo are streamed (their state
carries from one clip to the next, as on a wire); the noise is a seamless loop built once
per line; the losses are drawn from a generator seeded by the call's tag.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
TAPS = 257  # band-pass FIR: ~170 Hz transitions (Blackman window), 16 ms delay
NOISES = ("white", "pink", "brown", "hum")
LOSS_MODES = ("zero", "repeat")
MAINS_HZ = (50.0, 60.0)


@dataclass(frozen=True)
class LineSpec:
    """A line's conditions; the default changes nothing."""

    #: pass band (Hz): (300, 3400) is the telephone band, (400, 3000) a cheap handset
    band_hz: tuple[float, float] | None = None
    #: steady noise floor: "white", "pink", "brown" or "hum" (mains harmonics on pink)
    noise: str = ""
    #: its level, dBFS RMS (as the probe measures frames); a trunk at 20-40 dB SNR
    noise_dbfs: float = -55.0
    #: level change of the company's audio (a quiet agent -12, a hot line +6)
    gain_db: float = 0.0
    #: share of 20 ms packets lost, zeroed or (the codec's concealment) repeated
    loss: float = 0.0
    loss_mode: str = "zero"
    #: a light echo of the company's own audio: delay and level relative to it
    echo_ms: float = 0.0
    echo_db: float = -20.0
    #: the mains frequency of a "hum" floor: 50 Hz (Europe) or 60 Hz (North America)
    hum_hz: float = 50.0

    @property
    def shapes(self) -> bool:
        return bool(self.band_hz or self.gain_db or self.echo_ms)

    @property
    def active(self) -> bool:
        return self.shapes or bool(self.noise or self.loss)


def parse_line(scenario: str, value: Any) -> LineSpec:
    """``line = {band_hz = [300, 3400], noise = "pink", ...}`` as a :class:`LineSpec`;
    a ValueError naming the scenario and the field otherwise."""
    where = f"ivr scenario {scenario}: line"
    if isinstance(value, LineSpec):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a table such as "
                         '{band_hz = [300, 3400], noise = "pink", noise_dbfs = -55}')
    known = {f.name for f in fields(LineSpec)}
    unknown = set(value) - known
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key == "band_hz":
            if (not isinstance(v, list) or len(v) != 2
                    or not all(isinstance(x, int | float) for x in v)
                    or not 0 < v[0] < v[1] < RATE / 2):
                raise ValueError(f"{where}.band_hz: expected [low, high] Hz with "
                                 f"0 < low < high < 4000, got {v!r}")
            out[key] = (float(v[0]), float(v[1]))
        elif key == "hum_hz":
            if isinstance(v, bool) or v not in MAINS_HZ:
                raise ValueError(f"{where}.hum_hz: expected 50 or 60, got {v!r}")
            out[key] = float(v)
        elif key in ("noise", "loss_mode"):
            choices = NOISES if key == "noise" else LOSS_MODES
            if v not in choices:
                raise ValueError(f"{where}.{key}: expected one of {', '.join(choices)}, "
                                 f"got {v!r}")
            out[key] = v
        else:
            lo, hi = {"noise_dbfs": (-90, -20), "gain_db": (-30, 20), "loss": (0, 0.3),
                      "echo_ms": (0, 500), "echo_db": (-60, -3)}[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
                raise ValueError(f"{where}.{key}: expected a number from {lo} to {hi}, "
                                 f"got {v!r}")
            out[key] = float(v)
    return LineSpec(**out)


@lru_cache(maxsize=8)
def band_taps(band: tuple[float, float]) -> np.ndarray:
    """A linear-phase band-pass FIR (windowed sinc, Blackman: > 70 dB out of band)."""
    n = np.arange(TAPS) - (TAPS - 1) / 2
    lo, hi = band[0] / RATE, band[1] / RATE
    h = 2 * hi * np.sinc(2 * hi * n) - 2 * lo * np.sinc(2 * lo * n)
    return h * np.blackman(TAPS)


@lru_cache(maxsize=16)
def noise_loop(spec: LineSpec, n: int = 1 << 16) -> np.ndarray:
    """8.2 s of the line's noise floor, band-limited like the line, at exactly
    ``noise_dbfs``; built in the frequency domain so it loops without a seam."""
    key = repr(spec)
    if spec.hum_hz == 50.0:  # lines written before hum_hz keep their noise (b3-* reruns alike)
        key = key.replace(", hum_hz=50.0", "")
    rng = np.random.default_rng(int(hashlib.sha256(key.encode()).hexdigest()[:12], 16))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum = rng.normal(size=len(f)) + 1j * rng.normal(size=len(f))
    safe = np.maximum(f, 20.0)
    shape = {"white": np.ones_like(f), "pink": safe ** -0.5, "brown": 1 / safe,
             "hum": safe ** -0.5}[spec.noise]
    spectrum *= shape
    if spec.noise == "hum":  # mains hum (50 or 60 Hz and harmonics) over a quieter pink bed
        spectrum *= 0.3
        for k in range(1, 20):
            i = int(round(spec.hum_hz * k * n / RATE))
            spectrum[i] += 40 * np.sqrt(len(f)) / k * np.exp(1j * rng.uniform(0, 2 * np.pi))
    if spec.band_hz:
        lo, hi = spec.band_hz
        spectrum *= np.clip((f - lo * 0.8) / (lo * 0.2), 0, 1) * np.clip(
            (hi * 1.1 - f) / (hi * 0.1), 0, 1)
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    rms = np.sqrt(np.mean(x * x))
    return x * (32768 * 10 ** (spec.noise_dbfs / 20) / max(rms, 1e-12))


def lose_frames(samples: np.ndarray, share: float, mode: str,
                rng: np.random.Generator, prev: np.ndarray | None = None) -> np.ndarray:
    """``samples`` with about ``share`` of its 20 ms frames lost: zeroed, or repeating the
    frame before (``prev``: the last frame sent before these)."""
    out = np.array(samples, dtype=np.float64)
    n = -(-len(out) // FRAME_SAMPLES)
    lost = rng.random(n) < share
    last = np.zeros(FRAME_SAMPLES) if prev is None else np.asarray(prev, np.float64)
    for i in np.nonzero(lost)[0]:
        a, b = i * FRAME_SAMPLES, min(len(out), (i + 1) * FRAME_SAMPLES)
        if mode == "repeat":
            src = out[a - FRAME_SAMPLES:a] if i else last
            out[a:b] = src[: b - a]
        else:
            out[a:b] = 0.0
    return out


class LineChannel:
    """One call's line: :meth:`send` streams clips through it; :meth:`alone` is one clip
    through a fresh line without noise or loss (the ground truth's audible instants)."""

    def __init__(self, spec: LineSpec, tag: str):
        self.spec = spec
        seed = int(hashlib.sha256(f"line|{tag}".encode()).hexdigest()[:12], 16)
        self.rng = np.random.default_rng(seed)
        self.taps = band_taps(spec.band_hz) if spec.band_hz else None
        self.echo = int(round(spec.echo_ms * RATE / 1000))
        self._fir_hist = np.zeros(TAPS - 1)
        self._echo_hist = np.zeros(self.echo)
        self.noise = noise_loop(spec) if spec.noise else None
        self._noise_pos = int(self.rng.integers(0, 1 << 16))
        self._last = np.zeros(FRAME_SAMPLES)

    @property
    def delay_samples(self) -> int:
        return (TAPS - 1) // 2 if self.taps is not None else 0

    def _shape(self, x: np.ndarray, fir_hist: np.ndarray, echo_hist: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = x.astype(np.float64) * 10 ** (self.spec.gain_db / 20)
        if self.taps is not None:
            full = np.concatenate([fir_hist, x])
            fir_hist = full[len(full) - (TAPS - 1):]
            x = np.convolve(full, self.taps, mode="valid")
        if self.echo:
            full = np.concatenate([echo_hist, x])
            echo_hist = full[len(full) - self.echo:]
            x = x + 10 ** (self.spec.echo_db / 20) * full[: len(x)]
        return x, fir_hist, echo_hist

    def alone(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` on a fresh line (no noise, no loss), followed by its filter and echo
        tails: where this clip alone is audible on the wire."""
        if not self.spec.shapes:
            return samples
        tail = np.zeros(self.delay_samples + self.echo)
        out, _, _ = self._shape(np.concatenate([samples.astype(np.float64), tail]),
                                np.zeros(TAPS - 1), np.zeros(self.echo))
        return np.clip(out, -32768, 32767).astype(np.int16)

    def send(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` as the line carries them (streaming state kept), as int16."""
        x = samples
        if self.spec.shapes:
            x, self._fir_hist, self._echo_hist = self._shape(x, self._fir_hist,
                                                             self._echo_hist)
        else:
            x = x.astype(np.float64)
        if self.noise is not None and len(x):
            idx = (self._noise_pos + np.arange(len(x))) % len(self.noise)
            self._noise_pos = int(idx[-1] + 1)
            x = x + self.noise[idx]
        if self.spec.loss and len(x):
            x = lose_frames(x, self.spec.loss, self.spec.loss_mode, self.rng, self._last)
        out = np.clip(np.round(x), -32768, 32767).astype(np.int16)
        if len(out) >= FRAME_SAMPLES:
            self._last = out[-FRAME_SAMPLES:].astype(np.float64)
        return out
