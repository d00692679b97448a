"""IMAP collection against a real Dovecot: incremental sync, UIDVALIDITY rescans, the Junk
folder, server outages, wrong passwords and hostile messages."""

from __future__ import annotations

import imaplib
import json
import time
from datetime import timedelta

import pytest

from mailservers import (
    PASSWORD,
    PASSWORD_ENV,
    USER,
    dovecot,
    imap_workspace,
    needs_dovecot,
    noise,
    reply_bytes,
    secrets,
    sent_probe,
)
from svcbench.probes.email import collect as collect_module
from svcbench.probes.email.collect import collect

pytestmark = needs_dovecot


@pytest.fixture(scope="module")
def server():
    server = dovecot({USER: PASSWORD})
    yield server
    server.stop()


@pytest.fixture
def mailbox(server):
    """An empty INBOX/Junk/Support for each test."""
    with server.imap(USER) as client:
        for folder in ("INBOX", "Junk", "Support"):
            if client.select(folder)[0] == "OK":
                client.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
                client.expunge()
        client.create("Support")
    return server


@pytest.fixture
def fetch_log(monkeypatch):
    """Every UID FETCH sent to the server, as (uid set, items) — counted at the client."""
    calls = []
    original = imaplib.IMAP4.uid

    def spy(self, command, *args):
        if command.upper() == "FETCH":
            calls.append((args[0], args[1]))
        return original(self, command, *args)

    monkeypatch.setattr(imaplib.IMAP4, "uid", spy)
    return calls


def bodies(calls):
    return [c for c in calls if "BODY.PEEK[]" in c[1]]


def run(ws, **kwargs):
    return collect(ws.config, ws.store, secrets=kwargs.pop("secrets", secrets()), **kwargs)


def test_incremental_collection_fetches_only_new_messages(mailbox, tmp_path, fetch_log):
    ws = imap_workspace(tmp_path / "ws", mailbox, security="starttls")
    probe = sent_probe(ws, "aaaaaaaaaa")
    for raw in noise(20):
        mailbox.deliver(USER, raw)
    mailbox.deliver(USER, reply_bytes(in_reply_to=probe.state["message_id"]))

    first = run(ws)
    inbox = first.mailboxes[0]
    assert (inbox.folder, inbox.headers_fetched, inbox.bodies_fetched, inbox.matched) == (
        "INBOX", 21, 1, 1)
    assert len(bodies(fetch_log)) == 1  # newsletters never had their bodies fetched
    assert [e.data["match"] for e in first.events[probe.id]] == ["message-id"]

    fetch_log.clear()
    second = run(ws)
    assert [m.status for m in second.mailboxes] == ["unchanged", "unchanged"]
    assert fetch_log == [] and second.events == {}

    mailbox.deliver(USER, noise(1, start=50)[0])
    mailbox.deliver(f"anna+{probe.token}@shopper.test",
                    reply_bytes(subject="Your question", to=f"anna+{probe.token}@shopper.test"))
    third = run(ws)
    inbox = third.mailboxes[0]
    assert (inbox.headers_fetched, inbox.bodies_fetched, inbox.matched) == (2, 1, 1)
    assert [e.data["match"] for e in third.events[probe.id]] == ["address"]
    # the header fetch asked only for UIDs above the last one seen
    assert all(not c[0].startswith("1:") for c in fetch_log)
    assert len(bodies(fetch_log)) == 1
    assert len(ws.store.messages(probe.id)) == 2
    cursor = ws.store.get_cursor("imap", "anna:INBOX")
    assert cursor["last_uid"] == cursor["uidnext"] - 1


def test_uidvalidity_change_rescans_without_duplicates(mailbox, tmp_path):
    ws = imap_workspace(tmp_path / "ws", mailbox, folders=["Support"])
    probe = sent_probe(ws, "bbbbbbbbbb")
    raws = [reply_bytes(in_reply_to=probe.state["message_id"], body="first answer"),
            reply_bytes(in_reply_to=probe.state["message_id"], body="second answer")]
    stamp = imaplib.Time2Internaldate(time.time() - 60)
    with mailbox.imap(USER) as client:
        for raw in raws:
            client.append("Support", None, stamp, raw)
    first = run(ws)
    assert first.mailboxes[0].matched == 2
    old = ws.store.get_cursor("imap", "anna:Support")["uidvalidity"]

    # the folder is rebuilt (e.g. a provider migration): same messages, new UIDVALIDITY
    with mailbox.imap(USER) as client:
        client.delete("Support")
        client.create("Support")
        for raw in raws:
            client.append("Support", None, stamp, raw)
        client.append("Support", None, imaplib.Time2Internaldate(time.time()),
                      reply_bytes(in_reply_to=probe.state["message_id"], body="a third one"))
    second = run(ws)
    support = second.mailboxes[0]
    assert support.rescanned and support.duplicates == 2 and support.matched == 1
    assert ws.store.get_cursor("imap", "anna:Support")["uidvalidity"] != old
    texts = sorted(m["text"].strip() for m in ws.store.messages(probe.id))
    assert texts == ["a third one", "first answer", "second answer"]
    assert len(ws.store.events(probe.id)) == 3


