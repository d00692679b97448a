"""The report as ONE self-contained HTML file: inline CSS and SVG, no fonts, no images, no
network. Rendered by jinja2 with autoescaping on, so every name from the data is escaped, in
SVG text and attributes too. Its one script (the filter box, ``templates/filter.js``) is
allowed by hash in a Content-Security-Policy that allows nothing else: even text that slipped
past escaping could not run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import (
    duration,
    movement_mark,
    ordered_channels,
    output_name,
    percent,
    rank_range,
    ranking_durations,
    target_label,
)
from .charts import box_chart, histogram

if TYPE_CHECKING:
    from ..rank import Report


def render_html(report: Report) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("svcbench", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    from . import wording

    env.filters.update(duration=duration, percent=percent, target=target_label)
    env.globals.update(rank_range=rank_range, movement_mark=movement_mark,
                       headline=wording.headline,
                       seal=wording.seal, seal_bands=wording.seal_bands,
                       industry_lines=wording.industry_lines,
                       highlight_lines=wording.highlight_lines,
                       top_n_summary=wording.top_n_summary, vocabulary=wording.vocabulary,
                       source_line=wording.source_line,
                       simulated_banner=wording.simulated_banner,
                       form_not_automatable=wording.form_not_automatable,
                       form_merge_note=wording.form_merge_note,
                       form_finding_cells=wording.form_finding_cells,
                       via_web_form=wording.VIA_WEB_FORM,
                       wait_promise_verdict=wording.wait_promise_verdict,
                       wait_promise_note=wording.wait_promise_note)
    script = _filter_script()
    channels = [
        {"ranking": report.channels[c], "boxes": box_chart(report.channels[c]),
         "durations": ranking_durations(report.channels[c].rows),
         "histogram": histogram(report.channels[c])}
        for c in ordered_channels(report)
    ]
    return env.get_template("report.html.j2").render(
        report=report, channels=channels, companies=company_trends(report), script=script,
        script_hash=_csp_hash(script))


def company_trends(report: Report) -> list[dict]:
    """Per company, its rank in each channel (and overall) for every period the report
    ranked, oldest first: the rows of the report's per-company section."""
    names: dict[str, str] = {}
    for channel in ordered_channels(report):
        for row in report.channels[channel].rows:
            names.setdefault(row.company, row.name)
    order = [row.company for row in report.overall] + sorted(set(names) - {
        row.company for row in report.overall})
    out = []
    for company in order:
        lines = []
        for channel in ["overall", *ordered_channels(report)]:
            by_period = report.history_ranks.get(channel, {})
            ranks = [by_period.get(period, {}).get(company) for period in report.history]
            if any(r is not None for r in ranks):
                lines.append({"channel": channel, "ranks": ranks})
        if lines:
            out.append({"company": company, "name": names.get(company, company),
                        "lines": lines})
    return out


def _filter_script() -> str:
    from importlib.resources import files

    return files("svcbench").joinpath("templates/filter.js").read_text(encoding="utf-8")


def _csp_hash(script: str) -> str:
    import base64
    import hashlib

    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def write_html(report: Report, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / output_name(report, ".html")
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(path)
    return [path]
