"""Generates docs/config.md from the pydantic models (run by cog; checked by the tests): every
key, its type, its default, and the ``#:`` comment above it in the source."""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
import typing
from enum import Enum
from importlib.metadata import entry_points

from pydantic import BaseModel
from pydantic_core import PydanticUndefined


def _comments(cls: type) -> dict[str, str]:
    """Field name -> its ``#:`` comment lines, for ``cls`` and its bases."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or klass is BaseModel:
            continue
        try:
            lines, _ = inspect.getsourcelines(klass)
        except (OSError, TypeError):
            continue
        tree = ast.parse(textwrap.dedent("".join(lines)))
        body = tree.body[0].body  # type: ignore[attr-defined]
        source = textwrap.dedent("".join(lines)).splitlines()
        for node in body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                notes, i = [], node.lineno - 2
                while i >= 0 and source[i].strip().startswith("#:"):
                    notes.insert(0, source[i].strip()[2:].strip())
                    i -= 1
                if notes:
                    found[node.target.id] = " ".join(notes)
    return found


def _type(annotation: typing.Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f'"{m.value}"' for m in annotation)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " \\| ".join(_type(a) for a in args) + (" (optional)" if len(args) < len(
            typing.get_args(annotation)) else "")
    if origin in (list, tuple, set, frozenset):
        return f"list of {', '.join(_type(a) for a in typing.get_args(annotation))}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"table of {_type(key)} to {_type(value)}"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
                "PosixPath": "path", "Path": "path", "date": "date",
                "datetime": "date-time"}.get(annotation.__name__, annotation.__name__)
    return re.sub(r"\btyping\.", "", str(annotation))


def _default(field: typing.Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel) or (
            isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value)):
        return "(see below)"
    if isinstance(value, Enum):
        value = value.value
    try:
        text = json.dumps(value, default=str)
    except TypeError:
        text = str(value)
    return f"`{text}`" if len(text) < 60 else f"`{text[:57]}…`"


def model_section(cls: type[BaseModel], title: str, where: str) -> str:
    notes = _comments(cls)
    doc = inspect.getdoc(cls) if cls.__doc__ and cls.__doc__ != BaseModel.__doc__ else ""
    out = [f"\n### {cls.__name__}\n", f"{title} — `{where}`\n"]
    if doc:
        out.append(f"{doc.splitlines()[0]}\n")
    out.append("| key | type | default | meaning |\n| --- | --- | --- | --- |")
    for name, field in cls.model_fields.items():
        key = field.alias or name
        meaning = notes.get(name, "").replace("|", "\\|")
        out.append(f"| `{key}` | {_type(field.annotation)} | {_default(field)} | {meaning} |")
    return "\n".join(out) + "\n"


def reference() -> str:
    from svcbench import config as c
    from svcbench.grading import keys, settings

    sections = [
        (c.WorkspaceSettings, "Workspace settings", "svcbench.toml [workspace]"),
        (c.Targets, "Targets in seconds per channel", "svcbench.toml [targets]"),
        (c.Scoring, "Scoring", "svcbench.toml [scoring]"),
        (settings.GradingSettings, "Answer-quality grading (docs/grading.md)",
         "svcbench.toml [grading]"),
        (settings.RubricItem, "A rubric item", "[[grading.rubric]]"),
        (c.Company, "A company", "probes/*.toml [[company]]"),
        (c.Holidays, "Public holidays", "[[company]] holidays = { … }"),
        (c.ScheduleVersion, "A later version of the weekly hours", "[[company.hours_changes]]"),
        (c.ChannelEndpoint, "How a company is reached on a channel",
         "[company.channels.<channel>]"),
        (c.Shopper, "A shopper (whose name and mailbox probes use)", "probes/*.toml [[shopper]]"),
        (c.MailServer, "Outgoing mail", "[shopper.smtp]"),
        (c.ImapServer, "Incoming mail", "[shopper.imap]"),
        (c.Scenario, "A scenario (what the shopper asks)", "probes/*.toml [[scenario]]"),
        (c.Check, "An expected-answer check", "[[scenario.checks]]"),
        (keys.AnswerKey, "What a good answer contains", "[scenario.answer_key]"),
        (keys.Fact, "A fact, extra or wrong claim",
         "[[scenario.answer_key.facts]], .extras, .forbidden"),
        (c.ChatScript, "How a chat conversation is run", "[scenario.chat]"),
        (c.Campaign, "A campaign (who is probed, on which channels, how often)",
         "probes/*.toml [[campaign]]"),
    ]
    parts = [model_section(*s) for s in sections]
    parts.append("\n## Chat connectors\n\nKeys of `[company.channels.chat]` beside "
                 "`connector = \"…\"`, per connector (plugins add their own).\n")
    for ep in sorted(entry_points(group="svcbench.chat_connectors"), key=lambda e: e.name):
        model = ep.load().options_model
        parts.append(model_section(model, f"`connector = \"{ep.name}\"`",
                                   "[company.channels.chat]"))
    return "".join(parts)
