"""Widget recipes: data files (``svcbench/data/chat_recipes/*.toml``) that say how to
recognise a vendor's widget on a page and how to drive it.

A recipe's ``[detect]`` table lists regexes on script URLs and iframe descriptions, page
globals and CSS selectors; recognition scores each recipe against what the page shows
(script 3, global 2, selector 2, iframe 2; at least 2 to count). Its ``[options]`` are
``BrowserOptions`` keys, overridden key by key by the company's own config; whatever neither
sets is discovered. Each recipe names the public sources it was built from
(``verified_against``) and which of its parts those sources confirm (``verified``).
"""

from __future__ import annotations

import functools
import re
import tomllib
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .....errors import ConfigError
from .options import BrowserOptions, check_regexes

MIN_SCORE = 2
WEIGHTS = {"scripts": 3, "globals": 2, "selectors": 2, "frames": 2}


class Detect(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scripts: list[str] = []     # regexes on <script src>
    frames: list[str] = []      # regexes on "<iframe src> <id> <name> <title>"
    globals: list[str] = []     # window properties, dotted paths allowed
    selectors: list[str] = []   # CSS on the host page (open shadow roots included)

    @field_validator("scripts", "frames")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        return check_regexes(patterns)


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    verified_against: list[str] = Field(min_length=1)
    verified: str
    detect: Detect
    options: dict[str, Any] = {}
    notes: str | None = None

    @field_validator("options")
    @classmethod
    def _known_keys(cls, options: dict[str, Any]) -> dict[str, Any]:
        unknown = set(options) - set(BrowserOptions.model_fields) | ({"url"} & set(options))
        if unknown:
            raise ValueError(f"unknown browser option(s): {', '.join(sorted(unknown))}")
        BrowserOptions.model_validate({"url": "http://127.0.0.1/", **options})
        return options


def _load_one(name: str, text: str) -> Recipe:
    try:
        return Recipe.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"recipe {name}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"recipe {name}: {key}: {first['msg']}") from None


@functools.cache
def builtin_recipes() -> dict[str, Recipe]:
    """Every recipe shipped in ``svcbench/data/chat_recipes``, by name."""
    folder = resources.files("svcbench") / "data" / "chat_recipes"
    found: dict[str, Recipe] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            recipe = _load_one(entry.name, entry.read_text(encoding="utf-8"))
            found[recipe.name] = recipe
    return found


def all_selectors() -> list[str]:
    return sorted({s for r in builtin_recipes().values() for s in r.detect.selectors})


def all_globals() -> list[str]:
    return sorted({g for r in builtin_recipes().values() for g in r.detect.globals})


def score(recipe: Recipe, facts: dict[str, Any]) -> tuple[int, list[str]]:
    """How strongly the page's facts point at this recipe, and why (each detector kind counts
    once: a regex on script URLs or iframes, a global or selector the page reported)."""
    why: list[str] = []
    total = 0
    checks = (
        ("scripts", "script", recipe.detect.scripts, lambda p, seen: re.search(p, seen)),
        ("frames", "iframe", recipe.detect.frames, lambda p, seen: re.search(p, seen)),
        ("globals", "global", recipe.detect.globals, lambda p, seen: p == seen),
        ("selectors", "element", recipe.detect.selectors, lambda p, seen: p == seen),
    )
    for kind, label, patterns, hits in checks:
        seen = facts.get(kind) or []
        hit = next(((p, s) for p in patterns for s in seen if hits(p, s)), None)
        if hit:
            shown = hit[1] if kind in ("scripts", "frames") else hit[0]
            why.append(f"{label} {shown.strip()[:120]}")
            total += WEIGHTS[kind]
    return total, why


def recognise(facts: dict[str, Any]) -> list[tuple[Recipe, int, list[str]]]:
    """Recipes matching the page, best first (score at least ``MIN_SCORE``)."""
    ranked = []
    for recipe in builtin_recipes().values():
        points, why = score(recipe, facts)
        if points >= MIN_SCORE:
            ranked.append((recipe, points, why))
    ranked.sort(key=lambda item: (-item[1], item[0].name))
    return ranked


def apply(recipe: Recipe | None, options: BrowserOptions) -> BrowserOptions:
    """The recipe's options overridden by every key the company set itself."""
    if recipe is None:
        return options
    mine = options.model_dump(exclude_unset=True)
    return BrowserOptions.model_validate({**recipe.options, **mine})


def get(name: str) -> Recipe:
    recipes = builtin_recipes()
    if name not in recipes:
        raise ConfigError(f"unknown chat recipe {name!r} (known: {', '.join(sorted(recipes))})")
    return recipes[name]
