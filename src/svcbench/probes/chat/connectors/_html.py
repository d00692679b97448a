"""Values out of HTML fragments, for visitor APIs that answer with rendered message rows.

A selector is a small CSS subset: ``tag``, ``.class``, ``tag.class.other``, ``[attr]``,
``[attr=value]`` (one compound, no combinators). Each matching element becomes an item the
event mapping's JSONPaths read::

    {"text": "Anna Hello", "tag": "div", "class": "msg op", "attrs": {"data-u": "7"},
     "parts": {"author": "Anna", "body": "Hello"}}

``parts`` holds the text of every descendant element by each of its classes (the first
element of a class wins), so ``$.parts.body`` is the message text without the author label.
Matching elements nested in another match are items of their own, not parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

_COMPOUND = re.compile(r"^([a-zA-Z][\w-]*)?((?:\.[\w-]+)*)((?:\[[\w-]+(?:=[^\]]*)?\])*)$")
_ATTR = re.compile(r"\[([\w-]+)(?:=([^\]]*))?\]")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


class SelectorError(ValueError):
    """A selector outside the supported subset."""


@dataclass(frozen=True)
class Selector:
    tag: str | None
    classes: tuple[str, ...]
    attrs: tuple[tuple[str, str | None], ...]

    def matches(self, tag: str, attrs: dict[str, str]) -> bool:
        if self.tag and tag != self.tag:
            return False
        have = set(attrs.get("class", "").split())
        if any(c not in have for c in self.classes):
            return False
        return all(name in attrs and (value is None or attrs[name] == value)
                   for name, value in self.attrs)


@lru_cache(maxsize=128)
def parse_selector(text: str) -> Selector:
    match = _COMPOUND.match(text.strip())
    if not text.strip() or not match:
        raise SelectorError(f"selector {text!r} is not supported (use tag.class[attr=value])")
    tag, classes, attrs = match.groups()
    return Selector(tag=tag.lower() if tag else None,
                    classes=tuple(c for c in (classes or "").split(".") if c),
                    attrs=tuple((n, v.strip("'\"") if v is not None else None)
                                for n, v in _ATTR.findall(attrs or "")))


@dataclass
class _Open:
    tag: str
    classes: list[str]
    item: dict[str, Any] | None  # the item this element starts, if it matched
    texts: list[str] = field(default_factory=list)


class _Extractor(HTMLParser):
    def __init__(self, selector: Selector):
        super().__init__(convert_charrefs=True)
        self.selector = selector
        self.items: list[dict[str, Any]] = []
        self.stack: list[_Open] = []

    def _gap(self) -> None:
        # element boundaries separate words ("Anna" + "Hello"), as a browser's innerText would
        for opened in self.stack:
            opened.texts.append(" ")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._gap()
        values = {k: (v or "") for k, v in attrs}
        item = None
        if self.selector.matches(tag, values):
            item = {"tag": tag, "class": values.get("class", ""), "attrs": values,
                    "parts": {}, "text": ""}
            self.items.append(item)
        opened = _Open(tag, values.get("class", "").split(), item)
        if tag in _VOID:
            self._close(opened)
            return
        self.stack.append(opened)

    def handle_endtag(self, tag: str) -> None:
        self._gap()
        # tolerate unclosed children: close up to the matching open tag
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                while len(self.stack) > i:
                    self._close(self.stack.pop())
                return

    def handle_data(self, data: str) -> None:
        for opened in self.stack:
            opened.texts.append(data)

    def _close(self, opened: _Open) -> None:
        text = " ".join("".join(opened.texts).split())
        if opened.item is not None:
            opened.item["text"] = text
        owner = next((o.item for o in reversed(self.stack) if o.item is not None), None)
        if owner is not None and opened.item is None:
            for cls in opened.classes:
                owner["parts"].setdefault(cls, text)

    def close(self) -> None:
        super().close()
        while self.stack:
            self._close(self.stack.pop())


def extract(html: str, selector: str) -> list[dict[str, Any]]:
    """The items for every element matching ``selector``, in document order."""
    parser = _Extractor(parse_selector(selector))
    parser.feed(html)
    parser.close()
    return parser.items
