"""Reading bubbles and status lines (pure): who wrote a bubble, and what it announces.

Who: DOM actor rules, then the author attribute and name through the shared ``authors`` rules,
then (for widgets without readable markers) the side the bubble is drawn on compared with our
own question, author-ish class/attribute tokens and the bot's self-description. What: queue
position, wait estimate, agent joined, chat ended, from multilingual patterns.
"""

from __future__ import annotations

import re
from typing import Any

from ...events import Actor, ChatEventKind
from .._actors import BOT_LIKE_NAMES
from .options import BrowserOptions

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
#: author-ish tokens in class names / attribute values of widgets without a readable author
_MARKERS: list[tuple[Actor, re.Pattern[str]]] = [
    (Actor.BOT, re.compile(r"(?i)(?:^|[-_\s])(?:bot|chatbot|assistant|automated|ai)(?:$|[-_\s])")),
    (Actor.SYSTEM, re.compile(r"(?i)(?:^|[-_\s])(?:system|notice|event|meta|info)(?:$|[-_\s])")),
    (Actor.VISITOR, re.compile(r"(?i)(?:^|[-_\s])(?:visitor|customer|client|guest|mine|self|own|"
                               r"outgoing|outbound|sent)(?:$|[-_\s])")),
    (Actor.AGENT, re.compile(r"(?i)(?:^|[-_\s])(?:agent|operator|admin|staff|human|"
                             r"incoming|inbound|received)(?:$|[-_\s])")),
]
_BOT_SELF = re.compile(r"(?i)\b(?:i(?:'m| am) (?:a|an|the|your) (?:virtual|digital|automated|ai)?"
                       r"\s*(?:assistant|bot|chatbot)|only a bot|virtual assistant)\b")
#: sides closer than this to the middle are "centre" (system lines)
_SIDE_MARGIN = 0.15


def clean_text(text: str | None) -> str:
    """Drop icon-font glyphs (private-use code points) and collapse whitespace."""
    return " ".join(_PRIVATE_USE.sub("", text or "").split())


def norm(text: str | None) -> str:
    return clean_text(text).casefold()


def _wait_seconds(match: re.Match[str]) -> float | None:
    value = float(match.group("wait").replace(",", "."))
    unit = (match.groupdict().get("unit") or "m").lower()
    return value * _UNIT_SECONDS.get(unit[0], 60)


def _search(patterns: list[str], text: str) -> re.Match[str] | None:
    for pattern in patterns:
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return found
    return None


def is_offline_text(text: str | None, options: BrowserOptions) -> str | None:
    """The words of an offline / leave-a-message state in ``text``, or None."""
    found = _search(options.offline_patterns, clean_text(text))
    return found.group(0) if found else None


def marker_actor(attrs: dict[str, Any]) -> Actor | None:
    """An author suggested by class names / data attributes, or None."""
    values = [str(v) for k, v in attrs.items() if k in ("class", "role") or k.startswith("data-")]
    for actor, pattern in _MARKERS:
        if any(pattern.search(value) for value in values):
            return actor
    return None


def bubble_actor(bubble: dict[str, Any], options: BrowserOptions,
                 visitor: dict[str, Any] | None = None) -> Actor | None:
    """Who wrote a bubble, or None when nothing tells.

    ``visitor`` is what our own question's bubble looked like (its side and attributes), so
    a widget with opaque markers can still be read: same side or same author attributes as
    ours -> visitor; the other side -> the company.
    """
    attrs = bubble.get("attrs") or {}
    hits = bubble.get("rule_hits") or []
    text = clean_text(bubble.get("text"))
    author = clean_text(bubble.get("author_name"))
    for i, rule in enumerate(options.actor_rules):
        if rule.selector and not (i < len(hits) and hits[i]):
            continue
        if rule.attribute:
            value = attrs.get(rule.attribute)
            if value is None or (rule.value is not None
                                 and not re.search(rule.value, value, re.IGNORECASE)):
                continue
        if rule.author and not re.search(rule.author, author, re.IGNORECASE):
            continue
        if rule.text and not re.search(rule.text, text, re.IGNORECASE):
            continue
        return rule.actor
    kind = attrs.get(options.author_attribute) if options.author_attribute else None
    if (kind or "").strip():
        return options.authors.classify(kind, author or None)
    side = bubble.get("side")
    if visitor is not None:
        ours = visitor.get("side")
        if isinstance(side, int | float) and isinstance(ours, int | float) \
                and abs(ours) > _SIDE_MARGIN:
            if side * ours > 0 and abs(side) > _SIDE_MARGIN:
                return Actor.VISITOR
            company_side = True
        else:
            company_side = False
        marks = visitor.get("marks") or {}
        if marks and all(attrs.get(k) == v for k, v in marks.items()):
            return Actor.VISITOR
    else:
        company_side = False
    marked = marker_actor(attrs)
    if marked is Actor.VISITOR and company_side:
        marked = None   # the side we see beats a guessed class name
    if marked is not None:
        return marked
    if author:
        named = options.authors.classify(None, author)
        if named is options.authors.default and looks_like_bot_name(author) \
                and author.casefold() not in {n.casefold() for n in options.authors.agent_names}:
            return Actor.BOT
        return named
    if _BOT_SELF.search(text):
        return Actor.BOT
    if isinstance(side, int | float) and abs(side) <= _SIDE_MARGIN and visitor is not None:
        return Actor.SYSTEM
    if company_side:
        return options.authors.default
    return None


