"""Web forms in the report: form-only companies merged into the email ranking on request (never
counted twice), and the per-company findings (form only, acknowledgement, human reply, form
broken) in every format. Pure functions on made-up measurements and events; the end-to-end
run against real Chromium is in test_form_probe.py."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

from svcbench.config import Scoring, Targets
from svcbench.models import Channel, Event, Measurement, Outcome
from svcbench.probes.form.summary import FormProbeFacts, broken_submission, form_findings
from svcbench.rank import build_report, frame_from_measurements, merge_form_into_email
from svcbench.render.html import render_html
from svcbench.render.json_ import report_document
from svcbench.render.tables import write_csv
from svcbench.render.terminal import print_report

WHEN = datetime(2026, 11, 2, 10, tzinfo=UTC)
_ids = iter(range(10**9))
XSS = "<script>alert(1)</script>"


def m(company: str, wait: float | None, channel: str, *, form_only: bool = False,
      outcome: Outcome | None = None) -> Measurement:
    outcome = outcome or (Outcome.ANSWERED if wait is not None else Outcome.UNANSWERED)
    return Measurement(
        probe_id=f"p{next(_ids)}", company=company, channel=Channel(channel), outcome=outcome,
        started_at=WHEN, quarter="2026Q4", wait_s=wait, wait_bh_s=wait, first_response_s=wait,
        answered_by_human=wait is not None, flags=["form_only"] if form_only else [])


def measurements() -> list[Measurement]:
    ms = []
    for company, waits in {"alpha": [600, 900, 1200, 3000], "beta": [4000, 8000, 9000]}.items():
        ms += [m(company, w, "email") for w in waits]
    # gamma publishes no address: only a form
    ms += [m("gamma", w, "form", form_only=True) for w in (300, 500, None, 700)]
    ms.append(m("gamma", None, "form", outcome=Outcome.FAILED))
    # beta has an address AND a form flagged form-only (its config changed): email only
    ms += [m("beta", w, "form", form_only=True) for w in (10, 20, 30)]
    ms += [m(c, w, "phone") for c in ("alpha", "beta", "gamma") for w in (20, 40, 60)]
    return ms


def report(merge: bool, **kw):
    frame = frame_from_measurements(measurements())
    form_only = {("2026Q4", "gamma"), ("2026Q4", "beta")} if merge else None
    return build_report(frame, quarter="2026Q4", channels=["phone", "email", "form"],
                        targets=Targets(), scoring=Scoring(bootstrap_samples=50),
                        names={"gamma": "Gamma & Co"}, form_only=form_only,
                        now=datetime(2026, 12, 1, tzinfo=UTC), **kw)


def rows(rep, channel):
    return {r.company: r for r in rep.channels[channel].rows}


def test_merge_ranks_form_only_companies_in_email_and_never_counts_twice():
    merged, separate = report(True), report(False)
    email = rows(merged, "email")
    assert set(rows(separate, "email")) == {"alpha", "beta"}
    assert set(email) == {"alpha", "beta", "gamma"}
    # gamma: its four counted form probes (the failed one excluded, as in the form ranking)
    assert (email["gamma"].n, email["gamma"].excluded, email["gamma"].via_form_n) == (4, 1, 5)
    assert email["gamma"].median_s == rows(separate, "form")["gamma"].median_s == 600
    assert email["gamma"].ranked and email["gamma"].rank == 1
    # beta has an email address: only its email probes, none of its form probes
    assert email["beta"].n == 3 and email["beta"].via_form_n == 0
    assert email["beta"].median_s == rows(separate, "email")["beta"].median_s
    # the form ranking is the same with or without the merge
    for company, row in rows(separate, "form").items():
        assert rows(merged, "form")[company].score == row.score
        assert rows(merged, "form")[company].n == row.n
    # overall: gamma's form probes count once (in the form channel), not again via email
    overall = {r.company: r for r in merged.overall}
    assert overall["gamma"].channels_ranked == 2
    assert set(overall["gamma"].channel_scores) == {"phone", "form"}
    assert overall["gamma"].score == {r.company: r for r in separate.overall}["gamma"].score
    # the sources count each probe once
    assert sum(s.probes for s in merged.sources) == sum(s.probes for s in separate.sources)


def test_merge_needs_a_form_only_flag_and_no_email_probe_that_quarter():
    frame = frame_from_measurements(measurements())
    assert merge_form_into_email(frame, set()) is frame
    assert merge_form_into_email(frame, {("2026Q4", "beta")}) is frame  # beta has email
    assert merge_form_into_email(frame, {("2026Q3", "gamma")}) is frame  # another quarter
    merged = merge_form_into_email(frame, {("2026Q4", "gamma")})
    assert len(merged) == len(frame) + 5
    added = merged.channel[len(frame):]
    assert set(added) == {"email"} and merged.via_form[len(frame):].all()
    assert not merged.via_form[:len(frame)].any()


def test_merged_rows_are_marked_in_every_format(tmp_path):
    rep = report(True)
    doc = report_document(rep)
    marked = {(r["channel"], r["company"]): r["via_web_form_n"] for r in doc["rankings"]}
    assert marked[("email", "gamma")] == 5 and marked[("email", "beta")] == 0
    assert marked[("form", "gamma")] == 0
    assert doc["methodology"]["form_merged_into_email"] is True
    assert "keeps only its email probes" in doc["methodology"]["form_merge"]
    assert "1 company this period" in doc["methodology"]["form_merge"]
    [channels, _] = write_csv(rep, tmp_path)
    with channels.open(newline="", encoding="utf-8") as f:
        table = {(r["channel"], r["company"]): r for r in csv.DictReader(f)}
    assert table[("email", "gamma")]["via_web_form_n"] == "5"
    assert table[("email", "alpha")]["via_web_form_n"] == "0"
    page = render_html(rep)
    row = page.split('id="email-gamma"', 1)[1].split("</tr>", 1)[0]
    assert 'class="via-form">via web form<' in row and "Gamma &amp; Co" in row
    assert "via web form" not in page.split('id="email-alpha"', 1)[1].split("</tr>", 1)[0]
    assert "Web forms in the email ranking" in page
    console = Console(record=True, width=220)
    print_report(rep, console)
    text = console.export_text()
    assert "Gamma & Co [via web form]" in text and "keeps only its email probes" in text
    # without the option: no mark, no methodology sentence, numbers as before
    plain = report(False)
    assert not report_document(plain)["methodology"]["form_merged_into_email"]
    assert "via-form\">" not in render_html(plain)


def submitted(*, confirmed=False, page_error=False, words="", source="local", at=WHEN):
    return Event("p", "form.submitted", at, {"confirmed": confirmed, "page_error": page_error,
                                             "page_words": words, "detail": "no confirmation"},
                 source=source)


def test_broken_submission_only_when_it_reached_them_unconfirmed_and_unanswered():
    error = broken_submission(Outcome.FAILED, [submitted(page_error=True, words="an error")])
    assert error == {"kind": "submission_error", "words": "an error",
                     "at": "2026-11-02T10:00:00.000000Z"}
    quiet = broken_submission("failed", [submitted()])
    assert quiet["kind"] == "no_confirmation" and quiet["words"] == "no confirmation"
    assert broken_submission(Outcome.FAILED, [submitted(confirmed=True)]) is None
    assert broken_submission(Outcome.FAILED, [submitted(source="manual")]) is None
    reply = Event("p", "email.received", WHEN + timedelta(hours=1), {}, source="imap")
    assert broken_submission(Outcome.FAILED, [submitted(), reply]) is None
    assert broken_submission(Outcome.UNANSWERED, [submitted()]) is None
    assert broken_submission(Outcome.FAILED, []) is None  # refused before submitting


def facts():
    broken = {"kind": "submission_error", "words": f"error: {XSS}", "at": "2026-11-03T09:00Z"}
    return [
        FormProbeFacts("gamma", Outcome.ANSWERED, "2026-11-02", form_only=True, auto_ack_s=60,
                       wait_s=7200, wait_bh_s=3600),
        FormProbeFacts("gamma", Outcome.ANSWERED, "2026-11-04", form_only=True, auto_ack_s=120,
                       wait_s=14400, wait_bh_s=5400),
        FormProbeFacts("gamma", Outcome.UNANSWERED, "2026-11-05", form_only=True),
        FormProbeFacts("gamma", Outcome.FAILED, "2026-11-03", broken=broken),
        FormProbeFacts("gamma", Outcome.FAILED, "2026-11-09", broken={**broken,
                       "at": "2026-11-09T09:00Z", "kind": "no_confirmation",
                       "words": "=HYPERLINK(\"x\")"}),
        FormProbeFacts("delta", Outcome.ANSWERED_AUTO_ONLY, "2026-11-02", auto_ack_s=30),
    ]


def test_findings_per_company_are_numbers_beside_the_ranking():
    found = form_findings(facts(), {"gamma": "Gamma & Co"})
    gamma, delta = found["companies"][1], found["companies"][0]
    assert gamma["name"] == "Gamma & Co" and gamma["form_only"] and not delta["form_only"]
    assert (gamma["probes"], gamma["counted"], gamma["acknowledged"]) == (5, 3, 2)
    assert gamma["ack_median_s"] == 90 and gamma["human_replies"] == 2
    assert gamma["human_median_s"] == 4500  # business hours
    assert form_findings(facts(), business_hours=False)["companies"][1]["human_median_s"] == \
        10800
    assert gamma["broken"] == {"probes": 2, "kinds": {"submission_error": 1,
                                                      "no_confirmation": 1},
                               "dates": ["2026-11-03", "2026-11-09"],
                               "words": [f"error: {XSS}", "=HYPERLINK(\"x\")"]}
    assert delta["broken"] is None and delta["human_replies"] == 0
    assert (found["form_only"], found["broken"]) == (1, 2)
    assert form_findings([]) is None


def test_findings_in_every_format_with_the_pages_words_escaped(tmp_path):
    rep = report(False)
    rep.sections["form_findings"] = form_findings(facts(), {"gamma": "Gamma & Co"})
    scores = {r.company: r.score for r in rep.channels["form"].rows}
    doc = report_document(rep)
    assert doc["form_findings"]["companies"][1]["broken"]["words"][0] == f"error: {XSS}"
    page = render_html(rep)
    section = page.split('id="form-findings"', 1)[1].split("</section>", 1)[0]
    assert XSS not in page and "&lt;script&gt;" in section
    assert "no email address, form only" in section and "2026-11-03, 2026-11-09" in section
    assert "form broken: 2 probes" in section and "median 1.5 min (clock time)" in section
    paths = write_csv(rep, tmp_path)
    assert [p.name for p in paths][-1] == "rankings-2026Q4-forms.csv"
    with paths[-1].open(newline="", encoding="utf-8") as f:
        table = {r["company"]: r for r in csv.DictReader(f)}
    assert table["gamma"]["broken_probes"] == "2" and table["gamma"]["form_only"] == "True"
    assert table["gamma"]["broken_submission_error"] == "1"
    assert not table["gamma"]["broken_words"].startswith("=")  # no spreadsheet formula
    assert table["gamma"]["human_median_s"] == "4500.0"
    console = Console(record=True, width=240)
    print_report(rep, console)
    text = console.export_text()
    assert "web form: findings per company" in text and "form broken: 2 probes" in text
    assert "no email address, form only" in text and "75 min (business hours)" in text
    # a finding, not a number: the rankings are unchanged by it
    assert {r.company: r.score for r in rep.channels["form"].rows} == scores
    json.dumps(doc, allow_nan=False)


def test_findings_are_read_from_the_store_without_simulated_probes(tmp_path):
    from svcbench.models import Probe, ProbeStatus
    from svcbench.probes.form.summary import form_only_companies, load_form_findings
    from svcbench.store import Store

    store = Store(tmp_path / "s.db")
    for source in ("live", "simulated"):
        probe = Probe(id=f"{source}-1", company="gamma", channel=Channel.FORM, plugin="form",
                      status=ProbeStatus.DONE, outcome=Outcome.FAILED, started_at=WHEN,
                      state={"form_only": True}, source=source)
        store.add_probe(probe)
        store.add_events([Event(probe.id, "form.submitted", WHEN, {
            "confirmed": False, "page_error": True, "page_words": "an error occurred"})])
        failed = m("gamma", None, "form", outcome=Outcome.FAILED)
        failed.probe_id = probe.id
        store.save_measurement(failed)
    found = load_form_findings(store, "2026Q4", {})
    [gamma] = found["companies"]
    assert gamma["form_only"] and gamma["probes"] == 1  # the simulated one is left out
    assert gamma["broken"]["kinds"] == {"submission_error": 1}
    assert gamma["broken"]["words"] == ["an error occurred"]
    assert load_form_findings(store, "2026Q4", {}, include_simulated=True)[
        "companies"][0]["probes"] == 2
    assert load_form_findings(store, "2026-11", {})["broken"] == 1  # a month works too
    assert load_form_findings(store, "2026Q3", {}) is None
    # failed measurements carry no flags: no merge candidate from them
    assert form_only_companies(store.conn, ["2026Q4"]) == set()
    store.close()
