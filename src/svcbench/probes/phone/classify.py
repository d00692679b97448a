"""Speech / music / silence from 8 kHz audio, and fingerprints of speech segments.

Features of a window of 20 ms frames (numpy only): frame log-energy mean and spread, share of
low-energy frames (speech pauses between syllables; music rarely does), spectral flux, zero
crossing spread, the share of frames webrtcvad calls voiced, and the syllabic modulation of
the frame envelope (2-8 Hz, Scheirer & Slaney's "4 Hz modulation energy": it survives a
noise floor in the pauses and a telephone band, which the energy features do not). A
softmax over them is fitted by ``bench/phone_classifier.py`` on a labelled set built from
Debian's recorded prompts and hold music (files split into fitted and held-out parts),
clean and through telephone lines, and stored as
``data/phone/classifier.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

RATE = 8000
FRAME = 160  # 20 ms
LABELS = ("silence", "speech", "music")
FEATURES = ("log_energy", "energy_spread", "low_energy_share", "flux", "zcr_spread",
            "voiced_share", "flatness", "syllabic_share", "syllabic_log")
#: below this mean frame energy (dBFS) a window is silence whatever the model says
SILENCE_DB = -55.0


def frames(samples: np.ndarray) -> np.ndarray:
    n = len(samples) // FRAME
    return samples[: n * FRAME].astype(np.float64).reshape(n, FRAME) / 32768.0


def frame_db(fr: np.ndarray) -> np.ndarray:
    return 10 * np.log10((fr * fr).mean(axis=1) + 1e-10)


_vad = None


def voiced(samples: np.ndarray) -> np.ndarray:
    """webrtcvad's decision per 20 ms frame (mode 2)."""
    global _vad
    import webrtcvad

    if _vad is None:
        _vad = webrtcvad.Vad(2)
    pcm = samples.astype("<i2").tobytes()
    step = FRAME * 2
    return np.array([_vad.is_speech(pcm[i:i + step], RATE)
                     for i in range(0, len(pcm) - step + 1, step)], dtype=bool)


def features(samples: np.ndarray, voiced_flags: np.ndarray | None = None) -> np.ndarray:
    fr = frames(samples)
    if len(fr) < 5:
        return np.array([-100.0, 0, 0, 0, 0, 0, 0, 0, 0])
    db = frame_db(fr)
    energy = (fr * fr).mean(axis=1)
    low = float((energy < 0.5 * energy.mean()).mean())
    spec = np.abs(np.fft.rfft(fr * np.hanning(FRAME), axis=1)) + 1e-9
    norm = spec / spec.sum(axis=1, keepdims=True)
    flux = float(np.abs(np.diff(norm, axis=0)).sum(axis=1).mean())
    zcr = (np.abs(np.diff(np.sign(fr), axis=1)) > 0).mean(axis=1)
    flat = float(np.mean(np.exp(np.log(spec).mean(axis=1)) / spec.mean(axis=1)))
    if voiced_flags is None:
        voiced_flags = voiced(samples)
    return np.array([float(db.mean()), float(db.std()), low, flux, float(zcr.std()),
                     float(voiced_flags.mean()) if len(voiced_flags) else 0.0, flat,
                     *_syllabic(energy)])


def _syllabic(energy: np.ndarray) -> tuple[float, float]:
    """Share of the frame envelope's modulation (0.5-25 Hz) at syllable rate (2-8 Hz), and
    its log energy, over a window's frames (50 a second)."""
    rms = np.sqrt(energy)
    if len(rms) < 16 or rms.mean() <= 0:
        return 0.0, 0.0
    x = rms / rms.mean() - 1.0
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), FRAME / RATE)
    syllabic = float(spec[(f >= 2) & (f <= 8)].sum())
    return syllabic / (float(spec[f >= 0.5].sum()) + 1e-12), float(np.log(syllabic + 1e-6))


@dataclass(frozen=True)
class Model:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (features + 1, classes)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - self.mean) / self.scale
        logits = np.hstack([z, np.ones((len(z), 1))]) @ self.weights
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def to_json(self) -> dict:
        return {"features": list(FEATURES), "labels": list(LABELS),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist()}