def announcements(text: str, options: BrowserOptions, hint: str = ""
                  ) -> list[tuple[ChatEventKind, dict[str, Any]]]:
    """Queue position, wait estimate, agent joined and chat ended announced in ``text``."""
    found: list[tuple[ChatEventKind, dict[str, Any]]] = []
    queue = _search(options.queue_patterns, text)
    if queue:
        found.append((ChatEventKind.QUEUE_POSITION, {"position": int(queue.group("position"))}))
    wait = _search(options.wait_patterns, text)
    if wait:
        found.append((ChatEventKind.WAIT_ESTIMATE, {"wait_s": _wait_seconds(wait)}))
    joined = _search(options.agent_joined_patterns, text)
    if joined or hint == ChatEventKind.AGENT_JOINED:
        name = clean_text(joined.group("agent")) if joined else None
        found.append((ChatEventKind.AGENT_JOINED, {"agent": name}))
    if _search(options.chat_ended_patterns, text) or hint == ChatEventKind.CHAT_ENDED:
        found.append((ChatEventKind.CHAT_ENDED, {}))
    return found


def classify_bubble(bubble: dict[str, Any], options: BrowserOptions,
                    visitor: dict[str, Any] | None = None
                    ) -> list[tuple[ChatEventKind, Actor | None, dict[str, Any]]]:
    """Turn one reported bubble into (kind, actor, data) tuples, most often a single message.

    A system line that announces the queue, a wait, an agent or the end becomes only those
    structured events; a bot or agent message that mentions them is kept as a message too.
    """
    text = clean_text(bubble.get("text"))
    actor = bubble_actor(bubble, options, visitor)
    hint = ((bubble.get("attrs") or {}).get(options.kind_attribute or "") or "").lower()
    structured = announcements(text, options, hint) if actor != Actor.VISITOR else []
    if actor is None:
        actor = Actor.SYSTEM if structured else options.authors.default
    events = [(kind, actor, data) for kind, data in structured]
    if not structured or actor in (Actor.BOT, Actor.AGENT):
        events.insert(0, (ChatEventKind.MESSAGE, actor, {}))
    return events


class StatusReader:
    """Turns a status line's successive texts into events, each fact once: a new queue
    position, a new wait estimate, the first operator named."""

    def __init__(self, options: BrowserOptions):
        self.options = options
        self.position: int | None = None
        self.wait_s: float | None = None
        self.agent: str | None = None

    def read(self, text: str) -> list[tuple[ChatEventKind, dict[str, Any]]]:
        out = []
        for kind, data in announcements(clean_text(text), self.options):
            if kind is ChatEventKind.QUEUE_POSITION and data["position"] != self.position:
                self.position = data["position"]
                out.append((kind, data))
            elif kind is ChatEventKind.WAIT_ESTIMATE and data["wait_s"] != self.wait_s:
                self.wait_s = data["wait_s"]
                out.append((kind, data))
            elif kind is ChatEventKind.AGENT_JOINED and self.agent is None:
                self.agent = data.get("agent") or "?"
                out.append((kind, data))
            elif kind is ChatEventKind.CHAT_ENDED:
                out.append((kind, data))
        return out


def looks_like_bot_name(name: str | None) -> bool:
    return bool(name) and re.search(BOT_LIKE_NAMES, name or "") is not None
