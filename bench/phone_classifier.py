"""Fit and evaluate the speech / music / silence classifier of the phone probe.

Labelled 1 s windows (8 kHz) built from Debian packages:
  speech  asterisk-core-sounds-en-wav (Allison's recorded prompts; files split 70/30 by a hash
          of the name into fitted / held-out); flite voices slt, rms, awb (the simulator's dev
          voices) saying FIT_SENTENCES fitted, saying SENTENCES held out; flite kal and kal16
          held out only (voices no rule is tuned on)
  music   asterisk-moh-opsound-wav: tracks 1-3 fitted, tracks 4-5 held out
  silence Gaussian line noise (sigma 0, 5, 20, 60 fitted; 10, 40, 100 plus 50 Hz hum held out)
Writes src/svcbench/data/phone/classifier.json (with --write) and prints accuracy per class
for the fitted and the held-out parts.

    .venv/bin/python bench/phone_classifier.py [--write]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from svcbench.probes.phone import classify, voice  # noqa: E402

SENTENCES = [
    "Thank you for calling. Your call is important to us.",
    "Please have your account number ready.",
    "All of our agents are busy helping other customers.",
    "Hello, this is Sam from the billing team. How can I help?",
    "Your estimated wait time is four minutes.",
    "For returns and exchanges, press three.",
    "I can see your order here, it shipped yesterday.",
    "Hi, thanks for waiting! Please stay on the line.",
]


#: fitted only (flite dev voices); SENTENCES stay held out
FIT_SENTENCES = [
    "Welcome to our service line. Calls may be recorded for training purposes.",
    "To hear these options again, press the star key.",
    "Good afternoon, you are speaking with Maria. What can I do for you today?",
    "We are experiencing higher than normal call volumes.",
    "Sorry, I did not catch that. Could you repeat your order number, please?",
    "Please hold while I look into that for you.",
]
FIT_VOICES = ("slt", "rms", "awb")
OVERSAMPLE = 10
HELD_VOICES = ("kal", "kal16")


def windows(samples: np.ndarray, hop_s: float = 0.5, *, keep_quiet: bool = False):
    step, size = int(hop_s * 8000), 8000
    for start in range(0, len(samples) - size + 1, step):
        w = samples[start:start + size]
        if keep_quiet or classify.features(w, np.zeros(0))[0] > -50:
            yield w


def held_out(name: str) -> bool:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10 >= 7


def dataset():
    fitted, held = [], []
    for path in sorted(voice.PROMPTS_DIR.glob("*.wav")):
        target = held if held_out(path.name) else fitted
        for w in windows(voice.load_wav(path)):
            target.append((w, 1, "allison"))
    for who in FIT_VOICES + HELD_VOICES:
        texts = [(t, held) for t in SENTENCES]
        if who in FIT_VOICES:
            texts += [(t, fitted) for t in FIT_SENTENCES]
        for text, target in texts:
            for w in windows(voice.speak(text, voice=who)):
                target.append((w, 1, f"flite-{who}" + ("-fit" if target is fitted else "")))
    tracks = sorted(voice.MOH_DIR.glob("*.wav"))
    for i, path in enumerate(tracks):
        target = fitted if i < 3 else held
        for w in list(windows(voice.load_wav(path), hop_s=2.0))[:120]:
            target.append((w, 2, f"moh-{i + 1}"))
    rng = np.random.default_rng(7)
    for sigma, target in [(0, fitted), (5, fitted), (20, fitted), (60, fitted),
                          (10, held), (40, held), (100, held)]:
        for _ in range(40):
            target.append((rng.normal(0, sigma, 8000).astype(np.int16), 0, f"noise-{sigma}"))
    t = np.arange(8000) / 8000
    for _ in range(20):
        hum = 80 * np.sin(2 * np.pi * 50 * t) + rng.normal(0, 10, 8000)
        held.append((hum.astype(np.int16), 0, "hum"))
    return fitted, held


def matrix(items):
    x = np.stack([classify.features(w) for w, _, _ in items])
    y = np.array([label for _, label, _ in items])
    return x, y


def report(name: str, model: classify.Model, items) -> float:
    x, y = matrix(items)
    predicted = []
    for feat in x:
        if feat[0] < classify.SILENCE_DB:
            predicted.append(0)
        else:
            predicted.append(int(model.probabilities(feat)[0].argmax()))
    predicted = np.array(predicted)
    total = float((predicted == y).mean())
    print(f"{name}: {total:.3f} accuracy on {len(y)} windows of 1 s")
    for label, label_name in enumerate(classify.LABELS):
        mask = y == label
        recall = (predicted[mask] == label).mean()
        print(f"  {label_name:8s} n={int(mask.sum()):4d} recall {recall:.3f}")
    sources = sorted({s for _, _, s in items})
    for source in sources:
        mask = np.array([s == source for _, _, s in items])
        print(f"    {source:14s} n={int(mask.sum()):4d} "
              f"correct {(predicted[mask] == y[mask]).mean():.3f}")
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    fitted, held = dataset()
    # synthetic voices are few beside Allison's 1,390 windows: weigh them as much (repeat)
    synthetic = [item for item in fitted if item[2].startswith("flite")]
    x, y = matrix(fitted + synthetic * OVERSAMPLE)
    model = classify.fit(x, y)
    report("fitted", model, fitted)
    report("held-out", model, held)
    if args.write:
        out = ROOT / "src/svcbench/data/phone/classifier.json"
        out.write_text(json.dumps(model.to_json(), indent=1) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
