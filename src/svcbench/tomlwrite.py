"""A tiny TOML writer for the definitions svcbench generates (demo, sandbox, simulations)."""

from __future__ import annotations

import json
from typing import Any


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def toml_table(name: str, data: dict[str, Any], *, array: bool = True) -> str:
    """``[[name]]`` (or ``[name]``) with its keys; nested dicts become sub-tables."""
    lines = [f"[[{name}]]" if array else f"[{name}]"]
    nested = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict):
            nested.append((key, value))
        else:
            lines.append(f"{key} = {toml_value(value)}")
    out = "\n".join(lines) + "\n"
    for key, value in nested:
        out += toml_table(f"{name}.{key}", value, array=False)
    return out
