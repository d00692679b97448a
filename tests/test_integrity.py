"""Integrity under real faults: a filesystem that fails mid-tick, servers that trickle or drop
the connection, IMAP down at the deadline. The company is never contacted twice and never
blamed for our trouble."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from loopfs import LoopFS, loop_unavailable
from mailservers import make_workspace, needs_dovecot
from svcbench.models import Channel, Probe, ProbeStatus, format_instant, new_id, utcnow
from svcbench.sandbox.mail import CompanyBehaviour, MailSandbox
from svcbench.workspace import Workspace

SVCBENCH = Path(sys.executable).with_name("svcbench")

needs_loop = pytest.mark.skipif(loop_unavailable() is not None,
                                reason=loop_unavailable() or "")


def plan_email_probes(ws: Workspace, companies: list[str]) -> list[str]:
    now = utcnow()
    ids = []
    with ws.store.transaction():
        for company in companies:
            probe = Probe(id=new_id(), company=company, channel=Channel.EMAIL, plugin="email",
                          scenario="shipping", shopper="anna", due_at=now - timedelta(minutes=1),
                          deadline_at=now + timedelta(hours=1))
            ws.store.add_probe(probe)
            ids.append(probe.id)
    return ids


def tick(root: Path, sandbox: MailSandbox, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SVCBENCH), "tick", "-w", str(root), *args],
                          env={**os.environ, **sandbox.env()}, capture_output=True, text=True,
                          timeout=120)


@needs_loop
@needs_dovecot
@pytest.mark.parametrize("concurrency", ["1", "20"])
def test_filesystem_error_mid_tick_then_repair_never_contacts_a_company_twice(tmp_path,
                                                                              concurrency):
    companies = [CompanyBehaviour(f"co{i}", ack_after_s=None, human_after_s=None)
                 for i in range(6)]
    with LoopFS(tmp_path / "disk.img", size_mb=48) as fs, \
            MailSandbox(tmp_path / "sandbox", companies=companies) as sandbox:
        if not fs.can_fault():
            pytest.skip("this kernel has no /sys/fs/ext4/*/trigger_fs_error")
        ws = make_workspace(fs.mount / "ws", sandbox)
        ids = plan_email_probes(ws, [c.id for c in companies])
        ws.close()
        os.sync()  # the planned probes are on disk; the tick's own writes are what is tested

        def fault_on_second(received):
            if len(sandbox.received) == 2:
                fs.fault()  # the disk fails while our second message is being accepted
            return None

        sandbox.on_data = fault_on_second
        first = tick(fs.mount / "ws", sandbox, "--concurrency", concurrency)
        # 3 when a write hit the read-only filesystem; 0 when every write after the fault
        # still landed in the page cache (lost at the unmount): either way, one line at most
        assert first.returncode in (0, 3), (first.returncode, first.stderr)
        assert first.stderr.count("\n") == (first.returncode == 3), first.stderr
        assert "Traceback" not in first.stderr
        sandbox.on_data = None
        fs.repair()  # unmount drops whatever never reached the disk, as a crash would

        again = tick(fs.mount / "ws", sandbox)
        assert again.returncode == 0, again.stderr
        # one probe per company: a company's address reached twice is a second contact,
        # whatever Message-ID the second email carried
        reached = [rcpt for r in sandbox.received for rcpt in r.rcpt_tos
                   if rcpt.startswith("support@")]
        assert len(reached) == len(set(reached)), f"a company was contacted twice: {reached}"
        sent = [r.message_id for r in sandbox.received]
        assert len(sent) >= 2
        ws = Workspace.open(fs.mount / "ws")
        for probe_id in ids:
            probe = ws.store.get_probe(probe_id)
            mails = [m for m in sent if m == probe.state.get("message_id")]
            assert len(mails) <= 1
            if mails:  # what went out is known: sent by this run or recovered from the copy
                assert probe.status == ProbeStatus.RUNNING, (probe.status, probe.outcome_reason)
                assert [e.kind for e in ws.store.events(probe_id)].count("email.sent") == 1
            else:
                assert probe.status != ProbeStatus.RUNNING
        ws.close()


# -- overall deadlines, tick budget, stale locks --------------------------------------------


def _trickle_workspace(root: Path, *, smtp_port: int | None = None,
                       imap_port: int | None = None, budget: str = "4m") -> Workspace:
    from svcbench.tomlwrite import toml_table
    from svcbench.workspace import init_workspace

    root = init_workspace(root, examples=False)
    toml = (root / "svcbench.toml").read_text()
    (root / "svcbench.toml").write_text(toml.replace("[workspace]",
                                                     f'[workspace]\ntick_budget = "{budget}"', 1))
    shopper = {"id": "anna", "name": "Anna Berg", "email": "anna@shopper.test"}
    common = {"host": "127.0.0.1", "security": "none", "timeout_s": 1.0, "deadline_s": 2.0}
    if smtp_port:
        shopper["smtp"] = {**common, "port": smtp_port}
    if imap_port:
        shopper["imap"] = {**common, "port": imap_port}
    company = {"id": "acme", "name": "Acme", "channels": {"email": {"address": "s@acme.test"}}}
    from mailservers import SCENARIO

    (root / "probes" / "mail.toml").write_text(
        toml_table("shopper", shopper) + toml_table("company", company) + SCENARIO)
    return Workspace.open(root)


def _run_tick(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SVCBENCH), "tick", "-w", str(root), "--json", *args],
                          env=os.environ.copy(), capture_output=True, text=True, timeout=90)


def test_smtp_server_trickling_220_lines_is_cut_off_by_the_overall_deadline(tmp_path):
    import json
    import time

    from svcbench.sandbox.faults import TricklingServer

    with TricklingServer("smtp", interval_s=0.2) as server:
        ws = _trickle_workspace(tmp_path / "ws", smtp_port=server.port)
        (probe_id,) = plan_email_probes(ws, ["acme"])
        ws.close()
        started = time.monotonic()
        result = _run_tick(tmp_path / "ws")
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert server.connections == 1
    assert elapsed < 60
    assert json.loads(result.stdout)["retried"] == 1
    probe = Workspace.open(tmp_path / "ws").store.get_probe(probe_id)
    # never reached DATA: nothing was sent, the probe waits for a retry, nobody is blamed
    assert probe.status == ProbeStatus.PLANNED and probe.outcome is None
    assert "overall deadline of 2 s" in probe.state["last_error"]


def test_imap_server_trickling_untagged_ok_is_cut_off_and_nothing_is_concluded(tmp_path):
    import json

    from mailservers import sent_probe
    from svcbench.sandbox.faults import TricklingServer

    with TricklingServer("imap", interval_s=0.2) as server:
        ws = _trickle_workspace(tmp_path / "ws", imap_port=server.port)
        probe = sent_probe(ws, "tok1234567")
        ws.close()
        result = _run_tick(tmp_path / "ws")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert any("overall deadline" in line for line in report["failed"]), report
    after = Workspace.open(tmp_path / "ws").store.get_probe(probe.id)
    assert after.status == ProbeStatus.RUNNING and after.outcome is None


def test_tick_budget_stops_starting_work_and_the_next_run_carries_on(tmp_path, monkeypatch):
    import asyncio

    from fake_probe import ENV, FakeProbe
    from svcbench.plugins import PROBES_GROUP, register
    from svcbench.schedule import tick as run_tick
    from svcbench.workspace import init_workspace

    monkeypatch.setenv("SVCBENCH_EXTRA_PROBES", ENV["SVCBENCH_EXTRA_PROBES"])
    register(PROBES_GROUP, "fake", FakeProbe)
    root = init_workspace(tmp_path / "ws", examples=False)
    text = (root / "svcbench.toml").read_text()
    (root / "svcbench.toml").write_text(text.replace("[workspace]",
                                                     '[workspace]\ntick_budget = "1s"', 1))
    ledger = tmp_path / "ledger.txt"
    (root / "probes" / "fake.toml").write_text(
        f'[[company]]\nid = "fake-co"\nname = "Fake"\n[company.channels.chat]\nplugin = "fake"\n'
        f'ledger = "{ledger}"\nsend_delay_s = 0.3\n')
    ws = Workspace.open(root)
    now = utcnow()
    for i in range(12):
        ws.store.add_probe(Probe(id=f"p{i:02d}", company="fake-co", channel=Channel.CHAT,
                                 plugin="fake", due_at=now - timedelta(minutes=1),
                                 deadline_at=now + timedelta(hours=1)))
    assert ws.config.settings.tick_budget_s == 1.0
    report = run_tick(ws, concurrency=1)
    assert 1 <= report.started < 12 and report.deferred == 12 - report.started
    assert report.elapsed_s < 1.0 + 0.3 + 2.0  # the budget, one send, bookkeeping
    assert "advance" in report.skipped
    for _ in range(12):
        if len(ws.store.probes(status=ProbeStatus.PLANNED)) == 0:
            break
        asyncio.run(asyncio.sleep(0))
        run_tick(ws, concurrency=1)
    sent = ledger.read_text().split("\n")[:-1]
    assert sorted(line.split()[0] for line in sent) == [f"p{i:02d}" for i in range(12)]
    ws.close()


def _lock_holder(lock: Path, then: str) -> subprocess.Popen:
    """A process that takes the lock as tick does, names itself as started long ago, then
    runs ``then``."""
    return subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, time\n"
        f"f = open({str(lock)!r}, 'a+')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "f.truncate(0)\n"
        "f.write(f'pid {os.getpid()} since 2026-01-01T00:00:00+00:00 budget_s 240\\n')\n"
        "f.flush()\n" + then)], stdout=subprocess.PIPE, text=True)


def test_lock_held_by_an_overdue_run_is_reported_as_stale(tmp_path):
    from svcbench.schedule import LOCK_FILE
    from svcbench.workspace import init_workspace

    root = init_workspace(tmp_path / "ws", examples=False)
    holder = _lock_holder(root / LOCK_FILE, "print('held', flush=True); time.sleep(60)\n")
    try:
        assert holder.stdout.readline().strip() == "held"
        result = subprocess.run([str(SVCBENCH), "tick", "-w", str(root)], capture_output=True,
                                text=True, timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 75
    assert result.stderr.count("\n") == 1
    assert "stale lock" in result.stderr and f"pid {holder.pid}" in result.stderr
    assert "overdue" in result.stderr and "hung" in result.stderr


def test_a_run_killed_holding_the_lock_is_reported_by_the_next_run(tmp_path):
    import json
    import signal

    from svcbench.schedule import LOCK_FILE
    from svcbench.workspace import init_workspace

    root = init_workspace(tmp_path / "ws", examples=False)
    (root / LOCK_FILE).write_text("pid 999999 since 2026-01-01T00:00:00+00:00 budget_s 240\n")
    result = subprocess.run([str(SVCBENCH), "tick", "-w", str(root), "--json",
                             "--log-file", str(tmp_path / "tick.log")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    stale = json.loads(result.stdout)["stale_lock"]
    assert "pid 999999" in stale and "killed or crashed" in stale
    assert "killed or crashed" in (tmp_path / "tick.log").read_text()
    assert (root / LOCK_FILE).read_text() == ""  # released cleanly this time
    assert signal  # (kill -9 itself is exercised in test_tick)


# -- no false blame: unanswered only after a collection that covers the deadline -------------


@needs_dovecot
def test_imap_down_at_the_deadline_leaves_probes_awaiting_collection(tmp_path, monkeypatch):
    """Replies are in the mailbox but IMAP is down when the deadline passes: the probe stays
    running ("awaiting collection"); when IMAP is back the replies are found."""
    import asyncio
    import time

    from svcbench.models import Outcome
    from svcbench.probes.email import awaiting_collection
    from svcbench.schedule import Ticker

    slow = [CompanyBehaviour("slowco", ack_after_s=None, human_after_s=1.5, helpdesk=False)]
    with MailSandbox(tmp_path / "sandbox", companies=slow) as sandbox:
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        ws = make_workspace(tmp_path / "ws", sandbox)
        (probe_id,) = plan_email_probes(ws, ["slowco"])
        deadline = ws.store.get_probe(probe_id).deadline_at

        def tick_at(at):
            return asyncio.run(Ticker(ws, now=lambda: at).run())

        assert tick_at(utcnow()).started == 1
        for _ in range(200):
            if any(d.company == "slowco" for d in sandbox.ground_truth):
                break
            time.sleep(0.05)
        assert ws.store.get_probe(probe_id).status == ProbeStatus.RUNNING
        sandbox.imap.pause()  # the reply is in the mailbox; the mailbox cannot be read
        report = tick_at(deadline + timedelta(minutes=1))
        after = ws.store.get_probe(probe_id)
        assert after.status == ProbeStatus.RUNNING and after.outcome is None, \
            after.outcome_reason
        assert awaiting_collection(after, ws.store.events(probe_id),
                                   deadline + timedelta(minutes=1))
        assert any("email collect" in line for line in report.failed)
        # the listing says so (the CLI's clock is the real one: move the deadline to the past)
        with ws.store.transaction() as conn:
            conn.execute("UPDATE probes SET deadline_at = ? WHERE id = ?",
                         (format_instant(utcnow() - timedelta(minutes=1)), probe_id))
        listed = subprocess.run([str(SVCBENCH), "probes", "--json", "-w", str(ws.root)],
                                capture_output=True, text=True, timeout=60)
        (row,) = __import__("json").loads(listed.stdout)
        assert row["awaiting_collection"] and "awaiting collection" in row["reason"]
        results = subprocess.run([str(SVCBENCH), "results", "-w", str(ws.root)],
                                 capture_output=True, text=True, timeout=60)
        assert results.returncode == 0, results.stderr
        assert "1 probe(s) past their deadline are awaiting collection" in results.stderr
        with ws.store.transaction() as conn:
            conn.execute("UPDATE probes SET deadline_at = ? WHERE id = ?",
                         (format_instant(deadline), probe_id))
        sandbox.imap.resume()
        tick_at(deadline + timedelta(minutes=30))
        done = ws.store.get_probe(probe_id)
        assert done.outcome == Outcome.ANSWERED  # the reply that was there all along
        ws.close()


@needs_dovecot
def test_connection_dropped_during_data_is_concluded_from_our_copy_in_the_mailbox(
        tmp_path, monkeypatch):
    import asyncio

    from svcbench.schedule import Ticker

    companies = [CompanyBehaviour("dropco", ack_after_s=None, human_after_s=None)]
    with MailSandbox(tmp_path / "sandbox", companies=companies) as sandbox:
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        ws = make_workspace(tmp_path / "ws", sandbox)
        (probe_id,) = plan_email_probes(ws, ["dropco"])
        sandbox.on_data = lambda received: "drop"  # delivered, but no 250 reaches us
        report = asyncio.run(Ticker(ws).run())
        probe = ws.store.get_probe(probe_id)
        assert len(sandbox.received) == 1
        assert probe.status == ProbeStatus.RUNNING, probe.outcome_reason
        assert report.started == 1 and report.finished == {}
        (sent,) = [e for e in ws.store.events(probe_id) if e.kind == "email.sent"]
        assert sent.source == "imap.internaldate"  # the copy's arrival, on the server clock
        assert sent.data["message_id"] == sandbox.received[0].message_id
        ws.close()


def test_chat_against_an_http_server_trickling_headers_ends_within_its_timeouts(tmp_path):
    """httpx's timeouts bound each read only; the chat script's phase deadlines bound the
    whole conversation, so a trickling platform cannot hold a tick."""
    import asyncio
    import time

    from svcbench.errors import ProbeError
    from svcbench.plugins import probe_plugin
    from svcbench.sandbox.faults import TricklingServer
    from svcbench.tomlwrite import toml_table
    from svcbench.workspace import init_workspace

    root = init_workspace(tmp_path / "ws", examples=False)
    with TricklingServer("http", interval_s=0.2) as server:
        (root / "probes" / "chat.toml").write_text("""
