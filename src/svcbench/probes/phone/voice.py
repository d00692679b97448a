"""Audio in and out: 8 kHz mono PCM from WAV files, Debian's recorded prompts and
flite / espeak-ng.

Everything a call plays is 16-bit signed mono at 8 kHz (the narrowband telephone rate the
G.711 codecs carry). Synthesised phrases are cached on disk by text and voice.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 8000
#: Debian asterisk-core-sounds-en-wav (Allison's recorded IVR prompts, CC-BY-SA-3.0)
PROMPTS_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
#: Debian asterisk-moh-opsound-wav (hold music, CC-BY-SA-3.0)
MOH_DIR = Path("/usr/share/asterisk/moh")


class AudioError(Exception):
    """An audio file or the synthesiser could not be used; the message names it."""


def cache_dir() -> Path:
    base = os.environ.get("SVCBENCH_AUDIO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "svcbench", "audio")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def resample(samples: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """Linear resampling after a moving-average low-pass (enough for speech and prompts)."""
    if rate == target:
        return samples.astype(np.int16)
    x = samples.astype(np.float64)
    if rate > target:
        width = max(1, round(rate / target))
        x = np.convolve(x, np.ones(width) / width, mode="same")
    n = int(len(x) * target / rate)
    out = np.interp(np.arange(n) * rate / target, np.arange(len(x)), x)
    return np.clip(out, -32768, 32767).astype(np.int16)


def load_wav(path: str | Path) -> np.ndarray:
    """A WAV file as 8 kHz mono int16; a clear error for anything else."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise AudioError(f"{path}: only 16-bit PCM WAV is supported")
            frames = wav.readframes(wav.getnframes())
            channels, rate = wav.getnchannels(), wav.getframerate()
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"{path}: not a readable WAV file ({exc})") from None
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return resample(samples, rate)


def save_wav(path: str | Path, samples: np.ndarray, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())


def prompt(name: str, fmt: str = "wav") -> np.ndarray:
    """One of Debian's recorded prompts by name ('queue-holdtime', 'digits/5'); ``fmt="gsm"``
    takes the GSM-coded copy (asterisk-core-sounds-en-gsm: the same recordings through the
    GSM 06.10 codec, decoded with sox)."""
    path = PROMPTS_DIR / f"{name}.{fmt}"
    if not path.exists():
        raise AudioError(f"recorded prompt {name!r} not found in {PROMPTS_DIR} "
                         f"(install asterisk-core-sounds-en-{fmt})")
    if fmt == "wav":
        return load_wav(path)
    sox = shutil.which("sox")
    if sox is None:
        raise AudioError(f"{path}: sox is needed to decode it (scripts/install-system-deps)")
    with tempfile.TemporaryDirectory() as tmp:
        return load_wav(_sox(path, [], Path(tmp)))


def hold_music(track: int = 0, transform: str = "") -> np.ndarray:
    """One of Debian's hold-music tracks; ``transform`` ("pitch=-200|tempo=0.92", as for
    voices) makes other music of it with sox (cached on disk)."""
    tracks = sorted(MOH_DIR.glob("*.wav")) if MOH_DIR.exists() else []
    if not tracks:
        raise AudioError(f"no hold music in {MOH_DIR} (install asterisk-moh-opsound-wav)")
    path = tracks[track % len(tracks)]
    if not transform:
        return load_wav(path)
    effects = sox_effects(f"music {path.name}", transform.split("|"))
    key = hashlib.sha256(f"{path.name}|{transform}".encode()).hexdigest()[:20]
    cached = cache_dir() / f"moh-{key}.wav"
    if not cached.exists():
        with tempfile.TemporaryDirectory() as tmp:
            out = _sox(path, effects, Path(tmp))
            tmp_path = cached.with_name(cached.name + f".{os.getpid()}.tmp")
            save_wav(tmp_path, load_wav(out))
            tmp_path.replace(cached)
    return load_wav(cached)


