"""The idle tick and the unchanged re-plan, answered before the heavy stack is imported.

Run from cron every minute, most ticks find nothing to do; importing typer, rich, pydantic,
sqlite-utils and asyncio and loading 500 companies' config costs more than everything the
tick then does. So ``svcbench tick`` and ``svcbench plan`` first ask, with the standard
library only (sqlite3, tomllib, hashlib), whether the full run would do anything:

- the **inputs digest** (every config file's bytes, the workspace path, Python, the
  installed packages' directories and svcbench's own modules) equals the one stored by the
  last full run that brought every campaign's plan up to date, in the same quarter, and the
  stored plan fingerprints (``plan_inputs``) are the ones it left;
- for ``tick`` also: the lock is free and was released cleanly (no recovery to report), no
  probe is starting or running (recovery, collection), and the planned probes already due
  are exactly the ones the last full tick left waiting (manual probes before their deadline,
  retries in backoff), none of which needs anything yet; no metrics textfile is configured.

Anything else, or anything unusual in the arguments, runs the full command as always. The
state the checks compare with is written by the full runs (``record_plan``,
``record_tick``) into the ``meta`` table.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .models import format_instant, quarter_of  # standard library only

WORKSPACE_FILE = "svcbench.toml"
LOCK_FILE = ".svcbench.lock"
WORKSPACE_ENV = "SVCBENCH_WORKSPACE"
#: read here without importing svcbench.plugins
EXTRA_PROBES_ENV = "SVCBENCH_EXTRA_PROBES"
PLAN_KEY = "fastpath.plan"
TICK_KEY = "fastpath.tick"
_FORMAT = b"svcbench-inputs-1\n"


def nearest_workspace(start: Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` holding svcbench.toml."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / WORKSPACE_FILE).is_file():
            return candidate
    return None


def _settings(root: Path) -> dict[str, Any]:
    import tomllib

    with (root / WORKSPACE_FILE).open("rb") as handle:
        section = tomllib.load(handle).get("workspace", {})
    return section if isinstance(section, dict) else {}


def inputs_digest(root: Path) -> str | None:
    """A digest of everything a workspace's config and plans are made from; None if a
    config file cannot be read (the full load then reports it)."""
    root = root.resolve()
    digest = hashlib.sha256(_FORMAT + f"{root}\0{sys.version}\0"
                            f"{os.environ.get(EXTRA_PROBES_ENV, '')}\0".encode())
    # a package installed, removed or upgraded (holidays, a plugin) adds or removes a
    # *.dist-info directory, which changes its site-packages directory's time (other
    # entries, such as the current directory, change with every database journal)
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            with contextlib.suppress(OSError):
                digest.update(f"{entry}:{os.stat(entry).st_mtime_ns}\0".encode())
    # a checkout's code changes without a new version: svcbench's modules' sizes and times
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        info = path.stat()
        digest.update(f"{path.relative_to(package)}:{info.st_size}:{info.st_mtime_ns}\0"
                      .encode())
    try:
        probes = _settings(root).get("probes", "probes")
        files = [root / WORKSPACE_FILE]
        probes_dir = root / str(probes)
        if probes_dir.is_dir():
            files += sorted(probes_dir.rglob("*.toml"))
        for path in files:
            data = path.read_bytes()
            name = path.relative_to(root) if path.is_relative_to(root) else path
            digest.update(f"\0{name}\0{len(data)}\0".encode())
            digest.update(data)
    except Exception:  # noqa: BLE001 - unreadable or invalid: the full load reports it
        return None
    return digest.hexdigest()


# -- what the full runs leave for the checks ---------------------------------------------


def _plan_inputs_digest(conn: sqlite3.Connection,
                        pairs: Iterable[Sequence[str]]) -> tuple[str, int, int]:
    """(digest, parts, probes) of the stored plan fingerprints of (campaign, quarter)s."""
    wanted = {tuple(p) for p in pairs}
    quarters = sorted({q for _, q in wanted})
    digest = hashlib.sha256()
    parts = probes = 0
    rows = conn.execute(
        "SELECT campaign, quarter, company, fingerprint, window_start, probes FROM plan_inputs "
        f"WHERE quarter IN ({', '.join('?' for _ in quarters)}) "
        "ORDER BY campaign, quarter, company", quarters) if quarters else ()
    for row in rows:
        if (row[0], row[1]) in wanted:
            digest.update(("\0".join(map(str, row)) + "\n").encode())
            parts += 1
            probes += row[5] or 0
    return digest.hexdigest(), parts, probes


def _put(conn: sqlite3.Connection, key: str, value: dict[str, Any] | None) -> None:
    if value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                     (key, json.dumps(value, sort_keys=True)))


def record_plan(conn: sqlite3.Connection, digest: str | None, now: datetime,
                pairs: Sequence[tuple[str, str]]) -> None:
    """After every campaign's plan was brought up to date for the quarter of ``now``."""
    if digest is None:
        _put(conn, PLAN_KEY, None)
        return
    inputs, _, _ = _plan_inputs_digest(conn, pairs)
    _put(conn, PLAN_KEY, {"digest": digest, "quarter": quarter_of(now.astimezone(UTC)),
                          "pairs": sorted(pairs), "inputs": inputs})


