"""Telling bots from humans: the per-company ``actor_rules`` option every connector shares.

Platforms mark authors differently (a ``type`` field, a role, only a display name), and bots
often pose as agents. Rules, in order: the author type maps to ``visitor`` -> visitor (never
overridden); then exact names (``bot_names``, ``agent_names``); then name regexes (bot first);
then the type table; then ``default``.
"""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import BaseModel, ConfigDict, field_validator

from ..events import Actor

DEFAULT_TYPES: dict[str, Actor] = {
    "visitor": Actor.VISITOR, "customer": Actor.VISITOR, "contact": Actor.VISITOR,
    "user": Actor.AGENT, "agent": Actor.AGENT, "human": Actor.AGENT, "operator": Actor.AGENT,
    "admin": Actor.AGENT, "business": Actor.AGENT,
    "bot": Actor.BOT, "agent_bot": Actor.BOT, "agentbot": Actor.BOT, "ai": Actor.BOT,
    "system": Actor.SYSTEM, "automated": Actor.SYSTEM,
}


class ActorRules(BaseModel):
    """Per-company rules classifying a message author as visitor, bot, agent or system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: author type/role value (case-insensitive) -> actor; merged over the defaults
    types: dict[str, Actor] = {}
    bot_names: list[str] = []
    agent_names: list[str] = []
    bot_name_regex: str | None = None
    agent_name_regex: str | None = None
    system_name_regex: str | None = None
    #: for authors no rule recognises
    default: Actor = Actor.AGENT

    @field_validator("bot_name_regex", "agent_name_regex", "system_name_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @cached_property
    def _types(self) -> dict[str, Actor]:
        return {**DEFAULT_TYPES, **{k.lower(): v for k, v in self.types.items()}}

    def classify(self, author_type: object, name: object = None) -> Actor:
        """The actor for an author's type value and display name (either may be None)."""
        kind = self._types.get(str(author_type).strip().lower()) if author_type is not None \
            else None
        if kind is Actor.VISITOR:
            return kind
        label = str(name).strip() if name is not None else ""
        if label:
            folded = label.casefold()
            if folded in {n.casefold() for n in self.bot_names}:
                return Actor.BOT
            if folded in {n.casefold() for n in self.agent_names}:
                return Actor.AGENT
            if self.bot_name_regex and re.search(self.bot_name_regex, label):
                return Actor.BOT
            if self.system_name_regex and re.search(self.system_name_regex, label):
                return Actor.SYSTEM
            if self.agent_name_regex and re.search(self.agent_name_regex, label):
                return Actor.AGENT
        return kind if kind is not None else self.default


#: for platforms where bots appear as agents (LiveChat, Rocket.Chat): names like "ShopBot"
BOT_LIKE_NAMES = r"(?i)(\bbot\b|bot$|^bot|chatbot|virtual assistant|\bai assistant\b)"