def speak(text: str, *, voice: str = "awb") -> np.ndarray:
    """``text`` spoken by flite (voices awb, slt, rms, kal16) or, without flite, espeak-ng.

    flite's voices are recorded-speech models and are recognised far better than espeak-ng's
    formant voice; both are Debian packages. ``voice="espeak-ng:en-us+f3"`` asks espeak-ng
    for that voice and variant (the simulator's voices no rule was tuned on);
    ``voice="festival:ked_diphone"`` asks Festival's ``text2wave`` for an installed voice
    (festvox-* packages: ``kal_diphone``, ``ked_diphone``, ``cmu_us_slt_arctic_hts``), and
    ``festival:NAME/1.2`` speaks it 1.2 times slower (Festival's Duration_Stretch).
    ``flite:awb`` is flite's awb. Transforms after ``|`` change any voice with sox:
    ``"flite:awb|pitch=-300|tempo=1.1"`` is awb 300 cents lower and 1.1 times faster (sox
    ``pitch`` and ``tempo -s``, in that order). Cached on disk; 8 kHz int16.
    """
    key = hashlib.sha256(f"{voice}|{text}".encode()).hexdigest()[:20]
    cached = cache_dir() / f"tts-{key}.wav"
    if cached.exists():
        return load_wav(cached)
    voice, *transforms = voice.split("|")
    effects = sox_effects(voice, transforms)
    voice = voice.removeprefix("flite:")
    flite, espeak = shutil.which("flite"), shutil.which("espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "out.wav"
        if voice.startswith("festival:"):
            cmd = _festival(voice.split(":", 1)[1], text, Path(tmp))
        elif voice.startswith("espeak-ng:") and espeak:
            cmd = [espeak, "-v", voice.split(":", 1)[1], "-s", "160", "-w", str(raw), "--", text]
        elif flite:
            cmd = [flite, "-voice", voice, "-o", str(raw), "-t", text]
        elif espeak:
            cmd = [espeak, "-v", "en-us", "-s", "150", "-w", str(raw), "--", text]
        else:
            raise AudioError("neither flite nor espeak-ng is installed "
                             "(scripts/install-system-deps)")
        result = subprocess.run(cmd, capture_output=True, timeout=60)
        if result.returncode != 0 or not raw.exists():
            raise AudioError(f"{Path(cmd[0]).name} failed: "
                             f"{result.stderr.decode(errors='replace')[:200]}")
        if effects:
            raw = _sox(raw, effects, Path(tmp))
        samples = load_wav(raw)
    peak = max(1, int(np.abs(samples).max()))
    samples = (samples.astype(np.float64) * (12000 / peak)).astype(np.int16)
    tmp_path = cached.with_name(cached.name + f".{os.getpid()}.tmp")
    save_wav(tmp_path, samples)
    tmp_path.replace(cached)
    return samples


def _festival(spec: str, text: str, tmp: Path) -> list[str]:
    """The text2wave command line for ``NAME[/STRETCH]`` (Debian's festival package)."""
    text2wave = shutil.which("text2wave")
    if text2wave is None:
        raise AudioError("festival is not installed (scripts/install-system-deps)")
    name, _, stretch = spec.partition("/")
    if not name.replace("_", "").isalnum() or (stretch and not _number_text(stretch)):
        raise AudioError(f"festival voice {spec!r}: expected NAME or NAME/STRETCH")
    (tmp / "in.txt").write_text(text)
    # text2wave evaluates only the first expression of -eval
    setup = f"(begin (voice_{name})" + (f" (Parameter.set 'Duration_Stretch {stretch})"
                                        if stretch else "") + ")"
    return [text2wave, "-eval", setup, "-o", str(tmp / "out.wav"), str(tmp / "in.txt")]


#: voice transforms: sox effect, allowed range
_TRANSFORMS = {"pitch": (["pitch"], -1200.0, 1200.0), "tempo": (["tempo", "-s"], 0.5, 2.0)}


def sox_effects(voice: str, transforms: list[str], *, check_sox: bool = True) -> list[str]:
    """The sox effect arguments for ``pitch=CENTS`` / ``tempo=FACTOR`` transforms."""
    out: list[str] = []
    for item in transforms:
        name, _, value = item.partition("=")
        spec = _TRANSFORMS.get(name.strip())
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if spec is None or not spec[1] <= number <= spec[2]:
            raise AudioError(f"voice {voice!r}: transform {item!r}: expected "
                             "pitch=CENTS (-1200 to 1200) or tempo=FACTOR (0.5 to 2)")
        out += [*spec[0], f"{number:g}"]
    if out and check_sox and shutil.which("sox") is None:
        raise AudioError(f"voice {voice!r}: sox is needed for its transforms "
                         "(scripts/install-system-deps)")
    return out


def _sox(path: Path, effects: list[str], tmp: Path) -> Path:
    out = tmp / "transformed.wav"
    result = subprocess.run(["sox", str(path), "-b", "16", "-e", "signed-integer", str(out),
                             *effects],
                            capture_output=True, timeout=60)
    if result.returncode != 0 or not out.exists():
        raise AudioError(f"{path}: sox {' '.join(effects)} failed: "
                         f"{result.stderr.decode(errors='replace')[:200]}")
    return out


def _number_text(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def concat(*parts: np.ndarray, gap_s: float = 0.15) -> np.ndarray:
    out: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            out.append(silence(gap_s))
        out.append(part.astype(np.int16))
    return np.concatenate(out) if out else silence(0)
