"""The report as PDF: the HTML report printed by the same headless Chromium the browser probes
use (its print stylesheet: A4 landscape, a channel per page, table headers repeated)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..browser import CHROMIUM, LAUNCH_ARGS
from ..errors import SvcbenchError
from . import output_name

if TYPE_CHECKING:
    from ..rank import Report


def html_to_pdf(html: str, path: Path, *, timeout_s: float = 60.0) -> None:
    """Print ``html`` to ``path`` (written atomically) in headless Chromium."""
    if not os.path.exists(CHROMIUM):
        raise SvcbenchError(f"PDF needs Chromium at {CHROMIUM} (run scripts/install-system-deps, "
                            "or set SVCBENCH_CHROMIUM)")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    tmp = path.with_suffix(".pdf.tmp")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=LAUNCH_ARGS, timeout=timeout_s * 1000)
            try:
                page = browser.new_page()
                # the report loads nothing; refuse anything it might try, to keep it offline
                page.route("**/*", lambda route: route.abort()
                           if not route.request.url.startswith(("data:", "about:"))
                           else route.continue_())
                page.set_content(html, wait_until="load", timeout=timeout_s * 1000)
                page.emulate_media(media="print")
                page.pdf(path=str(tmp), prefer_css_page_size=True, print_background=True,
                         display_header_footer=True, header_template="<span></span>",
                         footer_template='<div style="font-size:8px;width:100%;'
                         'text-align:center;color:#5a6272"><span class="pageNumber"></span> / '
                         '<span class="totalPages"></span></div>')
            finally:
                browser.close()
    except PlaywrightError as exc:
        tmp.unlink(missing_ok=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SvcbenchError(f"PDF: Chromium failed: {first}") from None
    tmp.replace(path)


def write_pdf(report: Report, directory: Path) -> list[Path]:
    from .html import render_html

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / output_name(report, ".pdf")
    html_to_pdf(render_html(report), path)
    return [path]
