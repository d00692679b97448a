"""Prometheus textfile export (node_exporter's textfile collector convention).

The file is written to a temporary name and renamed, so the collector never reads half of it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from .errors import ConfigError, StoreError
from .store import Store
from .workspace import Workspace


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_metrics(store: Store, *, now: float | None = None) -> str:
    """Probe counts by status/channel/outcome and each company's latest measurement."""
    lines = [
        "# HELP svcbench_probes Probes by channel, status and outcome.",
        "# TYPE svcbench_probes gauge",
    ]
    rows = store.db.query(
        "SELECT channel, status, COALESCE(outcome, '') AS outcome, COUNT(*) AS n "
        "FROM probes GROUP BY channel, status, outcome ORDER BY channel, status, outcome")
    for r in rows:
        lines.append(f'svcbench_probes{{channel="{_label(r["channel"])}",'
                     f'status="{_label(r["status"])}",outcome="{_label(r["outcome"])}"}} {r["n"]}')
    latest = list(store.db.query(
        "SELECT m.company, m.channel, m.wait_s, m.started_at, m.outcome FROM measurements m "
        "JOIN (SELECT company, channel, MAX(started_at) AS started_at FROM measurements "
        "WHERE outcome NOT IN ('failed', 'cancelled') GROUP BY company, channel) l "
        "ON m.company = l.company AND m.channel = l.channel AND m.started_at = l.started_at "
        "ORDER BY m.company, m.channel"))
    lines += [
        "# HELP svcbench_latest_wait_seconds Headline wait of the latest counted probe "
        "(NaN when it was not answered).",
        "# TYPE svcbench_latest_wait_seconds gauge",
    ]
    for r in latest:
        value = "NaN" if r["wait_s"] is None else f'{r["wait_s"]:.3f}'
        lines.append(f'svcbench_latest_wait_seconds{{company="{_label(r["company"])}",'
                     f'channel="{_label(r["channel"])}"}} {value}')
    lines += [
        "# HELP svcbench_export_timestamp_seconds When this file was written.",
        "# TYPE svcbench_export_timestamp_seconds gauge",
        f"svcbench_export_timestamp_seconds {now if now is not None else time.time():.0f}",
    ]
    return "\n".join(lines) + "\n"


def write_textfile(store: Store, path: Path) -> Path:
    if path.is_dir() or not path.name:
        raise ConfigError("is a directory; give a file name such as svcbench.prom",
                          file=str(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(render_metrics(store))
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StoreError(f"{path}: cannot write the metrics file ({exc.strerror})") from None
    return path


def write_textfile_if_configured(workspace: Workspace) -> Path | None:
    target = workspace.config.settings.prometheus_textfile
    if target is None:
        return None
    return write_textfile(workspace.store, workspace.root / target)
