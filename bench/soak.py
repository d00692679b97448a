"""Soak: an hour of cron ticks compressed into a few minutes, against the mail sandbox, with
random faults on our side. Prints what must stay at zero.

Every company gets exactly one email probe, so "contacts per probe" is the number of messages
the company's address received. Between the sandbox and the shopper's configured SMTP/IMAP
ports sit loopback fault proxies that switch every few seconds between ok, down (connection
closed at once), slow (each chunk delayed) and trickling (endless ``220-`` / ``* OK`` lines);
the SMTP server also sometimes drops the connection after taking DATA. Ticks run as real
``svcbench tick`` processes every ``--interval`` seconds; some are killed with SIGKILL at a
random moment. As root the workspace lives on a small ext4 loop device that is filled to the
last block now and then (disk full); otherwise that fault is skipped.

Figures (all must be 0 except the first, which must be <= 1):
- max contacts per probe;
- lost events: messages a company received with no ``email.sent`` stored, plus human replies
  delivered before a probe's deadline that a concluded probe does not have;
- probes blamed for our faults: unanswered/auto-only although the company was never reached,
  or its human reply arrived before the deadline;
- ticks over budget: a tick whose own run (its ``elapsed_s``) exceeded the budget plus 3 s
  (one operation started just before the budget ran out), or that hung.

    .venv/bin/python bench/soak.py [--minutes 4] [--companies 30] [--seed 1]

Loopback only; bounded by --minutes plus a final drain of at most two minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from loopfs import LoopFS, loop_unavailable  # noqa: E402
from mailservers import SCENARIO  # noqa: E402
from svcbench.models import Channel, Probe, new_id, utcnow  # noqa: E402
from svcbench.sandbox.mail import CompanyBehaviour, MailSandbox  # noqa: E402
from svcbench.sandbox.mail_servers import free_port  # noqa: E402
from svcbench.tomlwrite import toml_table  # noqa: E402
from svcbench.workspace import Workspace, init_workspace  # noqa: E402

SVCBENCH = Path(sys.executable).with_name("svcbench")
TRICKLE = {"smtp": b"220-mail.example.test still getting ready\r\n",
           "imap": b"* OK still working on it\r\n"}
BUDGET_S = 8.0
OVER_BUDGET_SLACK_S = 3.0


class FaultProxy:
    """TCP proxy on 127.0.0.1 to ``upstream``; ``mode`` applies to new connections."""

    def __init__(self, kind: str, upstream: int):
        self.kind, self.upstream = kind, upstream
        self.mode = "ok"
        self.port = free_port()
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self.counts[self.mode] += 1
            threading.Thread(target=self._serve, args=(conn, self.mode), daemon=True).start()

    def _serve(self, conn: socket.socket, mode: str) -> None:
        with contextlib.suppress(OSError), conn:
            if mode == "down":
                return
            if mode == "trickle":
                if self.kind == "imap":
                    conn.sendall(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
                while not self._stop.wait(0.2):
                    conn.sendall(TRICKLE[self.kind])
                return
            with socket.create_connection(("127.0.0.1", self.upstream), timeout=5) as up:
                self._pipe(conn, up, delay=0.15 if mode == "slow" else 0.0)

    def _pipe(self, a: socket.socket, b: socket.socket, delay: float) -> None:
        peers = {a: b, b: a}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(peers), [], [], 0.5)
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                if delay:
                    time.sleep(delay)
                peers[sock].sendall(data)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


def workspace(root: Path, sandbox: MailSandbox, smtp: FaultProxy, imap: FaultProxy) -> Path:
    root = init_workspace(root, examples=False)
    text = (root / "svcbench.toml").read_text()
    (root / "svcbench.toml").write_text(text.replace(
        "[workspace]", f'[workspace]\ntick_budget = "{BUDGET_S:g}s"\nlog_file = "tick.log"\n'
        'retry_backoff = "2s"\nretry_backoff_max = "8s"', 1))  # minutes, compressed
    shopper = sandbox.shopper_config()
    shopper["smtp"].update(port=smtp.port, timeout_s=2.0, deadline_s=4.0)
    shopper["imap"].update(port=imap.port, timeout_s=2.0, deadline_s=5.0)
    parts = [toml_table("shopper", shopper)]
    parts += [toml_table("company", c) for c in sandbox.companies_config()]
    (root / "probes" / "soak.toml").write_text("\n".join(parts) + SCENARIO)
    return root


def behaviours(n: int, rng: random.Random) -> list[CompanyBehaviour]:
    out = []
    for i in range(n):
        kind = rng.choice(["human", "human", "ack_human", "ack_only", "silent"])
        out.append(CompanyBehaviour(
            f"soak{i:02d}", helpdesk=kind == "ack_human",
            ack_after_s=1.0 if kind in ("ack_human", "ack_only") else None,
            human_after_s=rng.uniform(2, 12) if kind in ("human", "ack_human") else None))
    return out


def plan(root: Path, companies: list[CompanyBehaviour], spread_s: float,
         deadline_s: float, rng: random.Random) -> None:
    ws = Workspace.open(root)
    now = utcnow()
    with ws.store.transaction():
        for company in companies:
            due = now + timedelta(seconds=rng.uniform(0, spread_s))
            ws.store.add_probe(Probe(id=new_id(), company=company.id, channel=Channel.EMAIL,
                                     plugin="email", scenario="shipping", shopper="anna",
                                     due_at=due, deadline_at=due + timedelta(seconds=deadline_s)))
    ws.close()


def run_tick(root: Path, env: dict[str, str],
             kill_after: float | None) -> tuple[int, float, float | None]:
    """(exit code or -9, wall seconds, the tick's own elapsed_s from its --json)."""
    started = time.monotonic()
    proc = subprocess.Popen([str(SVCBENCH), "tick", "-w", str(root), "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out, _ = proc.communicate(timeout=kill_after if kill_after else BUDGET_S * 6)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        # killed on purpose, or hung past six budgets (then it counts as over budget)
        return (-9 if kill_after else 124), time.monotonic() - started, None
    wall = time.monotonic() - started
    try:
        summary = json.loads(out) if proc.returncode == 0 else {}
    except ValueError:
        summary = {}
    elapsed = summary.get("elapsed_s")
    if elapsed is not None and elapsed > BUDGET_S + OVER_BUDGET_SLACK_S:
        print(f"  over budget: {elapsed:.1f} s, steps {summary.get('step_s')}, "
              f"failed {summary.get('failed')}")
    return proc.returncode, wall, elapsed


def _mid(value: str | None) -> str:
    return (value or "").strip().strip("<>").lower()


def figures(root: Path, sandbox: MailSandbox) -> dict:
    db = sqlite3.connect(f"file:{root / 'svcbench.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    probes = {r["company"]: dict(r) for r in db.execute("SELECT * FROM probes")}
    events: dict[str, list[dict]] = {}
    for r in db.execute("SELECT probe_id, kind, data FROM events"):
        events.setdefault(r["probe_id"], []).append({"kind": r["kind"],
                                                     "data": json.loads(r["data"])})
    contacts = Counter(rcpt.split("@")[1].split(".")[0] for r in sandbox.received
                       for rcpt in r.rcpt_tos if rcpt.startswith("support@"))
    lost = blamed = 0
    lost_detail = []
    for company, probe in probes.items():
        kinds = [e["kind"] for e in events.get(probe["id"], [])]
        if contacts[company] and "email.sent" not in kinds:
            lost += 1
            lost_detail.append(f"{company}: reached, no email.sent ({probe['status']}, "
                               f"{probe['outcome_reason']})")
        deadline = probe["deadline_at"]
        human_in_time = [d for d in sandbox.ground_truth if d.company == company
                         and d.kind == "human" and d.delivered_at.isoformat() < deadline]
        got = {_mid(e["data"].get("message_id")) for e in events.get(probe["id"], [])
               if e["kind"] == "email.received"}
        if probe["outcome"] in ("answered", "answered_auto_only", "unanswered"):
            missing = [d for d in human_in_time if _mid(d.message_id) not in got]
            lost += len(missing)
            lost_detail += [f"{company}: human reply {d.message_id} not stored"
                            for d in missing]
        if probe["outcome"] in ("unanswered", "answered_auto_only") and (
                not contacts[company] or human_in_time):
            blamed += 1
            truth = [(d.kind, d.delivered_at.isoformat()) for d in sandbox.ground_truth
                     if d.company == company]
            seen = [(e["kind"], e["data"].get("kind"), e["data"].get("reasons"))
                    for e in events.get(probe["id"], [])]
            lost_detail.append(f"BLAMED {company}: {probe['outcome']} deadline {deadline}, "
                               f"contacts {contacts[company]}, truth {truth}, events {seen}")
    db.close()
    reasons = Counter(" ".join(str(p["outcome_reason"]).split()[:12]) for p in probes.values()
                      if p["outcome"] == "failed")
    return {"reasons": reasons, "lost_detail": lost_detail, "probes": len(probes),
            "max_contacts": max(contacts.values(), default=0),
            "contacted": sum(1 for c in probes if contacts[c]), "lost": lost, "blamed": blamed,
            "outcomes": Counter(str(p["outcome"] or p["status"]) for p in probes.values())}


def main() -> None:
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # the dropped SMTP connections
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--companies", type=int, default=30)
    parser.add_argument("--interval", type=float, default=2.5, help="seconds between ticks")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    run_s = args.minutes * 60
    spread_s, deadline_s = run_s * 0.5, run_s * 0.35
    companies = behaviours(args.companies, rng)
    ticks: list[tuple[int, float]] = []
    faults: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="svcbench-soak-") as tmp, contextlib.ExitStack() \
            as stack:
        tmp_path = Path(tmp)
        disk = None
        if loop_unavailable() is None:
            disk = stack.enter_context(LoopFS(tmp_path / "disk.img", size_mb=64))
            home = disk.mount
        else:
            print(f"disk-full faults skipped: {loop_unavailable()}")
            home = tmp_path
        sandbox = stack.enter_context(MailSandbox(tmp_path / "sandbox", companies=companies))
        smtp = FaultProxy("smtp", sandbox.smtp_starttls_port)
        imap_upstream = (sandbox.imap.imaps_port if sandbox.imap_security == "tls"
                         else sandbox.imap.imap_port)
        imap = FaultProxy("imap", imap_upstream)
        stack.callback(smtp.close)
        stack.callback(imap.close)
        drop = {"on": False}
        sandbox.on_data = lambda received: "drop" if drop["on"] else None
        root = workspace(home / "ws", sandbox, smtp, imap)
        plan(root, companies, spread_s, deadline_s, rng)
        env = {**os.environ, **sandbox.env()}
        began = time.monotonic()
        next_switch = began
        print(f"soak: {args.companies} companies, one email probe each, due over {spread_s:.0f} s, "
              f"deadline {deadline_s:.0f} s, a tick every {args.interval:g} s for "
              f"{run_s:.0f} s, budget {BUDGET_S:g} s, {sandbox.imap.__class__.__name__}")
        while time.monotonic() - began < run_s:
            if time.monotonic() >= next_switch:
                smtp.mode = rng.choice(["ok", "ok", "ok", "down", "slow", "trickle"])
                imap.mode = rng.choice(["ok", "ok", "ok", "down", "slow", "trickle"])
                drop["on"] = rng.random() < 0.1
                full = disk is not None and rng.random() < 0.12
                if disk is not None:
                    (disk.mount / ".fill").unlink(missing_ok=True)
                    if full:
                        disk.fill()
                faults.update([f"smtp {smtp.mode}", f"imap {imap.mode}"]
                              + (["smtp drop after DATA"] if drop["on"] else [])
                              + (["disk full"] if full else []))
                next_switch = time.monotonic() + rng.uniform(5, 12)
            kill = rng.uniform(0.2, 3.0) if rng.random() < 0.15 else None
            ticks.append(run_tick(root, env, kill))
            time.sleep(max(0.0, args.interval - ticks[-1][1]))
        # repair everything and let the last deadlines pass and the probes conclude
        smtp.mode = imap.mode = "ok"
        drop["on"] = False
        if disk is not None:
            (disk.mount / ".fill").unlink(missing_ok=True)
        drain_until = time.monotonic() + 120
        while time.monotonic() < drain_until:
            ticks.append(run_tick(root, env, None))
            summary = figures(root, sandbox)
            if not set(summary["outcomes"]) & {"planned", "starting", "running"}:
                break
            time.sleep(args.interval)
        summary = figures(root, sandbox)
    codes = Counter("killed" if code == -9 else f"exit {code}" for code, _, _ in ticks)
    walls = sorted(wall for code, wall, _ in ticks if code != -9)
    own = sorted(e for _, _, e in ticks if e is not None)
    over = sum(1 for code, wall, e in ticks if code == 124 or
               (e if e is not None else 0) > BUDGET_S + OVER_BUDGET_SLACK_S)
    print(f"ticks: {len(ticks)} ({', '.join(f'{n} {k}' for k, n in sorted(codes.items()))}); "
          f"tick's own time: longest {own[-1]:.1f} s, median {own[len(own) // 2]:.1f} s; "
          f"process wall time (with start-up on a loaded machine): longest {walls[-1]:.1f} s, "
          f"median {walls[len(walls) // 2]:.1f} s")
    print("fault periods: " + ", ".join(f"{k} {n}" for k, n in sorted(faults.items())))
    print(f"proxied connections: smtp {dict(smtp.counts)}, imap {dict(imap.counts)}")
    print(f"outcomes: {dict(summary['outcomes'])}; contacted {summary['contacted']} of "
          f"{summary['probes']}")
    for reason, n in summary["reasons"].most_common():
        print(f"  failed (our side) x{n}: {reason}")
    for line in summary["lost_detail"]:
        print(f"  lost: {line}")
    print(f"max contacts per probe:         {summary['max_contacts']}  (must be <= 1)")
    print(f"lost events:                    {summary['lost']}  (must be 0)")
    print(f"probes blamed for our faults:   {summary['blamed']}  (must be 0)")
    print(f"ticks over budget:              {over}  (must be 0; budget {BUDGET_S:g} s "
          f"+ {OVER_BUDGET_SLACK_S:g} s)")
    ok = summary["max_contacts"] <= 1 and not summary["lost"] and not summary["blamed"] \
        and not over
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
