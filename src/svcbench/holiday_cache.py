"""Public holidays remembered per user, so that drawing a plan neither imports the holidays
package nor builds its tables again for every country and year (together a quarter of a
second on each first plan).

The entry lives beside the config cache (``config_cache.cache_dir``; ``SVCBENCH_CACHE_DIR=off``
turns it off) as JSON, valid only for the holidays release that wrote it: a new release may
move a holiday, and is then asked again. An entry not owned by the user, or writable by
others, is ignored.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from .config_cache import cache_dir, trusted, write_entry
from .hours import KNOWN_HOLIDAYS, public_holidays

_FORMAT = 1
Region = tuple[str, str | None, int]


@functools.cache
def holidays_release() -> str:
    """The installed holidays release (read from its metadata, without importing it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("holidays")
    except PackageNotFoundError:  # pragma: no cover - a dependency
        return "?"


def know_holidays(regions: Iterable[Region]) -> None:
    """Make the public holidays of these (country, subdivision, year) known to
    ``svcbench.hours`` before a plan draws: from the cache, else from holidays (and cached)."""
    missing = set(regions) - KNOWN_HOLIDAYS.keys()
    if not missing:
        return
    directory = cache_dir()
    entry = directory / "holidays.json" if directory is not None else None
    stored = _read(entry) if entry is not None else {}
    fresh = missing - stored.keys()
    for region in missing:
        known = stored.get(region)
        KNOWN_HOLIDAYS[region] = known if known is not None else public_holidays(*region)
    if fresh and entry is not None:
        stored.update((region, KNOWN_HOLIDAYS[region]) for region in fresh)
        write_entry(entry.parent, entry, json.dumps({
            "format": _FORMAT, "holidays": holidays_release(),
            "regions": [[*region, sorted(d.isoformat() for d in days)]
                        for region, days in sorted(stored.items(), key=_order)]}).encode())


def _order(item: tuple[Region, frozenset[date]]) -> tuple[str, str, int]:
    (country, subdiv, year), _ = item
    return country, subdiv or "", year


def _read(entry: Path) -> dict[Region, frozenset[date]]:
    """The entry's holidays, or nothing if it is missing, untrusted, unreadable or stale."""
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        if trusted(entry):
            data = json.loads(entry.read_bytes())
            if data["format"] == _FORMAT and data["holidays"] == holidays_release():
                return {(str(country), None if subdiv is None else str(subdiv), int(year)):
                        frozenset(date.fromisoformat(d) for d in days)
                        for country, subdiv, year, days in data["regions"]}
    return {}
