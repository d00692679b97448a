"""The web-form probe end to end: real headless Chromium on the sandbox shops' contact pages,
replies from the simulated helpdesk through real SMTP and Dovecot, timed like email."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from mailservers import SCENARIO, context, needs_dovecot
from svcbench.errors import ProbeError, RetryableProbeError
from svcbench.lifecycle import finish_probe
from svcbench.models import Channel, Event, Outcome, Probe, ProbeStatus, new_id, utcnow
from svcbench.probes.form import FormProbe
from svcbench.sandbox.forms import FormSandbox, FormShop, mail_delivery
from svcbench.sandbox.mail import CompanyBehaviour, MailSandbox
from svcbench.sandbox.mail_servers import free_port
from svcbench.tomlwrite import toml_table
from svcbench.workspace import Workspace, init_workspace

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [needs_dovecot, pytest.mark.filterwarnings("ignore:Requiring AUTH"),
              pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing")]

KINDS = {"simple": "simple", "topics": "topic", "trap": "honeypot", "steps": "multistep",
         "strict": "validation", "robot": "captcha", "members": "login", "broken": "broken",
         "faulty": "error", "checked": "script"}


@pytest.fixture(scope="module")
def shops(tmp_path_factory):
    mail = MailSandbox(tmp_path_factory.mktemp("mail"), companies=[
        CompanyBehaviour(slug, ack_after_s=0.4, human_after_s=1.5) for slug in KINDS])
    with mail:
        addresses = {slug: f"support@{slug}.test" for slug in KINDS}
        forms = FormSandbox({slug: FormShop(slug, kind) for slug, kind in KINDS.items()},
                            deliver=mail_delivery(mail, addresses))
        with forms:
            yield mail, forms


def make_workspace(directory: Path, mail: MailSandbox, forms: FormSandbox) -> Workspace:
    root = init_workspace(directory, examples=False)
    companies = []
    for slug in KINDS:
        form = {"topic": "Order question"} if slug == "topics" else {}
        if slug == "simple":  # found from the website: home -> customer service -> contact
            website = forms.url(slug)
        else:
            website, form = f"https://www.{slug}.test", {**form, "url": forms.url(slug, "contact")}
        companies.append({"id": slug, "name": slug.title(), "website": website,
                          "timezone": "UTC", "channels": {"form": form}})
    companies.append({"id": "down", "name": "Down", "timezone": "UTC", "channels": {
        "form": {"url": f"http://127.0.0.1:{free_port()}/contact", "timeout_s": 5}}})
    companies.append({"id": "nowhere", "name": "Nowhere", "timezone": "UTC", "channels": {
        "form": {"url": forms.url("nobody")}}})
    shopper = mail.shopper_config()
    text = toml_table("shopper", shopper) + "".join(toml_table("company", c) for c in companies)
    (root / "probes" / "sandbox.toml").write_text(text + SCENARIO)
    return Workspace.open(root)


@pytest.fixture(scope="module")
def ws(shops, tmp_path_factory):
    mail, forms = shops
    return make_workspace(tmp_path_factory.mktemp("forms") / "ws", mail, forms)


def start(ws, mail, company):
    probe = Probe(id=new_id(), company=company, channel=Channel.FORM, plugin="form",
                  scenario="shipping", shopper="anna", status=ProbeStatus.STARTING,
                  due_at=utcnow(), deadline_at=utcnow() + timedelta(hours=1))
    ws.store.add_probe(probe)
    ctx = context(ws, mail)
    events = asyncio.run(FormProbe().start(probe, ctx))
    ws.store.update_probe(probe.id, events=events, status=ProbeStatus.RUNNING,
                          started_at=events[0].at)
    return ctx, ws.store.get_probe(probe.id), events


def submissions(forms, company):
    return [s for s in forms.submissions if s.company == company]


def test_form_found_from_the_website_filled_and_replies_timed_like_email(shops, ws):
    mail, forms = shops
    ctx, probe, [event] = start(ws, mail, "simple")
    assert event.kind == "form.submitted" and event.data["confirmed"] is True
    assert "thank you" in event.data["confirmation"]
    assert event.data["hops"][-1].endswith("/f/simple/contact") and len(event.data["hops"]) == 3
    assert Path(event.data["screenshot"]).stat().st_size > 1000
    assert "Thank you" in Path(event.data["snapshot"]).read_text()
    [sub] = submissions(forms, "simple")
    assert sub.fields["email"] == probe.state["reply_to"] != "anna@shopper.test"
    assert sub.fields["name"] == "Anna Berg"
    assert probe.state["ref"] in sub.fields["message"] and "Norway" in sub.fields["message"]
    # the helpdesk's acknowledgement and human answer arrive by email, collected as email
    plugin = FormProbe()
    deadline = time.monotonic() + 20
    got = []
    while time.monotonic() < deadline and len([e for e in got if e.kind == "email.received"]) < 2:
        new = asyncio.run(plugin.advance_all([probe], ctx))[probe.id]
        ws.store.add_events(new)
        got += new
        time.sleep(0.3)
    events = ws.store.events(probe.id)
    assert plugin.outcome(probe, events, utcnow()) == Outcome.ANSWERED
    m = finish_probe(ws.store, ws.store.get_probe(probe.id), Outcome.ANSWERED, config=ws.config)
    truth = {d.kind: d for d in mail.ground_truth if d.company == "simple"}
    assert m.channel == Channel.FORM and m.answered_by_human
    expected = (truth["human"].delivered_at - event.at).total_seconds()
    assert m.wait_s == pytest.approx(expected, abs=1.5)
    assert m.metrics["auto_ack_s"] == pytest.approx(
        (truth["ack"].delivered_at - event.at).total_seconds(), abs=1.5)
    assert m.metrics["confirmed"] is True and m.metrics["submitted_by"] == "probe"
    assert "form_only" in m.flags  # the company publishes no email address


def test_topic_select_honeypots_and_multistep(shops, ws):
    mail, forms = shops
    start(ws, mail, "topics")
    [sub] = submissions(forms, "topics")
    assert sub.fields["topic"] == "Order question"
    _, _, [event] = start(ws, mail, "trap")
    [sub] = submissions(forms, "trap")
    assert not sub.dropped and sub.fields["website"] == "" and sub.fields["url2"] == ""
    assert event.data["skipped_hidden"] == 2
    _, _, [event] = start(ws, mail, "steps")
    [sub] = submissions(forms, "steps")
    assert event.data["confirmed"] and sub.fields["message"] and sub.fields["email"]


@pytest.mark.parametrize("company,kind", [("robot", "captcha"), ("members", "login")])
def test_blocked_forms_wait_for_a_person_and_count_for_no_one(shops, ws, cli, company, kind):
    mail, forms = shops
    _, probe, [event] = start(ws, mail, company)
    assert event.kind == "form.blocked" and event.data["kind"] == kind
    assert Path(event.data["screenshot"]).exists()
    assert submissions(forms, company) == []
    plugin = FormProbe()
    events = ws.store.events(probe.id)
    assert plugin.outcome(probe, events, utcnow()) == Outcome.BLOCKED
    assert "form not automatable" in plugin.outcome_reason(probe, events)
    finish_probe(ws.store, probe, Outcome.BLOCKED, config=ws.config,
                 reason=plugin.outcome_reason(probe, events))
    # a person submits it by hand and says so: the probe waits for email again
    done = cli("form", "submitted", probe.id[:8], "--at", "now", "--json", cwd=ws.root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "running"
    again = ws.store.get_probe(probe.id)
    assert again.status == ProbeStatus.RUNNING and again.outcome is None
    assert [e.kind for e in ws.store.events(probe.id)] == ["form.blocked", "form.submitted"]
    done = cli("form", "submitted", probe.id[:8], cwd=ws.root)
    assert done.returncode == 2 and "is not a blocked form probe" in done.stderr


def test_a_form_that_refuses_our_input_is_our_failure_not_a_submission(shops, ws):
    mail, forms = shops
    with pytest.raises(ProbeError, match="did not take the submission.*order_number"):
        start(ws, mail, "strict")
    assert submissions(forms, "strict") == []
    # the page's script refuses it and says so, and nothing was sent: ours, not a broken form
    with pytest.raises(ProbeError, match="the page reports: please enter a valid order"):
        start(ws, mail, "checked")
    assert submissions(forms, "checked") == []


def test_unconfirmed_submission_without_reply_is_never_unanswered(shops, ws):
    mail, _ = shops
    _, probe, [event] = start(ws, mail, "broken")
    assert event.kind == "form.submitted" and event.data["confirmed"] is False
    events = ws.store.events(probe.id)
    later = probe.deadline_at + timedelta(seconds=1)
    # nothing is concluded before a collection covers the deadline (issue 12, item 2)
    assert FormProbe().outcome(probe, events, later) is None
    events.append(Event(probe.id, "email.collected", later, source="imap"))
    assert FormProbe().outcome(probe, events, later) == Outcome.FAILED
    assert "cannot tell whether the company got it" in FormProbe().outcome_reason(probe, events)


def test_page_down_is_retried_and_no_form_is_our_failure(shops, ws):
    mail, _ = shops
    with pytest.raises(RetryableProbeError, match="ERR_CONNECTION_REFUSED"):
        start(ws, mail, "down")
    with pytest.raises(ProbeError, match="no contact form on"):
        start(ws, mail, "nowhere")


def test_the_report_shows_blocked_forms_as_not_automatable(shops, ws, cli, tmp_path):
    mail, _ = shops
    _, probe, _ = start(ws, mail, "robot")
    events = ws.store.events(probe.id)
    finish_probe(ws.store, probe, Outcome.BLOCKED, config=ws.config,
                 reason=FormProbe().outcome_reason(probe, events))
    period = ws.store.measurements(channel=Channel.FORM)[0].quarter
    done = cli("report", "--period", period, "-c", "form", "-f", "table", "-f", "json",
               "-f", "html", "-o", str(tmp_path), cwd=ws.root, env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "form not automatable: " in done.stdout and "Robot: captcha" in done.stdout
    doc = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert any(r["company"] == "robot" and r["kind"] == "captcha"
               for r in doc["forms_blocked"]["companies"])
    assert "Web forms not automatable" in next(tmp_path.glob("*.html")).read_text()


def html_text(directory):
    return next(directory.glob("*.html")).read_text()


def conclude(ws, probe):
    """Finish a running probe as its plugin would after a collection past its deadline."""
    later = probe.deadline_at + timedelta(seconds=1)
    ws.store.add_events([Event(probe.id, "email.collected", later, source="imap")])
    events = ws.store.events(probe.id)
    plugin = FormProbe()
    outcome = plugin.outcome(probe, events, later)
    finish_probe(ws.store, ws.store.get_probe(probe.id), outcome, config=ws.config,
                 reason=plugin.outcome_reason(probe, events))
    return outcome


def test_an_error_page_after_submitting_is_a_broken_form_not_a_company_number(shops, ws, cli,
                                                                             tmp_path):
    mail, forms = shops
    _, probe, [event] = start(ws, mail, "faulty")
    # it reached their server (a POST), which showed the form again with an error
    assert event.kind == "form.submitted" and event.data["confirmed"] is False
    assert event.data["page_error"] is True
    assert "an error occurred while sending your message" in event.data["page_words"]
    assert submissions(forms, "faulty") == []
    assert conclude(ws, probe) == Outcome.FAILED  # no reply came: it counts for no one
    _, broken, _ = start(ws, mail, "broken")  # the form went away: no confirmation
    conclude(ws, broken)
    period = ws.store.measurements(channel=Channel.FORM)[0].quarter
    done = cli("report", "--period", period, "-c", "form", "-f", "table", "-f", "json",
               "-f", "html", "-f", "csv", "-o", str(tmp_path), cwd=ws.root,
               env={"COLUMNS": "250"})
    assert done.returncode == 0, done.stderr
    assert "web form: findings per company" in done.stdout
    assert "form broken: 1 probe on" in done.stdout
    doc = json.loads(next(tmp_path.glob("*.json")).read_text())
    found = {r["company"]: r for r in doc["form_findings"]["companies"]}
    assert found["faulty"]["broken"]["kinds"] == {"submission_error": 1}
    assert "an error occurred" in found["faulty"]["broken"]["words"][0]
    assert found["broken"]["broken"]["kinds"] == {"no_confirmation": 1}
    assert "internal server error" in found["broken"]["broken"]["words"][0].lower()
    assert found["faulty"]["form_only"] is True  # no email channel: the form is all it has
    # a finding beside the ranking, never a bad number: not in the form ranking's counts
    rows = {r["company"]: r for r in doc["rankings"] if r["channel"] == "form"}
    assert rows["faulty"]["n"] == 0 and rows["faulty"]["excluded"] >= 1
    html = html_text(tmp_path)
    assert "Web forms: findings per company" in html and "form broken: 1 probe" in html
    [forms_csv] = tmp_path.glob("*-forms.csv")
    assert "faulty" in forms_csv.read_text()


def test_report_can_rank_form_only_companies_in_the_email_ranking(shops, ws, cli):
    mail, _ = shops
    _, probe, _ = start(ws, mail, "topics")
    assert conclude(ws, probe) == Outcome.UNANSWERED
    # a confirmed form nobody answered: counted (unanswered) and flagged form-only
    m = ws.store.measurements(channel=Channel.FORM, company="topics")[-1]
    assert m.outcome == Outcome.UNANSWERED and "form_only" in m.flags
    args = ("report", "--period", m.quarter, "-o", "-", "-f", "json")
    merged = json.loads(cli(*args, "--merge-form-into-email", cwd=ws.root).stdout)
    email = {r["company"]: r for r in merged["rankings"] if r["channel"] == "email"}
    assert email["topics"]["via_web_form_n"] >= 1
    assert merged["methodology"]["form_merged_into_email"] is True
    separate = json.loads(cli(*args, cwd=ws.root).stdout)
    assert not any(r["channel"] == "email" for r in separate["rankings"])
    assert separate["methodology"]["form_merge"] is None
