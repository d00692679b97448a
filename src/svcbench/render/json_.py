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
    from dataclasses import asdict

    from .wording import (
        form_merge_note,
        highlight_lines,
        industry_lines,
        seal_bands,
        simulated_banner,
        source_line,
    )

    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": report.generated_at.isoformat(),
        "quarter": report.quarter,
        "previous_quarter": report.previous_quarter,
        "period": report.quarter,
        "period_kind": "month" if report.monthly else "quarter",
        "periods_ranked": report.history,
        "includes_simulated": bool(report.simulated_counted),
        "simulated_counted": report.simulated_counted,
        "notice": simulated_banner(report) or None,
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
            "period_assignment": "by each probe's start in the company's local time zone",
            "ties": "two companies are tied when their 95% rank intervals overlap",
            "simulated_included": report.include_simulated,
            "sources": [{**asdict(s), "file": report.batches.get(s.merge_batch or ""),
                         "text": source_line(report, s)} for s in report.sources],
            "seal_bands": [{"name": n, "min": lo, "max": hi} for n, lo, hi in seal_bands()]
            if report.seals else None,
            "form_merged_into_email": report.form_merged_into_email,
            "form_merge": form_merge_note(report) or None,
        },
        "email_replies": report.sections.get("email_replies"),
        "forms_blocked": report.sections.get("forms_blocked"),
        "form_findings": report.sections.get("form_findings"),
        "phone_waits": report.sections.get("phone_waits"),
        "channels": [
            {
                "channel": c, "targets_s": report.channels[c].targets,
                "companies": report.channels[c].companies,
                "ranked": report.channels[c].ranked, "probes": report.channels[c].probes,
                "excluded": report.channels[c].excluded,
                "first_started": report.channels[c].first_started,
                "last_started": report.channels[c].last_started,
                "industry_lines": industry_lines(report.channels[c]),
                "industry_facts": [asdict(f) for f in report.channels[c].industry],
                "highlights": asdict(report.highlights[c]) if c in report.highlights else None,
                "highlight_lines": highlight_lines(report, c),
            }
            for c in ordered_channels(report)
        ],
        "rankings": ranking_records(report),
        "overall": overall_records(report),
        **({"chat_service": report.sections["chat_service"]}
           if "chat_service" in report.sections else {}),
        "overall_highlights": highlight_lines(report, "overall"),
    }


def write_json(report: Report, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / output_name(report, ".json")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report_document(report), indent=1, ensure_ascii=False,
                              allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return [path]
