"""Chat probe: one live-chat conversation through a connector (REST, WebSocket, LiveChat,
Rocket.Chat, Chatwoot, a real browser), timed with a monotonic clock.

The company's ``[company.channels.chat]`` table names the ``connector`` and holds that
connector's options (checked by the connector's ``options_model``). ``start`` runs the whole
conversation (bounded by the scenario's chat timeouts) and returns its events; the transcript
is stored as messages while it happens. Heavy imports stay inside functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

from ...models import Channel, Event, Measurement, Outcome, Probe
from ...plugins import CHAT_CONNECTORS_GROUP, ProbePlugin, available

if TYPE_CHECKING:
    from ...hours import BusinessCalendar
    from ...plugins import ProbeContext
    from .script import ChatRun, RunEvent


class ChatEndpoint(BaseModel):
    """``connector = "rest"`` plus the connector's own options."""

    model_config = ConfigDict(extra="allow")
    connector: str

    @field_validator("connector")
    @classmethod
    def _known(cls, value: str) -> str:
        names = available(CHAT_CONNECTORS_GROUP)
        if value not in names:
            raise ValueError(f"unknown chat connector {value!r} (installed: {', '.join(names)})")
        return value

    @property
    def connector_options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def to_event(probe_id: str, event: RunEvent) -> Event:
    return Event(probe_id=probe_id, kind=event.kind,
                 at=datetime.fromtimestamp(event.at, UTC), data=dict(event.data),
                 source="local")


class ChatProbe(ProbePlugin):
    name = "chat"
    channel = Channel.CHAT
    endpoint_model = ChatEndpoint

    def validate_endpoint(self, options: dict[str, Any]) -> ChatEndpoint:
        from ...plugins import chat_connector

        endpoint = ChatEndpoint.model_validate(options)
        chat_connector(endpoint.connector).options_model.model_validate(
            endpoint.connector_options)
        return endpoint

    def connector_for(self, probe: Probe, ctx: ProbeContext, clock: Any) -> Any:
        """The company's connector, ready to open."""
        from pydantic import ValidationError

        from ...config import _key_path
        from ...errors import ConfigError
        from ...plugins import chat_connector
        from .connector import Visitor

        company = ctx.company(probe)
        endpoint = company.channels.get(Channel.CHAT)
        if endpoint is None:
            raise ConfigError(f"company {company.id} has no [company.channels.chat]")
        options = {k: v for k, v in endpoint.options.items() if k != "plugin"}
        try:
            chat_endpoint = self.validate_endpoint(options)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = _key_path(("company", company.id, "channels", "chat", *first["loc"]))
            raise ConfigError(first["msg"], key=key) from None
        visitor = Visitor(name="Mystery Shopper")
        if probe.shopper and probe.shopper in ctx.config.shoppers:
            shopper = ctx.config.shoppers[probe.shopper]
            visitor = Visitor(name=shopper.name, email=shopper.email)
        cls = chat_connector(chat_endpoint.connector)
        return cls(chat_endpoint.connector_options, clock=clock, secrets=ctx.secrets,
                   visitor=visitor)

    async def run(self, probe: Probe, ctx: ProbeContext) -> ChatRun:
        """The conversation, with the transcript stored as it happens."""
        from .connector import AnchoredClock
        from .script import run_chat

        scenario = ctx.scenario(probe)
        question = scenario.question_for(Channel.CHAT).replace(
            "{ref}", (probe.token or probe.id)[:8])
        clock = AnchoredClock()
        connector = self.connector_for(probe, ctx, clock)
        stored = ctx.store.get_probe(probe.id) is not None
        if stored:  # say what is about to happen before the irreversible part
            ctx.store.update_probe(probe.id, state={**probe.state,
                                                    "connector": connector.name})
        counter = iter(range(1_000_000))

        def keep(event: RunEvent) -> None:
            if event.kind != "chat.message" or not stored:
                return
            actor = event.data.get("actor")
            ctx.store.add_message(
                probe_id=probe.id, channel=Channel.CHAT,
                direction="out" if actor == "visitor" else "in", actor=actor,
                at=datetime.fromtimestamp(event.at, UTC), text=event.data.get("text"),
                data={k: v for k, v in {**event.data, "raw": _jsonable(event.raw)}.items()
                      if k not in ("actor", "text") and v is not None},
                dedupe_key=f"{probe.id}:{next(counter)}")

        return await run_chat(connector, scenario.chat, question, clock=clock, on_event=keep)

    async def start(self, probe: Probe, ctx: ProbeContext) -> list[Event]:
        from ...errors import ProbeError, RetryableProbeError

        run = await self.run(probe, ctx)
        if not run.question_sent and run.outcome is not Outcome.UNAVAILABLE:
            # nothing reached the company: our failure, or a chat that is down (retry later)
            if run.unreachable:
                raise RetryableProbeError(f"chat: {run.reason}")
            raise ProbeError(f"chat: {run.reason}")
        return [to_event(probe.id, e) for e in run.events]

    async def recover(self, probe: Probe, ctx: ProbeContext) -> list[Event] | None:
        """A crash mid-conversation: if our question went out, the probe happened."""
        sent = [m for m in ctx.store.messages(probe.id) if m["direction"] == "out"]
        if not sent:
            return None
        from ...models import parse_instant

        last = max(parse_instant(m["at"]) if isinstance(m["at"], str) else m["at"]
                   for m in ctx.store.messages(probe.id))
        return [Event(probe_id=probe.id, kind="chat.ended", at=last,
                      data={"by": "us", "outcome": str(Outcome.FAILED),
                            "reason": "interrupted: the probe process stopped mid-chat"})]

    def outcome_reason(self, probe: Probe, events: list[Event]) -> str | None:
        ended = [e for e in events if e.kind == "chat.ended"]
        return ended[-1].data.get("reason") if ended else None

    def outcome(self, probe: Probe, events: list[Event], now: datetime) -> Outcome | None:
        ended = [e for e in events if e.kind == "chat.ended"]
        if ended:
            try:
                return Outcome(ended[-1].data.get("outcome"))
            except ValueError:
                return Outcome.FAILED
        if probe.deadline_at is not None and now >= probe.deadline_at:
            return Outcome.FAILED  # a conversation never runs past its deadline unless we crashed
        return None

    def measure(self, probe: Probe, events: list[Event],
                calendar: BusinessCalendar) -> Measurement:
        from .measure import chat_measurement

        outcome = probe.outcome or self.outcome(probe, events, datetime.now(UTC)) \
            or Outcome.FAILED
        return chat_measurement(probe, events, calendar, outcome)


def _jsonable(value: Any) -> Any:
    import json

    if value is None:
        return None
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)[:500]
    return value
