"""A long chat does not hold up other due work: real sandbox chat (slow agent) and real SMTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from mailservers import SCENARIO
from svcbench.models import Channel, Probe, ProbeStatus, new_id, utcnow
from svcbench.sandbox.chat import ChatBehaviour, ChatSandbox
from svcbench.sandbox.mail import CompanyBehaviour, MailSandbox
from svcbench.schedule import Ticker
from svcbench.workspace import Workspace, init_workspace

CHAT_SCENARIO = """
[[scenario]]
id = "slow-chat"
question = "Do you ship to Norway?"

[scenario.chat]
greeting_wait_s = 0.1
ask_human_after_bot_turns = 1
connect_timeout_s = 5
first_reply_timeout_s = 5
human_timeout_s = 15
follow_up_timeout_s = 2
"""

MAIL_COMPANIES = [f"mail{i}" for i in range(5)]


@pytest.fixture
def slow_chat_and_mail(tmp_path, monkeypatch):
    behaviours = [CompanyBehaviour(c, ack_after_s=None, human_after_s=None)
                  for c in MAIL_COMPANIES]
    chats = {"slowco": ChatBehaviour(queue_positions=[(0.2, 3)], still_waiting_every=1.0,
                                     agent_joined_after=4.0, agent_reply_after=0.2)}
    with MailSandbox(tmp_path / "mail", companies=behaviours) as mail, \
            ChatSandbox(chats) as chat:
        for key, value in mail.env().items():
            monkeypatch.setenv(key, value)
        root = init_workspace(tmp_path / "ws", examples=False)
        (root / "probes" / "sandbox.toml").write_text(
            mail.workspace_toml() + SCENARIO + CHAT_SCENARIO
            + f'\n[[company]]\nid = "slowco"\nname = "Slow Co"\n[company.channels.chat]\n'
              f'connector = "websocket"\nbase_url = "{chat.url("slowco")}"\n')
        yield root, mail, chat


def add(ws: Workspace, company: str, channel: Channel, due_in: timedelta) -> Probe:
    now = utcnow()
    probe = Probe(id=new_id(), company=company, channel=channel, plugin=str(channel),
                  scenario="slow-chat" if channel == Channel.CHAT else "shipping",
                  shopper="anna", due_at=now + due_in, deadline_at=now + timedelta(hours=1))
    ws.store.add_probe(probe)
    return probe


def test_due_work_starts_while_a_chat_waits_in_the_queue(slow_chat_and_mail):
    root, mail, chat = slow_chat_and_mail
    ws = Workspace.open(root)
    ago, soon = timedelta(minutes=-1), timedelta(seconds=1.5)
    chat_probe = add(ws, "slowco", Channel.CHAT, ago)
    early = [add(ws, c, Channel.EMAIL, ago) for c in MAIL_COMPANIES[:2]]
    later = [add(ws, c, Channel.EMAIL, soon) for c in MAIL_COMPANIES[2:4]]
    outside = add(ws, MAIL_COMPANIES[4], Channel.EMAIL, timedelta(seconds=60))
    # one slot per probe type: a single chat in progress must not take the emails' slot
    ticker = Ticker(ws, concurrency=1, poll_s=0.3, start_window=timedelta(seconds=3))
    report = asyncio.run(ticker.run())

    done_chat = ws.store.get_probe(chat_probe.id)
    assert done_chat.status == ProbeStatus.DONE and done_chat.outcome == "answered"
    chat_ended = done_chat.finished_at
    for probe in early + later:
        sent = ws.store.get_probe(probe.id)
        assert sent.status == ProbeStatus.RUNNING and sent.attempts == 1
        # out while the chat was still waiting for its agent, and not before it was due
        assert sent.due_at <= sent.started_at < chat_ended
    assert report.started == 5
    untouched = ws.store.get_probe(outside.id)
    assert untouched.status == ProbeStatus.PLANNED and untouched.attempts == 0
    # each company contacted once: one email per Message-ID, one chat
    ids = [r.message_id for r in mail.received]
    assert len(ids) == len(set(ids)) == 4 and len(chat.chats("slowco")) == 1
    # a tick right after starts nothing again
    again = asyncio.run(Ticker(ws, poll_s=0.3, start_window=timedelta(seconds=1)).run())
    assert again.started == 0 and len(mail.received) == 4 and len(chat.chats("slowco")) == 1
    ws.close()


def test_dispatch_offers_a_probe_once_and_stops_starting_after_the_window():
    from datetime import UTC, datetime

    from svcbench.dispatch import dispatch

    now = datetime(2026, 11, 2, tzinfo=UTC)
    probes = [Probe(id=f"p{i}", company="c", channel=Channel.EMAIL, plugin="email")
              for i in range(3)]
    visible = probes[:1]
    calls: list[str] = []
    window = {"open": True}

    async def start(probe):
        calls.append(probe.id)
        if probe.id == "p0":  # a long one; meanwhile p1 becomes due, then the window closes
            visible.append(probes[1])
            await asyncio.sleep(0.3)
            window["open"] = False
            visible.append(probes[2])
            await asyncio.sleep(0.3)

    # due() keeps listing p0 (as a probe sent back to planned by a retry would be)
    count = asyncio.run(dispatch(lambda: list(visible), start, concurrency=1,
                                 may_start=lambda: window["open"], next_due=lambda: None,
                                 clock=lambda: now, poll_s=0.05))
    assert calls == ["p0", "p1"] and count == 2


def test_mail_is_collected_while_a_chat_waits_in_the_queue(slow_chat_and_mail):
    """A reply already in the mailbox concludes its probe during a long chat, not after it."""
    from mailservers import reply_bytes

    root, mail, chat = slow_chat_and_mail
    ws = Workspace.open(root)
    email = add(ws, MAIL_COMPANIES[0], Channel.EMAIL, timedelta(minutes=-1))
    first = asyncio.run(Ticker(ws, poll_s=0.3, start_window=timedelta(seconds=1)).run())
    sent = ws.store.get_probe(email.id)
    assert first.started == 1 and sent.status == ProbeStatus.RUNNING
    # the company's human answer arrives in the shopper's mailbox (Dovecot) between ticks
    mail.deliver(sent.state["reply_to"], reply_bytes(
        sender=f"support@{MAIL_COMPANIES[0]}.test", to=sent.state["reply_to"],
        in_reply_to=sent.state["message_id"], subject=f"Re: {sent.state['subject']}",
        body="Hello Anna,\n\nyes, we ship to Norway within a week.\n\nKind regards,\nJulia"))
    chat_probe = add(ws, "slowco", Channel.CHAT, timedelta(minutes=-1))
    ticker = Ticker(ws, poll_s=0.3, start_window=timedelta(seconds=1), advance_every_s=0.5)
    report = asyncio.run(ticker.run())

    done_chat, done_email = ws.store.get_probe(chat_probe.id), ws.store.get_probe(email.id)
    assert done_chat.status == ProbeStatus.DONE and done_chat.outcome == "answered"
    assert done_email.status == ProbeStatus.DONE and done_email.outcome == "answered"
    assert done_email.finished_at < done_chat.finished_at     # collected while the chat ran
    assert report.advanced_meanwhile >= 1 and report.started == 1
    # nothing started twice: one email to the company, one chat
    assert len(mail.received) == 1 and len(chat.chats("slowco")) == 1
    assert done_email.attempts == 1 and done_chat.attempts == 1
    ws.close()
