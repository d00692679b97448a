"""The email probe end to end against real servers: aiosmtpd submission (STARTTLS and
implicit TLS) and Dovecot, with simulated companies answering at known instants."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailservers import add_probe, context, make_workspace, needs_dovecot
from svcbench.errors import ProbeError, RetryableProbeError
from svcbench.lifecycle import finish_probe
from svcbench.models import Outcome, ProbeStatus, utcnow
from svcbench.plugins import Secrets
from svcbench.probes.email import EmailProbe, instant
from svcbench.sandbox.mail import PASSWORD_ENV, CompanyBehaviour, MailSandbox
from svcbench.sandbox.mail_servers import free_port

pytestmark = [needs_dovecot, pytest.mark.filterwarnings("ignore:Requiring AUTH")]

COMPANIES = [
    CompanyBehaviour("acme", ack_after_s=0.3, human_after_s=1.3),
    CompanyBehaviour("plainco", ack_after_s=None, human_after_s=0.4, helpdesk=False),
    CompanyBehaviour("personal", ack_after_s=None, human_after_s=0.4, helpdesk=False,
                     human_from="julia.meyer@personal.test"),
    CompanyBehaviour("bouncy", bounce_after_s=0.3),
    CompanyBehaviour("silent", ack_after_s=None, human_after_s=None),
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    with MailSandbox(tmp_path_factory.mktemp("sandbox"), companies=COMPANIES) as box:
        yield box


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def deliveries(sandbox, message_id):
    return [d for d in sandbox.ground_truth if d.in_reply_to == message_id]


def send(ws, sandbox, company, **ctx_kwargs):
    ctx = context(ws, sandbox, **ctx_kwargs)
    probe = add_probe(ws, company)
    plugin = EmailProbe()
    events = asyncio.run(plugin.start(probe, ctx))
    ws.store.update_probe(probe.id, events=events, status=ProbeStatus.RUNNING,
                          started_at=events[0].at)
    return plugin, ctx, ws.store.get_probe(probe.id), events


@pytest.mark.parametrize(("smtp_security", "imap_security"),
                         [("starttls", "tls"), ("tls", "starttls")])
def test_ack_then_human_reply_measured_against_ground_truth(sandbox, tmp_path, smtp_security,
                                                            imap_security):
    ws = make_workspace(tmp_path / "ws", sandbox, smtp_security=smtp_security,
                        imap_security=imap_security)
    plugin, ctx, probe, events = send(ws, sandbox, "acme")
    (sent,) = events
    mid = probe.state["message_id"]
    assert sent.kind == "email.sent" and sent.source == "smtp" and sent.data["message_id"] == mid
    accepted = [r for r in sandbox.received if r.message_id == mid]
    assert len(accepted) == 1
    assert set(accepted[0].rcpt_tos) == {"support@acme.test", "anna@shopper.test"}  # + BCC
    assert accepted[0].mail_from == probe.state["reply_to"]
    wait_for(lambda: len(deliveries(sandbox, mid)) == 2)

    new = asyncio.run(plugin.advance_all([probe], ctx))[probe.id]
    assert [e.data["kind"] for e in new] == ["auto_ack", "human"]
    assert all(e.data["match"] == "message-id" and e.data["helpdesk"] for e in new)
    all_events = ws.store.events(probe.id)
    assert plugin.outcome(probe, all_events, utcnow()) == Outcome.ANSWERED
    m = finish_probe(ws.store, probe, Outcome.ANSWERED, config=ws.config)

    truth = {d.kind: (d.delivered_at - accepted[0].at).total_seconds()
             for d in deliveries(sandbox, mid)}
    assert abs(m.first_response_s - truth["ack"]) <= 1.0
    assert abs(m.wait_s - truth["human"]) <= 1.0
    assert m.answered_by_human and m.metrics["first_reply_kind"] == "auto_ack"
    assert m.metrics["replies"] == 2 and m.metrics["helpdesk"]
    stored = ws.store.messages(probe.id)
    assert [(s["actor"], s["classification"], s["match_method"]) for s in stored] == [
        ("auto", "auto_ack", "message-id"), ("human", "human", "message-id")]
    assert "Norway" in stored[1]["text"]
    # a second pass finds nothing new and stores nothing twice
    assert asyncio.run(plugin.advance_all([probe], ctx))[probe.id] == []
    assert len(ws.store.messages(probe.id)) == 2


def test_unthreaded_reply_from_other_address_is_a_probable_match(sandbox, tmp_path):
    ws = make_workspace(tmp_path / "ws", sandbox)
    plugin, ctx, probe, _ = send(ws, sandbox, "personal")
    wait_for(lambda: any(d.company == "personal" and d.delivered_at > probe.started_at
                         for d in sandbox.ground_truth))
    (event,) = asyncio.run(plugin.advance_all([probe], ctx))[probe.id]
    assert event.data["match"] == "probable" and event.data["score"] >= 0.6
    assert event.data["kind"] == "human" and event.data["from"] == "julia.meyer@personal.test"
    m = finish_probe(ws.store, probe, Outcome.ANSWERED, config=ws.config)
    assert "probable_match" in m.flags


def test_plain_human_reply_and_silent_company(sandbox, tmp_path):
    ws = make_workspace(tmp_path / "ws", sandbox)
    plugin, ctx, probe, _ = send(ws, sandbox, "plainco")
    _, _, silent, _ = send(ws, sandbox, "silent")
    wait_for(lambda: deliveries(sandbox, probe.state["message_id"]))
    got = asyncio.run(plugin.advance_all([probe, silent], ctx))
    assert [(e.data["kind"], e.data["match"]) for e in got[probe.id]] == [
        ("human", "message-id")]
    assert got[silent.id] == []
    after_deadline = silent.deadline_at
    # no collection has covered the deadline yet: not concluded (item 2 of issue 12)
    assert plugin.outcome(silent, ws.store.events(silent.id), after_deadline) is None
    late = context(ws, sandbox, clock=lambda: after_deadline)
    (collected,) = asyncio.run(plugin.advance_all([silent], late))[silent.id]
    assert collected.kind == "email.collected" and collected.at == after_deadline
    ws.store.add_events([collected])
    assert plugin.outcome(silent, ws.store.events(silent.id), after_deadline) == \
        Outcome.UNANSWERED


def test_bounce_fails_the_probe_on_our_side(sandbox, tmp_path):
    ws = make_workspace(tmp_path / "ws", sandbox)
    plugin, ctx, probe, _ = send(ws, sandbox, "bouncy")
    wait_for(lambda: deliveries(sandbox, probe.state["message_id"]))
    (event,) = asyncio.run(plugin.advance_all([probe], ctx))[probe.id]
    assert event.data["kind"] == "bounce" and event.data["match"] == "message-id"
    events = ws.store.events(probe.id)
    assert plugin.outcome(probe, events, utcnow()) == Outcome.FAILED
    assert plugin.outcome_reason(probe, events) == "bounced: support@bouncy.test"


def test_smtp_wrong_password_is_a_clear_probe_error(sandbox, tmp_path):
    ws = make_workspace(tmp_path / "ws", sandbox)
    ctx = ws.context(secrets=Secrets({PASSWORD_ENV: "Wr0ng-S3cret-xyz"}))
    probe = add_probe(ws, "acme")
    with pytest.raises(ProbeError) as info:
        asyncio.run(EmailProbe().start(probe, ctx))
    assert not isinstance(info.value, RetryableProbeError)
    text = str(info.value)
    assert "authentication failed" in text and "535" in text and "\n" not in text
    assert "Wr0ng-S3cret-xyz" not in text and sandbox.password not in text
    # intent was persisted, nothing was accepted
    mid = ws.store.get_probe(probe.id).state["message_id"]
    assert not [r for r in sandbox.received if r.message_id == mid]


def test_smtp_server_down_is_retryable(sandbox, tmp_path):
    ws = make_workspace(tmp_path / "ws", sandbox)
    shopper_file = ws.root / "probes" / "sandbox.toml"
    text = shopper_file.read_text().replace(f"port = {sandbox.smtp_starttls_port}",
                                            f"port = {free_port()}")
    shopper_file.write_text(text)
    from svcbench.workspace import Workspace

    ws = Workspace.open(ws.root)
    probe = add_probe(ws, "acme")
    with pytest.raises(RetryableProbeError, match="cannot connect"):
        asyncio.run(EmailProbe().start(probe, context(ws, sandbox)))


KILL_SCRIPT = """
import asyncio, sys
from pathlib import Path
from svcbench.probes.email import EmailProbe
from svcbench.workspace import Workspace
ws = Workspace.open(Path(sys.argv[1]))
probe = ws.store.get_probe(sys.argv[2])
asyncio.run(EmailProbe().start(probe, ws.context()))
print("still alive")
"""


def test_crash_between_send_and_record_never_sends_twice(sandbox, tmp_path):
    ws = make_workspace(tmp_path / "ws", sandbox)
    probe = add_probe(ws, "silent")  # claimed: STARTING, as tick leaves it
    script = tmp_path / "start_probe.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, **sandbox.env(), "SVCBENCH_TEST_KILL_AFTER_SEND": "1"}
    proc = subprocess.run([sys.executable, str(script), str(ws.root), probe.id], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr  # SIGKILLed right after the 250
    assert "still alive" not in proc.stdout

    ws = type(ws).open(ws.root)  # a fresh process's view
    crashed = ws.store.get_probe(probe.id)
    assert crashed.status == ProbeStatus.STARTING and "sent_at" not in crashed.state
    mid = crashed.state["message_id"]
    assert ws.store.events(probe.id) == []
    accepted = [r for r in sandbox.received if r.message_id == mid]
    assert len(accepted) == 1

    plugin = EmailProbe()
    recovered = asyncio.run(plugin.recover(crashed, context(ws, sandbox)))
    (event,) = recovered
    assert event.kind == "email.sent" and event.source == "imap.internaldate"
    assert event.data["message_id"] == mid
    # INTERNALDATE has whole seconds; its mid-second estimate is what measurements use
    assert abs((instant(event) - accepted[0].at).total_seconds()) <= 1.0
    # recovering twice gives the same event id (idempotent store), and nothing is re-sent
    again = asyncio.run(plugin.recover(ws.store.get_probe(probe.id), context(ws, sandbox)))
    assert again[0].id == event.id
    assert len([r for r in sandbox.received if r.message_id == mid]) == 1


def test_recover_without_evidence_returns_none(sandbox, tmp_path):
    ws = make_workspace(tmp_path / "ws", sandbox)
    plugin = EmailProbe()
    never_claimed = add_probe(ws, "acme")
    assert asyncio.run(plugin.recover(never_claimed, context(ws, sandbox))) is None
    intent_only = add_probe(ws, "acme", token="qqqqqqqqqq")
    ws.store.update_probe(intent_only.id, state={"message_id": "<qqqqqqqqqq.1@shopper.test>"})
    intent_only = ws.store.get_probe(intent_only.id)
    assert asyncio.run(plugin.recover(intent_only, context(ws, sandbox))) is None


def test_token_generated_and_persisted_when_missing(sandbox, tmp_path):
    ws = make_workspace(tmp_path / "ws", sandbox)
    plugin, ctx, probe, _ = send(ws, sandbox, "silent")
    stored = ws.store.get_probe(probe.id)
    assert stored.token and len(stored.token) == 10
    assert stored.state["message_id"].startswith(f"<{stored.token}.")
    assert stored.state["reply_to"] == f"anna+{stored.token}@shopper.test"
    assert Path(sandbox.workdir / "ground_truth.json").exists()
