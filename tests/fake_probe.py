"""A probe plugin for testing ``tick``: its "send" appends the probe id to a ledger file.

The ledger stands for the outside world (the company's inbox): a line in it cannot be taken
back, so a probe id appearing twice means a company was contacted twice. Loaded in
subprocesses through $SVCBENCH_EXTRA_PROBES.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from svcbench.errors import ProbeError, RetryableProbeError
from svcbench.hours import BusinessCalendar
from svcbench.measure import build, first
from svcbench.models import Channel, Event, Measurement, Outcome, Probe
from svcbench.plugins import ProbeContext, ProbePlugin

ENV = {"SVCBENCH_EXTRA_PROBES": "fake=fake_probe:FakeProbe",
       "PYTHONPATH": str(Path(__file__).parent)}


class FakeEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ledger: str
    answer_after_s: float = 0.0
    #: a file whose presence makes the "server" unreachable
    down_flag: str | None = None
    #: a file whose presence makes the server reject the probe for good
    reject_flag: str | None = None
    send_delay_s: float = 0.0


def _endpoint(ctx: ProbeContext, probe: Probe) -> FakeEndpoint:
    company = ctx.company(probe)
    options = {k: v for k, v in company.channels[probe.channel].options.items() if k != "plugin"}
    return FakeEndpoint.model_validate(options)


class FakeProbe(ProbePlugin):
    name = "fake"
    channel = Channel.CHAT
    endpoint_model = FakeEndpoint

    async def start(self, probe: Probe, ctx: ProbeContext) -> list[Event]:
        endpoint = _endpoint(ctx, probe)
        if endpoint.down_flag and Path(endpoint.down_flag).exists():
            raise RetryableProbeError("connection refused by 127.0.0.1")
        if endpoint.reject_flag and Path(endpoint.reject_flag).exists():
            raise ProbeError("recipient rejected: 550 no such user")
        await asyncio.sleep(endpoint.send_delay_s)
        with open(endpoint.ledger, "a") as ledger:  # the irreversible act
            ledger.write(f"{probe.id} {os.getpid()} {time.time():.3f}\n")
            ledger.flush()
            os.fsync(ledger.fileno())
        return [Event(probe.id, "fake.sent", ctx.clock(), source="local")]

    async def recover(self, probe: Probe, ctx: ProbeContext) -> list[Event] | None:
        ledger = Path(_endpoint(ctx, probe).ledger)
        if ledger.exists():
            for line in ledger.read_text().splitlines():
                if line.split()[0] == probe.id:
                    return [Event(probe.id, "fake.sent", ctx.clock(), {"recovered": True})]
        return None

    async def advance(self, probe: Probe, ctx: ProbeContext) -> list[Event]:
        endpoint = _endpoint(ctx, probe)
        sent = probe.started_at
        if sent and ctx.clock() >= sent + timedelta(seconds=endpoint.answer_after_s):
            return [Event(probe.id, "fake.answered", sent + timedelta(
                seconds=endpoint.answer_after_s), id=f"{probe.id}-answered")]
        return []

    def outcome(self, probe: Probe, events: list[Event], now) -> Outcome | None:
        if any(e.kind == "fake.answered" for e in events):
            return Outcome.ANSWERED
        if probe.deadline_at and now >= probe.deadline_at:
            return Outcome.UNANSWERED
        return None

    def measure(self, probe: Probe, events: list[Event], calendar: BusinessCalendar) -> Measurement:
        sent, answered = first(events, "fake.sent"), first(events, "fake.answered")
        return build(probe, events, calendar, outcome=self.outcome(probe, events, probe.finished_at)
                     or Outcome.UNANSWERED, start=sent.at if sent else None,
                     first_response=answered.at if answered else None,
                     answer=answered.at if answered else None, human=answered is not None)
