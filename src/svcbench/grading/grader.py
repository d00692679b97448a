"""The deterministic offline grader: an answer key against what the company said.

Pure functions. A required fact counts when one of its phrasings is found and is not negated
(a negation cue of the scenario's languages a few words before it, in the same clause; cues
are data: ``data/grading/negation.toml``). A forbidden claim counts only when not negated
either ("returns are free" is forbidden; "returns are not free" is not that claim).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from .keys import AnswerKey, Fact

#: words before a match searched for a negation cue
NEGATION_WINDOW = 5
_CLAUSE_END = re.compile(r"[.!?;,:\n]")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*'?")


@dataclass(frozen=True)
class KeyGrade:
    """What an answer key found in a reply."""

    #: None when there is nothing to grade (no reply, or an empty key)
    fully_answered: bool | None
    covered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    #: "negated:<fact>", "forbidden:<fact>", "no reply"
    flags: list[str] = field(default_factory=list)
    #: fact id -> the words that matched
    evidence: dict[str, str] = field(default_factory=dict)
    facts_total: int = 0

    @property
    def anticipated(self) -> bool | None:
        if self.fully_answered is None:
            return None
        return bool(self.extras)

    def result(self, name: str) -> bool | None:
        """A key result by rubric name: fully_answered or anticipated."""
        return self.fully_answered if name == "fully_answered" else self.anticipated

    def detail(self) -> dict[str, Any]:
        return {"covered": self.covered, "missing": self.missing, "extras": self.extras,
                "forbidden": self.forbidden, "flags": self.flags, "evidence": self.evidence,
                "facts_total": self.facts_total}


@lru_cache(maxsize=1)
def _negation_data() -> dict[str, dict[str, list[str]]]:
    text = resources.files("svcbench").joinpath("data/grading/negation.toml").read_text("utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class Negation:
    """Cues, scope terminators and pseudo-negations as space-joined casefolded words."""

    cues: tuple[str, ...]
    stops: tuple[str, ...]
    pseudo: tuple[str, ...]
    #: elided cues ("n'") that start a word ("n'expédions")
    prefixes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.cues)


@lru_cache(maxsize=64)
def negation_cues(languages: tuple[str, ...]) -> Negation:
    """The negation vocabulary of these languages (data/grading/negation.toml)."""
    data = _negation_data()
    found: dict[str, set[str]] = {"cues": set(), "terminate": set(), "pseudo": set()}
    for language in languages:
        entry = data.get(language.split("-")[0].casefold(), {})
        for name, words in found.items():
            words |= {" ".join(_WORD.findall(c.casefold())) or c.casefold()
                      for c in entry.get(name, [])}
    cues = found["cues"]
    return Negation(tuple(sorted(c for c in cues if not c.endswith("'"))),
                    tuple(sorted(found["terminate"])),
                    tuple(sorted(found["pseudo"], key=len, reverse=True)),
                    tuple(sorted(c for c in cues if c.endswith("'"))))


def _negated(text: str, start: int, negation: Negation) -> bool:
    """Whether a negation cue stands in the few words before ``start``, in its clause."""
    clause = _CLAUSE_END.split(text[:start])[-1]
    padded = f" {' '.join(_WORD.findall(clause))} "
    for phrase in negation.pseudo:
        padded = padded.replace(f" {phrase} ", " ")
    words = padded.split()[-NEGATION_WINDOW:]
    padded = f" {' '.join(words)} "
    # the scope starts after the last terminator ("... but we ship to Norway")
    cut = max((padded.rfind(f" {s} ") + len(s) + 1 for s in negation.stops
               if f" {s} " in padded), default=0)
    padded = padded[cut:] if cut else padded
    if any(f" {cue} " in padded for cue in negation.cues):
        return True
    return any(w.startswith(p) for p in negation.prefixes for w in padded.split())


def _find(fact: Fact, text: str, negation: Negation | None) -> tuple[str | None, bool]:
    """(evidence of an affirmative match, whether a negated match was seen)."""
    negated_seen = False
    for matcher in fact.matchers():
        for match in matcher.finditer(text):
            if negation and _negated(text, match.start(), negation):
                negated_seen = True
                continue
            return match.group(0)[:200], negated_seen
    return None, negated_seen


def grade_reply(key: AnswerKey, text: str | None, languages: list[str],
                channel: str | None = None) -> KeyGrade:
    """Grade one reply (or the company's side of a transcript) against an answer key."""
    if channel is not None:
        key = key.for_channel(channel)
    total = len(key.facts)
    if key.empty:
        return KeyGrade(fully_answered=None, facts_total=total)
    if not text or not text.strip():
        return KeyGrade(fully_answered=None, missing=[f.id for f in key.facts],
                        flags=["no reply"], facts_total=total)
    folded = " ".join(text.casefold().split(" "))
    negation = negation_cues(tuple(languages))
    covered, missing, extras, forbidden, flags = [], [], [], [], []
    evidence: dict[str, str] = {}
    for group, found_list in ((key.facts, covered), (key.extras, extras),
                              (key.forbidden, forbidden)):
        for fact in group:
            hit, negated = _find(fact, folded, negation if fact.polarity != "any" else None)
            if hit is not None:
                found_list.append(fact.id)
                evidence[fact.id] = hit
            elif group is key.facts:
                missing.append(fact.id)
            if hit is None and negated and group is not key.forbidden:
                flags.append(f"negated:{fact.id}")
    flags += [f"forbidden:{f}" for f in forbidden]
    fully = not missing and not forbidden if key.facts else (not forbidden if forbidden else None)
    return KeyGrade(fully_answered=fully, covered=covered, missing=missing, extras=extras,
                    forbidden=forbidden, flags=flags, evidence=evidence, facts_total=total)
