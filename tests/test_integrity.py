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
from svcbench.models import Channel, Probe, ProbeStatus, new_id, utcnow
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
        assert first.returncode == 3, (first.returncode, first.stderr)
        assert first.stderr.count("\n") == 1 and "Traceback" not in first.stderr
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
