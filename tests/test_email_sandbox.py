"""The mail sandbox without system packages: pymap as the shopper's IMAP server (what
``svcbench demo`` uses when Dovecot is not installed)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from mailservers import add_probe, context, make_workspace
from svcbench.lifecycle import finish_probe
from svcbench.models import Outcome, ProbeStatus, parse_instant, utcnow
from svcbench.probes.email import EmailProbe
from svcbench.sandbox.mail import CompanyBehaviour, MailSandbox

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH")


def test_pymap_sandbox_round_trip_with_ground_truth(tmp_path):
    companies = [CompanyBehaviour("acme", ack_after_s=0.2, human_after_s=1.0)]
    with MailSandbox(tmp_path / "sandbox", companies=companies, backend="pymap") as sandbox:
        assert sandbox.imap.kind == "pymap" and sandbox.imap_security == "none"
        ws = make_workspace(tmp_path / "ws", sandbox, smtp_security="tls")
        ctx = context(ws, sandbox)
        probe = add_probe(ws, "acme")
        plugin = EmailProbe()
        events = asyncio.run(plugin.start(probe, ctx))
        ws.store.update_probe(probe.id, events=events, status=ProbeStatus.RUNNING,
                              started_at=events[0].at)
        probe = ws.store.get_probe(probe.id)
        deadline = time.monotonic() + 10
        while len(sandbox.ground_truth) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        new = asyncio.run(plugin.advance_all([probe], ctx))[probe.id]
        assert [e.data["kind"] for e in new] == ["auto_ack", "human"]
        assert plugin.outcome(probe, ws.store.events(probe.id), utcnow()) == Outcome.ANSWERED
        m = finish_probe(ws.store, probe, Outcome.ANSWERED, config=ws.config)

        truth = json.loads((sandbox.workdir / "ground_truth.json").read_text())
        accepted = parse_instant(truth["received"][0]["at"])
        delivered = {d["kind"]: parse_instant(d["delivered_at"]) for d in truth["deliveries"]}
        assert abs(m.first_response_s - (delivered["ack"] - accepted).total_seconds()) <= 1
        assert abs(m.wait_s - (delivered["human"] - accepted).total_seconds()) <= 1
        # our BCC copy is in the mailbox: recovery would find it
        recovered = asyncio.run(plugin.recover(probe, ctx))
        assert recovered and recovered[0].kind == "email.sent"
    assert sandbox.imap is None  # stopped


def test_pymap_accepts_a_password_that_looks_like_an_option():
    # token_urlsafe() passwords start with '-' now and then; argparse must not take them
    # for an option (that made the sandbox fail at random)
    from svcbench.sandbox.mail_servers import PymapServer

    server = PymapServer({"anna@shopper.test": "-looks-like-an-option"}).start()
    try:
        with server.imap("anna@shopper.test") as client:
            status, _ = client.select("INBOX")
            assert status == "OK"
    finally:
        server.stop()
