"""How many worker processes a parallel step may use (planning, speech recognition)."""

from __future__ import annotations

import os

from .errors import ConfigError


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def worker_count(variable: str) -> int:
    """``$variable`` (a positive number; 1 means none in parallel), else one per usable core."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return usable_cores()
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"must be a whole number of worker processes, 1 or more, not {text!r}",
                          key=f"environment variable {variable}")
    return int(text)
