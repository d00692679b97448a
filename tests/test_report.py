"""`svcbench report` end to end: CLI, CSV/JSON in pandas, HTML in real headless Chromium."""

from __future__ import annotations

import json
import re
import sqlite3
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from svcbench.workspace import init_workspace

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def sim_ws(tmp_path_factory) -> Path:
    """A workspace filled by `svcbench simulate`, one company renamed to a script tag."""
    from conftest import run_cli

    ws = init_workspace(tmp_path_factory.mktemp("report") / "ws")
    done = run_cli("simulate", "--companies", "30", "--quarters", "2", "--seed", "7",
                   "--probes-per-company-channel", "6", "--end-quarter", "2026Q3", cwd=ws)
    assert done.returncode == 0, done.stderr
    assert "simulated 30 companies" in done.stdout
    with sqlite3.connect(ws / "svcbench.db") as conn:
        slug = conn.execute(
            "SELECT company FROM measurements WHERE channel = 'email' AND quarter = '2026Q3' "
            "GROUP BY company ORDER BY company LIMIT 1").fetchone()[0]
        conn.execute("UPDATE companies SET name = ? WHERE slug = ?", (XSS, slug))
    return ws


def test_table_in_terminal(sim_ws, cli):
    done = cli("report", "--include-simulated", "--limit", "0", cwd=sim_ws)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "rankings 2026Q3" in out  # the latest quarter with data
    for channel in ("phone", "email", "chat", "returns", "delivery", "overall"):
        assert f"{channel}:" in out
    assert XSS in out
    assert "companies (" in out  # an industry line
    assert out.count("INCLUDES SIMULATED DATA") == 2 and "[sim]" in out


def test_csv_and_json_round_trip_in_pandas(sim_ws, cli, tmp_path):
    import pandas as pd

    done = cli("report", "--include-simulated", "--quarter", "2026Q3", "-f", "csv", "-f",
               "json", "-o", str(tmp_path), cwd=sim_ws)
    assert done.returncode == 0, done.stderr
    csv_path = tmp_path / "rankings-2026Q3-incl-simulated.csv"
    assert f"wrote {csv_path}" in done.stdout
    frame = pd.read_csv(csv_path)
    doc = json.loads((tmp_path / "rankings-2026Q3-incl-simulated.json").read_text())
    assert doc["schema_version"] == 2 and doc["quarter"] == "2026Q3"
    assert doc["includes_simulated"] is True and "SIMULATED" in doc["notice"]
    assert [s["source"] for s in doc["methodology"]["sources"]] == ["simulated"]
    from_json = pd.json_normalize(doc, record_path="rankings")
    assert list(frame.columns) == list(from_json.columns)
    assert len(frame) == len(from_json) > 0
    pd.testing.assert_series_equal(frame["company"], from_json["company"])
    pd.testing.assert_series_equal(frame["score"], from_json["score"].astype(float))
    assert set(frame["channel"]) == {"phone", "email", "chat", "returns", "delivery"}
    ranked = frame[frame["status"] == "ranked"]
    assert (ranked["rank_low"] <= ranked["rank"]).all()
    assert (ranked["rank"] <= ranked["rank_high"]).all()
    assert ((frame["within_1"] >= 0) & (frame["within_1"] <= 1)).all()
    overall = pd.read_csv(tmp_path / "rankings-2026Q3-incl-simulated-overall.csv")
    assert len(overall) == len(doc["overall"]) and "score_email" in overall.columns
    assert XSS in set(frame["name"])
    documented = (Path(__file__).parent.parent / "docs" / "report-columns.md").read_text()
    for column in [*frame.columns, *overall.columns]:
        name = re.sub(r"_\d+", "_N", column)
        name = re.sub(r"_(phone|email|form|chat|returns|delivery)$", "_<channel>", name)
        assert f"`{name}`" in documented, column


def test_company_filter_keeps_ranks(sim_ws, cli, tmp_path):
    import pandas as pd

    cli("report", "--include-simulated", "-f", "csv", "-o", str(tmp_path / "all"), cwd=sim_ws)
    full = pd.read_csv(tmp_path / "all" / "rankings-2026Q3-incl-simulated.csv")
    slug = full[(full["channel"] == "email") & (full["rank"] > 1)]["company"].iloc[0]
    done = cli("report", "--include-simulated", "-f", "csv", "--company", slug, "-o",
               str(tmp_path / "one"), cwd=sim_ws)
    assert done.returncode == 0, done.stderr
    one = pd.read_csv(tmp_path / "one" / "rankings-2026Q3-incl-simulated.csv")
    assert set(one["company"]) == {slug}
    expected = full[full["company"] == slug]["rank"].tolist()
    assert one["rank"].tolist() == expected


@pytest.mark.parametrize("args, message", [
    (["--quarter", "2026Q7"], "--quarter"),
    (["--quarter", "2024Q1"], "no measurements for 2024Q1"),
    (["--channel", "fax"], "--channel: 'fax'"),
    (["--format", "docx"], "--format: 'docx'"),
    (["--company", "nobody"], "--company: unknown company"),
])
def test_bad_arguments_one_line_exit_2(sim_ws, cli, args, message):
    done = cli("report", *args, cwd=sim_ws)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_simulated_data_is_left_out_unless_asked(sim_ws, cli):
    done = cli("report", cwd=sim_ws)
    assert done.returncode == 1
    assert "--include-simulated" in done.stderr and len(done.stderr.splitlines()) == 1


def test_empty_workspace(workspace_dir, cli):
    done = cli("report", cwd=workspace_dir)
    assert done.returncode == 1
    assert "no measurements yet" in done.stderr


