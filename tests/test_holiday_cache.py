"""Public holidays remembered per user: used only as written by the installed holidays
release, by this user; a plan drawn from it is the plan drawn from holidays itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from svcbench import holiday_cache, hours

DE_2026 = ("DE", None, 2026)
UNITY_DAY = date(2026, 10, 3)  # German Unity Day


def forget() -> None:
    """This process's public holidays forgotten, so the next lookup asks the cache."""
    hours.KNOWN_HOLIDAYS.clear()
    hours._public_holidays.cache_clear()


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """An empty cache directory, and this process's holidays forgotten before and after."""
    monkeypatch.setenv("SVCBENCH_CACHE_DIR", str(tmp_path / "cache"))
    forget()
    yield tmp_path / "cache" / "holidays.json"
    forget()


def known(region):
    forget()
    holiday_cache.know_holidays([region])
    return hours.KNOWN_HOLIDAYS[region]


def test_holidays_are_looked_up_once_and_then_read_from_the_cache(cache):
    assert UNITY_DAY in known(DE_2026)
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    entry = json.loads(cache.read_text())
    assert entry["holidays"] == holiday_cache.holidays_release()
    # what is read back is what the entry says: a day added to it is a holiday now
    for region in entry["regions"]:
        if region[:3] == list(DE_2026):
            region[3].append("2026-10-21")
    cache.write_text(json.dumps(entry))
    assert date(2026, 10, 21) in known(DE_2026)
    # regions not in it yet are looked up and added, the others kept
    known(("US", "NY", 2027))
    regions = {tuple(r[:3]) for r in json.loads(cache.read_text())["regions"]}
    assert regions == {DE_2026, ("US", "NY", 2027)}


@pytest.mark.parametrize("spoil", ["another release", "writable by others", "garbage",
                                   "wrong shape"])
def test_an_entry_that_cannot_be_trusted_is_ignored_and_written_again(cache, spoil):
    known(DE_2026)
    entry = json.loads(cache.read_text())
    for region in entry["regions"]:
        region[3].append("2026-10-21")
    if spoil == "another release":
        entry["holidays"] = "0.1"
    cache.write_text("{not json" if spoil == "garbage" else
                     json.dumps({**entry, "regions": [["DE"]]}) if spoil == "wrong shape"
                     else json.dumps(entry))
    if spoil == "writable by others":
        os.chmod(cache, 0o666)
    holidays = known(DE_2026)
    assert date(2026, 10, 21) not in holidays and UNITY_DAY in holidays


def test_a_cache_that_cannot_be_written_is_not_used(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("SVCBENCH_CACHE_DIR", str(blocker / "cache"))
    try:
        assert UNITY_DAY in known(DE_2026)
    finally:
        forget()


PLAN = """
import json, sys
from datetime import UTC, datetime
from pathlib import Path
from svcbench.plan_sync import sync_plans
from svcbench.workspace import Workspace
ws = Workspace.open(Path(sys.argv[1]))
sync_plans(ws.store, ws.config, datetime(2026, 10, 20, 12, tzinfo=UTC), dry_run=True)
rows = sorted((p.id, p.due_at.isoformat()) for p in
              sync_plans(ws.store, ws.config, datetime(2026, 10, 20, 12, tzinfo=UTC),
                         dry_run=True).added)
print(json.dumps({"holidays imported": "holidays" in sys.modules, "plan": rows}))
"""


def test_a_plan_drawn_from_the_cache_is_the_plan_drawn_from_holidays(workspace_dir, tmp_path):
    def plan(cache_dir):
        done = subprocess.run([sys.executable, "-c", PLAN, str(workspace_dir)],
                              capture_output=True, text=True, check=True,
                              env={**os.environ, "SVCBENCH_CACHE_DIR": cache_dir,
                                   "SVCBENCH_NO_FAST_PATH": "1"})
        return json.loads(done.stdout)

    without = plan("off")
    plan(str(tmp_path / "cache"))  # validates the config and fills both caches
    cached = plan(str(tmp_path / "cache"))
    assert without["holidays imported"] and not cached["holidays imported"]
    assert cached["plan"] == without["plan"] and len(without["plan"]) > 10
