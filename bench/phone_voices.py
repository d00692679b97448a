"""Voice distances (``classify.voice_profile`` / ``voice_distance``) the phone probe's
live-human rules rely on, measured on the simulator's voices and texts (no call placed).

    .venv/bin/python bench/phone_voices.py [--split dev,fresh,blind]

Per scenario of the splits asked (default: the tuning splits dev, fr-* and bl-*; ho-* and the
blind splits are left out so that no threshold is chosen on them):
  same voice  each greeting of an agent cut at its pauses (``listen.voice_onsets``, as
              speech on hold is cut): piece against the next piece (what the live rule
              "another voice right after the candidate" sees), and piece against the rest
              of the greeting plus the reply to our hello (``engine.SAME_VOICE_AFTER``)
  two voices  the scenario's "Hi, thanks for waiting" recording against its agent's
              greeting plus reply (a recording followed at once by the agent must stay
              apart)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from svcbench.probes.phone import classify, voice  # noqa: E402
from svcbench.probes.phone.engine import SAME_VOICE_AFTER  # noqa: E402
from svcbench.probes.phone.listen import voice_onsets  # noqa: E402
from svcbench.sandbox.phone import AGENT_REPLY, load_scenarios  # noqa: E402


def distance(a: np.ndarray, b: np.ndarray) -> float | None:
    return classify.voice_distance(classify.voice_profile(a), classify.voice_profile(b))


def pieces(audio: np.ndarray) -> list[np.ndarray]:
    cuts = [0, *(onset for onset, _ in voice_onsets(audio)), len(audio)]
    return [audio[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="dev,fresh,blind")
    args = parser.parse_args()
    splits = set(args.split.split(","))
    same, apart = [], []
    for name, s in load_scenarios().items():
        if s.split not in splits or not s.agent:
            continue
        agents = [(s.agent_voice, s.agent_text)]
        if s.transfer_text:
            agents.append((s.second_agent_voice, s.second_agent_text))
        for who, text in agents:
            greeting = voice.speak(text, voice=who)
            reply = voice.speak(AGENT_REPLY, voice=who)
            cut = pieces(greeting)
            for i in range(len(cut) - 1):
                rest = np.concatenate([*cut[i + 1:], reply])
                same.append((name, who, len(cut[i]) / voice.RATE,
                             distance(cut[i], cut[i + 1]), distance(cut[i], rest)))
        recording = voice.speak(s.fake_human_text, voice=s.recording_voice)
        agent = np.concatenate([voice.speak(s.agent_text, voice=s.agent_voice),
                                voice.speak(AGENT_REPLY, voice=s.agent_voice)])
        apart.append((name, s.recording_voice, s.agent_voice, distance(recording, agent)))

    def f(d: float | None) -> str:
        return "  -  " if d is None else f"{d:5.2f}"

    print(f"splits: {', '.join(sorted(splits))}; SAME_VOICE_AFTER = {SAME_VOICE_AFTER}")
    print("\none voice, a greeting cut at its pauses (piece s | to next piece | to rest + reply)")
    for name, who, secs, nxt, rest in same:
        print(f"  {name:24} {who:32} {secs:4.1f} s  {f(nxt)}  {f(rest)}")
    print("\ntwo voices (recording | agent: distance of recording to greeting + reply)")
    for name, rec, who, d in sorted(apart, key=lambda row: row[3] or 0):
        print(f"  {name:24} {rec:28} | {who:32} {f(d)}")
    rests = [r for *_, r in same if r is not None]
    aparts = [d for *_, d in apart if d is not None]
    if rests and aparts:
        print(f"\nsame voice to rest + reply: {min(rests):.2f}-{max(rests):.2f} (n={len(rests)},"
              f" {sum(r <= SAME_VOICE_AFTER for r in rests)} within {SAME_VOICE_AFTER}); "
              f"two voices: {min(aparts):.2f}-{max(aparts):.2f} (n={len(aparts)}, "
              f"{sum(d <= SAME_VOICE_AFTER for d in aparts)} within)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
