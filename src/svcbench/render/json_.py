"""JSON output: one document with the schema version, methodology, and the same records as
the CSV files (``rankings`` long format, ``overall``). Columns: docs/report-columns.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import (
    SCHEMA_VERSION,
    ordered_channels,
    output_name,
    overall_records,
    ranking_records,
)

if TYPE_CHECKING:
    from ..rank import Report


def report_document(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": report.generated_at.isoformat(),
        "quarter": report.quarter,
        "previous_quarter": report.previous_quarter,
        "business_hours": report.business_hours,
        "first_started": report.first_started,
        "last_started": report.last_started,
        "methodology": {
            "weights": report.weights,
            "minimum_sample": report.minimum_sample,
            "bootstrap_samples": report.bootstrap_samples,
            "seed": report.seed,
            "overall_min_channels": report.overall_min_channels,
            "top_n": report.top_n,
            "counted_outcomes": ["answered", "answered_auto_only", "unanswered", "abandoned",
                                 "unavailable"],
            "excluded_outcomes": ["failed", "cancelled", "blocked"],
            "quality": report.quality,
        },
        "email_replies": report.sections.get("email_replies"),
        "channels": [
            {
                "channel": c, "targets_s": report.channels[c].targets,
                "companies": report.channels[c].companies,
                "ranked": report.channels[c].ranked, "probes": report.channels[c].probes,
                "excluded": report.channels[c].excluded,
                "first_started": report.channels[c].first_started,
                "last_started": report.channels[c].last_started,
                "industry_lines": report.channels[c].industry_lines,
            }
            for c in ordered_channels(report)
        ],
        "rankings": ranking_records(report),
        "overall": overall_records(report),
        **({"chat_service": report.sections["chat_service"]}
           if "chat_service" in report.sections else {}),
    }


def write_json(report: Report, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / output_name(report, ".json")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report_document(report), indent=1, ensure_ascii=False,
                              allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return [path]
