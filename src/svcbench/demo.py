"""``svcbench demo``: a live campaign against simulated companies, then a report.

Everything runs on 127.0.0.1: a mail sandbox (real SMTP submission, a real IMAP server) and a
chat sandbox (REST, WebSocket and a web page with a chat widget) host four companies whose
behaviour is known. The probes go through the same ``tick`` that cron runs; a quarter of
synthetic history is added so the report has rankings and movement to show.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from .errors import ConfigError
from .models import Channel, Probe, ProbeStatus, new_id, quarter_of, utcnow

MARKER = ".svcbench-demo"


def chromium_found() -> bool:
    """Whether the project's one Chromium (``svcbench.browser.CHROMIUM``) is installed."""
    from . import browser

    return Path(browser.CHROMIUM).exists()

SCENARIO = """
[[scenario]]
id = "shipping-norway"
subject = "Delivery to Norway"
question = \"\"\"Hello,

I would like to order a few things but I live in Norway (my customer number is {ref}). \\
Do you ship there, and how long does delivery take?

Thank you!\"\"\"
languages = ["en"]

[scenario.questions]
chat = "Hi! Do you ship to Norway, and how long does delivery take?"

[[scenario.answer_key.facts]]
id = "ships-to-norway"
label = "says whether they ship to Norway"
polarity = "any"
phrases.en = ["ship to norway", "deliver to norway", "ship there", "deliver there"]

[[scenario.answer_key.facts]]
id = "delivery-time"
label = "says how long delivery takes"
phrases.en = ["delivery takes {n} days", "delivery takes {n} working days", "{n} business days",
              "it takes {n} days", "takes {n} working days", "delivered in {n} days"]

[[scenario.answer_key.extras]]
id = "returns"
label = "explains returns from Norway"
phrases.en = ["returns are free", "free returns", "returns from norway"]

[[scenario.checks]]
name = "mentions delivery time"
pattern = '(?i)\\b\\d+\\s*(-\\s*\\d+\\s*)?(working |business )?(days?|weeks?)\\b'

[scenario.chat]
greeting_wait_s = 1.0
ask_human_after_bot_turns = 1
follow_up = "Great, and are returns from Norway free?"
connect_timeout_s = 30
first_reply_timeout_s = 15
human_timeout_s = 20
follow_up_timeout_s = 5
"""


@dataclass
class DemoCompany:
    id: str
    name: str
    email: dict
    chat: dict
    #: which chat connector probes it: websocket, rest or browser
    connector: str
    #: the kind of contact form its shop has (sandbox.forms.KINDS)
    form: str = "simple"


def demo_companies() -> list[DemoCompany]:
    """Four companies with different, known service levels."""
    return [
        DemoCompany("brightcart", "BrightCart",
                    {"ack_after_s": 1.0, "human_after_s": 5.0},
                    {"agent_joined_after": 1.5, "agent_reply_after": 0.6,
                     "queue_positions": [(0.3, 2), (1.0, 1)]}, "websocket", "topic"),
        DemoCompany("quickparcel", "QuickParcel",
                    # fast but incomplete: the answer key marks it not fully answered
                    {"ack_after_s": None, "human_after_s": 3.0, "helpdesk": False,
                     "human_text": "Hi,\n\nyes, we deliver to Norway.\n\nSam"},
                    {"agent_joined_after": 3.0, "agent_reply_after": 1.0,
                     "agent_text": "Hello! Yes, we ship there.",
                     "queue_positions": [(0.4, 3), (1.5, 2), (2.5, 1)],
                     "wait_estimate": (0.5, 120.0)}, "rest", "multistep"),
        DemoCompany("homestead-living", "Homestead Living",
                    {"ack_after_s": 1.5, "human_after_s": None},
                    {"agent_joined_after": 2.0, "agent_reply_after": 0.8,
                     "human_on_request": True, "still_waiting_every": 1.0}, "browser",
                    "honeypot"),
        DemoCompany("ghostline-telecom", "Ghostline Telecom",
                    {"ack_after_s": None, "human_after_s": None},
                    {"agent_joined_after": None}, "websocket", "captcha"),
    ]


@dataclass
class DemoResult:
    workspace: Path
    report_files: list[Path] = field(default_factory=list)
    live: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _prepare(directory: Path) -> Path:
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).exists():
            raise ConfigError("exists and is not a demo workspace; choose another --dir",
                              file=str(directory))
        shutil.rmtree(directory)
    from .workspace import init_workspace

    init_workspace(directory, examples=False)
    (directory / MARKER).write_text("created by `svcbench demo`; deleted by the next demo run\n")
    return directory


