"""Queue positions, wait estimates and "still waiting" lines read from chat text.

The words are data: one TOML file per language in ``svcbench/data/chat/phrases/`` (see its
README); this module only compiles them, once, into one pattern per kind.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

_KEYS = ("queue_words", "position_before", "position_after", "ordinal_suffixes", "wait_words",
         "seconds", "minutes", "hours", "still_waiting")


@dataclass(frozen=True)
class Phrases:
    languages: tuple[str, ...]
    queue: re.Pattern[str]
    position: re.Pattern[str]
    wait: re.Pattern[str]
    still_waiting: re.Pattern[str]


def _alternation(fragments: list[str]) -> str:
    # longer fragments first, so "minutes" wins over "min"
    unique = sorted(set(fragments), key=lambda f: (-len(f), f))
    return "|".join(f"(?:{f})" for f in unique)


@cache
def phrases() -> Phrases:
    """All languages' phrase lists, compiled (cached)."""
    words: dict[str, list[str]] = {k: [] for k in _KEYS}
    languages = []
    folder = resources.files("svcbench") / "data" / "chat" / "phrases"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        languages.append(str(data.get("language", entry.name[:-5])))
        for key in _KEYS:
            for fragment in data.get(key, []):
                re.compile(fragment)  # a bad fragment names itself here, not in a big pattern
                words[key].append(fragment)
    suffixes = _alternation(words["ordinal_suffixes"])
    position = (rf"(?:{_alternation(words['position_before'])})\s*:?\s*(\d{{1,4}})\b"
                rf"|\b(\d{{1,4}})(?:{suffixes})?\s+(?:{_alternation(words['position_after'])})")
    units = (rf"(?P<hours>{_alternation(words['hours'])})"
             rf"|(?P<minutes>{_alternation(words['minutes'])})"
             rf"|(?P<seconds>{_alternation(words['seconds'])})")
    wait = (rf"(?:{_alternation(words['wait_words'])})\D{{0,40}}?"
            rf"(\d+(?:[.,]\d+)?)\s*(?:{units})")
    return Phrases(
        languages=tuple(languages),
        queue=re.compile(_alternation(words["queue_words"]), re.IGNORECASE),
        position=re.compile(position, re.IGNORECASE),
        wait=re.compile(wait, re.IGNORECASE),
        still_waiting=re.compile(_alternation(words["still_waiting"]), re.IGNORECASE),
    )


def queue_position_in(text: str | None) -> int | None:
    """A queue position announced in free text ('You are number 3 in the queue'), or None."""
    p = phrases()
    if not text or not p.queue.search(text):
        return None
    match = p.position.search(text)
    if not match:
        return None
    return int(match.group(1) or match.group(2))


def wait_estimate_in(text: str | None) -> float | None:
    """A waiting time announced in free text, in seconds, or None."""
    if not text:
        return None
    match = phrases().wait.search(text)
    if not match:
        return None
    value = float(match.group(1).replace(",", "."))
    if match.group("hours"):
        return value * 3600
    if match.group("minutes"):
        return value * 60
    return value


def is_still_waiting(text: str | None) -> bool:
    return bool(text) and phrases().still_waiting.search(text) is not None