[[scenario]]
id = "quick-chat"
question = "Do you ship to Norway?"
[scenario.chat]
connect_timeout_s = 2
first_reply_timeout_s = 2
human_timeout_s = 2
follow_up_timeout_s = 1
""" + toml_table("company", {"id": "slowchat", "name": "Slow Chat", "channels": {"chat": {
            "connector": "rest", "base_url": f"http://127.0.0.1:{server.port}"}}}))
        ws = Workspace.open(root)
        now = utcnow()
        probe = Probe(id=new_id(), company="slowchat", channel=Channel.CHAT, plugin="chat",
                      scenario="quick-chat", status=ProbeStatus.STARTING, due_at=now,
                      deadline_at=now + timedelta(minutes=5))
        ws.store.add_probe(probe)
        started = time.monotonic()
        with pytest.raises(ProbeError):
            asyncio.run(asyncio.wait_for(probe_plugin("chat").start(probe, ws.context()), 60))
        assert time.monotonic() - started < 15
        assert server.connections >= 1
        ws.close()


def test_lock_held_after_its_process_died_is_reported_as_stale(tmp_path):
    """The run that wrote the lock file is gone, but a child it forked still holds the lock."""
    from svcbench.schedule import LOCK_FILE
    from svcbench.workspace import init_workspace

    root = init_workspace(tmp_path / "ws", examples=False)
    holder = _lock_holder(root / LOCK_FILE, (
        "child = os.fork()\n"
        "if child == 0:\n"
        "    time.sleep(60); os._exit(0)\n"  # the child keeps the locked file open
        "print(os.getpid(), child, flush=True)\n"))
    parent, child = map(int, holder.stdout.readline().split())
    holder.wait()
    try:
        result = subprocess.run([str(SVCBENCH), "tick", "-w", str(root)], capture_output=True,
                                text=True, timeout=60)
    finally:
        os.kill(child, 9)
    assert result.returncode == 75
    assert result.stderr.count("\n") == 1
    assert "stale lock" in result.stderr and f"pid {parent}" in result.stderr
    assert "no longer running" in result.stderr
