"""SQLite storage (sqlite-utils): schema migrations, probes, events, measurements."""

from ._lean import import_sqlite_utils

import_sqlite_utils()

from ._migrations import Migrations, run_script  # noqa: E402
from ._store import BUSY_TIMEOUT_MS, Store  # noqa: E402

__all__ = ["BUSY_TIMEOUT_MS", "Migrations", "Store", "run_script"]
