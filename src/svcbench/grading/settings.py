"""The rubric and the ``[grading]`` table of svcbench.toml.

Kept apart from :mod:`svcbench.config` (which imports it) so grading owns its own settings.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SLUG = r"^[a-z0-9][a-z0-9._-]*$"
_SECRET_KEYS = {"key", "api_key", "apikey", "token", "password", "secret"}


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RubricItem(_Base):
    """One concern a grader judges, with anchored descriptions of its values."""

    id: str = Field(pattern=_SLUG)
    label: str = Field(min_length=1)
    #: ``yes_no`` is stored as 1 / 0; ``scale`` as an integer from ``low`` to ``high``
    kind: Literal["yes_no", "scale"] = "yes_no"
    low: int = 1
    high: int = 5
    #: what the reviewer (or model) is asked
    question: str = Field(min_length=1)
    #: value -> what it means ("yes"/"no", or "1".."5"); shown to reviewers and models
    anchors: dict[str, str] = {}
    #: weight in a probe's quality score (0 leaves the item out of the score)
    weight: float = Field(default=1.0, ge=0)
    #: a "stellar" interaction has at least this value on every item that sets one
    stellar_min: float | None = None
    #: the answer-key result that grades this item automatically, if any
    from_key: Literal["fully_answered", "anticipated"] | None = None

    @model_validator(mode="after")
    def _range(self) -> RubricItem:
        if self.kind == "scale" and self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    @property
    def values(self) -> list[int]:
        return [0, 1] if self.kind == "yes_no" else list(range(self.low, self.high + 1))

    def normalise(self, value: float) -> float:
        """0-100 for the quality score."""
        if self.kind == "yes_no":
            return 100.0 * value
        return 100.0 * (value - self.low) / (self.high - self.low)

    def label_of(self, value: float | None) -> str:
        if value is None:
            return "–"
        if self.kind == "yes_no":
            return "yes" if value >= 0.5 else "no"
        return f"{value:g}"


DEFAULT_RUBRIC: tuple[RubricItem, ...] = (
    RubricItem(
        id="fully_answered", label="Fully answered", from_key="fully_answered", weight=2,
        stellar_min=1,
        question="Did the reply answer every part of the question, correctly?",
        anchors={"yes": "every part answered, nothing wrong stated",
                 "no": "a part is missing, vague, or wrong"}),
    RubricItem(
        id="knowledge", label="Product & policy knowledge", kind="scale", stellar_min=4,
        question="How well did the agent know the product and the company's policies?",
        anchors={"1": "wrong or no information", "2": "vague, generic",
                 "3": "correct but minimal", "4": "correct and specific",
                 "5": "correct, specific, with the relevant details and conditions"}),
    RubricItem(
        id="professionalism", label="Professionalism & attention to detail", kind="scale",
        stellar_min=4,
        question="How professional, clear and careful was the reply (tone, spelling, "
                 "addressing the customer's details)?",
        anchors={"1": "rude, careless or unreadable", "2": "curt or sloppy",
                 "3": "acceptable", "4": "polite, clear, careful",
                 "5": "warm, clear, flawless, uses the customer's details"}),
    RubricItem(
        id="personal", label="Personal, not a template",
        question="Was the reply written for this customer rather than a generic template?",
        anchors={"yes": "refers to this customer's question and details",
                 "no": "a canned text that could answer anyone"}),
    RubricItem(
        id="anticipated", label="Anticipated a follow-up", from_key="anticipated",
        stellar_min=1,
        question="Did the agent anticipate a follow-up question or offer more than was asked?",
        anchors={"yes": "answered the next likely question or offered useful extra help",
                 "no": "only what was asked, or less"}),
)


class GradingSettings(_Base):
    """``[grading]`` in svcbench.toml."""

    #: the rubric; the default follows StellaService's categories (see docs/grading.md)
    rubric: list[RubricItem] = list(DEFAULT_RUBRIC)
    #: an ``llm`` model id for model grading; None (the default) means never run a model
    model: str | None = None
    #: options passed to the model (e.g. temperature); never secrets
    model_options: dict[str, Any] = {}
    #: rubric items the model grades (default: all)
    model_items: list[str] = []

    @field_validator("model_options")
    @classmethod
    def _no_secrets(cls, options: dict[str, Any]) -> dict[str, Any]:
        for key in options:
            if key.lower() in _SECRET_KEYS or key.lower().endswith(("_key", "_token")):
                raise ValueError(f"{key}: secrets are not stored in config; llm reads model "
                                 "keys from `llm keys set` or its environment variables")
        return options

    @model_validator(mode="after")
    def _unique(self) -> GradingSettings:
        ids = [item.id for item in self.rubric]
        for ident in ids:
            if ids.count(ident) > 1:
                raise ValueError(f"duplicate rubric item id {ident!r}")
        for ident in self.model_items:
            if ident not in ids:
                raise ValueError(f"model_items: unknown rubric item {ident!r} "
                                 f"(known: {', '.join(ids)})")
        return self

    def item(self, ident: str) -> RubricItem:
        return next(i for i in self.rubric if i.id == ident)
