"""A thin IMAP layer over stdlib imaplib: connect (tls/starttls/none) with bounded retries,
STATUS, special-use folders, header/body FETCH parsed into records, and IDLE.

Only what collection needs; every network error surfaces as ``MailboxError`` with one line.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ...deadline import Watchdog

#: delays between connection attempts (seconds): few and bounded, cron runs again anyway
RETRY_DELAYS = (1.0, 3.0)

_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_DATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_STATUS_ITEM = re.compile(rb"(UIDNEXT|UIDVALIDITY|MESSAGES) (\d+)")
_LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\) (?P<sep>"[^"]*"|NIL) (?P<name>.+)$')


class MailboxError(Exception):
    """Cannot reach or use a mailbox; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True, attempts: int = 1):
        super().__init__(message)
        self.retryable = retryable
        self.attempts = attempts


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    internaldate: datetime
    size: int
    data: bytes


def parse_internaldate(text: bytes | str) -> datetime:
    """'23-Nov-2026 19:12:20 +0000' -> aware UTC datetime."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    value = datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z")
    return value.astimezone(UTC)


def quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _decode_folder(name: bytes) -> str:
    text = name.decode("utf-8", "replace").strip()
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def _watched(base: type[imaplib.IMAP4]) -> type[imaplib.IMAP4]:
    class Watched(base):  # type: ignore[misc, valid-type]
        """imaplib connects and reads the greeting in __init__: the watchdog follows the
        socket from the moment it exists (and after STARTTLS replaces it)."""

        def __init__(self, *args, watchdog: Watchdog, **kwargs):
            watchdog.follow(lambda: getattr(self, "sock", None))
            super().__init__(*args, **kwargs)

    Watched.__name__ = base.__name__
    return Watched


_IMAP4 = _watched(imaplib.IMAP4)
_IMAP4_SSL = _watched(imaplib.IMAP4_SSL)


class ImapSession:
    """One logged-in IMAP connection. Counts FETCH commands so callers can report them.

    ``watchdog`` bounds the whole session: when its deadline passes the socket is shut down
    and the blocked command fails (``deadline_error`` then says why)."""

    def __init__(self, client: imaplib.IMAP4, watchdog: Watchdog | None = None):
        self.client = client
        self.fetch_commands = 0
        self.watchdog = watchdog or Watchdog(None)

    def deadline_error(self) -> str | None:
        return str(self.watchdog.error()) if self.watchdog.expired else None

    # -- connecting ---------------------------------------------------------------------

    @classmethod
    def connect(cls, *, host: str, port: int, security: str, username: str | None,
                password: str | None, ca_file: Path | str | None = None,
                timeout: float = 30.0, watchdog: Watchdog | None = None) -> ImapSession:
        where = f"IMAP {host}:{port}"
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        own = watchdog is None
        watchdog = (watchdog or Watchdog(None)).start()
        try:
            return cls._connect(where, host, port, security, username, password, context,
                                timeout, watchdog)
        except BaseException:
            if own:
                watchdog.stop()
            raise

    @classmethod
    def _connect(cls, where, host, port, security, username, password, context, timeout,
                 watchdog: Watchdog) -> ImapSession:
        def late(exc: BaseException) -> str:
            return watchdog.error().args[0] if watchdog.expired else f"{type(exc).__name__}: {exc}"

        try:
            if security == "tls":
                client: imaplib.IMAP4 = _IMAP4_SSL(host, port, ssl_context=context,
                                                   timeout=timeout, watchdog=watchdog)
            else:
                client = _IMAP4(host, port, timeout=timeout, watchdog=watchdog)
                if security == "starttls":
                    client.starttls(ssl_context=context)
        except ssl.SSLError as exc:
            raise MailboxError(f"{where}: TLS failed: {exc.reason or exc} "
                               "(self-signed server? set imap.ca_file)", retryable=False) from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"{where}: cannot connect ({late(exc)})") from None
        try:
            client.login(username or "", password or "")
        except imaplib.IMAP4.abort as exc:
            _close(client)
            raise MailboxError(f"{where}: connection lost during login ({late(exc)})") from None
        except imaplib.IMAP4.error as exc:
            text = _one_line(exc)
            _close(client)
            # a wrong password is not retried: repeated failures can lock the account
            retryable = "UNAVAILABLE" in text.upper()
            raise MailboxError(f"{where}: login failed for user {username!r}: {text}",
                               retryable=retryable) from None
        except OSError as exc:
            _close(client)
            raise MailboxError(f"{where}: connection lost during login ({late(exc)})") from None
        return cls(client, watchdog)

    @classmethod
    def connect_with_retry(cls, *, delays: Iterable[float] = RETRY_DELAYS,
                           sleep: Callable[[float], None] = time.sleep,
                           watchdog: Watchdog | None = None, **kwargs) -> ImapSession:
        """``connect`` with exponential-ish backoff on retryable failures, all of it within
        the watchdog's deadline."""
        watchdog = (watchdog or Watchdog(None)).start()
        try:
            for attempts, delay in enumerate((*delays, None), start=1):
                try:
                    return cls.connect(watchdog=watchdog, **kwargs)
                except MailboxError as exc:
                    left = watchdog.left()
                    if (not exc.retryable or delay is None or watchdog.expired
                            or (left is not None and left < delay + 1)):
                        exc.attempts = attempts
                        raise
                    sleep(delay)
            raise AssertionError("unreachable")
        except BaseException:
            watchdog.stop()
            raise

    def close(self) -> None:
        _close(self.client)
        self.watchdog.stop()

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- mailboxes ------------------------------------------------------------------------

    def _ok(self, typ: str, data: list, what: str) -> list:
        if typ != "OK":
            raise MailboxError(f"{what}: {_one_line(data)}", retryable=False)
        return data

    def folders(self) -> list[tuple[str, set[str]]]:
        """(name, flags) for every folder, flags like '\\junk' lower-cased."""
        data = self._ok(*self.client.list(), "LIST")
        out = []
        for line in data:
            if not isinstance(line, bytes):
                continue
            found = _LIST_LINE.match(line)
            if found:
                flags = {f.lower() for f in found["flags"].decode().split()}
                out.append((_decode_folder(found["name"]), flags))
        return out

    def special_use(self, flag: str) -> str | None:
        flag = flag.lower()
        for name, flags in self.folders():
            if flag in flags:
                return name
        return None

    def status(self, folder: str) -> dict[str, int]:
        data = self._ok(*self.client.status(quote(folder), "(UIDNEXT UIDVALIDITY MESSAGES)"),
                        f"STATUS {folder}")
        items = _STATUS_ITEM.findall(b" ".join(d for d in data if isinstance(d, bytes)))
        return {k.decode().lower(): int(v) for k, v in items}

    def examine(self, folder: str) -> None:
        self._ok(*self.client.select(quote(folder), readonly=True), f"EXAMINE {folder}")

    def search_since(self, day: datetime) -> list[int]:
        criteria = f"SINCE {day.strftime('%d-%b-%Y')}"
        data = self._ok(*self.client.uid("SEARCH", None, criteria), "UID SEARCH")
        return [int(x) for x in b" ".join(d for d in data if d).split()]

    def search_header(self, name: str, value: str) -> list[int]:
        data = self._ok(*self.client.uid("SEARCH", None, "HEADER", name, quote(value)),
                        "UID SEARCH")
        return [int(x) for x in b" ".join(d for d in data if d).split()]

    # -- fetching -------------------------------------------------------------------------

    def fetch(self, uids: str, item: str) -> Iterator[FetchedMessage]:
        """UID FETCH ``uids`` with UID, INTERNALDATE, RFC822.SIZE and one literal ``item``."""
        self.fetch_commands += 1
        data = self._ok(*self.client.uid("FETCH", uids,
                                         f"(UID INTERNALDATE RFC822.SIZE {item})"),
                        "UID FETCH")
        for part in data:
            if not isinstance(part, tuple):
                continue
            head, literal = part[0], part[1]
            uid, date, size = (_FETCH_UID.search(head), _FETCH_DATE.search(head),
                               _FETCH_SIZE.search(head))
            if not (uid and date):
                continue
            try:
                internaldate = parse_internaldate(date.group(1))
            except ValueError:
                continue
            yield FetchedMessage(int(uid.group(1)), internaldate,
                                 int(size.group(1)) if size else len(literal), literal)

    def fetch_headers(self, uids: str) -> Iterator[FetchedMessage]:
        return self.fetch(uids, "BODY.PEEK[HEADER]")

    def fetch_bodies(self, uids: str, max_bytes: int = 4_000_000) -> Iterator[FetchedMessage]:
        # PEEK leaves \Seen alone; the partial fetch caps what a hostile giant costs us
        return self.fetch(uids, f"BODY.PEEK[]<0.{max_bytes}>")

    # -- IDLE -----------------------------------------------------------------------------

    def selected_uidnext(self) -> int:
        _, data = self.client.response("UIDNEXT")
        values = [int(v) for v in data or [] if v and v.isdigit()]
        return values[-1] if values else 0

    def idle(self, folder: str, timeout: float, stop: threading.Event | None = None,
             after_uidnext: int | None = None) -> bool:
        """Wait up to ``timeout`` s for the server to push news; True if it did (a hint only).

        With ``after_uidnext`` (the UIDNEXT the caller last collected up to), mail that
        arrived before IDLE began counts as news too.
        """
        client = self.client
        self.examine(folder)
        if after_uidnext is not None and self.selected_uidnext() > after_uidnext:
            return True  # news arrived since the caller last looked: no need to wait
        tag = client._new_tag()
        client.send(tag + b" IDLE\r\n")
        line = client.readline()
        if not line.startswith(b"+"):
            raise MailboxError(f"IDLE refused: {_one_line(line)}", retryable=False)
        sock = client.socket()
        pushed = False
        deadline = time.monotonic() + timeout
        previous = sock.gettimeout()
        try:
            while time.monotonic() < deadline and not pushed and not (stop and stop.is_set()):
                sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
                try:
                    line = client.readline()
                except (TimeoutError, ssl.SSLError):
                    continue
                if not line:
                    raise MailboxError("IDLE: server closed the connection")
                if b"EXISTS" in line or b"RECENT" in line:
                    pushed = True
        finally:
            sock.settimeout(previous)
            client.send(b"DONE\r\n")
            while True:
                line = client.readline()
                if not line or line.startswith(tag):
                    break
        return pushed


def uid_set(uids: Iterable[int]) -> str:
    """'1:3,7,9:10' from a collection of UIDs."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = prev = None
    for uid in ordered:
        if start is None:
            start = prev = uid
        elif uid == prev + 1:
            prev = uid
        else:
            parts.append(f"{start}:{prev}" if start != prev else str(start))
            start = prev = uid
    if start is not None:
        parts.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(parts)


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for index in range(0, len(items), size):
        yield items[index:index + size]


def _one_line(value: object) -> str:
    if isinstance(value, list | tuple):
        value = b" ".join(v if isinstance(v, bytes) else str(v).encode() for v in value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, Exception) and value.args:
        value = value.args[0]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300]


def _close(client: imaplib.IMAP4) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - closing a broken connection must not raise
        with contextlib.suppress(Exception):
            client.shutdown()



