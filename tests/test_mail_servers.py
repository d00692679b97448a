"""Starting the sandbox's Dovecot: ports chosen badly or taken before Dovecot binds them are
not a failed test run, and a Dovecot that cannot start says why."""

from __future__ import annotations

import imaplib
import socket

import pytest

from svcbench.sandbox import mail_servers
from svcbench.sandbox.mail_servers import DovecotServer, free_ports


def _login(server: DovecotServer) -> str:
    with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10) as imap:
        return imap.login("shopper@example.test", "pw")[0]


def test_free_ports_are_all_different():
    ports = free_ports(200)
    assert len(set(ports)) == 200 and all(1024 < port < 65536 for port in ports)


@pytest.mark.parametrize("first_pick", ["the same port twice", "a port already listened on"])
def test_ports_that_cannot_be_bound_are_chosen_again(monkeypatch, first_pick):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    a, b = free_ports(2)
    # CI once drew one port twice: doveconf refused a duplicate listener, exit 89
    bad = [a, b, a] if first_pick == "the same port twice" else [a, b, taken.getsockname()[1]]
    picks = iter([bad])
    monkeypatch.setattr(mail_servers, "free_ports", lambda n: next(picks, None) or free_ports(n))
    server = DovecotServer({"shopper@example.test": "pw"}).start()
    try:
        assert server.lmtp_port not in (a, taken.getsockname()[1])
        assert _login(server) == "OK"
    finally:
        server.stop()
        taken.close()


def test_a_dovecot_that_cannot_start_says_what_it_said(monkeypatch):
    monkeypatch.setattr(mail_servers, "_DOVECOT_CONF",
                        mail_servers._DOVECOT_CONF + "no_such_setting_here = 1\n")
    launches = []
    real = DovecotServer._launch
    monkeypatch.setattr(DovecotServer, "_launch", lambda self: launches.append(1) or real(self))
    server = DovecotServer({"shopper@example.test": "pw"})
    with pytest.raises(RuntimeError, match="(?s)dovecot did not start.*no_such_setting_here"):
        server.start()
    assert len(launches) == mail_servers.START_ATTEMPTS
    assert server.dir is None and server.proc is None
