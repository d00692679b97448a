"""`svcbench demo`: the README's first command, end to end on loopback."""

from __future__ import annotations

import json
from pathlib import Path

from svcbench.demo import MARKER


def test_demo_probes_live_companies_and_writes_the_report(tmp_path, cli):
    target = tmp_path / "demo"
    result = cli("demo", "--dir", str(target), "--history-companies", "12", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (target / MARKER).exists()
    html = sorted((target / "reports").glob("rankings-*.html"))
    assert html and "Open the report" in result.stdout
    page = html[0].read_text()
    assert "<script src=" not in page and "https://" not in page.split("<body", 1)[0]
    data = json.loads(next((target / "reports").glob("rankings-*.json")).read_text())
    assert data["channels"]
    # the live probes reached the simulated companies and were measured as designed
    out = cli("results", "--campaign", "demo-live", "--json", "-w", str(target))
    rows = {(r["company"], r["channel"]): r for r in json.loads(out.stdout)}
    assert rows[("brightcart", "email")]["outcome"] == "answered"
    assert 4.0 <= rows[("brightcart", "email")]["wait_s"] <= 6.5  # human reply after 5 s
    assert rows[("homestead-living", "email")]["outcome"] == "answered_auto_only"
    assert rows[("ghostline-telecom", "email")]["outcome"] == "unanswered"
    assert rows[("ghostline-telecom", "chat")]["outcome"] == "answered_auto_only"
    assert rows[("quickparcel", "chat")]["answered_by_human"] is True
    from svcbench.sandbox.phone_demo import skip_reason

    if skip_reason() is None:  # automated calls over SIP to simulated IVRs
        phone = [r for (_, channel), r in rows.items() if channel == "phone"]
        assert any(r["outcome"] == "answered" and r["wait_s"] > 0 for r in phone), phone


def test_demo_refuses_to_replace_a_directory_it_did_not_create(tmp_path, cli):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = cli("demo", "--dir", str(target))
    assert result.returncode == 2
    assert "not a demo workspace" in result.stderr and result.stderr.count("\n") == 1
    assert (target / "notes.txt").read_text() == "keep me"
    assert not Path(target / "svcbench.toml").exists()


def test_demo_looks_for_the_projects_one_chromium(monkeypatch, tmp_path):
    from svcbench import browser, demo

    monkeypatch.setattr(browser, "CHROMIUM", str(tmp_path / "no-chromium-here"))
    assert demo.chromium_found() is False
    (tmp_path / "chromium").touch()
    monkeypatch.setattr(browser, "CHROMIUM", str(tmp_path / "chromium"))
    assert demo.chromium_found() is True