def _company(company: DemoCompany, chat: dict, form_url: str | None = None) -> dict:
    channels: dict = {"email": {"address": f"support@{company.id}.test"}, "chat": chat}
    if form_url:
        channels["form"] = {"url": form_url, "topic": "Order question"}
    return {"id": company.id, "name": company.name, "industry": "retail",
            "timezone": "Europe/Berlin", "holidays": {"country": "DE"},
            "hours": {day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
            "channels": channels}


def _chat_endpoint(company: DemoCompany, base: str, shots: Path) -> dict:
    if company.connector == "browser":
        return {"connector": "browser", "url": f"{base}/widget",
                "frame_selector": "iframe[title='Chat widget']",
                "open_selector": "role=button[name='Open chat']",
                "input_selector": "role=textbox[name='Message']",
                "end_selector": "role=button[name='Close chat']",
                "screenshot_path": str(shots / f"{company.id}-chat.png")}
    endpoint = {"connector": company.connector, "base_url": base}
    if company.connector == "rest":
        endpoint["poll_interval_s"] = 0.25
    return endpoint


def run_demo(directory: Path, *, browser: bool | None = None, history_companies: int = 60,
             say: Callable[[str], None] = print) -> DemoResult:
    """Run the whole demo; returns where the report is and what the live probes measured."""
    from .sandbox.chat import ChatBehaviour, ChatSandbox
    from .sandbox.forms import FormSandbox, FormShop, mail_delivery
    from .sandbox.mail import CompanyBehaviour, MailSandbox
    from .tomlwrite import toml_table

    began = time.monotonic()
    root = _prepare(directory)
    result = DemoResult(workspace=root)
    if browser is None:
        browser = chromium_found()
    companies = demo_companies()
    if not browser:
        from .browser import CHROMIUM

        result.notes.append(f"Chromium not found at {CHROMIUM}: the browser chat probe "
                            "ran over WebSocket instead (scripts/install-system-deps installs it)")
        for company in companies:
            if company.connector == "browser":
                company.connector = "websocket"

    mail = MailSandbox(root / "sandbox" / "mail",
                       companies=[CompanyBehaviour(c.id, name=c.name, **c.email)
                                  for c in companies])
    chat = ChatSandbox({c.id: ChatBehaviour(**c.chat) for c in companies})
    # shops' contact forms hand submissions to the same simulated helpdesks as their email
    forms = FormSandbox({c.id: FormShop(c.id, c.form, c.name) for c in companies},
                        deliver=mail_delivery(mail, {c.id: f"support@{c.id}.test"
                                                     for c in companies}))
    if not browser:
        result.notes.append("Chromium not found: the web-form probes were skipped")
    say("Starting simulated companies on 127.0.0.1 (SMTP, IMAP, chat REST/WebSocket, widget, "
        "contact forms)")
    with mail, chat, forms:
        if mail.imap_security == "none":
            result.notes.append("Dovecot not installed: the shopper's mailbox ran on pymap")
        os.environ.update(mail.env())
        shots = root / "reports"
        toml = [toml_table("shopper", mail.shopper_config()), SCENARIO]
        toml += [toml_table("company", _company(c, _chat_endpoint(c, chat.url(c.id), shots),
                                                forms.url(c.id, "contact") if browser else None))
                 for c in companies]
        (root / "probes" / "demo.toml").write_text("\n".join(toml))
        _live_campaign(root, companies, say, forms=browser)
        from .sandbox.phone_demo import demo_calls

        if note := demo_calls(root, [c.id for c in companies], say):
            result.notes.append(note)
        result.live = _live_results(root)
    say(f"Adding a quarter of synthetic history ({history_companies} more companies)")
    _history(root, history_companies)
    say("Rendering the report")
    result.report_files = _render(root)
    result.seconds = time.monotonic() - began
    return result


def _live_campaign(root: Path, companies: list[DemoCompany], say: Callable[[str], None], *,
                   forms: bool = True) -> None:
    from .schedule import Ticker, workspace_lock
    from .workspace import Workspace

    ws = Workspace.open(root)
    now = utcnow()
    deadlines = {Channel.EMAIL: timedelta(seconds=25), Channel.CHAT: timedelta(seconds=90)}
    if forms:
        deadlines[Channel.FORM] = timedelta(seconds=40)
    with ws.store.transaction():
        for company in companies:
            for channel, deadline in deadlines.items():
                ws.store.add_probe(Probe(
                    id=new_id(), company=company.id, channel=channel, plugin=str(channel),
                    campaign="demo-live", scenario="shipping-norway", shopper="anna",
                    due_at=now, deadline_at=now + deadline, token=new_token()))
    say(f"Live campaign: {len(companies)} companies x {' + '.join(map(str, deadlines))} "
        "(the email deadline is 25 s in the demo; real campaigns wait days)")
    give_up = time.monotonic() + 150
    with workspace_lock(root):
        while time.monotonic() < give_up:
            asyncio.run(Ticker(ws).run())
            pending = ws.store.probes(status=[ProbeStatus.PLANNED, ProbeStatus.STARTING,
                                              ProbeStatus.RUNNING])
            done = len(ws.store.probes(status=ProbeStatus.DONE))
            say(f"  tick: {done} probes finished, {len(pending)} waiting for replies")
            if not pending:
                break
            time.sleep(2.0)
    ws.close()


def new_token() -> str:
    from .planning import new_token as token

    return token()


def _live_results(root: Path) -> list[dict]:
    from .workspace import Workspace

    ws = Workspace.open(root)
    try:
        return [{"company": m.company, "channel": str(m.channel), "outcome": str(m.outcome),
                 "first_response_s": m.first_response_s, "wait_s": m.wait_s,
                 "human": m.answered_by_human}
                for m in ws.store.measurements(campaign="demo-live")]
    finally:
        ws.close()


def _history(root: Path, companies: int) -> None:
    from .simulate import simulate
    from .workspace import Workspace

    ws = Workspace.open(root)
    try:
        simulate(ws.store, companies=companies, quarters=2, end_quarter=quarter_of(utcnow()),
                 seed=7, probes_per_company_channel=10)
    finally:
        ws.close()


def _render(root: Path) -> list[Path]:
    """The same `svcbench report` a user runs, so the demo shows exactly that."""
    command = [sys.executable, "-m", "svcbench", "report", "-w", str(root),
               "--format", "html", "--format", "csv", "--format", "json",
               "--include-simulated"]  # the demo's history is simulated, and says so
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ConfigError(f"report failed: {done.stderr.strip()}")
    return [Path(line.removeprefix("wrote ").strip()) for line in done.stdout.splitlines()
            if line.startswith("wrote ")]
