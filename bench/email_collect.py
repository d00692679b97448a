"""Email collection at scale: a 10,000-message mailbox, a first and a second collection.

Fills a Dovecot maildir directly (fast; INTERNALDATE = file mtime) with N messages: mostly
newsletters, some mail from the company's domain, and a few threaded replies to open probes.
Times a first collection (headers of everything since the oldest open probe, bodies only for
candidates), a second one (target: nothing fetched) and a third after one new reply.

    .venv/bin/python bench/email_collect.py [--messages 10000]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mailservers import (  # noqa: E402
    PASSWORD,
    USER,
    imap_workspace,
    reply_bytes,
    secrets,
    sent_probe,
)
from svcbench.probes.email.collect import collect  # noqa: E402
from svcbench.sandbox.mail_servers import DovecotServer, dovecot_available  # noqa: E402


def fill_maildir(server: DovecotServer, n: int, probes) -> int:
    """Write ``n`` messages into the user's maildir; return how many are replies to probes."""
    new = server.maildir(USER) / "new"
    for sub in ("new", "cur", "tmp"):
        (server.maildir(USER) / sub).mkdir(parents=True, exist_ok=True)
    now = time.time()
    replies = 0
    for i in range(n):
        if i % 1000 == 500:
            probe = probes[(i // 1000) % len(probes)]
            raw = reply_bytes(in_reply_to=probe.state["message_id"], body=f"Answer {i}")
            replies += 1
        elif i % 100 == 7:
            raw = reply_bytes(subject=f"Your invoice {i}", sender="billing@acme.test",
                              body="Invoice attached.")
        else:
            raw = reply_bytes(subject=f"Newsletter {i}: autumn sale",
                              sender=f"news@shop{i % 50}.example", body="Big discounts! " * 40,
                              extra="List-Unsubscribe: <mailto:u@x.example>")
        path = new / f"{int(now)}.M{i}P1.bench"
        path.write_bytes(raw)
        stamp = now - 1800 + i * 0.1  # spread over the last half hour, oldest first
        os.utime(path, (stamp, stamp))
    shutil.chown(server.maildir(USER), "nobody", "nogroup")
    for root, dirs, files in os.walk(server.maildir(USER)):
        for name in dirs + files:
            shutil.chown(os.path.join(root, name), "nobody", "nogroup")
    return replies


def timed(ws, label):
    start = time.perf_counter()
    report = collect(ws.config, ws.store, secrets=secrets())
    seconds = time.perf_counter() - start
    inbox = report.mailboxes[0]
    print(f"{label:28} {seconds:7.2f} s   headers {inbox.headers_fetched:6}   "
          f"bodies {inbox.bodies_fetched:5}   matched {inbox.matched:3}   [{inbox.status}]")
    return inbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    if not dovecot_available():
        sys.exit("Dovecot is not installed (scripts/install-system-deps)")
    server = DovecotServer({USER: PASSWORD}).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ws = imap_workspace(Path(tmp) / "ws", server)
            probes = [sent_probe(ws, f"{c * 10}", sent_ago=timedelta(hours=1))
                      for c in "abcde"]
            start = time.perf_counter()
            replies = fill_maildir(server, args.messages, probes)
            print(f"filled maildir with {args.messages} messages ({replies} replies to "
                  f"{len(probes)} probes) in {time.perf_counter() - start:.1f} s")
            first = timed(ws, "first collection")
            second = timed(ws, "second collection (no news)")
            server.deliver(USER, reply_bytes(in_reply_to=probes[0].state["message_id"]))
            third = timed(ws, "third (one new reply)")
            stored = sum(len(ws.store.messages(p.id)) for p in probes)
            print(f"stored replies: {stored} (expected {replies + 1})")
            print(f"second run fetched {second.bodies_fetched} bodies and "
                  f"{second.headers_fetched} headers (target 0)")
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS of this process: {rss:.0f} MB")
            ok = (second.bodies_fetched == 0 and first.matched == replies
                  and third.matched == 1 and stored == replies + 1)
            ws.close()
    finally:
        server.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
