"""SQLite storage (sqlite-utils): schema migrations, probes, events, measurements."""

from ._migrations import Migrations, run_script
from ._store import BUSY_TIMEOUT_MS, Store

__all__ = ["BUSY_TIMEOUT_MS", "Migrations", "Store", "run_script"]
