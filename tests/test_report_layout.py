"""The HTML report for people: phone and desktop widths, the filter box, print and PDF, all in
real headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from svcbench.workspace import init_workspace

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
LONG_NAME = "Internationale Versandhandelsgesellschaft für Outdoorbekleidung und Zubehör GmbH"


@pytest.fixture(scope="module")
def report_files(tmp_path_factory):
    import sqlite3

    from conftest import run_cli

    root = tmp_path_factory.mktemp("layout")
    ws = init_workspace(root / "ws")
    done = run_cli("simulate", "--companies", "40", "--quarters", "2", "--seed", "3",
                   "--probes-per-company-channel", "6", "--end-quarter", "2026Q3", cwd=ws)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(ws / "svcbench.db") as conn:
        slug = conn.execute("SELECT slug FROM companies ORDER BY slug LIMIT 1").fetchone()[0]
        conn.execute("UPDATE companies SET name = ? WHERE slug = ?", (LONG_NAME, slug))
    out = root / "reports"
    done = run_cli("report", "--include-simulated", "--quarter", "2026Q3", "-f", "html", "-f",
                   "pdf", "-o", str(out), cwd=ws)
    assert done.returncode == 0, done.stderr
    return (out / "rankings-2026Q3-incl-simulated.html",
            out / "rankings-2026Q3-incl-simulated.pdf")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--disable-gpu"])
        yield browser
        browser.close()


def _open(browser, html: Path, width: int, errors: list[str] | None = None):
    page = browser.new_page(viewport={"width": width, "height": 900})
    if errors is not None:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    return page


# the smallest computed font size of any element that shows text, and where
SMALLEST_TEXT = """() => {
  let smallest = [1000, ""];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest("[hidden]") || !el.getClientRects().length) continue;
    let size = parseFloat(getComputedStyle(el).fontSize);
    const svg = el.closest("svg");
    if (svg && svg.viewBox.baseVal && svg.viewBox.baseVal.width) {
      size *= svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;  // drawn size
    }
    if (size < smallest[0]) smallest = [size, el.tagName + ": " + el.textContent.slice(0, 40)];
  }
  return smallest;
}"""


@pytest.mark.parametrize("width", [390, 1400])
def test_no_sideways_page_scroll_and_legible_text(browser, report_files, width, tmp_path):
    html, _ = report_files
    errors: list[str] = []
    page = _open(browser, html, width, errors)
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        size, where = page.evaluate(SMALLEST_TEXT)
        assert size >= 12, f"{size:.1f} px text at {width} px: {where}"
        # every table is reachable: wider than the screen only inside its own scroll box
        for table in page.locator("table.ranking").all():
            box = table.evaluate("t => [t.parentElement.className, "
                                 "t.parentElement.getBoundingClientRect().right]")
            assert box[0] == "scroll" and box[1] <= width + 0.5
        # the long company name wraps on a phone instead of widening its column off-screen
        cell = page.locator("td.name", has_text=LONG_NAME).first
        if width == 390:
            assert cell.evaluate("c => c.getClientRects().length && c.offsetHeight") > 30
        page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=False)
    finally:
        page.close()
    assert errors == []  # the Content-Security-Policy let our script run, and nothing else


def test_filter_box_hides_rows_that_do_not_match(browser, report_files):
    html, _ = report_files
    page = _open(browser, html, 1400)
    try:
        rows = page.locator("table.ranking tbody tr")
        total = rows.count()
        box = page.locator("#filter")
        assert box.is_visible()
        box.fill("Versandhandelsgesellschaft")
        visible = page.locator("table.ranking tbody tr:not([hidden])")
        assert 1 <= visible.count() < total
        assert all(LONG_NAME in text for text in visible.all_inner_texts())
        assert re.fullmatch(rf"{visible.count()} of {total} rows",
                            page.locator("#filter-count").inner_text())
        box.fill("")
        assert page.locator("table.ranking tbody tr:not([hidden])").count() == total
    finally:
        page.close()


def test_every_company_row_has_an_anchor(browser, report_files):
    html, _ = report_files
    text = html.read_text()
    ids = re.findall(r'<tr id="([^"]+)"', text)
    assert len(ids) == len(set(ids)) > 40
    assert any(i.startswith("overall-") for i in ids) and any(i.startswith("email-") for i in ids)


def test_print_layout_and_pdf(browser, report_files):
    html, pdf = report_files
    page = _open(browser, html, 1400)
    try:
        page.emulate_media(media="print")
        assert not page.locator("nav").is_visible() and not page.locator(".filter").is_visible()
        breaks = page.evaluate("[...document.querySelectorAll('section')].map("
                               "s => getComputedStyle(s).breakBefore)")
        assert set(breaks) == {"page"}
    finally:
        page.close()
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    assert 6 <= pages <= 40  # a page or a few per channel, not one endless page


def test_pdf_without_chromium_is_one_line(report_files, tmp_path, cli):
    ws = report_files[0].parents[1] / "ws"
    done = cli("report", "--include-simulated", "--quarter", "2026Q3", "-f", "pdf", "-o",
               str(tmp_path), cwd=ws,
               env={"SVCBENCH_CHROMIUM": str(tmp_path / "no-chromium")})
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "PDF needs Chromium at" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_company_names_link_to_their_trend_over_periods(browser, report_files):
    html, _ = report_files
    page = _open(browser, html, 1400)
    try:
        link = page.locator("table.ranking td.name a").first
        slug = link.get_attribute("href").removeprefix("#company-")
        link.click()
        section = page.locator(f"details#company-{slug}")
        assert section.evaluate("d => d.open")
        periods = section.locator("thead th").all_inner_texts()[1:]
        assert periods[-1] == "2026Q3" and len(periods) >= 2  # this quarter and before it
        channels = section.locator("tbody td.name").all_inner_texts()
        # a row per channel it was ranked in (overall first when it was ranked overall)
        assert channels and set(channels) <= {"overall", "phone", "email", "form", "chat",
                                               "returns", "delivery"}
        ranks = section.locator("tbody tr").first.locator("td").all_inner_texts()[1:]
        assert all(r == "–" or r.isdigit() for r in ranks)
        assert any(r.isdigit() for r in ranks)
    finally:
        page.close()