def waiting_digest(rows: Iterable[Sequence[Any]]) -> str:
    digest = hashlib.sha256()
    for row in sorted(rows):
        digest.update(("\0".join(map(str, row)) + "\n").encode())
    return digest.hexdigest()


def _due_rows(conn: sqlite3.Connection, now: datetime) -> list[tuple[Any, ...]]:
    """Planned probes already due: (id, plugin, deadline_at, state)."""
    return list(conn.execute(
        "SELECT id, plugin, deadline_at, state FROM probes "
        "WHERE status = 'planned' AND due_at <= ?", (format_instant(now),)))


def record_tick(conn: sqlite3.Connection, digest: str | None, now: datetime, *,
                automatic: dict[str, bool], budget_s: float, log_file: str | None,
                textfile: bool) -> None:
    """After a full tick: what it left waiting, and when that needs a full tick again.

    ``automatic`` says for each plugin of a waiting probe whether ticks start it. A due
    automatic probe that is not in backoff (left by the budget) leaves nothing recorded.
    """
    rows = _due_rows(conn, now)
    wake: str | None = None
    for _, plugin, deadline, state in rows:
        retry_at = json.loads(state or "{}").get("next_attempt_at")
        if automatic.get(plugin, True) and not retry_at:
            _put(conn, TICK_KEY, None)
            return
        times = [deadline] if deadline else []
        if automatic.get(plugin, True):
            times.append(format_instant(datetime.fromisoformat(retry_at).astimezone(UTC)))
        for at in times:
            wake = at if wake is None or at < wake else wake
    if digest is None or textfile:
        _put(conn, TICK_KEY, None)
        return
    _put(conn, TICK_KEY, {"digest": digest, "waiting": waiting_digest(rows), "wake": wake,
                          "budget_s": budget_s, "log_file": log_file})


# -- the checks ---------------------------------------------------------------------------