def _png_pixels(data: bytes):
    """Decode an 8-bit RGB/RGBA non-interlaced PNG into a numpy array (stdlib + numpy)."""
    import numpy as np

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0
    bpp = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), dtype=np.uint8)
    prev = np.zeros(width * bpp, dtype=np.int32)
    for y in range(height):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) % 256
        elif f == 1:
            cur = line.reshape(-1, bpp).cumsum(axis=0).reshape(-1) % 256
        else:
            cur, vals = line.copy(), line.tolist()
            p = prev.tolist()
            for i in range(len(vals)):
                a = int(cur[i - bpp]) if i >= bpp else 0
                b, c = p[i], p[i - bpp] if i >= bpp else 0
                if f == 3:
                    cur[i] = (vals[i] + (a + b) // 2) % 256
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                    cur[i] = (vals[i] + pred) % 256
        out[y] = cur
        prev = cur.astype(np.int32)
    return out.reshape(height, width, bpp)


def test_html_is_self_contained_and_safe_in_chromium(sim_ws, cli, tmp_path):
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    done = cli("report", "--include-simulated", "-f", "html", "-o", str(tmp_path), cwd=sim_ws)
    assert done.returncode == 0, done.stderr
    page_path = tmp_path / "rankings-2026Q3-incl-simulated.html"
    html = page_path.read_text()
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for needle in ("http://", "https://", "<link", "<img", "@import", "url("):
        assert needle not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # one script of ours (the filter box), allowed by hash; the policy allows nothing else
    assert html.count("<script") == 1
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'\">", html)

    attempted, dialogs = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True,
                                    args=["--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})

            def block(route):
                if not route.request.url.startswith("file:"):
                    attempted.append(route.request.url)
                    route.abort()
                else:
                    route.continue_()

            page.route("**/*", block)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            for channel in ("overall", "phone", "email", "chat", "returns", "delivery"):
                assert page.locator(f'table[data-table="{channel}"]').is_visible()
            assert page.locator("svg.boxplot").first.is_visible()
            assert page.locator("svg.histogram").first.is_visible()
            assert page.locator("#methodology").is_visible()
            assert page.locator(".simulated-banner").is_visible()
            assert page.locator('li[data-source="simulated"]').is_visible()
            assert page.locator("svg.boxplot g.company").count() > 5
            # the script-tag company name is text: visible literally, nothing injected
            assert page.get_by_text(XSS).first.is_visible()
            assert page.locator("script").count() == 1
            assert page.evaluate("document.querySelectorAll('svg text').length") > 20
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), clip={"x": 0, "y": 0, "width": 700, "height": 500})
            page.locator("#channel-email").screenshot(path=str(tmp_path / "email.png"))
        finally:
            browser.close()
    assert attempted == [] and dialogs == []
    pixels = _png_pixels(shot.read_bytes())
    assert pixels.shape[:2] == (500, 700)
    assert pixels[..., :3].std() > 20  # not blank
    assert len({tuple(px) for px in pixels[::10, ::10, :3].reshape(-1, 3).tolist()}) > 10


class _RankingTables(HTMLParser):
    """The HTML report's ranking tables: channel -> rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("class") == "ranking":
            self._table = self.tables.setdefault(attrs["data-table"], [])
        elif tag == "tr" and self._table is not None and "data-company" in attrs:
            self._row = []
            self._table.append(self._row)
        elif tag == "td" and self._row is not None:
            self._cell = []
            self._row.append(self._cell)

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = self._row = None
        elif tag == "td" and self._row is not None and self._cell is not None:
            self._row[-1] = "".join(self._cell).strip()
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_html_duration_columns_use_one_unit_and_files_keep_seconds(sim_ws, cli, tmp_path):
    from svcbench.render import duration

    done = cli("report", "--include-simulated", "--quarter", "2026Q3", "-f", "html", "-f",
               "json", "-f", "csv", "-o", str(tmp_path), cwd=sim_ws)
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "rankings-2026Q3-incl-simulated.json").read_text())
    by_channel: dict[str, list[dict]] = {}
    for row in doc["rankings"]:
        by_channel.setdefault(row["channel"], []).append(row)
    # the data would mix units per column if each cell picked its own
    assert any(len({duration(r["median_s"]).split()[1] for r in rows
                    if r["median_s"] is not None}) > 1 for rows in by_channel.values())
    parser = _RankingTables()
    parser.feed((tmp_path / "rankings-2026Q3-incl-simulated.html").read_text())
    assert set(parser.tables) >= {"phone", "email", "chat", "returns", "delivery"}
    for channel, rows in parser.tables.items():
        if channel not in by_channel:
            continue
        for column in (5, 7):  # median, p90
            units = {cell.split()[1] for cell in (r[column] for r in rows)
                     if cell and cell != "no answer"}
            assert len(units) <= 1, (channel, column, units)
        median_units = {r[5].split()[1] for r in rows if r[5] and r[5] != "no answer"}
        for r in rows:  # the CI reads in the median's unit
            if r[6]:
                assert {part.split()[1] for part in r[6].split("–") if part != "∞"} \
                    <= median_units
    # CSV and JSON keep raw seconds, whatever the HTML shows
    import pandas as pd

    frame = pd.read_csv(tmp_path / "rankings-2026Q3-incl-simulated.csv")
    returns = frame[frame["channel"] == "returns"]["median_s"].dropna()
    assert len(returns) and (returns > 86400).all()
    assert sorted(frame["median_s"].dropna()) == sorted(
        r["median_s"] for r in doc["rankings"] if r["median_s"] is not None)
