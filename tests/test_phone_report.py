"""Announced versus actual wait per company in every report format (issue 11)."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest

from svcbench.lifecycle import finish_probe
from svcbench.models import Channel, Event, Outcome, Probe, ProbeStatus, new_id, utcnow
from svcbench.tomlwrite import toml_table
from svcbench.workspace import Workspace, init_workspace

XSS = "<script>alert(1)</script> Line"


def _call(ws: Workspace, company: str, announced_s: float | None, actual_s: float,
          plugin: str = "sip", estimated: bool = False) -> None:
    """One finished call: dialed, a wait announced 20 s in, an agent ``actual_s`` later."""
    t0 = utcnow() - timedelta(hours=2)
    probe = Probe(id=new_id(), company=company, channel=Channel.PHONE, plugin=plugin,
                  status=ProbeStatus.RUNNING, due_at=t0, started_at=t0)
    ws.store.add_probe(probe)
    said = t0 + timedelta(seconds=20)
    events = [Event(probe.id, "call.dialed", t0)]
    if announced_s is not None:
        events.append(Event(probe.id, "call.wait_announced", said, data={
            "seconds": announced_s, **({"time": "estimated"} if estimated else {})}))
    events += [Event(probe.id, "call.agent_answered", said + timedelta(seconds=actual_s)),
               Event(probe.id, "call.hung_up", said + timedelta(seconds=actual_s + 30))]
    ws.store.add_events(events)
    finish_probe(ws.store, probe, Outcome.ANSWERED, config=ws.config,
                 at=said + timedelta(seconds=actual_s + 30))


@pytest.fixture(scope="module")
def phone_ws(tmp_path_factory) -> Workspace:
    root = init_workspace(tmp_path_factory.mktemp("phonewaits") / "ws", examples=False)
    companies = [
        {"id": "slowline", "name": XSS, "timezone": "UTC",
         "channels": {"phone": {"plugin": "sip", "uri": "sip:slow@127.0.0.1:9"}}},
        {"id": "quickline", "name": "Quick Line", "timezone": "UTC",
         "channels": {"phone": {"number": "+1 800 555 0100"}}},
    ]
    (root / "probes" / "phone.toml").write_text(
        "".join(toml_table("company", c) for c in companies))
    ws = Workspace.open(root)
    _call(ws, "slowline", 120, 7 * 60)       # "about 2 minutes", agent after 7: broken
    _call(ws, "slowline", 120, 8 * 60)
    _call(ws, "slowline", None, 60)          # nothing announced: not judged
    _call(ws, "quickline", 180, 150, plugin="phone")  # a person's stopwatch: kept
    _call(ws, "quickline", 60, 900, plugin="phone", estimated=True)  # logged later: not judged
    return ws


def test_promise_kept_or_broken_in_terminal_csv_json(phone_ws, cli, tmp_path):
    period = phone_ws.store.measurements(channel=Channel.PHONE)[0].quarter
    done = cli("report", "--period", period, "-c", "phone", "-f", "table", "-f", "json",
               "-f", "csv", "-o", str(tmp_path), cwd=phone_ws.root, env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "phone: announced wait vs actual wait" in out
    assert f"{XSS}: announced 2 min, actual 7.5 min (medians): broken (n=2)" in out
    assert "Quick Line: announced 3 min, actual 2.5 min: kept (n=1)" in out

    doc = json.loads(next(tmp_path.glob("*.json")).read_text())
    rows = {r["company"]: r for r in doc["phone_waits"]["companies"]}
    assert doc["phone_waits"]["calls"] == 3
    assert rows["slowline"] == {"company": "slowline", "name": XSS, "calls": 2, "kept": 0,
                                "broken": 2, "announced_median_s": 120.0,
                                "actual_median_s": 450.0, "automated": 2}
    assert rows["quickline"]["kept"] == 1 and rows["quickline"]["automated"] == 0

    waits = tmp_path / f"rankings-{period}-phone-waits.csv"
    assert f"wrote {waits}" in out
    with waits.open(newline="") as f:
        table = {r["company"]: r for r in csv.DictReader(f)}
    assert table["slowline"]["promise"] == "announced 2 min, actual 7.5 min (medians): broken"
    assert table["slowline"]["broken"] == "2" and table["quickline"]["kept"] == "1"
    assert table["slowline"]["name"].startswith("<script>")  # text, not a formula


def test_promise_in_the_html_phone_section_in_chromium(phone_ws, cli, tmp_path):
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    period = phone_ws.store.measurements(channel=Channel.PHONE)[0].quarter
    done = cli("report", "--period", period, "-c", "phone", "-f", "html", "-o", str(tmp_path),
               cwd=phone_ws.root)
    assert done.returncode == 0, done.stderr
    page_path = next(tmp_path.glob("*.html"))
    html = page_path.read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    dialogs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), headless=True,
                                    args=["--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(page_path.as_uri())
            table = page.locator('#channel-phone table[data-table="phone-waits"]')
            assert table.is_visible()
            assert "Announced wait versus actual wait" in table.locator("caption").inner_text()
            slow = table.locator("tr", has_text="alert(1)")
            assert slow.locator("td").last.inner_text() == \
                "announced 2 min, actual 7.5 min (medians): broken"
            assert "announced 3 min, actual 2.5 min: kept" in table.inner_text()
            assert page.locator("script").count() == 1  # ours only: the name stayed text
        finally:
            browser.close()
    assert dialogs == []