def fit(x: np.ndarray, y: np.ndarray, *, steps: int = 3000, rate: float = 0.5,
        l2: float = 1e-3) -> Model:
    """Multinomial logistic regression by gradient descent (small data, numpy only)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    onehot = np.eye(len(LABELS))[y]
    w = np.zeros((z.shape[1], len(LABELS)))
    counts = onehot.sum(axis=0)
    sample_weight = (1.0 / counts[y])[:, None] * len(y) / len(LABELS)  # balance classes
    for _ in range(steps):
        logits = z @ w
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = z.T @ ((p - onehot) * sample_weight) / len(z) + l2 * w
        w -= rate * grad
    return Model(mean, scale, w)


@lru_cache(maxsize=1)
def model() -> Model:
    data = json.loads(resources.files("svcbench").joinpath(
        "data/phone/classifier.json").read_text())
    return Model(np.array(data["mean"]), np.array(data["scale"]), np.array(data["weights"]))


def classify(samples: np.ndarray, voiced_flags: np.ndarray | None = None) -> tuple[str, float]:
    """(label, confidence) for a window of audio (about one second works best)."""
    x = features(samples, voiced_flags)
    if x[0] < SILENCE_DB:
        return "silence", 0.99
    p = model().probabilities(x)[0]
    best = int(p.argmax())
    return LABELS[best], float(p[best])


# -- fingerprints -------------------------------------------------------------------------

_BANDS = np.array([0, 300, 500, 700, 1000, 1400, 1900, 2600, 3400, 4000])


def fingerprint(samples: np.ndarray, *, seconds: float = 2.0) -> np.ndarray:
    """Bits of band-energy change over time (a coarse spectrogram hash, Haitsma-Kalker style)
    of the first ``seconds`` of a segment, 50 ms hop."""
    x = samples[: int(seconds * RATE)].astype(np.float64)
    hop, win = 400, 512
    if len(x) < win + hop:
        return np.zeros((0, len(_BANDS) - 2), dtype=bool)
    starts = range(0, len(x) - win, hop)
    spec = np.abs(np.fft.rfft(np.stack([x[s:s + win] * np.hanning(win) for s in starts]), axis=1))
    freqs = np.fft.rfftfreq(win, 1 / RATE)
    bands = np.stack([spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
                      for lo, hi in zip(_BANDS[:-1], _BANDS[1:], strict=True)], axis=1)
    bands = np.log(bands + 1e-6)
    diff = np.diff(bands, axis=1)
    return (diff[1:] - diff[:-1]) > 0


def repeat_score(samples: np.ndarray, earlier: list[np.ndarray]) -> float:
    """Best similarity of a segment to earlier fingerprints, trying the segment from 0, 100,
    200 and 300 samples in: hops are 400 samples, and two onsets of the same recording a
    20 ms frame apart scored 0.69 at a whole-hop shift (a repeat missed) against 0.88 or
    more this way; different clips of the scenario voices score at most 0.75."""
    if not earlier:
        return 0.0
    return max(similarity(fingerprint(samples[offset:]), old)
               for offset in (0, 100, 200, 300) for old in earlier)


def heard_in(samples: np.ndarray, stream: np.ndarray) -> float:
    """Best similarity of a segment's start to any stretch of ``stream`` (audio heard
    earlier, kept whole): a recording's piece that begins anywhere in it, not only where
    a segment of it began (hold music restarted after a transfer, heard as speech)."""
    whole = fingerprint(stream, seconds=len(stream) / RATE)
    best = 0.0
    for offset in (0, 100, 200, 300):
        piece = fingerprint(samples[offset:])
        if len(piece) < 8 or len(whole) < len(piece):
            continue
        windows = np.lib.stride_tricks.sliding_window_view(whole, piece.shape)[:, 0]
        best = max(best, float((windows == piece).mean(axis=(1, 2)).max()))
    return best


def similarity(a: np.ndarray, b: np.ndarray, *, max_shift: int = 4) -> float:
    """Best share of equal bits between two fingerprints over small time shifts."""
    best = 0.0
    for shift in range(-max_shift, max_shift + 1):
        x, y = (a[shift:], b) if shift >= 0 else (a, b[-shift:])
        n = min(len(x), len(y))
        if n < 8:
            continue
        best = max(best, float((x[:n] == y[:n]).mean()))
    return best


# -- voices -------------------------------------------------------------------------------

#: profiles further apart than this are two voices: fitted on the dev and fr-* voices
#: (same voice, other sentence 0.3-0.96; two voices 1.0-2.7, one pair 0.49)
VOICE_CHANGE = 1.0
_VOICE_EDGES = np.geomspace(100, 3800, 15)


def voice_profile(samples: np.ndarray) -> np.ndarray | None:
    """Shape of the long-term spectrum (14 log-spaced bands, mean removed) of the loud
    frames: a speaker's timbre, not the words; None with under 0.5 s of voice."""
    fr = frames(samples)
    if not len(fr):
        return None
    db = frame_db(fr)
    loud = fr[db > max(db.max() - 25.0, -45.0)]
    if len(loud) < 25:
        return None
    spec = np.abs(np.fft.rfft(loud * np.hanning(FRAME), axis=1)) ** 2
    freqs = np.fft.rfftfreq(FRAME, 1 / RATE)
    bands = np.stack([spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1)
                      for lo, hi in zip(_VOICE_EDGES[:-1], _VOICE_EDGES[1:], strict=True)], 1)
    shape = np.log(bands + 1e-9).mean(axis=0)
    return shape - shape.mean()


def voice_distance(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None:
        return None
    return float(np.sqrt(((a - b) ** 2).mean()))