def test_junk_folder_is_collected_too(mailbox, tmp_path):
    ws = imap_workspace(tmp_path / "ws", mailbox, folders=["INBOX"])
    probe = sent_probe(ws, "cccccccccc")
    with mailbox.imap(USER) as client:
        client.append("Junk", None, imaplib.Time2Internaldate(time.time()),
                      reply_bytes(in_reply_to=probe.state["message_id"]))
    report = run(ws)
    assert [m.folder for m in report.mailboxes] == ["INBOX", "Junk"]
    (event,) = report.events[probe.id]
    assert event.data["folder"] == "Junk" and event.source == "imap.internaldate"


def test_server_down_is_retried_reported_and_nothing_lost(mailbox, tmp_path):
    ws = imap_workspace(tmp_path / "ws", mailbox, security="tls")
    probe = sent_probe(ws, "dddddddddd")
    mailbox.deliver(USER, reply_bytes(in_reply_to=probe.state["message_id"]))
    mailbox.pause()
    try:
        delays = []
        down = run(ws, retry_delays=(0.1, 0.2), sleep=delays.append)
        assert delays == [0.1, 0.2]
        assert {m.status for m in down.mailboxes} == {"error"}
        line = down.mailboxes[0].summary()
        assert "after 3 attempt(s)" in line and "cannot connect" in line and "\n" not in line
        assert ws.store.get_cursor("imap", "anna:INBOX") is None
        assert ws.store.messages(probe.id) == []

        # the server comes back during the backoff: the second attempt succeeds
        waits = []

        def back_up(delay):
            waits.append(delay)
            mailbox.resume()

        report = run(ws, retry_delays=(0.1, 0.2), sleep=back_up)
    finally:
        if mailbox.proc is None:
            mailbox.resume()
    assert waits == [0.1]
    assert report.mailboxes[0].status == "ok" and report.mailboxes[0].matched == 1
    assert len(ws.store.messages(probe.id)) == 1


def test_wrong_password_reported_in_one_line_without_the_password(mailbox, tmp_path, cli):
    ws = imap_workspace(tmp_path / "ws", mailbox)
    sent_probe(ws, "eeeeeeeeee")
    report = run(ws, secrets=secrets("Not-The-Pa55word"), retry_delays=(0.1,))
    (error,) = {m.error for m in report.mailboxes}
    assert "login failed" in error and "Not-The-Pa55word" not in error
    assert report.mailboxes[0].attempts == 1  # a wrong password is not retried
    assert ws.store.get_cursor("imap", "anna:INBOX") is None

    result = cli("collect", cwd=ws.root, env={PASSWORD_ENV: "Not-The-Pa55word"})
    assert result.returncode == 1
    assert "Not-The-Pa55word" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert all("login failed" in line for line in result.stdout.strip().splitlines())


def test_cli_collect_json_and_bad_shopper(mailbox, tmp_path, cli):
    ws = imap_workspace(tmp_path / "ws", mailbox)
    probe = sent_probe(ws, "ffffffffff")
    mailbox.deliver(USER, reply_bytes(in_reply_to=probe.state["message_id"]))
    result = cli("collect", "--json", "--shopper", "anna", cwd=ws.root,
                 env={PASSWORD_ENV: PASSWORD})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [m["status"] for m in data["mailboxes"]] == ["ok", "ok"]
    (event,) = data["events"]
    assert event["probe_id"] == probe.id and event["match"] == "message-id"
    bad = cli("collect", "--shopper", "nobody", cwd=ws.root, env={PASSWORD_ENV: PASSWORD})
    assert bad.returncode == 2 and "unknown shopper 'nobody'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


HOSTILE = [
    b"",  # empty
    b"\x00\x01\x02 not an email at all \xff\xfe",
    b"Subject: =?utf-8?B?////?= =?x-unknown?Q?=FF?=\r\nFrom: <<<@@@>>>\r\n"
    b"In-Reply-To: <" + b"a" * 5000 + b">\r\n\r\nbody",
    b"Content-Type: multipart/mixed; boundary=\"x\"\r\nFrom: agent@acme.test\r\n\r\n"
    b"--x\r\nContent-Type: text/plain; charset=no-such-charset\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",  # never closed
    b"From: agent@acme.test\r\nSubject: Re: Delivery to Norway\r\nDate: Thu, 99 Foo 20x\r\n"
    b"Content-Type: text/html\r\n\r\n<html><body>" + b"<div>" * 5000 + b"nested",
]


