"""Phrase lists and helpdesk fingerprints, loaded from data files (src/svcbench/data/email/).

One compiled alternation per category across all languages, so a message is scanned once per
category whatever its language; the match says which phrase fired (for the reasons shown to a
person).
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources

CATEGORIES = ("ooo_subject", "ooo_body", "holiday", "ack_subject", "receipt", "thanks",
              "automated", "survey", "closure", "challenge", "bounce_subject", "bounce_body",
              "delay", "transactional_subject", "will_reply")
PROMISE_UNITS = ("hours", "days", "business_days")


def _data() -> resources.abc.Traversable:
    return resources.files("svcbench") / "data" / "email"


@dataclass(frozen=True)
class PromiseRule:
    pattern: re.Pattern[str]
    numbers: dict[str, int]
    units: tuple[tuple[str, str], ...]  # (unit word start, unit), longest first
    lang: str


@dataclass(frozen=True)
class Phrases:
    patterns: dict[str, re.Pattern[str]]
    promises: tuple[PromiseRule, ...]
    languages: tuple[str, ...]

    def search(self, category: str, text: str) -> str | None:
        """The matched phrase, or None."""
        pattern = self.patterns.get(category)
        if pattern is None or not text:
            return None
        m = pattern.search(text)
        return m.group(0).strip() if m else None


@functools.cache
def phrases() -> Phrases:
    """All languages' phrase lists (cached: loaded once per process)."""
    per_category: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    promises: list[PromiseRule] = []
    languages = []
    for entry in sorted(_data().joinpath("phrases").iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml"):
            continue
        lang = entry.name.removesuffix(".toml")
        languages.append(lang)
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for category in CATEGORIES:
            per_category[category].extend(data.get(category, []))
        promise = data.get("promise", {})
        units = sorted(promise.get("units", {}).items(), key=lambda kv: -len(kv[0]))
        for pattern in promise.get("patterns", []):
            promises.append(PromiseRule(re.compile(pattern, re.IGNORECASE),
                                        {k.lower(): int(v) for k, v in
                                         promise.get("numbers", {}).items()},
                                        tuple((k.lower(), v) for k, v in units), lang))
    compiled = {c: re.compile("|".join(f"(?:{p})" for p in ps), re.IGNORECASE)
                for c, ps in per_category.items() if ps}
    return Phrases(compiled, tuple(promises), tuple(languages))


@dataclass(frozen=True)
class Helpdesk:
    key: str
    name: str
    header_prefixes: tuple[str, ...] = ()
    header_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    domains: tuple[str, ...] = ()
    message_id: tuple[re.Pattern[str], ...] = ()
    body: tuple[re.Pattern[str], ...] = ()
    stamps_agent_replies: bool = False
    verified: str = ""


@functools.cache
def helpdesks() -> tuple[Helpdesk, ...]:
    data = tomllib.loads(_data().joinpath("helpdesks.toml").read_text(encoding="utf-8"))
    out = []
    for key, entry in data.items():
        out.append(Helpdesk(
            key=key, name=entry.get("name", key),
            header_prefixes=tuple(entry.get("header_prefixes", [])),
            header_values={k.lower(): tuple(v) for k, v in
                           entry.get("header_values", {}).items()},
            domains=tuple(entry.get("domains", [])),
            message_id=tuple(re.compile(p, re.IGNORECASE) for p in entry.get("message_id", [])),
            body=tuple(re.compile(p, re.IGNORECASE) for p in entry.get("body", [])),
            stamps_agent_replies=bool(entry.get("stamps_agent_replies", False)),
            verified=entry.get("verified", ""),
        ))
    return tuple(out)


def helpdesk_domains() -> tuple[str, ...]:
    return tuple(d for desk in helpdesks() for d in desk.domains)
