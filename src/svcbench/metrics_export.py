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


#: metric name -> (type, help, labels): the rows of ``metric_rows``, the textfile's lines
METRICS = {
    "svcbench_probes": ("gauge", "Probes by channel, status and outcome.",
                        ("channel", "status", "outcome")),
    "svcbench_latest_wait_seconds": (
        "gauge", "Headline wait of the latest counted probe (NaN when it was not answered).",
        ("company", "channel")),
    "svcbench_export_timestamp_seconds": ("gauge", "When this file was written.", ()),
}
#: the keys of ``svcbench metrics --json`` objects and the ``--csv`` columns
METRIC_KEYS = ("metric", "channel", "status", "outcome", "company", "value")


def metric_rows(store: Store, *, now: float | None = None) -> list[dict[str, object]]:
    """One row per sample: the metric, its labels (None where it has none, and the outcome
    of a probe without one) and the value (None for NaN: the latest counted probe was not
    answered)."""
    rows: list[dict[str, object]] = []

    def add(metric: str, value: float | None, **labels: object) -> None:
        rows.append({"metric": metric, **{k: labels.get(k) for k in METRIC_KEYS[1:-1]},
                     "value": value})

    for r in store.db.query(
            "SELECT channel, status, outcome, COUNT(*) AS n "
            "FROM probes GROUP BY channel, status, outcome ORDER BY channel, status, outcome"):
        add("svcbench_probes", r["n"], channel=r["channel"], status=r["status"],
            outcome=r["outcome"])
    for r in store.db.query(
            "SELECT m.company, m.channel, m.wait_s, m.started_at, m.outcome FROM measurements m "
            "JOIN (SELECT company, channel, MAX(started_at) AS started_at FROM measurements "
            "WHERE outcome NOT IN ('failed', 'cancelled') GROUP BY company, channel) l "
            "ON m.company = l.company AND m.channel = l.channel AND m.started_at = l.started_at "
            "ORDER BY m.company, m.channel"):
        add("svcbench_latest_wait_seconds", r["wait_s"], company=r["company"],
            channel=r["channel"])
    add("svcbench_export_timestamp_seconds", round(now if now is not None else time.time()))
    return rows


def render_metrics(store: Store, *, now: float | None = None) -> str:
    """Probe counts by status/channel/outcome and each company's latest measurement."""
    rows = metric_rows(store, now=now)
    lines: list[str] = []
    for metric, (kind, text, names) in METRICS.items():
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
        for row in (r for r in rows if r["metric"] == metric):
            labels = ",".join(f'{key}="{_label(row[key] or "")}"' for key in names)
            value = row["value"]
            shown = ("NaN" if value is None
                     else f"{value:.3f}" if metric == "svcbench_latest_wait_seconds"
                     else f"{value}")
            lines.append(f"{metric}{{{labels}}} {shown}" if labels else f"{metric} {shown}")
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