def _connect(root: Path, settings: dict[str, Any]) -> sqlite3.Connection | None:
    database = settings.get("database", "svcbench.db")
    if not isinstance(database, str):
        return None
    path = (root / database).resolve()
    if not path.is_file():
        return None
    conn = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, timeout=30,
                           isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def _state(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


def _plan_unchanged(conn: sqlite3.Connection, digest: str,
                    now: datetime) -> tuple[int, int] | None:
    """(parts, probes) of the stored plans if a full re-plan would change nothing."""
    state = _state(conn, PLAN_KEY)
    if not state or state.get("digest") != digest or state.get("quarter") != quarter_of(now):
        return None
    inputs, parts, probes = _plan_inputs_digest(conn, state["pairs"])
    return (parts, probes) if inputs == state["inputs"] else None


def _tick_idle(conn: sqlite3.Connection, digest: str, now: datetime) -> dict[str, Any] | None:
    """The recorded tick state if a full tick would find nothing to do now."""
    if _plan_unchanged(conn, digest, now) is None:
        return None
    state = _state(conn, TICK_KEY)
    if not state or state.get("digest") != digest:
        return None
    if state.get("wake") is not None and state["wake"] <= format_instant(now):
        return None  # a waiting probe's deadline or retry time has come
    if conn.execute("SELECT 1 FROM probes WHERE status IN ('starting', 'running') "
                    "LIMIT 1").fetchone():
        return None  # recovery, or collection of running probes
    if waiting_digest(_due_rows(conn, now)) != state.get("waiting"):
        return None  # a probe became due, or a waiting one changed
    return state


def _parse(argv: Sequence[str], command: str, flags: set[str],
           values: set[str]) -> tuple[dict[str, str | bool], Path] | None:
    """The options and the workspace of ``svcbench COMMAND`` if the fast path may answer it:
    only ``flags``, ``values`` (``--name VALUE`` or ``--name=VALUE``) and ``-w/--workspace``
    (before or after the command), each once; anything else goes to the full CLI."""
    options: dict[str, str | bool] = {}
    found = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        name = "--workspace" if name == "-w" and not eq else name
        if found is None and not arg.startswith("-"):
            found = arg
        elif arg in flags and found is not None and arg not in options:
            options[arg] = True
        elif (name == "--workspace" or name in values and found is not None) \
                and (name not in options or name == "--workspace"):
            if not eq:
                value = args.pop(0) if args else ""
            if not value or value.startswith("-"):
                return None
            options[name] = value
        else:
            return None
    if found != command:
        return None
    workspace = options.pop("--workspace", None) or os.environ.get(WORKSPACE_ENV)
    start = Path(str(workspace)) if workspace else None
    if start is not None and not start.is_dir():
        return None  # the full command says what is wrong with it
    root = nearest_workspace(start)
    return (options, root) if root is not None else None


def _check(root: Path, check) -> Any:
    """``check(conn, digest, now)`` on one snapshot of the workspace's database; None when
    anything is missing or unreadable (the full command then says what)."""
    try:
        digest = inputs_digest(root)
        conn = _connect(root, _settings(root)) if digest else None
        if conn is None:
            return None
        try:
            conn.execute("BEGIN")  # one snapshot for every check
            return check(conn, digest, datetime.now(UTC))
        finally:
            conn.close()
    except (OSError, ValueError, KeyError, TypeError, AttributeError, sqlite3.Error):
        return None


def try_plan(argv: Sequence[str]) -> bool:
    """``svcbench plan [--json]`` with nothing changed: print what the full run would."""
    parsed = _parse(argv, "plan", {"--json"}, set())
    if parsed is None:
        return False
    options, root = parsed
    found = _check(root, _plan_unchanged)
    if found is None:
        return False
    parts, probes = found
    if options.get("--json"):
        sys.stdout.write(json.dumps({
            "planned": probes, "added": 0, "moved": 0, "cancelled": 0, "replanned": 0,
            "unchanged": parts, "dry_run": False, "probes": [], "cancelled_ids": []},
            indent=2) + "\n")
    else:
        _echo(f"{probes} probes planned: 0 were added, 0 moved, 0 cancelled (inputs "
              f"unchanged for {parts} companies)")
    return True


def _echo(text: str, stream=None) -> None:
    import shutil
    import textwrap

    stream = stream or sys.stdout
    width = shutil.get_terminal_size((80, 24)).columns
    stream.write(textwrap.fill(text, width=width, break_long_words=False) + "\n")


def try_tick(argv: Sequence[str]) -> bool:
    """``svcbench tick [--json] [--log-file F]`` with nothing to do: report an idle tick."""
    began = time.monotonic()
    parsed = _parse(argv, "tick", {"--json"}, {"--log-file"})
    if parsed is None:
        return False
    options, root = parsed
    import fcntl

    try:
        with (root / LOCK_FILE).open("a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # the full tick says who holds it and exits 75
            lock.seek(0)
            if lock.read().strip():
                return False  # the last run died holding it: the full tick reports it
            state = _check(root, _tick_idle)
    except OSError:
        return False
    if state is None:
        return False
    log_file = options.get("--log-file") or (
        str(root / state["log_file"]) if state.get("log_file") else None)
    report = {"planned": 0, "started": 0, "retried": 0, "recovered": 0, "events": 0,
              "advanced_meanwhile": 0, "finished": {}, "failed": [], "deferred": 0, "skipped": [],
              "elapsed_s": round(time.monotonic() - began, 3), "budget_s": state["budget_s"],
              "stale_lock": None, "step_s": {}, "fast_path": True}
    if log_file is not None and not _log(Path(log_file), f"tick: {report}"):
        return False  # the full tick reports why the log cannot be written
    if options.get("--json"):
        sys.stdout.write(json.dumps({**report, "would_start": []}, indent=2) + "\n")
    elif sys.stderr.isatty():
        sys.stderr.write("planned 0, started 0, retried 0, recovered 0, new events 0, "
                         "finished: none\n")
    return True


def _log(path: Path, message: str) -> bool:
    """One line as the full tick's log handler writes it."""
    if path.is_dir() or not path.parent.is_dir():
        return False
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp},{int(now % 1 * 1000):03d} {os.getpid()} INFO {message}\n")
    except OSError:
        return False
    return True
