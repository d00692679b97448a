"""Throwaway IMAP servers on loopback: Dovecot where installed, else pymap (pure Python).

Both offer the same small API: ``start()``, ``stop()``, ``deliver(rcpt, raw)`` (returns the
instant the server accepted the message) and the ports to reach them.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from ..models import utcnow

DOVECOT = "/usr/sbin/dovecot"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different free ports: one ``free_port()`` after another can return the same
    port again once its socket is closed."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


START_ATTEMPTS = 3


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed cert for localhost/127.0.0.1 made with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def stop_process(proc: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM, wait, then SIGKILL: a server we started never outlives its sandbox."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _ImapServer:
    """What both throwaway IMAP servers offer: a plain-IMAP client, start/stop as a context."""

    imap_port: int
    users: dict[str, str]

    def start(self):  # pragma: no cover - both subclasses define it
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def imap(self, user: str, folder: str | None = None) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        client.login(user, self.users[user])
        if folder:
            client.select(folder)
        return client

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dovecot_available() -> bool:
    # mail processes run as nobody, so the master must be able to switch users: root only
    return Path(DOVECOT).is_file() and os.geteuid() == 0


_DOVECOT_CONF = """\
# Throwaway Dovecot for svcbench tests and demo
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = {instance}
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
# tests fail logins on purpose: no 2 s delay and no growing per-IP penalty on loopback
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
mail_location = maildir:{dir}/mail/%u
default_login_user = dovenull
default_internal_user = dovecot
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
mail_log_prefix = "%s(%u)<%{{pid}}>: "
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={dir}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Junk {{
    special_use = \\Junk
    auto = create
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
"""


class DovecotServer(_ImapServer):
    """A Dovecot 2.3 instance in its own short temp dir (unix socket paths are limited)."""

    kind = "dovecot"

    def __init__(self, users: dict[str, str], *, log_commands: bool = False):
        self.users = dict(users)
        self.log_commands = log_commands
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.imap_port = self.imaps_port = self.lmtp_port = 0
        self.cert_file: Path | None = None

    def start(self) -> DovecotServer:
        self.dir = Path(tempfile.mkdtemp(prefix="svcdc", dir="/tmp"))
        self.dir.chmod(0o755)  # auth runs as the dovecot user
        self.cert_file, key = make_certificate(self.dir)
        key.chmod(0o644)
        (self.dir / "users").write_text(
            "".join(f"{user}:{{PLAIN}}{pw}::::::\n" for user, pw in self.users.items()))
        (self.dir / "mail").mkdir()
        shutil.chown(self.dir / "mail", "nobody", "nogroup")
        for attempt in range(1, START_ATTEMPTS + 1):
            # a port free a moment ago may be taken before Dovecot binds it: a failed start
            # is tried again on fresh ports
            self.imap_port, self.imaps_port, self.lmtp_port = free_ports(3)
            conf = self.dir / "dovecot.conf"
            conf.write_text(_DOVECOT_CONF.format(
                dir=self.dir, instance=self.dir.name, cert=self.cert_file, key=key,
                imap_port=self.imap_port, imaps_port=self.imaps_port, lmtp_port=self.lmtp_port,
            ))
            try:
                self._launch()
                return self
            except RuntimeError:
                if attempt == START_ATTEMPTS:
                    self.stop()
                    raise
        raise AssertionError("unreachable")

    def _launch(self) -> None:
        assert self.dir is not None
        conf = self.dir / "dovecot.conf"
        # doveconf's errors come before Dovecot opens its log: keep them for the message
        stderr = self.dir / "dovecot.stderr"
        with stderr.open("wb") as err:
            self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)],
                                         stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_for_port(self.imap_port, proc=self.proc)
            wait_for_port(self.lmtp_port, proc=self.proc)
        except RuntimeError as exc:
            self._terminate()
            said = "".join(path.read_text(errors="replace")[-1000:]
                           for path in (stderr, self.dir / "dovecot.log") if path.exists())
            raise RuntimeError(f"dovecot did not start: {exc}\n{said}") from None

    def pause(self) -> None:
        """Stop the server but keep its mail and config (see ``resume``)."""
        self._terminate()

    def resume(self) -> None:
        self._launch()

    def _terminate(self) -> None:
        stop_process(self.proc, timeout=15)
        self.proc = None

    def stop(self) -> None:
        self._terminate()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        assert self.dir is not None
        base = self.dir / "mail" / user
        return base if folder == "INBOX" else base / f".{folder}"

    def deliver(self, rcpt: str, raw: bytes, mail_from: str = "") -> datetime:
        """LMTP delivery; returns the instant Dovecot answered 250."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as lmtp:
            lmtp.sendmail(mail_from, [rcpt], raw)
            return utcnow()



class PymapServer(_ImapServer):
    """pymap's in-memory backend in a subprocess: one user, plain IMAP, delivery by APPEND."""

    kind = "pymap"

    def __init__(self, users: dict[str, str]):
        if len(users) != 1:
            raise ValueError("the pymap sandbox serves exactly one user")
        self.users = dict(users)
        self.proc: subprocess.Popen | None = None
        self.imap_port = 0
        self.imaps_port = 0
        self.lmtp_port = 0
        self.cert_file: Path | None = None

    def start(self) -> PymapServer:
        (user, password), = self.users.items()
        self.imap_port = free_port()
        exe = Path(sys.executable).with_name("pymap")
        self.proc = subprocess.Popen(
            [str(exe) if exe.exists() else "pymap", "--host", "127.0.0.1", "--port",
             str(self.imap_port), "--no-tls", "dict", f"--demo-user={user}",
             # '=' form: a random password may start with '-' and look like an option
             f"--demo-password={password}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.imap_port, proc=self.proc)
        with contextlib.suppress(imaplib.IMAP4.error), self.imap(user) as client:
            for folder in ("Junk", "Sent"):
                client.create(folder)
        return self

    def stop(self) -> None:
        stop_process(self.proc, timeout=10)
        self.proc = None

    def deliver(self, rcpt: str, raw: bytes, mail_from: str = "") -> datetime:
        (user, _), = self.users.items()
        with self.imap(user) as client:
            now = utcnow()
            client.append("INBOX", None, imaplib.Time2Internaldate(now.timestamp()), raw)
            return now



def imap_server(users: dict[str, str], backend: str = "auto") -> DovecotServer | PymapServer:
    """Dovecot if it is installed (and we may run it), else pymap."""
    if backend == "dovecot" or (backend == "auto" and dovecot_available()):
        return DovecotServer(users)
    return PymapServer(users)


def client_context(cert_file: Path | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert_file) if cert_file else None)
