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


Words = tuple[str, ...]


@dataclass(frozen=True)
class Negation:
    cues: frozenset[Words]
    stops: frozenset[Words]
    pseudo: frozenset[Words]

    def __bool__(self) -> bool:
        return bool(self.cues)


@lru_cache(maxsize=64)
def negation_cues(languages: tuple[str, ...]) -> Negation:
    """Cues, scope terminators and pseudo-negations of these languages, as word tuples."""
    data = _negation_data()
    sets: dict[str, set[Words]] = {"cues": set(), "terminate": set(), "pseudo": set()}
    for language in languages:
        entry = data.get(language.split("-")[0].casefold(), {})
        for name, found in sets.items():
            found |= {tuple(_WORD.findall(c.casefold())) or (c.casefold(),)
                      for c in entry.get(name, [])}
    return Negation(frozenset(sets["cues"]), frozenset(sets["terminate"]),
                    frozenset(sets["pseudo"]))


def _drop(words: list[str], phrases: frozenset[Words]) -> list[str]:
    out, i = [], 0
    while i < len(words):
        hit = next((p for p in phrases if tuple(words[i:i + len(p)]) == p), None)
        if hit:
            i += len(hit)
            continue
        out.append(words[i])
        i += 1
    return out


def _negated(text: str, start: int, negation: Negation) -> bool:
    before = _CLAUSE_END.split(text[:start])[-1]
    words = _drop(_WORD.findall(before), negation.pseudo)[-NEGATION_WINDOW:]
    cues, stops = negation.cues, negation.stops
    # the scope starts after the last terminator ("... but we ship to Norway")
    for i in range(len(words) - 1, -1, -1):
        if any(tuple(words[i:i + len(s)]) == s for s in stops):
            words = words[i + 1:]
            break
    for i in range(len(words)):
        for cue in cues:
            if tuple(words[i:i + len(cue)]) == cue:
                return True
            # French elision: "n'expédions" starts with the cue "n'"
            if len(cue) == 1 and cue[0].endswith("'") and words[i].startswith(cue[0]):
                return True
    return False


def _find(fact: Fact, text: str, negation: Negation | None) -> tuple[str | None, bool]:
    """(evidence of an affirmative match, whether a negated match was seen)."""
    negated_seen = False
    for regex in fact.regexes():
        for match in regex.finditer(text):
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