def test_hostile_messages_do_not_stop_the_run(mailbox, tmp_path, monkeypatch):
    ws = imap_workspace(tmp_path / "ws", mailbox)
    probe = sent_probe(ws, "gggggggggg")
    mid = probe.state["message_id"]
    with mailbox.imap(USER) as client:
        for raw in HOSTILE:
            client.append("INBOX", None, imaplib.Time2Internaldate(time.time()),
                          raw or b"\r\n")
    mailbox.deliver(USER, reply_bytes(in_reply_to=mid, body="I am the real answer"))
    report = run(ws)
    assert report.mailboxes[0].status == "ok"
    texts = [m["text"].strip() for m in ws.store.messages(probe.id)]
    assert "I am the real answer" in texts

    # a message that makes our own code fail is logged, counted and skipped; others go on
    mailbox.deliver(USER, reply_bytes(in_reply_to=mid, body="poison"))
    mailbox.deliver(USER, reply_bytes(in_reply_to=mid, body="fine"))
    real = collect_module.match_email

    def fragile(email, *args, **kwargs):
        if "poison" in (email.text or ""):
            raise RuntimeError("boom")
        return real(email, *args, **kwargs)

    monkeypatch.setattr(collect_module, "match_email", fragile)
    report = run(ws)
    inbox = report.mailboxes[0]
    assert (inbox.status, inbox.bad, inbox.matched) == ("ok", 1, 1)
    assert "1 unreadable skipped" in inbox.summary()
    texts = [m["text"].strip() for m in ws.store.messages(probe.id)]
    assert "fine" in texts and "poison" not in texts


def test_cli_watch_wakes_on_idle_push_and_stops_on_ctrl_c(mailbox, tmp_path):
    import os
    import signal
    import subprocess

    from conftest import SVCBENCH

    ws = imap_workspace(tmp_path / "ws", mailbox)
    probe = sent_probe(ws, "hhhhhhhhhh")
    proc = subprocess.Popen([str(SVCBENCH), "collect", "--watch", "--json"], cwd=ws.root,
                            env={**os.environ, PASSWORD_ENV: PASSWORD},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())  # the initial pass
        assert first["events"] == []
        time.sleep(0.5)  # let the IDLE session settle
        mailbox.deliver(USER, reply_bytes(in_reply_to=probe.state["message_id"]))
        started = time.monotonic()
        woke = json.loads(proc.stdout.readline())  # pushed by IDLE, not by a timer
        assert time.monotonic() - started < 10
        assert [e["probe_id"] for e in woke["events"]] == [probe.id]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_ticket_only_reply_and_classification_do_not_depend_on_uid_order(mailbox, tmp_path):
    """Issue 14: a reply carrying only the helpdesk's ticket number matches once the ack
    taught it, even with a lower UID; issue 12 item 10: the human reply fetched before the
    automatic acknowledgement is still human, and the ack still automatic."""
    from datetime import datetime as _dt

    ws = imap_workspace(tmp_path / "ws", mailbox)
    probe = sent_probe(ws, "tttttttttt")
    sent = _dt.fromisoformat(probe.state["sent_at"])
    zendesk = ("Auto-Submitted: auto-generated\r\nX-Zendesk-From-Account-Id: 7f3a21\r\n"
               "X-Mailer: Zendesk Mailer")
    human = reply_bytes(subject="[#48210] Your question", sender="help@acme.test",
                        body="Hi Anna,\r\n\r\nyes, we deliver to Norway in 5 days for 9.90 EUR."
                             "\r\n\r\nBest,\r\nJonas", extra=zendesk)
    ack = reply_bytes(subject="Request received: Delivery to Norway [#48210]",
                      in_reply_to=probe.state["message_id"], extra=zendesk,
                      body="We have received your request (#48210). A member of our team "
                           "will get back to you within 24 hours.")
    # APPEND with INTERNALDATEs: the human reply gets the lower UID but arrives later
    with mailbox.imap(USER) as client:
        for raw, after in ((human, timedelta(hours=3)), (ack, timedelta(seconds=30))):
            when = imaplib.Time2Internaldate((sent + after).timestamp())
            assert client.append("INBOX", None, when, raw)[0] == "OK"
    report = run(ws)
    got = sorted((e.data["match"], e.data["kind"]) for e in report.events[probe.id])
    assert got == [("message-id", "auto_ack"), ("ticket", "human")]
    [ack_event] = [e for e in report.events[probe.id] if e.data["kind"] == "auto_ack"]
    assert ack_event.data["promise"]["amount"] == 24
