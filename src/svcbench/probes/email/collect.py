"""Collecting replies: IMAP incremental sync per shopper and folder, matching, storing.

For every shopper with an ``[shopper.imap]`` server and every folder in ``imap.folders`` plus
the server's ``\\Junk`` folder:

1. ``STATUS`` (no SELECT): skip the folder when UIDVALIDITY and UIDNEXT are unchanged;
2. fetch headers (``BODY.PEEK[HEADER]``, INTERNALDATE, size) of UIDs above the stored last UID
   (``UID n:*`` always returns the newest message, so lower UIDs are dropped here);
3. fetch whole messages only for candidates (see ``match.worth_fetching``), match, classify,
   store message + ``email.received`` event in one transaction, then advance the cursor.

A changed UIDVALIDITY triggers a rescan from one day before the oldest open probe;
messages are de-duplicated by Message-ID + INTERNALDATE. One mailbox failing (server down,
wrong password, a hostile message) never stops the others.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from ...errors import StoreError
from ...models import Channel, Event, Probe, ProbeStatus, format_instant, utcnow
from .imap import RETRY_DELAYS, FetchedMessage, ImapSession, MailboxError, chunks, uid_set
from .match import ProbeTarget, company_domains, match_email, ticket_numbers, worth_fetching

if TYPE_CHECKING:
    from ...config import Config, Shopper
    from ...plugins import Secrets
    from ...store import Store

log = logging.getLogger("svcbench.email")

CURSOR = "imap"
HEADER_BATCH = 500
BODY_BATCH = 50
#: Date header this far after INTERNALDATE: the sender's clock is fast
CLOCK_AHEAD = timedelta(minutes=2)
#: INTERNALDATE this far after the Date header: delayed delivery (or a slow clock)
CLOCK_BEHIND = timedelta(minutes=15)

_EVENT_NS = uuid.UUID("2d6f1a8e-5b0c-4c4e-9a51-6f7b1f0c3e21")

#: headers kept with a stored message (the rest stay in the mailbox)
KEPT_HEADERS = (
    "message-id", "in-reply-to", "references", "from", "to", "cc", "reply-to", "delivered-to",
    "date", "subject", "return-path", "auto-submitted", "precedence", "x-auto-response-suppress",
    "x-autoreply", "x-autorespond", "x-mailer", "x-loop", "list-unsubscribe", "content-type",
    # evidence the classifier may cite, kept so a reviewer sees the values
    "x-autoresponder", "x-otrs-loop", "x-fc-machinegenerated", "list-id", "x-failed-recipients",
    "user-agent", "x-powered-by", "managed-by",
)
KEPT_PREFIXES = ("x-zendesk", "x-fd-", "x-rt-", "x-zammad", "x-ms-exchange-inbox-rules",
                 "x-ms-exchange-generated", "x-freshdesk", "x-helpscout", "x-intercom",
                 "x-servicenow", "x-jira", "x-otrs", "x-znuny", "x-sfdc", "x-hubspot", "rt-")


@dataclass
class MailboxResult:
    """What one run did with one mailbox folder."""

    shopper: str
    folder: str
    status: str = "ok"  # ok | unchanged | skipped | error
    headers_fetched: int = 0
    bodies_fetched: int = 0
    matched: int = 0
    duplicates: int = 0
    bad: int = 0
    rescanned: bool = False
    attempts: int = 1
    error: str | None = None

    def summary(self) -> str:
        where = f"{self.shopper}:{self.folder}"
        if self.status == "error":
            return f"{where}: error after {self.attempts} attempt(s): {self.error}"
        if self.status == "unchanged":
            return f"{where}: unchanged"
        text = (f"{where}: {self.headers_fetched} new, {self.bodies_fetched} bodies fetched, "
                f"{self.matched} matched")
        if self.duplicates:
            text += f", {self.duplicates} already stored"
        if self.bad:
            text += f", {self.bad} unreadable skipped"
        if self.rescanned:
            text += " (UIDVALIDITY changed: rescanned)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


#: cursor name under which each shopper's last complete collection is kept
COVERED = "imap-covered"


@dataclass
class CollectReport:
    mailboxes: list[MailboxResult] = field(default_factory=list)
    events: dict[str, list[Event]] = field(default_factory=dict)
    #: shopper -> when a pass began that then read every folder without error: mail
    #: delivered before that instant has been seen
    covered: dict[str, datetime] = field(default_factory=dict)

    @property
    def errors(self) -> list[MailboxResult]:
        return [m for m in self.mailboxes if m.status == "error"]

    def add_event(self, event: Event) -> None:
        self.events.setdefault(event.probe_id, []).append(event)


# -- which probes are waiting for mail ------------------------------------------------------


def targets_for(store: Store, config: Config, shopper: Shopper) -> list[ProbeTarget]:
    """Sent email probes of this shopper that can still receive replies."""
    targets = []
    # web-form probes are answered by email too: one collection serves both
    waiting = [p for channel in (Channel.EMAIL, Channel.FORM)
               for p in store.probes(status=[ProbeStatus.STARTING, ProbeStatus.RUNNING],
                                     channel=channel)]
    for probe in waiting:
        if probe.shopper != shopper.id or not probe.state.get("message_id"):
            continue
        targets.append(target_of(probe, config, shopper, store))
    return targets


def target_of(probe: Probe, config: Config, shopper: Shopper,
              store: Store | None = None) -> ProbeTarget:
    company = config.companies.get(probe.company)
    endpoint = company.channels.get(Channel.EMAIL) if company else None
    address = endpoint.options.get("address") if endpoint else probe.state.get("to")
    domains = company_domains(address or probe.state.get("to"),
                              company.website if company else None)
    sent = probe.state.get("sent_at")
    from ...models import parse_instant

    tickets: list[str] = []
    reply_domains: list[str] = []
    for event in (store.events(probe.id) if store is not None else []):
        if event.kind == "email.received":
            tickets += event.data.get("tickets") or []
            sender = (event.data.get("from") or "").rpartition("@")[2].lower()
            if sender and event.data.get("match") in ("message-id", "address", "reference"):
                reply_domains.append(sender)
    return ProbeTarget(
        probe_id=probe.id, message_id=probe.state["message_id"],
        reply_address=probe.state.get("reply_to", ""), ref=probe.state.get("ref", ""),
        subject=probe.state.get("subject", ""), company_domains=domains,
        sent_at=parse_instant(sent) if sent else probe.started_at,
        deadline_at=probe.deadline_at,
        shopper_addresses=((shopper.email or "").lower(),),
        tickets=tuple(dict.fromkeys(tickets)), reply_domains=tuple(dict.fromkeys(reply_domains)),
        company_name=company.name if company else None,
        question=_question(config, probe),
    )


def _question(config: Config, probe: Probe) -> str | None:
    scenario = config.scenarios.get(probe.scenario) if probe.scenario else None
    return scenario.question_for(probe.channel) if scenario else None


# -- the run ----------------------------------------------------------------------------------


def collect(config: Config, store: Store, *, secrets: Secrets,
            shoppers: Iterable[str] | None = None, clock: Callable[[], datetime] = utcnow,
            retry_delays: Iterable[float] = RETRY_DELAYS,
            sleep: Callable[[float], None] | None = None,
            session_factory: Callable[..., ImapSession] | None = None,
            time_left: Callable[[float], float] | None = None) -> CollectReport:
    """One collection pass over the shoppers' mailboxes; never raises for one mailbox's sake.

    Each shopper's session is bounded by its server's ``deadline_s``, capped by
    ``time_left`` (the tick's remaining budget)."""
    import time

    report = CollectReport()
    wanted = set(shoppers) if shoppers is not None else None
    for shopper in config.shoppers.values():
        if shopper.imap is None or (wanted is not None and shopper.id not in wanted):
            continue
        collect_shopper(config, store, shopper, secrets=secrets, report=report, clock=clock,
                        retry_delays=tuple(retry_delays), sleep=sleep or time.sleep,
                        session_factory=session_factory,
                        deadline_s=(time_left or (lambda limit: limit))(shopper.imap.deadline_s))
    return report


def open_session(shopper: Shopper, secrets: Secrets, *, retry_delays=RETRY_DELAYS,
                 sleep=None, session_factory=None,
                 deadline_s: float | None | Literal["server"] = "server") -> ImapSession:
    """A logged-in session whose whole life is bounded by ``deadline_s`` (default: the
    server's ``deadline_s``; None: unbounded, for IDLE watchers)."""
    import time

    from ...deadline import Watchdog

    server = shopper.imap
    assert server is not None
    password = secrets.get(server.password_env, what=f"shopper {shopper.id}: imap.password_env")
    if session_factory is not None:
        return session_factory(host=server.host, port=server.port, security=server.security,
                               username=server.username or shopper.email, password=password,
                               ca_file=server.ca_file, timeout=server.timeout_s,
                               delays=retry_delays, sleep=sleep or time.sleep)
    seconds = server.deadline_s if deadline_s == "server" else deadline_s
    return ImapSession.connect_with_retry(
        host=server.host, port=server.port, security=server.security,
        username=server.username or shopper.email, password=password, ca_file=server.ca_file,
        timeout=server.timeout_s, delays=retry_delays, sleep=sleep or time.sleep,
        watchdog=Watchdog.after(seconds, f"imap-{shopper.id}"))


def collect_shopper(config: Config, store: Store, shopper: Shopper, *, secrets: Secrets,
                    report: CollectReport, clock=utcnow, retry_delays=RETRY_DELAYS,
                    sleep=None, session_factory=None,
                    deadline_s: float | None | Literal["server"] = "server") -> None:
    assert shopper.imap is not None
    folders = list(dict.fromkeys(shopper.imap.folders))
    began = clock()
    try:
        session = open_session(shopper, secrets, retry_delays=retry_delays, sleep=sleep,
                               session_factory=session_factory, deadline_s=deadline_s)
    except MailboxError as exc:
        for folder in folders:
            report.mailboxes.append(MailboxResult(shopper.id, folder, status="error",
                                                  error=str(exc), attempts=exc.attempts))
        log.warning("collect %s: %s", shopper.id, exc)
        return
    with session:
        complete = True
        try:
            junk = session.special_use("\\Junk")
        except (MailboxError, OSError) as exc:
            log.warning("collect %s: LIST failed: %s", shopper.id, exc)
            junk = None
            complete = False  # a Junk folder we could not find was not read
        if junk and junk not in folders:
            folders.append(junk)
        targets = targets_for(store, config, shopper)
        first = len(report.mailboxes)
        for folder in folders:
            result = MailboxResult(shopper.id, folder)
            report.mailboxes.append(result)
            try:
                sync_folder(session, store, shopper, folder, targets, result, report, clock)
            except Exception as exc:  # noqa: BLE001 - one mailbox never stops the others
                result.status = "error"
                result.error = session.deadline_error() or _one_line(exc)
                log.warning("collect %s:%s: %s", shopper.id, folder, result.error)
                if isinstance(exc, OSError | EOFError | imaplib.IMAP4.abort):
                    # the connection is gone: the remaining folders are reported, not tried
                    for rest in folders[folders.index(folder) + 1:]:
                        report.mailboxes.append(MailboxResult(
                            shopper.id, rest, status="error", error="connection lost"))
                    return
        if complete and all(m.status != "error" for m in report.mailboxes[first:]):
            report.covered[shopper.id] = began
            store.set_cursor(COVERED, shopper.id, {"at": format_instant(began),
                                                   "folders": folders})


def covered_at(store: Store, shopper: str) -> datetime | None:
    """When the shopper's last complete collection began (None: never)."""
    from ...models import parse_instant

    value = store.get_cursor(COVERED, shopper)
    return parse_instant(value["at"]) if value and value.get("at") else None


def sync_folder(session: ImapSession, store: Store, shopper: Shopper, folder: str,
                targets: list[ProbeTarget], result: MailboxResult, report: CollectReport,
                clock=utcnow) -> None:
    key = f"{shopper.id}:{folder}"
    cursor = store.get_cursor(CURSOR, key)
    try:
        status = session.status(folder)
    except MailboxError as exc:
        result.status, result.error = "error", str(exc)
        return
    uidvalidity, uidnext = status.get("uidvalidity"), status.get("uidnext")
    if cursor and cursor.get("uidvalidity") == uidvalidity and cursor.get("uidnext") == uidnext:
        result.status = "unchanged"
        return
    last_uid = int(cursor["last_uid"]) if cursor and \
        cursor.get("uidvalidity") == uidvalidity else 0
    new_cursor = {"uidvalidity": uidvalidity, "uidnext": uidnext,
                  "last_uid": max(last_uid, (uidnext or 1) - 1)}
    if not targets:
        # nothing is waiting for a reply: older mail can never match a later probe
        result.status = "skipped"
        store.set_cursor(CURSOR, key, new_cursor)
        return
    session.examine(folder)
    if cursor is None or cursor.get("uidvalidity") != uidvalidity:
        result.rescanned = cursor is not None
        oldest = min((t.sent_at for t in targets if t.sent_at), default=clock())
        uids = session.search_since(oldest - timedelta(days=1))
    else:
        uids = None  # incremental: last_uid+1:*
    candidates: list[tuple[int, datetime]] = []
    highest = last_uid
    batches = ([uid_set(batch) for batch in chunks(sorted(uids), HEADER_BATCH)]
               if uids is not None else [f"{last_uid + 1}:*"])
    for batch in batches:
        for item in session.fetch_headers(batch):
            if item.uid <= last_uid:
                continue  # 'n:*' returns the newest message even when n > UIDNEXT
            highest = max(highest, item.uid)
            result.headers_fetched += 1
            try:
                if _worth_fetching(item, targets):
                    candidates.append((item.uid, item.internaldate))
            except StoreError:
                raise
            except Exception as exc:  # noqa: BLE001 - a hostile header never stops the run
                result.bad += 1
                log.warning("collect %s uid %s: unreadable headers skipped: %s", key, item.uid,
                            _one_line(exc))
    unmatched: list[FetchedMessage] = []
    learned = False
    for batch in chunks([uid for uid, _ in candidates], BODY_BATCH):
        for item in session.fetch_bodies(uid_set(batch)):
            result.bodies_fetched += 1
            before = [t.tickets for t in targets]
            seen = (result.matched, result.duplicates, result.bad)
            _store_one(store, item, targets, folder, result, report, key)
            if (result.matched, result.duplicates, result.bad) == seen:
                unmatched.append(item)
            learned = learned or before != [t.tickets for t in targets]
    if learned:
        # a reply in this batch taught us a ticket number: mail carrying only that number
        # (whatever its UID order) gets a second chance before the cursor moves past it
        for item in unmatched:
            _store_one(store, item, targets, folder, result, report, key)
    new_cursor["last_uid"] = max(new_cursor["last_uid"], highest)
    store.set_cursor(CURSOR, key, new_cursor)


def _store_one(store: Store, item: FetchedMessage, targets: list[ProbeTarget], folder: str,
               result: MailboxResult, report: CollectReport, key: str) -> bool:
    try:
        return store_if_match(store, item, targets, folder, result, report)
    except StoreError:
        raise  # the cursor must not move past a message we could not store
    except Exception as exc:  # noqa: BLE001 - log, count, carry on
        result.bad += 1
        log.warning("collect %s uid %s: message skipped: %s", key, item.uid, _one_line(exc))
        return False


def _worth_fetching(item: FetchedMessage, targets: list[ProbeTarget]) -> bool:
    from .parse import parse_email

    return worth_fetching(parse_email(item.data, detect_bounces=False), targets,
                          arrived_at=item.internaldate)


def store_if_match(store: Store, item: FetchedMessage, targets: list[ProbeTarget],
                   folder: str, result: MailboxResult, report: CollectReport) -> bool:
    """Match one fetched message; store it with its event if it belongs to a probe."""
    from .classify import classify
    from .parse import parse_email

    email = parse_email(item.data)
    match = match_email(email, targets, arrived_at=item.internaldate)
    if match is None:
        return False
    target = next(t for t in targets if t.probe_id == match.probe_id)
    # a kind depends on the message and its probe only, never on replies fetched before it
    verdict = classify(email, sent_at=target.sent_at, arrived_at=item.internaldate,
                       probe_subject=target.subject, question=target.question)
    kind = str(verdict.kind.value if hasattr(verdict.kind, "value") else verdict.kind)
    ident = email.message_id or hashlib.sha256(item.data[:20000]).hexdigest()[:32]
    dedupe_key = f"email:{ident}:{format_instant(item.internaldate)}"
    actor = "human" if kind == "human" else "bounce" if kind == "bounce" else "auto"
    flags = clock_flags(email.date, item.internaldate)
    event = Event(
        probe_id=match.probe_id, kind="email.received", at=item.internaldate,
        source="imap.internaldate",
        id=str(uuid.uuid5(_EVENT_NS, f"{match.probe_id}|{dedupe_key}")),
        data={
            "kind": kind, "helpdesk": verdict.helpdesk, "message_id": email.message_id,
            "match": match.method, "score": match.score,
            "date_header": format_instant(email.date) if email.date else None,
            "received_header": format_instant(email.received_at) if email.received_at else None,
            "clock_suspect": bool(flags), "clock_flags": flags, "review": bool(verdict.review),
            "reasons": list(verdict.reasons)[:12], "from": email.from_addr,
            "confidence": verdict.confidence, "headers_used": list(verdict.headers_used),
            "promise": verdict.promise.as_dict() if verdict.promise else None,
            "subject": email.subject[:300], "folder": folder,
            "dsn_failed_recipient": email.dsn_failed_recipient, "dedupe_key": dedupe_key,
            "tickets": list(ticket_numbers(email.subject, email.text)),
        },
    )
    with store.transaction():
        added = store.add_message(
            probe_id=match.probe_id, channel=Channel.EMAIL, direction="in", actor=actor,
            at=item.internaldate, subject=email.subject, text=email.text,
            headers=kept_headers(email.headers), classification=kind,
            match_method=match.method, match_score=match.score, dedupe_key=dedupe_key,
            data={"folder": folder, "size": item.size, "helpdesk": verdict.helpdesk,
                  "review": bool(verdict.review), "defects": list(email.defects)[:20]},
        )
        if added:
            store.add_events([event])
    # what this reply teaches about the probe: its ticket number and the domain it came from
    learned_tickets = tuple(dict.fromkeys((*target.tickets, *event.data["tickets"])))
    sender_domain = (email.from_addr or "").rpartition("@")[2]
    domains = target.reply_domains + ((sender_domain,) if sender_domain and match.method in (
        "message-id", "address", "reference") else ())
    targets[targets.index(target)] = replace(target, tickets=learned_tickets,
                                             reply_domains=tuple(dict.fromkeys(domains)))
    if not added:
        result.duplicates += 1
        return False
    result.matched += 1
    report.add_event(event)
    return True


def clock_flags(date_header: datetime | None, internaldate: datetime) -> list[str]:
    if date_header is None:
        return []
    flags = []
    if date_header > internaldate + CLOCK_AHEAD:
        flags.append("date_ahead")
    if internaldate - date_header > CLOCK_BEHIND:
        flags.append("delivery_delayed")
    return flags


def kept_headers(headers: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {name: [v[:1000] for v in values[:5]] for name, values in headers.items()
            if name in KEPT_HEADERS or name.startswith(KEPT_PREFIXES)}


def _one_line(exc: object) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300] if isinstance(
        exc, Exception) and not isinstance(exc, MailboxError) else " ".join(str(exc).split())


# -- recovering a probe whose send was never recorded -----------------------------------------


def find_sent_copy(shopper: Shopper, secrets: Secrets, message_id: str, *,
                   retry_delays=RETRY_DELAYS,
                   deadline_s: float | None | Literal["server"] = "server") -> datetime | None:
    """INTERNALDATE of our own copy (BCC or Sent folder) of a sent message, or None."""
    with open_session(shopper, secrets, retry_delays=retry_delays,
                      deadline_s=deadline_s) as session:
        folders = list(dict.fromkeys([*shopper.imap.folders, "INBOX"]))  # type: ignore[union-attr]
        for flag in ("\\Sent", "\\Junk"):
            name = session.special_use(flag)
            if name and name not in folders:
                folders.append(name)
        for folder in folders:
            try:
                session.examine(folder)
                uids = session.search_header("Message-ID", message_id)
            except MailboxError:
                continue
            if uids:
                for item in session.fetch_headers(uid_set(uids[:1])):
                    return item.internaldate
    return None


# -- watching -----------------------------------------------------------------------------------

#: re-issue IDLE this often: servers and NATs drop idle connections (RFC 2177 says < 29 min)
IDLE_RENEW_S = 15 * 60


def watch(config: Config, store: Store, *, secrets: Secrets, shoppers: Iterable[str] | None,
          on_report: Callable[[CollectReport], None], stop: threading.Event | None = None,
          idle_s: float = IDLE_RENEW_S, clock: Callable[[], datetime] = utcnow) -> None:
    """Collect, then wait for IMAP IDLE pushes (a hint only) and collect again, until
    ``stop`` is set or Ctrl-C. Times always come from INTERNALDATE, never from the push."""
    stop = stop or threading.Event()
    wake = threading.Event()
    chosen = [s for s in config.shoppers.values()
              if s.imap is not None and (shoppers is None or s.id in set(shoppers))]
    #: INBOX UIDNEXT each shopper was collected up to, so IDLE threads notice mail that
    #: arrived between a collection and the start of their IDLE
    collected: dict[str, int] = {}
    threads = [threading.Thread(target=_idle_loop,
                                args=(s, secrets, wake, stop, idle_s, collected),
                                daemon=True, name=f"idle-{s.id}") for s in chosen]
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set():
            wake.clear()
            report = collect(config, store, secrets=secrets, shoppers=[s.id for s in chosen],
                             clock=clock)
            for shopper in chosen:
                cursor = store.get_cursor(CURSOR, f"{shopper.id}:INBOX") or {}
                collected[shopper.id] = int(cursor.get("uidnext") or 0)
            on_report(report)
            if stop.wait(1.0):  # at most one pass a second, whatever wakes us
                break
            wake.wait(timeout=idle_s)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=3)


def _idle_loop(shopper: Shopper, secrets: Secrets, wake: threading.Event,
               stop: threading.Event, idle_s: float, collected: dict[str, int]) -> None:
    delay = 1.0
    while not stop.is_set():
        try:
            with open_session(shopper, secrets, retry_delays=(), deadline_s=None) as session:
                delay = 1.0
                while not stop.is_set():
                    if wake.is_set():  # a collection is due anyway; don't spin
                        stop.wait(0.2)
                        continue
                    seen = collected.get(shopper.id)
                    if session.idle("INBOX", idle_s, stop, after_uidnext=seen):
                        wake.set()
        except Exception as exc:  # noqa: BLE001 - keep watching; the main loop reports errors
            log.info("idle %s: %s; reconnecting in %.0fs", shopper.id, exc, delay)
            stop.wait(delay)
            delay = min(delay * 2, 300)
