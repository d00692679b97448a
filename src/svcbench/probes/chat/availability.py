"""Chat availability checks: is the company's chat online right now? Starts no conversation.

A campaign with ``kind = "availability"`` plans these checks inside the companies' posted
hours; each asks the company's chat connector (``connector.availability()``: a status
endpoint, the widget's online/offline state) and records one ``chat.availability`` event.
The share of checks that found the chat online is StellaService's "chat available during
what share of posted hours" (see ``svcbench.chat_service``). Checks are not contacts: they
make no measurement and never enter the conversation rankings.

Outcome of a check: ``answered`` = online, ``unavailable`` = offline, ``failed`` = we could
not tell (the check failed, or the connector cannot check): never counted either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ...models import Channel, Event, Measurement, Outcome, Probe
from ...plugins import ProbePlugin

if TYPE_CHECKING:
    from ...hours import BusinessCalendar
    from ...plugins import ProbeContext

DEFAULT_TIMEOUT_S = 20.0


class ChatAvailabilityProbe(ProbePlugin):
    name = "chat_availability"
    channel = Channel.CHAT
    measured = False

    async def start(self, probe: Probe, ctx: ProbeContext) -> list[Event]:
        import asyncio

        from ...errors import ProbeError, RetryableProbeError
        from ...plugins import probe_plugin
        from .connector import AnchoredClock, ChatTransportError, ChatUnreachableError

        chat = probe_plugin("chat")
        connector = chat.connector_for(probe, ctx, AnchoredClock())
        timeout = DEFAULT_TIMEOUT_S
        if probe.scenario and probe.scenario in ctx.config.scenarios:
            timeout = ctx.config.scenarios[probe.scenario].chat.connect_timeout_s
        timeout = max(timeout, connector.open_budget_s or 0.0)
        open_now = ctx.company(probe).calendar().is_open(ctx.clock())
        try:
            found = await asyncio.wait_for(connector.availability(timeout), timeout + 1.0)
        except TimeoutError:
            raise RetryableProbeError(f"chat availability: no answer within {timeout:g} s") \
                from None
        except ChatUnreachableError as exc:
            raise RetryableProbeError(f"chat availability: {exc}") from None
        except ChatTransportError as exc:
            raise ProbeError(f"chat availability: {exc}") from None
        return [Event(probe_id=probe.id, kind="chat.availability", at=datetime.now(UTC),
                      data={"state": found.state, "detail": found.detail,
                            "source": found.source, "connector": connector.name,
                            "posted_hours": open_now})]

    def outcome(self, probe: Probe, events: list[Event], now: datetime) -> Outcome | None:
        checks = [e for e in events if e.kind == "chat.availability"]
        if not checks:
            if probe.deadline_at is not None and now >= probe.deadline_at:
                return Outcome.FAILED
            return None
        return {"online": Outcome.ANSWERED, "offline": Outcome.UNAVAILABLE}.get(
            checks[-1].data.get("state"), Outcome.FAILED)

    def outcome_reason(self, probe: Probe, events: list[Event]) -> str | None:
        checks = [e for e in events if e.kind == "chat.availability"]
        if not checks:
            return None
        data = checks[-1].data
        return f"{data.get('state')}: " + (data.get("detail") or data.get("source") or "")

    def measure(self, probe: Probe, events: list[Event],
                calendar: BusinessCalendar) -> Measurement:
        raise NotImplementedError("availability checks make no measurement")
