"""The browser connector's options: where the widget is and how to read it.

Every key may come from a recipe (``data/chat_recipes/*.toml``, recognised on the page) and be
overridden key by key in the company's ``[company.channels.chat]`` table; keys left unset by
both are found by generic discovery (launcher, composer, message log, status line).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ...connector import ConnectorOptions
from ...events import Actor
from .._actors import ActorRules

_UNITS = (r"(?P<unit>seconds?|secs?|sekunden?|secondes?|segundos?|secondi|s|minutes?|mins?|"
          r"minuten?|minutos?|minuti|min|m|hours?|hrs?|stunden?|heures?|horas?|ore|h)")

DEFAULT_QUEUE_PATTERNS = [
    r"(?:you are|you're|sie sind|du bist|vous êtes|usted es|eres|sei)\s+(?:currently\s+|now\s+|"
    r"jetzt\s+|aktuell\s+|derzeit\s+)?(?:number|no\.?|nr\.?|nummer|numéro|número|numero|#)\s*"
    r"(?P<position>\d+)",
    r"(?:queue position|position in (?:the )?(?:queue|line)|position|warteschlangenplatz|"
    r"platz in der warteschlange|posición en la cola|position dans la file)\s*"
    r"(?:is|ist|est|es|:)?\s*#?\s*(?P<position>\d+)\b",
    r"\b(?P<position>\d+)(?:st|nd|rd|th|\.)?\s+(?:in (?:the )?(?:queue|line)|"
    r"in der warteschlange|dans la file|en la cola)",
    r"\ban (?P<position>\d+)\.\s*(?:stelle|position)",
]
DEFAULT_WAIT_PATTERNS = [
    r"(?:wait(?:ing)?\s*time|expected wait|estimated wait|wait|wartezeit|temps d'attente|"
    r"tiempo de espera|tempo di attesa)\D{0,30}?(?P<wait>\d+(?:[.,]\d+)?)\s*" + _UNITS + r"\b",
]
DEFAULT_AGENT_JOINED_PATTERNS = [
    r"^(?P<agent>.{1,60}?)\s+(?:has\s+)?joined(?: the)? (?:chat|conversation)",
    r"^(?P<agent>.{1,60}?)\s+ist (?:dem chat|der unterhaltung|dem gespräch) beigetreten",
    r"^(?P<agent>.{1,60}?)\s+a rejoint (?:la conversation|le chat|la discussion)",
    r"^(?P<agent>.{1,60}?)\s+se ha unido (?:al chat|a la conversación)",
    r"(?:you are (?:now )?(?:chatting|connected) with|sie (?:chatten|sprechen) (?:jetzt )?mit|"
    r"vous êtes en ligne avec)\s+(?P<agent>[^.!\n]{1,60})",
]
DEFAULT_CHAT_ENDED_PATTERNS = [
    r"\b(?:chat|conversation) (?:has )?(?:ended|been (?:closed|ended))\b",
    r"\bchat (?:wurde )?beendet\b",
    r"\b(?:conversation|discussion) (?:est )?terminée\b",
]

#: an operator named in a status line ("Operator: Anna", "Anna · Customer care" needs a recipe)
DEFAULT_AGENT_JOINED_PATTERNS.append(
    r"^(?:operator|agent|advisor|adviser|berater(?:in)?|mitarbeiter(?:in)?|conseill(?:er|ère)|"
    r"agente|asesor(?:a)?)\s*:\s*(?P<agent>[^.!\n]{1,60})$")

#: words of an offline / leave-a-message state (multilingual, checked on visible text)
DEFAULT_OFFLINE_PATTERNS = [
    r"\bleave (?:us )?a message\b",
    r"\bwe(?:'re| are) (?:currently |now )?(?:offline|away|closed|not available|unavailable)\b",
    r"\b(?:chat|agents?|team) (?:is |are )?(?:currently )?(?:offline|unavailable|not available)\b",
    r"\boutside (?:of )?(?:our )?(?:business|opening|office|support) hours\b",
    r"\bno (?:agents?|operators?) (?:are )?(?:currently )?(?:online|available)\b",
    r"\bnachricht hinterlassen\b|\bhinterlassen sie (?:uns )?eine nachricht\b",
    r"\b(?:wir sind|chat ist) (?:gerade |derzeit |momentan )?"
    r"(?:nicht (?:da|erreichbar|verfügbar)|offline)\b",
    r"\blaissez(?:-nous)? un message\b|\bnous sommes (?:actuellement )?(?:absents|hors ligne)\b",
    r"\bdeja(?:nos)? un mensaje\b|\bestamos (?:desconectados|fuera de línea)\b",
]


def check_regexes(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


class ActorRule(ConnectorOptions):
    """Tells who wrote a bubble; every condition given must hold; first matching rule wins."""

    actor: Actor
    selector: str | None = None    # CSS the bubble element matches (Element.matches)
    attribute: str | None = None   # attribute name; with `value`: regex on its value
    value: str | None = None
    author: str | None = None      # regex on the author name (author_name_selector)
    text: str | None = None        # regex on the bubble text

    @model_validator(mode="after")
    def _one_condition(self) -> ActorRule:
        if not any((self.selector, self.attribute, self.author, self.text)):
            raise ValueError("an actor rule needs selector, attribute, author or text")
        check_regexes([p for p in (self.value, self.author, self.text) if p])
        return self


Chain = str | list[str] | None


class BrowserOptions(ConnectorOptions):
    """Where the widget is and how to read it. ``log_selector``, ``message_selector``,
    ``text_selector``, ``author_name_selector``, ``status_selector`` and rule selectors are
    plain CSS (they run in the page); ``frame_selector``, ``open_selector``,
    ``input_selector`` and ``send_selector`` are Playwright selectors. ``None`` means: take it
    from the recognised recipe, else discover it."""

    url: str
    #: "auto": recognise the widget from the page; a recipe name; "none": generic discovery
    recipe: str = "auto"
    frame_selector: Chain = None                     # a list = nested iframes, outermost first
    open_selector: str | None = None                 # launcher to click
    open_scope: Literal["frame", "page"] = "frame"   # where the launcher lives
    open_frame_selector: Chain = None                # launcher inside this frame (chain)
    open_js: str | None = None                       # vendor JS API call that opens the chat
    open_clicks: int = Field(3, ge=0)                # clicks on discovered launchers, at most
    log_selector: str | None = None
    message_selector: str | None = None
    ignore_selector: str | None = None               # bubbles to skip (typing indicators)
    text_selector: str | None = None                 # inside the bubble; default whole bubble
    author_name_selector: str | None = None
    author_attribute: str | None = "data-author"     # its value is the author type
    kind_attribute: str | None = None                # optional structured hint, e.g. data-kind
    status_selector: str | None = None               # header/status line updated in place
    actor_rules: list[ActorRule] = Field(default_factory=list)   # DOM rules, checked first
    authors: ActorRules = ActorRules()               # author type / name rules (all connectors)
    input_selector: str | None = None
    send_key: str | None = "Enter"
    send_selector: str | None = None
    end_selector: str | None = None                  # clicked on close() to end the chat
    end_grace_s: float = Field(0.5, ge=0)            # lets the widget tell its server
    #: CSS of an offline / leave-a-message state; JS expression: false when offline
    offline_selector: str | None = None
    availability_js: str | None = None
    offline_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_OFFLINE_PATTERNS))
    queue_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_QUEUE_PATTERNS))
    wait_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_WAIT_PATTERNS))
    agent_joined_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_AGENT_JOINED_PATTERNS))
    chat_ended_patterns: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CHAT_ENDED_PATTERNS))
    #: our question must appear in the conversation within this time, else the probe failed
    echo_timeout_s: float = Field(8.0, gt=0)
    recognise_timeout_s: float = Field(3.0, ge=0)    # vendor loaders inject late
    record_network: bool = True                      # XHR/fetch/WebSocket evidence
    headless: bool = True
    open_timeout_s: float = Field(30.0, gt=0)   # page load + launcher + input (after launch)
    action_timeout_s: float = Field(10.0, gt=0)      # one fill / click / key press
    user_agent: str | None = None                    # default: don't disguise the browser
    locale: str = "en-US"
    viewport: tuple[int, int] = (1280, 800)
    screenshot_path: str | None = None               # final screenshot, taken on close()

    @field_validator("queue_patterns", "wait_patterns", "agent_joined_patterns",
                     "chat_ended_patterns", "offline_patterns")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        return check_regexes(patterns)

    @model_validator(mode="after")
    def _can_send(self) -> BrowserOptions:
        if not self.send_key and not self.send_selector:
            raise ValueError("set send_key or send_selector")
        return self

    @property
    def frames(self) -> list[str]:
        return chain(self.frame_selector)

    @property
    def selector_mode(self) -> bool:
        """Bubbles found by CSS (recipe or config) rather than learned from our question."""
        return self.message_selector is not None


def chain(value: Chain) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
