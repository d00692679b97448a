"""Starting the sandbox's Dovecot: a port taken between choosing it and binding it is
not a failed test run, and a Dovecot that cannot start says why."""

from __future__ import annotations

import imaplib
import socket

import pytest

from svcbench.sandbox import mail_servers
from svcbench.sandbox.mail_servers import DovecotServer


def test_a_port_taken_before_dovecot_binds_it_is_chosen_again(monkeypatch):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    chosen = iter([mail_servers.free_port(), mail_servers.free_port(), taken.getsockname()[1]])
    real = mail_servers.free_port
    monkeypatch.setattr(mail_servers, "free_port", lambda: next(chosen, None) or real())
    server = DovecotServer({"shopper@example.test": "pw"}).start()
    try:
        assert server.lmtp_port != taken.getsockname()[1]
        with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10) as imap:
            assert imap.login("shopper@example.test", "pw")[0] == "OK"
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
