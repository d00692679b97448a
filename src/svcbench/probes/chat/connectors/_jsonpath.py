"""A small JSONPath subset and a placeholder templater for the generic connectors.

Paths: ``$`` (the whole value), ``.key``, ``['key']``, ``[0]``, ``[-1]`` and ``[*]``, e.g.
``$.events[*]`` or ``$.payload.event.author_id``. That covers what chat payload mappings need
(Botium's mappings use the same) without a dependency.

Templates are JSON-like values whose strings hold ``{name}`` or ``{visitor.name}``
placeholders; a string that is exactly one placeholder takes the value's own type.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_TOKEN = re.compile(r"""\.([A-Za-z_$@][\w$@-]*)|\[\s*(?:'([^']*)'|"([^"]*)"|(-?\d+)|(\*))\s*\]""")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")
_WILDCARD = object()


class PathError(ValueError):
    """A path that is not in the supported subset."""


@lru_cache(maxsize=512)
def compile_path(path: str) -> tuple[Any, ...]:
    """Steps of a path: str keys, int indexes, or the wildcard."""
    text = path.strip()
    if not text.startswith("$"):
        raise PathError(f"JSONPath {path!r} must start with '$'")
    steps: list[Any] = []
    pos = 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise PathError(f"JSONPath {path!r}: cannot read {text[pos:]!r}")
        key, quoted1, quoted2, index, star = match.groups()
        if key is not None:
            steps.append(key)
        elif quoted1 is not None or quoted2 is not None:
            steps.append(quoted1 if quoted1 is not None else quoted2)
        elif index is not None:
            steps.append(int(index))
        elif star:
            steps.append(_WILDCARD)
        pos = match.end()
    return tuple(steps)


def find_all(path: str, value: Any) -> list[Any]:
    """Every value the path selects (an empty list when nothing matches)."""
    current = [value]
    for step in compile_path(path):
        found: list[Any] = []
        for item in current:
            if step is _WILDCARD:
                if isinstance(item, list):
                    found.extend(item)
                elif isinstance(item, dict):
                    found.extend(item.values())
            elif isinstance(step, int):
                if isinstance(item, list) and -len(item) <= step < len(item):
                    found.append(item[step])
            elif isinstance(item, dict) and step in item:
                found.append(item[step])
        current = found
    return current


def find_one(path: str | None, value: Any, default: Any = None) -> Any:
    """The first value the path selects, or ``default``."""
    if not path:
        return default
    found = find_all(path, value)
    return found[0] if found else default


def validate_path(path: str | None) -> str | None:
    """For pydantic validators: raises ValueError naming the problem."""
    if path is not None:
        compile_path(path)
    return path


def _lookup(name: str, context: dict[str, Any]) -> Any:
    if name in context:
        return context[name]
    value: Any = context
    for part in name.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(name)
    return value


def render(template: Any, context: dict[str, Any]) -> Any:
    """Fill ``{placeholders}`` in a template value; KeyError names a missing one."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return _lookup(whole.group(1), context)
        return _PLACEHOLDER.sub(lambda m: _text(_lookup(m.group(1), context)), template)
    if isinstance(template, dict):
        return {render(k, context): render(v, context) for k, v in template.items()}
    if isinstance(template, list):
        return [render(item, context) for item in template]
    return template


def _text(value: Any) -> str:
    return "" if value is None else str(value)
