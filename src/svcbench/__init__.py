"""svcbench: customer-service benchmarking by mystery shopping.

The public API is small; the CLI is a thin layer over it::

    from svcbench import Workspace, Channel
    ws = Workspace.open(Path("my-benchmark"))
    for m in ws.store.measurements(channel=Channel.EMAIL, quarter="2026Q4"):
        ...

Names are imported on first use: sqlite-utils loads pandas, and ``svcbench --help`` must
start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Channel": "models", "Event": "models", "Measurement": "models", "Outcome": "models",
    "Probe": "models", "ProbeStatus": "models",
    "ConfigError": "errors", "SvcbenchError": "errors",
    "ProbeContext": "plugins", "ProbePlugin": "plugins",
    "Workspace": "workspace", "init_workspace": "workspace",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'svcbench' has no attribute {name!r}")
