"""Importing sqlite-utils without pandas and numpy.

sqlite-utils imports pandas and numpy whenever they are installed, only to map their scalar
types to column types in its insert helpers. svcbench writes with plain SQL and never inserts
pandas or numpy values through sqlite-utils, but every cron tick would pay ~0.5 s and ~50 MB
for those imports. So sqlite-utils is imported with both hidden; they stay importable for
everything else (reports load numpy when they need it).
"""

from __future__ import annotations

import sys

_HIDDEN = ("pandas", "numpy")


def import_sqlite_utils() -> None:
    if "sqlite_utils.db" in sys.modules or any(name in sys.modules for name in _HIDDEN):
        return  # already imported, or pandas/numpy are loaded anyway: nothing to save
    for name in _HIDDEN:
        sys.modules[name] = None  # type: ignore[assignment] - makes "import name" fail
    try:
        import sqlite_utils.db  # noqa: F401
    finally:
        for name in _HIDDEN:
            del sys.modules[name]
