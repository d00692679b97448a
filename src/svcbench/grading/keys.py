"""Answer keys: what a good answer to a scenario contains, as data in the scenario config.

A *fact* is accepted when any of its phrasings (per language, plain words) or regular
expressions is found in the reply. Phrasings are matched case-insensitively on word
boundaries with any spacing or punctuation between words; ``{n}`` stands for a number or a
range ("5", "3-5", "3 to 5"), ``...`` for up to four words in between.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ..models import Channel

_SLUG = r"^[a-z0-9][a-z0-9._-]*$"
_NUMBER = r"\d+(?:[.,]\d+)?(?:\s*(?:-|–|to|bis|à|til|a)\s*\d+(?:[.,]\d+)?)?"


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_SLUG)
    label: str = Field(min_length=1)
    #: language code -> accepted phrasings ("ship to norway", "{n} working days")
    phrases: dict[str, list[str]] = {}
    #: regular expressions (case-insensitive), for what phrasings cannot say
    patterns: list[str] = []
    #: ``any``: a negated phrasing counts too ("we do not ship to Norway" answers whether
    #: they ship); ``affirmative`` (the default): only an affirmed one
    polarity: Literal["affirmative", "any"] = "affirmative"
    #: channels this fact is asked for (empty: all), e.g. a cost the chat question omits
    channels: list[Channel] = []
    _matchers: list[re.Pattern[str]] | None = PrivateAttr(default=None)

    @field_validator("patterns")
    @classmethod
    def _regexes(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from None
        return values

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, values: dict[str, list[str]]) -> dict[str, list[str]]:
        for language, phrases in values.items():
            for phrase in phrases:
                if not phrase_regex(phrase):
                    raise ValueError(f"phrases.{language}: {phrase!r} has no words")
        return values

    @model_validator(mode="after")
    def _something(self) -> Fact:
        if not self.phrases and not self.patterns:
            raise ValueError("give phrases or patterns")
        return self

    def matchers(self) -> list[re.Pattern[str]]:
        """Compiled once: one regex for all phrasings, then each pattern (which may carry
        global flags like ``(?i)`` and so cannot join an alternation)."""
        if self._matchers is None:
            phrased = [phrase_regex(p) for phrases in self.phrases.values() for p in phrases]
            out = [re.compile(p, re.IGNORECASE) for p in self.patterns]
            if phrased:
                out.insert(0, re.compile("|".join(f"(?:{p})" for p in phrased)))
            self._matchers = out
        return self._matchers


class AnswerKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: every one of these must be in the reply for "fully answered"
    facts: list[Fact] = []
    #: anticipated follow-ups: any of these counts as "anticipated a follow-up"
    extras: list[Fact] = []
    #: wrong claims (a wrong policy): any of these makes the answer not fully answered
    forbidden: list[Fact] = []

    @model_validator(mode="after")
    def _unique(self) -> AnswerKey:
        seen: set[str] = set()
        for fact in (*self.facts, *self.extras, *self.forbidden):
            if fact.id in seen:
                raise ValueError(f"duplicate fact id {fact.id!r}")
            seen.add(fact.id)
        return self

    def languages(self) -> set[str]:
        return {lang for f in (*self.facts, *self.extras, *self.forbidden) for lang in f.phrases}

    def for_channel(self, channel: str) -> AnswerKey:
        """The key with only the facts asked on this channel."""
        def keep(facts: list[Fact]) -> list[Fact]:
            return [f for f in facts if not f.channels or channel in f.channels]

        # already validated: construct without validating again (and keep compiled matchers)
        return AnswerKey.model_construct(facts=keep(self.facts), extras=keep(self.extras),
                                         forbidden=keep(self.forbidden))

    @property
    def empty(self) -> bool:
        return not (self.facts or self.extras or self.forbidden)


def phrase_regex(phrase: str) -> str:
    """A plain-words phrasing as a regular expression over casefolded text ('' if no words)."""
    tokens = re.findall(r"\{n\}|\.\.\.|[^\W_]+(?:['’][^\W_]+)*", phrase.casefold())
    out = ""
    for i, token in enumerate(tokens):
        if token == "...":
            continue
        if out:
            out += r"[\W_]+" + (r"(?:[^\W_]+[\W_]+){0,4}?" if tokens[i - 1] == "..." else "")
        out += _NUMBER if token == "{n}" else re.sub(r"['’]", "['’]", re.escape(token))
    return rf"(?<![^\W_]){out}(?![^\W_])" if out else ""


def key_from_checks(checks: list) -> AnswerKey:
    """The answer key equivalent of a scenario's older ``checks`` (each a required fact)."""
    facts = []
    for index, check in enumerate(checks):
        slug = re.sub(r"[^a-z0-9]+", "-", check.name.casefold()).strip("-") or f"check-{index}"
        facts.append(Fact(id=slug, label=check.name, patterns=[check.pattern]))
    return AnswerKey(facts=facts)
