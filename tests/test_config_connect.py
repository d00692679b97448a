"""`config check --connect` against real servers on loopback: the mail sandbox (Dovecot or
pymap for IMAP, aiosmtpd with STARTTLS/TLS for SMTP) and the sandbox chat company."""

from __future__ import annotations

import csv
import io
import json

import pytest

from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox
from svcbench.sandbox.mail import CompanyBehaviour, MailSandbox
from svcbench.sandbox.mail_servers import free_port
from svcbench.tomlwrite import toml_table
from svcbench.workspace import init_workspace

WRONG = "not-the-password-7f3a"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    with MailSandbox(tmp_path_factory.mktemp("mail"),
                     companies=[CompanyBehaviour("acme")]) as mail, \
            ChatSandbox({"acme": ChatBehaviour()}) as chat:
        yield mail, chat


def _workspace(directory, mail, chat, *, broken: bool):
    closed = free_port()  # nothing listens there
    anna = mail.shopper_config()
    shoppers = [anna]
    acme = {"id": "acme", "name": "Acme", "website": "https://www.acme.test", "timezone": "UTC",
            "channels": {"chat": {"connector": "rest", "base_url": chat.url("acme")},
                         "form": {"url": chat.url("acme") + "/widget"}}}
    companies = [acme]
    if broken:
        bob = mail.shopper_config(id="bob", smtp_security="tls")
        for kind in ("smtp", "imap"):
            bob[kind]["password_env"] = "SVCBENCH_TEST_WRONG_PASSWORD"
        carl = mail.shopper_config(id="carl")
        carl["smtp"]["port"] = closed
        del carl["imap"]
        dora = mail.shopper_config(id="dora")  # the sandbox's self-signed CA not trusted
        del dora["smtp"]["ca_file"], dora["imap"]
        shoppers += [bob, carl, dora]
        companies.append({
            "id": "gone", "name": "Gone", "timezone": "UTC",
            "channels": {"chat": {"connector": "rest",
                                  "base_url": f"http://127.0.0.1:{closed}/c/gone"},
                         "form": {"url": chat.base_url + "/no/such/page"}}})
    root = init_workspace(directory, examples=False)
    (root / "probes" / "connect.toml").write_text(
        "".join(toml_table("shopper", s) for s in shoppers)
        + "".join(toml_table("company", c) for c in companies))
    return root, closed


def _env(mail):
    return {**mail.env(), "SVCBENCH_TEST_WRONG_PASSWORD": WRONG}


def test_connect_says_ok_or_fail_per_check_and_never_prints_secrets(servers, tmp_path, cli):
    mail, chat = servers
    root, closed = _workspace(tmp_path / "ws", mail, chat, broken=True)
    done = cli("config", "check", "--connect", "--timeout", "5", cwd=root, env=_env(mail))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    checks = [line for line in lines if line.startswith(("OK ", "FAIL "))]

    def line(verdict, check, subject):
        [found] = [x for x in checks if x.startswith(f"{verdict} {check} {subject}:")]
        return found

    assert "logged in as anna@shopper.test" in line("OK", "smtp", "shopper anna")
    assert "STARTTLS" in line("OK", "smtp", "shopper anna")
    assert "logged in as anna@shopper.test" in line("OK", "imap", "shopper anna")
    assert "authentication failed for user 'anna@shopper.test'" in \
        line("FAIL", "smtp", "shopper bob")
    assert "login failed for user 'anna@shopper.test'" in line("FAIL", "imap", "shopper bob")
    assert f"127.0.0.1:{closed}: cannot connect" in line("FAIL", "smtp", "shopper carl")
    assert "TLS failed" in line("FAIL", "smtp", "shopper dora")
    assert "set shopper.smtp.ca_file" in line("FAIL", "smtp", "shopper dora")
    assert "HTTP 404 (the server answers)" in line("OK", "chat", "company acme")
    assert "cannot connect" in line("FAIL", "chat", "company gone")
    assert "HTTP 200 (the page loads)" in line("OK", "form", "company acme")
    assert "HTTP 404" in line("FAIL", "form", "company gone")
    assert len(checks) == 10
    assert "OK " + str(root) not in lines  # not the all-clear line
    for secret in (mail.password, WRONG):
        assert secret not in done.stdout + done.stderr

    as_json = cli("config", "check", "--connect", "--json", cwd=root, env=_env(mail))
    assert as_json.returncode == 1
    data = json.loads(as_json.stdout)
    assert data["ok"] is False
    verdicts = {(c["check"], c["subject"]): c["ok"] for c in data["connections"]}
    assert verdicts == {("smtp", "shopper anna"): True, ("imap", "shopper anna"): True,
                        ("smtp", "shopper bob"): False, ("imap", "shopper bob"): False,
                        ("smtp", "shopper carl"): False, ("smtp", "shopper dora"): False,
                        ("chat", "company acme"): True,
                        ("chat", "company gone"): False, ("form", "company acme"): True,
                        ("form", "company gone"): False}
    as_csv = cli("config", "check", "--connect", "--csv", cwd=root, env=_env(mail))
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == ["check", "subject", "target", "ok", "detail"]
    assert {(r["check"], r["ok"]) for r in rows if r["check"] == "secret"} == \
        {("secret", "yes")}
    assert len([r for r in rows if r["check"] != "secret"]) == 10
    for secret in (mail.password, WRONG):
        assert secret not in as_json.stdout + as_csv.stdout


def test_connect_all_good_exits_0_and_unset_secret_still_exits_2(servers, tmp_path, cli):
    mail, chat = servers
    root, _ = _workspace(tmp_path / "ws", mail, chat, broken=False)
    done = cli("config", "check", "--connect", cwd=root, env=_env(mail))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sum(line.startswith("OK ") for line in done.stdout.splitlines()) == 5  # + all-clear
    # the password variable unset: the logins fail naming it, and the exit says "config"
    done = cli("config", "check", "--connect", "--nl", cwd=root,
               env={"SVCBENCH_SANDBOX_PASSWORD": ""})
    assert done.returncode == 2
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    mail_rows = [r for r in rows if r["check"] in ("smtp", "imap")]
    assert mail_rows and all(not r["ok"] and "SVCBENCH_SANDBOX_PASSWORD" in r["detail"]
                             for r in mail_rows)
    assert done.stderr == ""


def test_chat_url_is_what_the_connector_reaches_first():
    from svcbench.connections import chat_url

    # the connector's default applies: the check reaches what a probe would
    assert chat_url({"connector": "livechat", "organization_id": "org-1"}) == \
        ("https://api.livechatinc.com", False)
    assert chat_url({"connector": "browser", "url": "https://shop.example/help"}) == \
        ("https://shop.example/help", True)
    assert chat_url({"connector": "websocket", "start": False,
                     "ws_url": "wss://chat.example/socket"}) == ("https://chat.example/socket",
                                                                 False)
    # a templated WebSocket URL names no fixed place to reach
    assert chat_url({"connector": "websocket", "start": False,
                     "ws_url": "wss://chat.example/{token}"}) is None
